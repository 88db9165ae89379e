//! Cancel, revoke and override: what an administrator (or, for cancel, the
//! requester's own submitting account) does to a request outside the
//! approval levels. Each is checked against who is calling, applied by the
//! pure lifecycle, and committed with its notices and audit record; a
//! refusal is audited too, so nobody probes silently.

use super::effects::{Happening, Outputs};
use super::{Approvals, Caller};
use crate::domain::ids::RequestId;
use crate::domain::plain_text;
use crate::domain::policy::FieldError;
use crate::domain::request::{Channel, Intervention, InterventionKind, Request, Status};
use crate::records::{AuditEvent, EventKind};
use crate::store::{Change, StoreError};

/// Longest `by` accepted: a name or an address, shown in mails.
const MAX_BY_CHARS: usize = 256;
/// Longest reason accepted.
const MAX_REASON_CHARS: usize = 2000;

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    Cancel,
    Revoke,
    /// Decide a pending request: `approved` or `rejected`.
    Override(Status),
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::Cancel => "cancel",
            Act::Revoke => "revoke",
            Act::Override(_) => "override",
        }
    }
}

/// Why an intervention was not applied.
#[derive(Debug)]
pub(crate) enum ActionError {
    /// No request has this id.
    NotFound(RequestId),
    /// The calling account may not do this.
    Forbidden(String),
    /// The input is wrong; every problem is named.
    Invalid(Vec<FieldError>),
    /// The request is not in a status this act applies to.
    Conflict(String),
    /// Nothing is wrong with the call, but it could not be stored.
    Store(StoreError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        ActionError::Store(e)
    }
}

impl Approvals {
    /// Applies `act` to request `id` on behalf of `by` (the person, as the
    /// caller names them) with `reason`, if `caller`'s account may.
    pub(crate) async fn act(
        &self,
        id: RequestId,
        act: Act,
        by: &str,
        reason: &str,
        caller: Caller,
    ) -> Result<Request, ActionError> {
        let now = self.clock.now();
        let s = self.settings.current();
        let mut problems = Vec::new();
        for (field, text, max, newlines) in [
            ("by", by, MAX_BY_CHARS, false),
            ("reason", reason, MAX_REASON_CHARS, true),
        ] {
            if text.trim().is_empty() {
                problems.push(FieldError {
                    field,
                    error: "must not be empty: every intervention says who and why".into(),
                });
            } else if text.chars().count() > max {
                problems.push(FieldError {
                    field,
                    error: format!("at most {max} characters"),
                });
            } else if let Err(why) = plain_text::check(text, newlines) {
                problems.push(FieldError { field, error: why });
            }
        }
        if let Act::Override(to) = act {
            if !matches!(to, Status::Approved | Status::Rejected) {
                problems.push(FieldError {
                    field: "status",
                    error: "must be \"approved\" or \"rejected\"".into(),
                });
            }
        }
        let refused = |why: &str| {
            AuditEvent::new(
                now,
                EventKind::ActionRefused,
                "refused",
                format!("{} refused", act.name()),
            )
            .with_request(id.to_string())
            .with_actor(format!("{by} ({})", caller.shown()))
            .with_reason(why)
        };
        if !problems.is_empty() {
            let why = problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.error))
                .collect::<Vec<_>>()
                .join("; ");
            self.store.audit_only(refused(&why))?;
            self.store.flush().await?;
            return Err(ActionError::Invalid(problems));
        }
        let Some(current) = self.store.request(id)? else {
            return Err(ActionError::NotFound(id));
        };
        // An administrator may do anything here; the account that may
        // submit for a requester may also withdraw that requester's
        // request, and nothing more.
        let allowed = caller.is_admin(&s)
            || (act == Act::Cancel && caller.may_submit_for(&s, &current.requester));
        // No one approves their own request, an administrator included: an
        // account that submits as this requester may not override it to
        // approved.
        let own = matches!(act, Act::Override(Status::Approved))
            && caller
                .uid()
                .is_some_and(|uid| s.submitters.acts_as(uid, &current.requester));
        if own {
            let why = format!(
                "{} submits as {} and may not approve that request itself",
                caller.shown(),
                current.requester
            );
            self.store.audit_only(refused(&why))?;
            self.store.flush().await?;
            return Err(ActionError::Forbidden(why));
        }
        if !allowed {
            let why = format!(
                "{} may not {} requests of {}",
                caller.shown(),
                act.name(),
                current.requester
            );
            self.store.audit_only(refused(&why))?;
            self.store.flush().await?;
            return Err(ActionError::Forbidden(why));
        }
        let intervention = Intervention {
            kind: InterventionKind::Cancel,
            by: by.trim().to_owned(),
            uid: caller.uid(),
            reason: reason.trim().to_owned(),
            at: now,
            channel: if matches!(act, Act::Override(_)) {
                Channel::Override
            } else {
                Channel::Api
            },
        };
        let outcome = self.store.commit(Some(id), |current| {
            let Some(mut request) = current else {
                return Change::nothing(Err(format!("request {id} vanished")));
            };
            let applied = match act {
                Act::Cancel => request.cancel(intervention.clone()).map(|()| Vec::new()),
                Act::Revoke => request.revoke(intervention.clone()).map(|()| Vec::new()),
                Act::Override(to) => request.override_to(to, intervention.clone()),
            };
            let ticks = match applied {
                Ok(ticks) => ticks,
                Err(refusal) => {
                    return Change {
                        audit: vec![refused(&refusal.to_string())],
                        ..Change::nothing(Err(refusal.to_string()))
                    }
                }
            };
            let Some(done) = request.interventions.last().cloned() else {
                return Change::nothing(Err("intervention not recorded".into()));
            };
            let happening = Happening::Intervened {
                kind: done.kind,
                by: &done.by,
                uid: done.uid,
                reason: &done.reason,
            };
            let mut out = Outputs::default();
            out.add(&s, &request, &happening, now);
            out.add_ticks(&s, &request, ticks, now);
            out.into_change(Some(request.clone()), Ok(request))
        })?;
        self.store.flush().await?;
        if outcome.is_ok() {
            self.counters.decided(intervention.channel);
        }
        outcome.map_err(ActionError::Conflict)
    }
}
