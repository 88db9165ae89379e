//! Who may ask for what, and who must approve it: the admission rules applied
//! to every new request.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::access_window::AccessWindow;
use super::ids::{Address, RequestId, RequestNonce};
use super::plain_text;
use super::request::{Escalation, Level, Request, Route, Status};

/// A group of requesters sharing actions and an approval chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) members: Vec<Address>,
    pub(crate) actions: Vec<String>,
    /// Time a request has to be decided before it expires.
    pub(crate) deadline: Duration,
    /// Longest window a member may ask for.
    pub(crate) max_window: Duration,
    /// Empty for a justification-only group.
    pub(crate) levels: Vec<Level>,
    /// Whether members may take break-glass access.
    pub(crate) emergency: bool,
    /// Whether requests are granted on their justification alone.
    pub(crate) justification_only: bool,
    /// Whether an answer without a comment is no answer.
    pub(crate) require_comment: bool,
    /// Who hears of every outcome without deciding (a security team).
    pub(crate) notify: Vec<Address>,
    /// Reminders to the open level, in percent of the deadline.
    pub(crate) reminders: Vec<u8>,
    /// Per level, who else may decide after a while.
    pub(crate) escalations: Vec<Escalation>,
    /// Where to POST when access ends (validated URL).
    pub(crate) on_end: Option<String>,
}

/// The registered reasons and the groups, as validated from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) reasons: Vec<String>,
    pub(crate) groups: Vec<Group>,
}

/// A request as submitted, before admission.
#[derive(Clone, Debug)]
pub(crate) struct Submission {
    pub(crate) requester: Address,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) justification: String,
    pub(crate) reason: String,
    pub(crate) governance_code: String,
    pub(crate) window: AccessWindow,
    /// Break-glass: granted at once, where the group allows it.
    pub(crate) emergency: bool,
}

/// One reason a submission was refused, naming the field at fault so that an
/// integrator can show it next to the right input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) error: String,
}

fn field_error(field: &'static str, error: impl Into<String>) -> FieldError {
    FieldError {
        field,
        error: error.into(),
    }
}

impl Policy {
    /// The group that lets `requester` ask for `action`: the first one in
    /// configuration order, so that the order is the admin's way to choose.
    pub(crate) fn group_for(&self, requester: &Address, action: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.members.contains(requester) && g.actions.iter().any(|a| a == action))
    }

    /// Admits a submission as a new pending request, or reports every
    /// problem with it at once.
    pub(crate) fn admit(
        &self,
        s: Submission,
        id: RequestId,
        now: DateTime<Utc>,
    ) -> Result<Request, Vec<FieldError>> {
        let mut errors = Vec::new();
        let group = self.group_for(&s.requester, &s.action);
        if group.is_none() {
            errors.push(field_error(
                "action",
                format!(
                    "{} is in no group allowed to request {:?}",
                    s.requester, s.action
                ),
            ));
        }
        if s.action.trim().is_empty() {
            errors.push(field_error("action", "the action is empty"));
        }
        // Free text must be what an approver sees: no invisible or
        // reordering characters, line breaks only in the justification.
        for (field, text, newlines) in [
            ("action", &s.action, false),
            ("resource", &s.resource, false),
            ("justification", &s.justification, true),
            ("reason", &s.reason, false),
            ("governance_code", &s.governance_code, false),
        ] {
            if let Err(why) = plain_text::check(text, newlines) {
                errors.push(field_error(field, why));
            }
        }
        if s.resource.trim().is_empty() {
            errors.push(field_error("resource", "the resource is empty"));
        }
        if s.justification.trim().is_empty() {
            errors.push(field_error("justification", "the justification is empty"));
        }
        if !self.reasons.contains(&s.reason) {
            errors.push(field_error(
                "reason",
                format!(
                    "{:?} is not a registered reason (one of: {})",
                    s.reason,
                    self.reasons.join(", ")
                ),
            ));
        }
        if s.governance_code.trim().is_empty() {
            errors.push(field_error(
                "governance_code",
                "the governance code is empty",
            ));
        }
        if s.window.end() <= now {
            errors.push(field_error("window", "the window has already ended"));
        }
        if let Some(g) = group {
            if s.window.length() > g.max_window {
                errors.push(field_error(
                    "window",
                    format!(
                        "the window is {} long; group {} allows at most {}",
                        human(s.window.length()),
                        g.name,
                        human(g.max_window)
                    ),
                ));
            }
            for (i, level) in g.levels.iter().enumerate() {
                let others = level
                    .approvers
                    .iter()
                    .filter(|a| **a != s.requester)
                    .count();
                if others < usize::from(level.quorum) {
                    errors.push(field_error(
                        "requester",
                        format!(
                            "level {} cannot reach its quorum of {} without {} approving their own request",
                            i + 1,
                            level.quorum,
                            s.requester
                        ),
                    ));
                }
            }
        }
        if let Some(g) = group.filter(|g| s.emergency && !g.emergency) {
            errors.push(field_error(
                "emergency",
                format!("group {} does not allow emergency access", g.name),
            ));
        }
        let Some(group) = group.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        Ok(Request {
            id,
            nonce: RequestNonce::default(),
            requester: s.requester,
            action: s.action,
            resource: s.resource,
            justification: s.justification,
            reason: s.reason,
            governance_code: s.governance_code,
            group: group.name.clone(),
            requested_window: s.window,
            granted_window: s.window,
            levels: group.levels.clone(),
            status: Status::Pending,
            level: 1,
            decisions: Vec::new(),
            created_at: now,
            deadline: now + group.deadline,
            closed_at: None,
            route: if s.emergency {
                Route::Emergency
            } else if group.justification_only {
                Route::Justification
            } else {
                Route::Approvers
            },
            interventions: Vec::new(),
            require_comment: group.require_comment,
            notify: group.notify.clone(),
            reminders: group.reminders.clone(),
            reminders_sent: 0,
            escalations: group.escalations.clone(),
            level_opened_at: Some(now),
            escalated: Vec::new(),
            on_end: group.on_end.clone(),
        })
    }
}

/// Formats a duration the way configuration writes it (`8h`, `90m`).
pub(crate) fn human(d: Duration) -> String {
    d.to_std()
        .map(|d| humantime::format_duration(d).to_string())
        .unwrap_or_else(|_| format!("{}s", d.num_seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::tests::{addr, t0};

    fn policy() -> Policy {
        Policy {
            reasons: vec!["Incident".into(), "Audit".into()],
            groups: vec![Group {
                name: "pki".into(),
                members: vec![addr("dave@example.test"), addr("alice@example.test")],
                actions: vec!["certificate.sign".into()],
                deadline: Duration::hours(24),
                max_window: Duration::hours(8),
                levels: vec![Level {
                    approvers: vec![addr("alice@example.test"), addr("bob@example.test")],
                    quorum: 1,
                }],
                emergency: false,
                justification_only: false,
                require_comment: false,
                notify: vec![],
                reminders: vec![],
                escalations: vec![],
                on_end: None,
            }],
        }
    }

    fn submission() -> Submission {
        Submission {
            requester: addr("dave@example.test"),
            action: "certificate.sign".into(),
            resource: "web-01".into(),
            justification: "expiring".into(),
            reason: "Incident".into(),
            governance_code: "CHG-9".into(),
            window: AccessWindow::new(t0(), t0() + Duration::hours(2)).unwrap(),
            emergency: false,
        }
    }

    #[test]
    fn a_valid_submission_becomes_a_pending_level_one_request() {
        let r = policy()
            .admit(submission(), RequestId::new(1), t0())
            .unwrap();
        assert_eq!(r.status, Status::Pending);
        assert_eq!(r.level, 1);
        assert_eq!(r.group, "pki");
        assert_eq!(r.deadline, t0() + Duration::hours(24));
        assert_eq!(r.levels, policy().groups[0].levels);
    }

    #[test]
    fn refusals_name_the_field() {
        type Edit = fn(&mut Submission);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "unknown requester",
                |s| s.requester = addr("eve@example.test"),
                "action",
            ),
            (
                "action not allowed",
                |s| s.action = "vault.password".into(),
                "action",
            ),
            (
                "unregistered reason",
                |s| s.reason = "Because".into(),
                "reason",
            ),
            (
                "empty justification",
                |s| s.justification = "  ".into(),
                "justification",
            ),
            (
                "empty governance code",
                |s| s.governance_code = String::new(),
                "governance_code",
            ),
            (
                "window longer than max_window",
                |s| s.window = AccessWindow::new(t0(), t0() + Duration::hours(9)).unwrap(),
                "window",
            ),
            (
                "window in the past",
                |s| {
                    s.window =
                        AccessWindow::new(t0() - Duration::hours(3), t0() - Duration::hours(1))
                            .unwrap()
                },
                "window",
            ),
        ];
        for (name, edit, field) in cases {
            let mut s = submission();
            edit(&mut s);
            let errs = policy().admit(s, RequestId::new(1), t0()).unwrap_err();
            assert!(errs.iter().any(|e| e.field == *field), "{name}: {errs:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut s = submission();
        s.reason = "nope".into();
        s.justification = String::new();
        let errs = policy().admit(s, RequestId::new(1), t0()).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn requester_who_is_sole_possible_approver_is_refused() {
        let mut p = policy();
        p.groups[0].levels[0].quorum = 2;
        let mut s = submission();
        s.requester = addr("alice@example.test");
        let errs = p.admit(s, RequestId::new(1), t0()).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "requester"), "{errs:?}");
    }
}
