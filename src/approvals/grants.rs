//! "May this requester do this to this resource now?" — the question an
//! integrating system (a vault, a proxy, a PKI portal) asks right before
//! it acts. Read through the store's subject index, answered "yes" only
//! for an `active` request inside its window, and audited either way.

use chrono::{DateTime, Utc};

use super::{Approvals, Caller};
use crate::domain::ids::{Address, RequestId};
use crate::domain::request::{Request, Route, Status};
use crate::records::{AuditEvent, EventKind};
use crate::store::StoreError;

/// The answer to a grants check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrantAnswer {
    pub(crate) allowed: bool,
    /// The request that allows it, or the one that explains the refusal
    /// (a pending or not-yet-started request).
    pub(crate) request: Option<RequestId>,
    /// When the access ends, when allowed.
    pub(crate) until: Option<DateTime<Utc>>,
    /// Whether the allowing request is break-glass access.
    pub(crate) emergency: bool,
    /// Why, in a few words.
    pub(crate) reason: String,
}

impl Approvals {
    /// Answers whether `requester` may run `action` on `resource` now.
    pub(crate) async fn check_grant(
        &self,
        requester: &Address,
        action: &str,
        resource: &str,
        caller: Caller,
    ) -> Result<GrantAnswer, StoreError> {
        let now = self.clock.now();
        let open = self
            .store
            .open_for_subject(requester.as_str(), action, resource)?;
        let answer = answer(&open, now);
        let outcome = if answer.allowed { "allowed" } else { "denied" };
        let mut ev = AuditEvent::new(now, EventKind::GrantChecked, outcome, "grants check")
            .with_actor(caller.shown())
            .with_action(action)
            .with_resource(resource)
            .with_reason(format!("{requester}: {}", answer.reason));
        if let Some(id) = answer.request {
            ev = ev.with_request(id.to_string());
        }
        self.store.audit_only(ev)?;
        // The answer may open a vault: its audit line is durable first.
        self.store.flush().await?;
        Ok(answer)
    }
}

/// The answer the open requests of one subject give at `now`: allowed by
/// the first active request inside its window; otherwise the most telling
/// refusal (approved but not started, then pending).
fn answer(open: &[Request], now: DateTime<Utc>) -> GrantAnswer {
    if let Some(r) = open.iter().find(|r| r.allows_at(now)) {
        return GrantAnswer {
            allowed: true,
            request: Some(r.id),
            until: Some(r.granted_window.end()),
            emergency: r.route == Route::Emergency,
            reason: match r.route {
                Route::Emergency => "emergency access".into(),
                Route::Justification => "granted on justification".into(),
                Route::Approvers => "approved".into(),
            },
        };
    }
    let denied = |r: Option<&Request>, reason: String| GrantAnswer {
        allowed: false,
        request: r.map(|r| r.id),
        until: None,
        emergency: false,
        reason,
    };
    if let Some(r) = open.iter().find(|r| r.status == Status::Approved) {
        return denied(
            Some(r),
            format!(
                "approved; the window starts at {}",
                r.granted_window.start().to_rfc3339()
            ),
        );
    }
    if let Some(r) = open.iter().find(|r| r.status == Status::Pending) {
        return denied(Some(r), "pending approval".into());
    }
    denied(None, "no approved request".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::tests::{t0, two_level_request};
    use chrono::Duration;

    /// The table of what one subject's open requests answer, including a
    /// late timer: an `active` record past its window's end never allows.
    #[test]
    fn grants_answer_table() {
        let base = two_level_request();
        let start = base.granted_window.start();
        let end = base.granted_window.end();
        let with = |status: Status, route: Route| {
            let mut r = base.clone();
            r.status = status;
            r.route = route;
            r
        };
        type Row = (
            &'static str,
            Vec<Request>,
            DateTime<Utc>,
            bool,
            &'static str,
        );
        let rows: Vec<Row> = vec![
            ("nothing open", vec![], start, false, "no approved request"),
            (
                "pending",
                vec![with(Status::Pending, Route::Approvers)],
                start,
                false,
                "pending approval",
            ),
            (
                "approved, not started",
                vec![with(Status::Approved, Route::Approvers)],
                t0(),
                false,
                "approved; the window starts",
            ),
            (
                "active inside",
                vec![with(Status::Active, Route::Approvers)],
                start,
                true,
                "approved",
            ),
            (
                "active, timer late",
                vec![with(Status::Active, Route::Approvers)],
                end,
                false,
                "no approved request",
            ),
            (
                "active before start",
                vec![with(Status::Active, Route::Approvers)],
                start - Duration::seconds(1),
                false,
                "no approved request",
            ),
            (
                "emergency",
                vec![with(Status::Active, Route::Emergency)],
                start,
                true,
                "emergency access",
            ),
            (
                "approved-only is not active",
                vec![with(Status::Approved, Route::Approvers)],
                start,
                false,
                "approved; the window starts",
            ),
        ];
        for (name, open, now, allowed, reason) in rows {
            let got = answer(&open, now);
            assert_eq!(got.allowed, allowed, "{name}");
            assert!(got.reason.starts_with(reason), "{name}: {}", got.reason);
            assert_eq!(got.until.is_some(), allowed, "{name}");
            assert_eq!(got.emergency, allowed && name == "emergency", "{name}");
        }
    }
}
