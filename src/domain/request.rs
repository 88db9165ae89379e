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

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "rejected" => Some(Status::Rejected),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }
}

/// How a decision reached approvald; recorded so that auditors can tell an
/// emailed answer from one given through another channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Channel {
    Email,
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
    /// When the request reached a final status.
    #[serde(default)]
    pub(crate) closed_at: Option<DateTime<Utc>>,
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
    #[error("the request is already {}", .0.as_str())]
    Closed(Status),
    #[error("the request's deadline has passed")]
    PastDeadline,
    #[error("the answer is for level {answered} but the request is at level {current}")]
    WrongLevel { answered: u8, current: u8 },
    #[error("{0} is not an approver of this level")]
    NotAnApprover(Address),
    #[error("{0} requested this access and may not approve it")]
    SelfApproval(Address),
    #[error("{0} has already answered this request")]
    AlreadyAnswered(Address),
    #[error("the narrowed window does not overlap the window granted so far")]
    WindowOutside,
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

    /// Applies an answer, or explains why it cannot be applied (leaving
    /// `self` unchanged).
    pub(crate) fn answer(
        &mut self,
        a: Answer,
        now: DateTime<Utc>,
    ) -> Result<Transition, AnswerRefusal> {
        if self.status != Status::Pending {
            return Err(AnswerRefusal::Closed(self.status));
        }
        if now >= self.deadline {
            return Err(AnswerRefusal::PastDeadline);
        }
        if a.level != self.level {
            return Err(AnswerRefusal::WrongLevel {
                answered: a.level,
                current: self.level,
            });
        }
        if a.approver == self.requester {
            return Err(AnswerRefusal::SelfApproval(a.approver));
        }
        let level = self
            .current_level()
            .cloned()
            .ok_or(AnswerRefusal::Closed(self.status))?;
        if !level.approvers.contains(&a.approver) {
            return Err(AnswerRefusal::NotAnApprover(a.approver));
        }
        // One person, one vote per request, across all levels; the only
        // second answer taken is an APPROVE withdrawn by a DISAPPROVE while
        // its level is still open (the level is the current one: checked
        // above).
        let changed = match self.decisions.iter().find(|d| d.approver == a.approver) {
            None => false,
            Some(d)
                if d.level == a.level && d.verb == Verb::Approve && a.verb == Verb::Disapprove =>
            {
                true
            }
            Some(_) => return Err(AnswerRefusal::AlreadyAnswered(a.approver)),
        };
        let granted = match (a.verb, a.window) {
            (Verb::Approve, Some(w)) => self
                .granted_window
                .intersect(&w)
                .ok_or(AnswerRefusal::WindowOutside)?,
            _ => self.granted_window,
        };
        self.decisions.push(Decision {
            level: a.level,
            approver: a.approver,
            verb: a.verb,
            comment: a.comment,
            at: now,
            channel: a.channel,
            window: a.window,
        });
        if a.verb == Verb::Disapprove {
            self.close(Status::Rejected, now);
            return Ok(Transition::Rejected { changed });
        }
        self.granted_window = granted;
        let approvals = self
            .decisions_at(a.level)
            .filter(|d| d.verb == Verb::Approve)
            .count();
        let approvals = u8::try_from(approvals).unwrap_or(u8::MAX);
        if approvals < level.quorum {
            return Ok(Transition::Recorded {
                missing: level.quorum - approvals,
            });
        }
        if usize::from(self.level) >= self.levels.len() {
            self.close(Status::Approved, now);
            return Ok(Transition::Approved);
        }
        let from = self.level;
        self.level += 1;
        Ok(Transition::LevelAdvanced {
            from,
            to: self.level,
        })
    }

    /// Closes a pending request whose deadline has passed. Returns whether it
    /// did.
    pub(crate) fn expire_if_due(&mut self, now: DateTime<Utc>) -> bool {
        if self.status == Status::Pending && now >= self.deadline {
            self.close(Status::Expired, now);
            return true;
        }
        false
    }

    /// The next instant at which time alone changes this request, if any:
    /// the store indexes it so that timers wake exactly then instead of
    /// scanning every request.
    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::Pending => Some(self.deadline),
            Status::Approved | Status::Rejected | Status::Expired => None,
        }
    }

    fn close(&mut self, status: Status, now: DateTime<Utc>) {
        self.status = status;
        self.closed_at = Some(now);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    pub(crate) fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0)
            .single()
            .unwrap()
    }

    /// Two levels: alice or bob (quorum 1), then carol.
    pub(crate) fn two_level_request() -> Request {
        let w = AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(5)).unwrap();
        Request {
            id: RequestId::new(7),
            nonce: RequestNonce::from_bytes([7; 16]),
            requester: addr("dave@example.test"),
            action: "certificate.sign".into(),
            resource: "web-01".into(),
            justification: "renewal".into(),
            reason: "Incident".into(),
            governance_code: "CHG-1".into(),
            group: "pki".into(),
            requested_window: w,
            granted_window: w,
            levels: vec![
                Level {
                    approvers: vec![addr("alice@example.test"), addr("bob@example.test")],
                    quorum: 1,
                },
                Level {
                    approvers: vec![addr("carol@example.test")],
                    quorum: 1,
                },
            ],
            status: Status::Pending,
            level: 1,
            decisions: vec![],
            created_at: t0(),
            deadline: t0() + Duration::hours(24),
            closed_at: None,
        }
    }

    fn ans(level: u8, who: &str, verb: Verb) -> Answer {
        Answer {
            level,
            approver: addr(who),
            verb,
            comment: String::new(),
            channel: Channel::Email,
            window: None,
        }
    }

    #[test]
    fn quorum_at_each_level_advances_then_approves() {
        let mut r = two_level_request();
        let now = t0() + Duration::minutes(5);
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), now),
            Ok(Transition::LevelAdvanced { from: 1, to: 2 })
        );
        assert_eq!(
            r.answer(ans(2, "carol@example.test", Verb::Approve), now),
            Ok(Transition::Approved)
        );
        assert_eq!(r.status, Status::Approved);
        assert_eq!(r.closed_at, Some(now));
    }

    #[test]
    fn one_disapproval_rejects_and_later_answers_are_refused() {
        let mut r = two_level_request();
        let now = t0();
        assert_eq!(
            r.answer(ans(1, "bob@example.test", Verb::Disapprove), now),
            Ok(Transition::Rejected { changed: false })
        );
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), now),
            Err(AnswerRefusal::Closed(Status::Rejected))
        );
    }

    #[test]
    fn an_approver_may_withdraw_an_approve_while_the_level_is_open() {
        let mut r = two_level_request();
        r.levels[0].quorum = 2;
        let now = t0();
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), now),
            Ok(Transition::Recorded { missing: 1 })
        );
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Disapprove), now),
            Ok(Transition::Rejected { changed: true })
        );
        assert_eq!(r.status, Status::Rejected);
        let verbs: Vec<_> = r.decisions.iter().map(|d| d.verb).collect();
        assert_eq!(
            verbs,
            [Verb::Approve, Verb::Disapprove],
            "the earlier APPROVE stays on record"
        );
    }

    /// Every second answer by one person that is not an APPROVE withdrawn
    /// by a DISAPPROVE at the same open level is refused, whatever the level.
    #[test]
    fn one_person_decides_at_most_once_per_request() {
        let alice = "alice@example.test";
        // alice at both levels: a configuration check-config refuses, and
        // the state machine refuses anyway.
        let both_levels = || {
            let mut r = two_level_request();
            r.levels[1].approvers.push(addr(alice));
            r
        };
        let now = t0();
        let cases: Vec<(&str, Request, Vec<Answer>, Answer)> = vec![
            (
                "approve twice at one level",
                {
                    let mut r = two_level_request();
                    r.levels[0].quorum = 2;
                    r
                },
                vec![ans(1, alice, Verb::Approve)],
                ans(1, alice, Verb::Approve),
            ),
            (
                "approve at level 1, then again at level 2",
                both_levels(),
                vec![ans(1, alice, Verb::Approve)],
                ans(2, alice, Verb::Approve),
            ),
            (
                "approve at level 1, then withdraw at level 2",
                both_levels(),
                vec![ans(1, alice, Verb::Approve)],
                ans(2, alice, Verb::Disapprove),
            ),
        ];
        for (name, mut r, before, again) in cases {
            for a in before {
                assert!(r.answer(a, now).is_ok(), "{name}: setup");
            }
            let kept = r.clone();
            assert_eq!(
                r.answer(again, now),
                Err(AnswerRefusal::AlreadyAnswered(addr(alice))),
                "{name}"
            );
            assert_eq!(r, kept, "{name}: a refused answer changes nothing");
        }
    }

    #[test]
    fn quorum_of_two_needs_two_distinct_approvers() {
        let mut r = two_level_request();
        r.levels[0].quorum = 2;
        let now = t0();
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), now),
            Ok(Transition::Recorded { missing: 1 })
        );
        let before = r.clone();
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), now),
            Err(AnswerRefusal::AlreadyAnswered(addr("alice@example.test")))
        );
        assert_eq!(r, before, "a refused answer leaves the request intact");
        assert_eq!(
            r.answer(ans(1, "bob@example.test", Verb::Approve), now),
            Ok(Transition::LevelAdvanced { from: 1, to: 2 })
        );
    }

    #[test]
    fn requester_can_never_approve_own_request() {
        let mut r = two_level_request();
        r.levels[0].approvers.push(addr("dave@example.test"));
        let before = r.clone();
        assert_eq!(
            r.answer(ans(1, "dave@example.test", Verb::Approve), t0()),
            Err(AnswerRefusal::SelfApproval(addr("dave@example.test")))
        );
        assert_eq!(r, before);
        let asked: Vec<_> = r.askable_approvers(1).into_iter().map(|(i, _)| i).collect();
        assert_eq!(
            asked,
            vec![0, 1],
            "the requester is never mailed as approver"
        );
    }

    #[test]
    fn refusals_table() {
        let now = t0();
        let cases: Vec<(&str, Answer, AnswerRefusal)> = vec![
            (
                "answer for a later level",
                ans(2, "carol@example.test", Verb::Approve),
                AnswerRefusal::WrongLevel {
                    answered: 2,
                    current: 1,
                },
            ),
            (
                "stranger",
                ans(1, "mallory@example.test", Verb::Approve),
                AnswerRefusal::NotAnApprover(addr("mallory@example.test")),
            ),
            (
                "level-2 approver answering at level 1",
                ans(1, "carol@example.test", Verb::Approve),
                AnswerRefusal::NotAnApprover(addr("carol@example.test")),
            ),
        ];
        for (name, answer, want) in cases {
            let mut r = two_level_request();
            assert_eq!(r.answer(answer, now), Err(want), "{name}");
            assert_eq!(r, two_level_request(), "{name}: state changed");
        }
    }

    #[test]
    fn answers_after_the_deadline_are_refused_and_expiry_closes() {
        let mut r = two_level_request();
        let late = r.deadline;
        assert_eq!(
            r.answer(ans(1, "alice@example.test", Verb::Approve), late),
            Err(AnswerRefusal::PastDeadline)
        );
        assert!(!r.expire_if_due(late - Duration::seconds(1)));
        assert!(r.expire_if_due(late));
        assert_eq!(r.status, Status::Expired);
        assert!(!r.expire_if_due(late), "expiring twice does nothing");
    }

    #[test]
    fn refusals_told_to_the_sender_name_no_address() {
        let a = addr("alice@example.test");
        for r in [
            AnswerRefusal::NotAnApprover(a.clone()),
            AnswerRefusal::SelfApproval(a.clone()),
            AnswerRefusal::AlreadyAnswered(a.clone()),
        ] {
            assert!(
                r.to_string().contains("alice@example.test"),
                "audit keeps it"
            );
            assert!(!r.tell().contains('@'), "{}", r.tell());
        }
    }

    #[test]
    fn narrowed_window_is_intersected() {
        let mut r = two_level_request();
        let narrow =
            AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(2)).unwrap();
        let mut a = ans(1, "alice@example.test", Verb::Approve);
        a.window = Some(narrow);
        r.answer(a, t0()).unwrap();
        assert_eq!(r.granted_window, narrow);
        assert_eq!(r.requested_window.length(), Duration::hours(4));
    }

    proptest! {
        /// Whatever sequence of answers arrives, the state machine keeps its
        /// invariants: a closed request never reopens, the level never
        /// exceeds the chain, and refusals never change state.
        #[test]
        fn invariants_hold_for_any_answer_sequence(
            seq in proptest::collection::vec((1u8..=3, 0usize..5, any::<bool>()), 0..20)
        ) {
            let people = ["alice@example.test", "bob@example.test", "carol@example.test",
                          "dave@example.test", "mallory@example.test"];
            let mut r = two_level_request();
            let mut closed: Option<Status> = None;
            for (level, who, approve) in seq {
                let verb = if approve { Verb::Approve } else { Verb::Disapprove };
                let before = r.clone();
                match r.answer(ans(level, people[who], verb), t0()) {
                    Ok(_) => prop_assert!(closed.is_none()),
                    Err(_) => prop_assert_eq!(&r, &before),
                }
                if let Some(c) = closed { prop_assert_eq!(r.status, c); }
                if r.status != Status::Pending { closed = Some(r.status); }
                prop_assert!(usize::from(r.level) <= r.levels.len());
                prop_assert!(r.decisions.iter().all(|d| d.approver != r.requester));
            }
        }
    }
}
