//! The application service: what comes in (a submission, an answer, an
//! inbox message, the passing of time) becomes a state change with its mail
//! and audit records, written in one store transaction. Transports (the API,
//! the IMAP worker, timers) call these use cases; the use cases call the
//! pure domain and the store.
//!
//! One file per use case: `submit`, `decide` (every channel's answers),
//! `inbox` (reading mail into answers, refusals), `explain` (answers to
//! people whose reply could not be used), `timers` (deadlines and access
//! windows), `interventions` (cancel, revoke, override), `grants` (may
//! this requester act now?), and `effects` (which mails and audit events
//! each happening causes).

mod decide;
mod effects;
mod explain;
mod grants;
mod inbox;
mod interventions;
mod page;
mod reading;
mod settings;
mod submit;
mod timers;

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::ids::{Address, RequestId};
use crate::domain::request::{Request, Route, Status};
use crate::metrics::Counters;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

pub(crate) use grants::GrantAnswer;
pub(crate) use inbox::{Handled, InboxMessage, ReadBatch};
pub(crate) use interventions::{Act, ActionError};
pub(crate) use page::{PageState, PostOutcome};
pub(crate) use settings::{InboundSettings, Settings, SettingsHandle};
pub(crate) use submit::{Caller, SubmitError};

/// Which slice of a list to read: lists are paged, so no answer holds every
/// request ever made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    /// Only requests with a greater id (the last id of the previous page).
    pub(crate) after: Option<RequestId>,
    /// At most this many.
    pub(crate) limit: usize,
}

/// The approvals service.
pub(crate) struct Approvals {
    /// Where every change, with its mail and audit records, is written.
    store: Store,
    /// Everything derived from the configuration (policy, keys, templates,
    /// inbound rules), swappable by a reload without stopping any worker.
    settings: SettingsHandle,
    /// The only source of "now": decisions are replayable in tests.
    clock: Arc<dyn Clock>,
    /// Held from a submission's duplicate check to its commit.
    submitting: tokio::sync::Mutex<()>,
    /// Decisions and refusals counted for the metrics: counted here, where
    /// every channel's answer passes, rather than in each channel.
    counters: Arc<Counters>,
}

impl Approvals {
    pub(crate) fn new(store: Store, settings: SettingsHandle, clock: Arc<dyn Clock>) -> Self {
        Approvals {
            store,
            settings,
            clock,
            submitting: tokio::sync::Mutex::new(()),
            counters: Arc::default(),
        }
    }

    /// The same service writing through `store` (a batch's view of the
    /// store): same settings, clock and counters.
    fn over(&self, store: Store) -> Approvals {
        Approvals {
            store,
            settings: self.settings.clone(),
            clock: self.clock.clone(),
            submitting: tokio::sync::Mutex::new(()),
            counters: self.counters.clone(),
        }
    }

    /// The decision and refusal counters, for the metrics.
    pub(crate) fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// The store, for tests that inspect what a use case wrote.
    #[cfg(test)]
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Whether `caller` may cancel, revoke, override and export.
    pub(crate) fn is_admin(&self, caller: &Caller) -> bool {
        caller.is_admin(&self.settings.current())
    }

    /// The whole store as an export file.
    pub(crate) fn export_store(&self) -> Result<Vec<u8>, crate::store::StoreError> {
        let mut out = Vec::new();
        self.store.export(self.clock.now(), &mut out)?;
        Ok(out)
    }

    /// Recorded audit events from number `since` on, at most `limit`.
    pub(crate) fn audit_log(
        &self,
        since: u64,
        limit: usize,
    ) -> Result<Vec<crate::records::AuditEvent>, crate::store::StoreError> {
        self.store.audit_log(since, limit)
    }

    /// Audits an API call refused for who made it (never the key itself).
    /// Best effort: the refusal stands even if the audit cannot be written.
    pub(crate) fn record_refusal(&self, actor: &str, why: &str) {
        let ev = crate::records::AuditEvent::new(
            self.clock.now(),
            crate::records::EventKind::ActionRefused,
            "refused",
            "API call refused",
        )
        .with_actor(actor)
        .with_reason(why);
        if let Err(e) = self.store.audit_only(ev) {
            tracing::error!(error = %e, "cannot audit a refused API call");
        }
    }

    /// The caller an API key stands for, if it is a configured key.
    pub(crate) fn caller_for_key(&self, presented: &str) -> Option<Caller> {
        self.settings
            .current()
            .api_keys
            .find(presented)
            .map(|k| Caller::Key {
                name: k.name.clone(),
                role: k.role,
            })
    }

    /// Messages larger than this are only read as far as their headers.
    pub(crate) fn max_message_size(&self) -> usize {
        self.settings.current().inbound.max_message_size
    }

    pub(crate) fn get(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        self.store.request(id)
    }

    /// One page of requests matching `filter`, oldest first: those after
    /// `page.after`, at most `page.limit` of them. A status filter reads
    /// through the status index.
    pub(crate) fn list(&self, filter: &Filter, page: Page) -> Result<Vec<Request>, StoreError> {
        self.store
            .requests_page(filter.status, page.after, page.limit, |r| filter.matches(r))
    }
}

/// What a list or report selects; every field narrows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) status: Option<Status>,
    /// "My requests".
    pub(crate) requester: Option<Address>,
    /// "My approvals": requests this address is asked to decide, at any
    /// level.
    pub(crate) approver: Option<Address>,
    pub(crate) action: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) emergency: Option<bool>,
    pub(crate) created_after: Option<DateTime<Utc>>,
    pub(crate) created_before: Option<DateTime<Utc>>,
}

impl Filter {
    pub(crate) fn matches(&self, r: &Request) -> bool {
        self.status.is_none_or(|s| r.status == s)
            && self.requester.as_ref().is_none_or(|a| r.requester == *a)
            && self
                .approver
                .as_ref()
                .is_none_or(|a| r.levels.iter().any(|l| l.approvers.contains(a)))
            && self.action.as_ref().is_none_or(|a| r.action == *a)
            && self.resource.as_ref().is_none_or(|x| r.resource == *x)
            && self
                .emergency
                .is_none_or(|e| (r.route == Route::Emergency) == e)
            && self.created_after.is_none_or(|t| r.created_at > t)
            && self.created_before.is_none_or(|t| r.created_at < t)
    }
}

#[cfg(test)]
mod tests;
