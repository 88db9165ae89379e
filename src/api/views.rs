//! The JSON shapes the HTTP API answers with.
//!
//! Kept apart from the domain types on purpose: the domain may rename a field
//! or change a representation without breaking an integrator, because only
//! the conversions in this file have to follow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::approvals::GrantAnswer;
use crate::domain::access_window::AccessWindow;
use crate::domain::policy::FieldError;
use crate::domain::request::{Channel, Decision, Intervention, InterventionKind, Request, Route};
use crate::domain::verb::Verb;

/// A time window as the API shows and accepts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct WindowView {
    /// First instant of access, RFC 3339.
    pub(crate) start: DateTime<Utc>,
    /// First instant after access, RFC 3339 (the window is half-open).
    pub(crate) end: DateTime<Utc>,
}

impl From<&AccessWindow> for WindowView {
    fn from(w: &AccessWindow) -> Self {
        WindowView {
            start: w.start(),
            end: w.end(),
        }
    }
}

/// One approver's recorded answer, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct DecisionView {
    /// Level (1-based) the answer was given at, so a reader can group answers.
    pub(crate) level: u8,
    /// Who answered: the address the approval mail went to.
    pub(crate) approver: String,
    /// `approve` or `disapprove`.
    pub(crate) verb: String,
    /// The approver's free text; empty when they wrote none.
    pub(crate) comment: String,
    /// When the answer was applied.
    pub(crate) at: DateTime<Utc>,
    /// How the answer arrived (`email`), for auditors.
    pub(crate) channel: String,
    /// The narrower window the approver granted, or null.
    pub(crate) window: Option<WindowView>,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> Self {
        DecisionView {
            level: d.level,
            approver: d.approver.to_string(),
            verb: verb_name(d.verb).to_owned(),
            comment: d.comment.clone(),
            at: d.at,
            channel: channel_name(d.channel).to_owned(),
            window: d.window.as_ref().map(WindowView::from),
        }
    }
}

/// The API's names for verbs: lower case like every other enum value in the
/// API, whatever the domain's own display form is.
fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Approve => "approve",
        Verb::Disapprove => "disapprove",
        Verb::Revoke => "revoke",
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Link => "link",
        Channel::Api => "api",
        Channel::Override => "override",
    }
}

/// An access request as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct RequestView {
    /// `AR-<n>`: the form people quote in mail and tickets.
    pub(crate) id: String,
    /// `pending`, `approved`, `active`, `ended`, `rejected`, `expired`,
    /// `cancelled` or `revoked`.
    pub(crate) status: String,
    /// The level being asked (1-based), or the last one reached once closed.
    pub(crate) level: u8,
    /// How many levels the approval chain has, so `level` can be shown as k/n.
    pub(crate) levels: usize,
    /// Who asked.
    pub(crate) requester: String,
    /// The privileged action asked for.
    pub(crate) action: String,
    /// What the action applies to.
    pub(crate) resource: String,
    /// Why, in the requester's words.
    pub(crate) justification: String,
    /// The registered reason given.
    pub(crate) reason: String,
    /// The change or incident ticket the request answers to.
    pub(crate) governance_code: String,
    /// The group whose policy admitted the request.
    pub(crate) group: String,
    /// The window asked for.
    pub(crate) window: WindowView,
    /// The window granted: the asked window narrowed by approvers.
    pub(crate) granted_window: WindowView,
    /// When the request was submitted.
    pub(crate) created_at: DateTime<Utc>,
    /// A request still pending at this time expires.
    pub(crate) deadline: DateTime<Utc>,
    /// When the request reached its final status, or null.
    pub(crate) closed_at: Option<DateTime<Utc>>,
    /// Every accepted answer, in the order applied.
    pub(crate) decisions: Vec<DecisionView>,
    /// Break-glass access: granted without approval.
    pub(crate) emergency: bool,
    /// `approvers`, `emergency` or `justification`: how it is granted.
    pub(crate) route: String,
    /// Per level: who is asked, the quorum, and who answered, so that a
    /// requester can see who can approve.
    pub(crate) approval_levels: Vec<LevelView>,
    /// Cancel, revoke and override, in the order they happened.
    pub(crate) interventions: Vec<InterventionView>,
}

/// One approval level as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct LevelView {
    pub(crate) level: u8,
    /// Who is asked (the requester never is).
    pub(crate) approvers: Vec<String>,
    pub(crate) quorum: u8,
    /// Who answered at this level.
    pub(crate) answered: Vec<String>,
}

/// A cancel, revoke or override as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct InterventionView {
    /// `cancel`, `revoke` or `override`.
    pub(crate) kind: String,
    /// For an override: `approved` or `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    pub(crate) by: String,
    /// The local account that made the call, when it came through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) uid: Option<u32>,
    pub(crate) reason: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) channel: String,
}

impl From<&Intervention> for InterventionView {
    fn from(i: &Intervention) -> Self {
        let (kind, status) = match i.kind {
            InterventionKind::Cancel => ("cancel", None),
            InterventionKind::Revoke => ("revoke", None),
            InterventionKind::Override { to } => ("override", Some(to.as_str().to_owned())),
        };
        InterventionView {
            kind: kind.into(),
            status,
            by: i.by.clone(),
            uid: i.uid,
            reason: i.reason.clone(),
            at: i.at,
            channel: channel_name(i.channel).into(),
        }
    }
}

/// The answer to a grants check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct GrantView {
    pub(crate) allowed: bool,
    /// The request that allows it, or that explains the refusal.
    pub(crate) request: Option<String>,
    /// When the access ends, when allowed.
    pub(crate) until: Option<DateTime<Utc>>,
    pub(crate) emergency: bool,
    pub(crate) reason: String,
}

impl From<&GrantAnswer> for GrantView {
    fn from(g: &GrantAnswer) -> Self {
        GrantView {
            allowed: g.allowed,
            request: g.request.map(|id| id.to_string()),
            until: g.until,
            emergency: g.emergency,
            reason: g.reason.clone(),
        }
    }
}

impl From<&Request> for RequestView {
    fn from(r: &Request) -> Self {
        RequestView {
            id: r.id.to_string(),
            status: r.status.as_str().to_owned(),
            level: r.level,
            levels: r.levels.len(),
            requester: r.requester.to_string(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            justification: r.justification.clone(),
            reason: r.reason.clone(),
            governance_code: r.governance_code.clone(),
            group: r.group.clone(),
            window: WindowView::from(&r.requested_window),
            granted_window: WindowView::from(&r.granted_window),
            created_at: r.created_at,
            deadline: r.deadline,
            closed_at: r.closed_at,
            decisions: r.decisions.iter().map(DecisionView::from).collect(),
            emergency: r.route == Route::Emergency,
            route: r.route.as_str().into(),
            approval_levels: (1..=r.levels.len())
                .filter_map(|n| u8::try_from(n).ok())
                .zip(&r.levels)
                .map(|(n, l)| LevelView {
                    level: n,
                    approvers: r
                        .askable_approvers(n)
                        .into_iter()
                        .map(|(_, a)| a.to_string())
                        .collect(),
                    quorum: l.quorum,
                    answered: r.decisions_at(n).map(|d| d.approver.to_string()).collect(),
                })
                .collect(),
            interventions: r.interventions.iter().map(InterventionView::from).collect(),
        }
    }
}

/// The answer to a list query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct ListView {
    /// Matching requests, oldest first: one page of them.
    pub(crate) requests: Vec<RequestView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[serde(default)]
    pub(crate) next_cursor: Option<String>,
}

/// One problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct FieldErrorView {
    /// The field at fault, dotted for nested ones (`window.start`), so an
    /// integrator can show the message next to the right input.
    pub(crate) field: String,
    /// What is wrong with it, for people.
    pub(crate) error: String,
}

impl From<FieldError> for FieldErrorView {
    fn from(e: FieldError) -> Self {
        FieldErrorView {
            field: e.field.to_owned(),
            error: e.error,
        }
    }
}

/// Every error answer's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, for people; the first problem when there are several.
    pub(crate) error: String,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// Every field problem, when the input had several, so a client can
    /// report them all at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<FieldErrorView>,
}

impl ErrorBody {
    /// An error that is about no field in particular.
    pub(crate) fn plain(error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    /// An error about `field`.
    pub(crate) fn field(field: impl Into<String>, error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            field: Some(field.into()),
            errors: Vec::new(),
        }
    }

    /// An error listing every field problem, the first one leading.
    pub(crate) fn fields(errors: Vec<FieldErrorView>) -> Self {
        let (error, field) = match errors.first() {
            Some(first) => (first.error.clone(), Some(first.field.clone())),
            None => ("the input was refused".to_owned(), None),
        };
        ErrorBody {
            error,
            field,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::tests::two_level_request;
    use crate::domain::request::{Answer, Channel};
    use serde_json::{json, Value};

    #[test]
    fn the_view_uses_api_names_not_domain_ones() {
        let mut r = two_level_request();
        r.answer(
            Answer {
                level: 1,
                approver: "alice@example.test".parse().unwrap(),
                verb: Verb::Approve,
                comment: "ok".into(),
                channel: Channel::Email,
                window: None,
            },
            r.created_at,
        )
        .unwrap();
        let v = serde_json::to_value(RequestView::from(&r)).unwrap();
        assert_eq!(v["id"], "AR-7");
        assert_eq!(v["status"], "pending");
        assert_eq!(
            (v["level"].as_u64(), v["levels"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(v["window"]["start"], "2026-11-21T10:00:00Z");
        assert_eq!(v["closed_at"], Value::Null);
        assert_eq!(v["decisions"][0]["verb"], "approve");
        assert_eq!(v["decisions"][0]["channel"], "email");
        assert_eq!(v["decisions"][0]["window"], Value::Null);
        let back: RequestView = serde_json::from_value(v).unwrap();
        assert_eq!(
            back,
            RequestView::from(&r),
            "the client reads what the server writes"
        );
    }

    #[test]
    fn an_error_body_leads_with_its_first_field_error() {
        let body = ErrorBody::fields(vec![
            FieldErrorView {
                field: "reason".into(),
                error: "bad reason".into(),
            },
            FieldErrorView {
                field: "window".into(),
                error: "too long".into(),
            },
        ]);
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["error"], "bad reason");
        assert_eq!(v["field"], "reason");
        assert_eq!(v["errors"][1]["field"], "window");
        let plain = serde_json::to_value(ErrorBody::plain("no request AR-7")).unwrap();
        assert_eq!(plain, json!({"error": "no request AR-7"}));
    }
}
