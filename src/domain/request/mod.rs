//! An access request and its lifecycle: the approval state machine.
//!
//! Pure: every transition takes `now` as an argument and returns what
//! happened; the caller turns that into mail and audit records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access_window::AccessWindow;
use super::ids::{Address, RequestId, RequestNonce};
use super::verb::Verb;

/// One approval level, snapshotted from the group when the request is created
/// so that later configuration changes never alter a request in flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Level {
    /// Who may decide at this level, in configuration order. A token names an
    /// approver by index into this list.
    pub(crate) approvers: Vec<Address>,
    /// How many APPROVE answers move the request to the next level.
    pub(crate) quorum: u8,
}

/// Who else may decide for a level once it has waited long enough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Escalation {
    /// The level (1-based) it applies to.
    pub(crate) level: u8,
    /// Who is added to the level's approvers, and mailed.
    pub(crate) approvers: Vec<Address>,
    /// How long the level waits, from when it was asked, before them.
    #[serde(with = "seconds")]
    pub(crate) after: chrono::Duration,
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<chrono::Duration, D::Error> {
        Ok(chrono::Duration::seconds(i64::deserialize(d)?))
    }
}

/// Where a request is in its life.
///
/// ```text
/// pending ──quorum at the last level / override──▶ approved ──window start──▶ active ──window end──▶ ended
///    │                                                 │                         │
///    ├─ DISAPPROVE / override ─▶ rejected              └──── revoke ──▶ revoked ◀┘
///    ├─ deadline ─▶ expired
///    └─ cancel ─▶ cancelled
/// ```
///
/// Emergency and justification-only requests start at `approved`. `ended`,
/// `rejected`, `expired`, `cancelled` and `revoked` are final: nothing
/// leaves them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Pending,
    /// Granted; the window has not started.
    Approved,
    /// Granted and inside its window: the only status the grants check
    /// answers "allowed" for.
    Active,
    /// The window is over; the credential may be rotated.
    Ended,
    Rejected,
    Expired,
    Cancelled,
    Revoked,
}

impl Status {
    /// Every status, in lifecycle order.
    pub(crate) const ALL: [Status; 8] = [
        Status::Pending,
        Status::Approved,
        Status::Active,
        Status::Ended,
        Status::Rejected,
        Status::Expired,
        Status::Cancelled,
        Status::Revoked,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Active => "active",
            Status::Ended => "ended",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
            Status::Revoked => "revoked",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether nothing can happen to a request in this status any more.
    pub(crate) fn is_final(self) -> bool {
        !matches!(self, Status::Pending | Status::Approved | Status::Active)
    }

    /// Whether access was granted (whether or not its window has come).
    pub(crate) fn is_granted(self) -> bool {
        matches!(self, Status::Approved | Status::Active)
    }
}

/// How a decision reached approvald; recorded so that auditors can tell an
/// emailed answer from one given through another channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Channel {
    /// A reply to an approval mail.
    Email,
    /// A click on the decision page the approval mail links to.
    Link,
    /// A call on the API by an administrator (cancel, revoke).
    Api,
    /// An administrator's override of the approvers.
    Override,
}

/// How a request is granted: chosen at submission from what its group
/// allows, and kept so that every list, mail and audit event can say it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Route {
    /// Level by level, by the approvers.
    #[default]
    Approvers,
    /// Break-glass: granted at once, every approver told, any may revoke.
    Emergency,
    /// Granted at once on the justification alone, recorded and audited.
    Justification,
}

impl Route {
    /// The name mails and the API show.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Route::Approvers => "approvers",
            Route::Emergency => "emergency",
            Route::Justification => "justification",
        }
    }
}

/// What an administrator (or, for a revoke, an approver) did to a request
/// outside the approval levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InterventionKind {
    /// A pending request withdrawn.
    Cancel,
    /// Granted access taken back.
    Revoke,
    /// A pending request decided over the approvers' heads.
    Override {
        /// `approved` or `rejected`.
        to: Status,
    },
}

/// A recorded intervention: who, why, when, by which channel. Kept on the
/// request (not only in the audit trail) so that the request itself says
/// why it ended as it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intervention {
    pub(crate) kind: InterventionKind,
    /// The person named as acting: an administrator's name as the API
    /// caller gave it, or the approver's address for a revoke by reply.
    pub(crate) by: String,
    /// The local account that made the call, when it came through the API:
    /// the name in `by` is the caller's word, the uid is the kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) uid: Option<u32>,
    pub(crate) reason: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) channel: Channel,
}

/// One approver's recorded answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Decision {
    /// Level (1-based) the answer was given at.
    pub(crate) level: u8,
    pub(crate) approver: Address,
    pub(crate) verb: Verb,
    /// Free text after the verb; shown to later levels and the requester.
    pub(crate) comment: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) channel: Channel,
    /// A narrower window the approver granted, if they narrowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) window: Option<AccessWindow>,
}

/// An access request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) id: RequestId,
    /// Drawn at creation and bound into every token issued for the request
    /// (see [`RequestNonce`]). Records from before nonces read as all
    /// zeros; tokens of that era are refused, so nothing is signed for them.
    #[serde(default)]
    pub(crate) nonce: RequestNonce,
    pub(crate) requester: Address,
    /// The privileged action, e.g. `certificate.sign`.
    pub(crate) action: String,
    /// What the action applies to, e.g. a certificate or vault entry name.
    pub(crate) resource: String,
    pub(crate) justification: String,
    /// One of the registered reasons.
    pub(crate) reason: String,
    /// The governance reference (change or incident ticket) the request answers to.
    pub(crate) governance_code: String,
    /// The group whose policy admitted the request.
    pub(crate) group: String,
    /// The window the requester asked for.
    pub(crate) requested_window: AccessWindow,
    /// The window access is granted for: the requested window narrowed by
    /// every approver who narrowed it. Meaningful once approved.
    pub(crate) granted_window: AccessWindow,
    /// The approval chain, snapshotted at creation.
    pub(crate) levels: Vec<Level>,
    pub(crate) status: Status,
    /// Current level, 1-based; stays at the last level reached once closed.
    pub(crate) level: u8,
    /// Every accepted answer, in the order it was applied.
    pub(crate) decisions: Vec<Decision>,
    pub(crate) created_at: DateTime<Utc>,
    /// A request still pending at this time expires.
    pub(crate) deadline: DateTime<Utc>,
    /// When the request left `pending` (decided, expired or cancelled).
    #[serde(default)]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    /// How it is granted (approvers, emergency, justification alone).
    #[serde(default)]
    pub(crate) route: Route,
    /// Cancel, revoke and override, in the order they happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) interventions: Vec<Intervention>,
    /// Snapshotted from the group: reminders to the open level, as
    /// percentages of the time from submission to the deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) reminders: Vec<u8>,
    /// How many of `reminders` have come (sent or passed over).
    #[serde(default)]
    pub(crate) reminders_sent: u8,
    /// Snapshotted from the group: per level, who else may decide after a
    /// while.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) escalations: Vec<Escalation>,
    /// When the current level was asked (the request's creation for level
    /// 1): escalation counts from here.
    #[serde(default)]
    pub(crate) level_opened_at: Option<DateTime<Utc>>,
    /// Levels whose escalation has happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) escalated: Vec<u8>,
    /// Snapshotted from the group: where to POST when access ends (window
    /// over or revoked), so a vault rotates or a proxy cuts the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) on_end: Option<String>,
    /// Snapshotted from the group: who hears of every outcome (a security
    /// team) without deciding anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) notify: Vec<Address>,
    /// Snapshotted from the group: an answer without a comment is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) require_comment: bool,
}

/// An answer to apply.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// Level (1-based) the answer's token was issued for.
    pub(crate) level: u8,
    pub(crate) approver: Address,
    pub(crate) verb: Verb,
    pub(crate) comment: String,
    pub(crate) channel: Channel,
    pub(crate) window: Option<AccessWindow>,
}

/// What applying an answer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Recorded; the level still needs `missing` more approvals.
    Recorded { missing: u8 },
    /// The level reached its quorum; the next level must now be asked.
    LevelAdvanced { from: u8, to: u8 },
    /// The last level reached its quorum.
    Approved,
    /// A disapproval closed the request. `changed` when it came from an
    /// approver who had approved at this still-open level and changed their
    /// mind.
    Rejected { changed: bool },
}

/// Why an answer was not applied. Each leaves the request untouched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AnswerRefusal {
    #[error("the request is already {}; it no longer needs an answer", .0.as_str())]
    Closed(Status),
    #[error("the request's deadline has passed")]
    PastDeadline,
    #[error("{}", wrong_level(*.answered, *.current))]
    WrongLevel { answered: u8, current: u8 },
    #[error("{0} is not an approver of this level")]
    NotAnApprover(Address),
    #[error("{0} requested this access and may not approve it")]
    SelfApproval(Address),
    #[error("{0} has already answered this request")]
    AlreadyAnswered(Address),
    #[error("the narrowed window does not overlap the window granted so far")]
    WindowOutside,
    #[error("REVOKE takes granted access back; this request is {}, so there is nothing to revoke", .0.as_str())]
    NothingToRevoke(Status),
    #[error("this request needs a comment with every answer: write it after the word, e.g. APPROVE - checked the change ticket")]
    CommentRequired,
}

fn wrong_level(answered: u8, current: u8) -> String {
    if answered < current {
        format!("level {answered} was already decided (the request is at level {current}); it no longer needs this answer")
    } else {
        format!("the answer is for level {answered} but the request is at level {current}")
    }
}

impl AnswerRefusal {
    /// The reason as told to whoever sent the answer: without addresses,
    /// since under the `token` sender policy that may be anyone holding the
    /// token. The audit log keeps the full [`Display`](std::fmt::Display).
    pub(crate) fn tell(&self) -> String {
        match self {
            AnswerRefusal::NotAnApprover(_) => {
                "the token does not belong to an approver of this level".into()
            }
            AnswerRefusal::SelfApproval(_) => {
                "a requester may not approve their own request".into()
            }
            AnswerRefusal::AlreadyAnswered(_) => {
                "this approver has already answered this request".into()
            }
            AnswerRefusal::Closed(status) if status.is_granted() => format!(
                "the request is already {}; to take the access back, reply REVOKE to the \"Approved: access granted\" mail",
                status.as_str()
            ),
            other => other.to_string(),
        }
    }
}

impl Request {
    /// The level currently being asked, if the request is still pending.
    pub(crate) fn current_level(&self) -> Option<&Level> {
        if self.status != Status::Pending {
            return None;
        }
        self.levels.get(usize::from(self.level.saturating_sub(1)))
    }

    /// Approvers of `level` (1-based) who are asked by mail: everyone but the
    /// requester, who may never approve their own request.
    pub(crate) fn askable_approvers(&self, level: u8) -> Vec<(u8, &Address)> {
        let Some(l) = self.levels.get(usize::from(level.saturating_sub(1))) else {
            return Vec::new();
        };
        l.approvers
            .iter()
            .enumerate()
            .filter(|(_, a)| **a != self.requester)
            .filter_map(|(i, a)| u8::try_from(i).ok().map(|i| (i, a)))
            .collect()
    }

    /// Decisions given at `level`.
    pub(crate) fn decisions_at(&self, level: u8) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(move |d| d.level == level)
    }
}

mod answer;
mod lifecycle;

pub(crate) use lifecycle::Tick;

#[cfg(test)]
pub(crate) mod tests;
