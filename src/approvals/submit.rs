//! A new request: admitted by the policy, stored with its receipt, level-1
//! mails and audit record in one transaction, durable before the caller
//! hears of it.

use super::effects::{Happening, Outputs};
use super::settings::Settings;
use super::Approvals;
use crate::domain::api_keys::Role;
use crate::domain::ids::{Address, RequestId};
use crate::domain::policy::{FieldError, Submission};
use crate::domain::request::{Request, Route, Status};
use crate::records::{AuditEvent, EventKind};
use crate::store::{Change, StoreError};

/// Why a submission failed.
#[derive(Debug)]
pub(crate) enum SubmitError {
    /// The submission breaks the policy; every problem is listed.
    Invalid(Vec<FieldError>),
    /// The caller's account may not submit for this requester.
    Forbidden(String),
    /// The requester already has a pending request for this action and
    /// resource (named): one at a time, so approvers are not asked twice.
    Duplicate(RequestId),
    /// Nothing is wrong with the submission, but it could not be stored.
    Store(StoreError),
}

/// Who is calling the API: a local account on the socket, or an API key on
/// the HTTP listener. What each may do is decided here, in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A local account, by the socket's peer credentials.
    Local { uid: u32 },
    /// An API key, by its configured name and role (never the key).
    Key { name: String, role: Role },
}

impl Caller {
    /// Whether this caller may submit for `requester`.
    pub(crate) fn may_submit_for(&self, s: &Settings, requester: &Address) -> bool {
        match self {
            Caller::Local { uid } => s.submitters.allows(*uid, requester),
            Caller::Key { role, .. } => matches!(role, Role::Integrator | Role::Admin),
        }
    }

    /// Whether this caller may cancel, revoke and override anything.
    pub(crate) fn is_admin(&self, s: &Settings) -> bool {
        match self {
            Caller::Local { uid } => s.admins.contains(*uid),
            Caller::Key { role, .. } => *role == Role::Admin,
        }
    }

    /// Whether this caller may read requests: one by id (`list = false`) or
    /// lists and exports. Local accounts may (the socket's group decides
    /// who connects); keys by role.
    pub(crate) fn may_read(&self, list: bool) -> bool {
        match self {
            Caller::Local { .. } => true,
            Caller::Key { role, .. } => match role {
                Role::Admin | Role::Auditor => true,
                Role::Integrator => !list,
            },
        }
    }

    /// Whether this caller may ask the grants question.
    pub(crate) fn may_check_grants(&self) -> bool {
        match self {
            Caller::Local { .. } => true,
            Caller::Key { role, .. } => matches!(role, Role::Admin | Role::Integrator),
        }
    }

    /// The local account, when the call came through the socket.
    pub(crate) fn uid(&self) -> Option<u32> {
        match self {
            Caller::Local { uid } => Some(*uid),
            Caller::Key { .. } => None,
        }
    }

    /// How the audit trail names the caller.
    pub(crate) fn shown(&self) -> String {
        match self {
            Caller::Local { uid } => format!("uid {uid}"),
            Caller::Key { name, role } => format!("key {name} ({})", role.as_str()),
        }
    }
}

impl From<StoreError> for SubmitError {
    fn from(e: StoreError) -> Self {
        SubmitError::Store(e)
    }
}

impl Approvals {
    /// Admits a request, mails level 1 and the requester, and makes all of
    /// it durable before returning.
    pub(crate) async fn submit(
        &self,
        sub: Submission,
        caller: Caller,
    ) -> Result<Request, SubmitError> {
        let now = self.clock.now();
        let s = self.settings.current();
        let requester = sub.requester.clone();
        let (action, resource) = (sub.action.clone(), sub.resource.clone());
        if !caller.may_submit_for(&s, &requester) {
            let why = format!("{} may not submit requests for {requester}", caller.shown());
            self.store.audit_only(
                AuditEvent::new(now, EventKind::Submitted, "refused", "submission refused")
                    .with_actor(caller.shown())
                    .with_action(action)
                    .with_resource(resource)
                    .with_reason(why.as_str()),
            )?;
            self.store.flush().await?;
            return Err(SubmitError::Forbidden(why));
        }
        // Admitted under a placeholder id: a refused submission must not use
        // up an id, so the ids people quote stay dense.
        let mut request = match s.policy.admit(sub, RequestId::new(0), now) {
            Ok(r) => r,
            Err(errors) => {
                let why = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.error))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.store.audit_only(
                    AuditEvent::new(now, EventKind::Submitted, "refused", "submission refused")
                        .with_actor(requester.as_str())
                        .with_action(action)
                        .with_resource(resource)
                        .with_reason(why),
                )?;
                self.store.flush().await?;
                return Err(SubmitError::Invalid(errors));
            }
        };
        // One submission at a time from here to the commit: the duplicate
        // check and the write must not interleave with another's.
        let _one_at_a_time = self.submitting.lock().await;
        let open = self.store.open_for_subject(
            request.requester.as_str(),
            &request.action,
            &request.resource,
        )?;
        if let Some(pending) = open.iter().find(|r| r.status == Status::Pending) {
            self.store.audit_only(
                AuditEvent::new(now, EventKind::Submitted, "refused", "submission refused")
                    .with_actor(requester.as_str())
                    .with_action(request.action.as_str())
                    .with_resource(request.resource.as_str())
                    .with_reason(format!(
                        "{} is already pending for this action and resource",
                        pending.id
                    )),
            )?;
            self.store.flush().await?;
            return Err(SubmitError::Duplicate(pending.id));
        }
        (request.id, request.nonce) = self.store.new_request_identity()?;
        let ticks = match request.route {
            Route::Approvers => Vec::new(),
            route => request.grant_at_once(route, now),
        };
        let mut out = Outputs::default();
        out.add(&s, &request, &Happening::Submitted, now);
        out.add_ticks(&s, &request, ticks, now);
        let stored = request.clone();
        self.store.commit(Some(request.id), move |_| Change {
            request: Some(stored.clone()),
            mails: out.mails.clone(),
            audit: out.audit.clone(),
            webhooks: out.webhooks.clone(),
            ..Change::nothing(())
        })?;
        self.store.flush().await?;
        Ok(request)
    }
}
