//! The state machine's tests: answers, time, interventions, and properties.

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
        route: Route::Approvers,
        interventions: vec![],
        require_comment: false,
        notify: vec![],
        reminders: Vec::new(),
        reminders_sent: 0,
        escalations: Vec::new(),
        level_opened_at: None,
        escalated: Vec::new(),
        on_end: None,
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
    assert!(r.advance(late - Duration::seconds(1)).is_empty());
    assert_eq!(r.advance(late), vec![Tick::Expired]);
    assert_eq!(r.status, Status::Expired);
    assert!(r.advance(late).is_empty(), "expiring twice does nothing");
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
    let narrow = AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(2)).unwrap();
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

fn intervention(at: DateTime<Utc>) -> Intervention {
    Intervention {
        kind: InterventionKind::Cancel,
        by: "admin".into(),
        uid: Some(0),
        reason: "because".into(),
        at,
        channel: Channel::Api,
    }
}

/// Every move out of every status: what each lifecycle step does from
/// each status, read back as (status before, step, status after or
/// refused).
#[test]
fn lifecycle_table() {
    let w = two_level_request().granted_window;
    let (before, inside, after) = (t0(), w.start(), w.end());
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Time(fn(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) -> DateTime<Utc>),
        Cancel,
        Revoke,
        Approve,
        Reject,
    }
    let at_inside: fn(_, _, _) -> _ = |_, i, _| i;
    let at_after: fn(_, _, _) -> _ = |_, _, a| a;
    let at_deadline: fn(_, _, _) -> _ = |_, _, _| t0() + Duration::hours(24);
    use Status::*;
    let rows: Vec<(Status, Step, Option<Status>)> = vec![
        (Pending, Step::Time(at_deadline), Some(Expired)),
        (Pending, Step::Time(at_inside), Some(Pending)),
        (Approved, Step::Time(at_inside), Some(Active)),
        (Approved, Step::Time(at_after), Some(Ended)),
        (Active, Step::Time(at_after), Some(Ended)),
        (Active, Step::Time(at_inside), Some(Active)),
        (Pending, Step::Cancel, Some(Cancelled)),
        (Approved, Step::Cancel, None),
        (Active, Step::Cancel, None),
        (Pending, Step::Revoke, None),
        (Approved, Step::Revoke, Some(Revoked)),
        (Active, Step::Revoke, Some(Revoked)),
        (Pending, Step::Approve, Some(Approved)),
        (Pending, Step::Reject, Some(Rejected)),
        (Approved, Step::Approve, None),
        (Active, Step::Reject, None),
    ];
    let mut rows = rows;
    // Nothing leaves a final status, by any step.
    for final_status in [Ended, Rejected, Expired, Cancelled, Revoked] {
        for step in [
            Step::Time(at_after),
            Step::Time(at_deadline),
            Step::Cancel,
            Step::Revoke,
            Step::Approve,
            Step::Reject,
        ] {
            let want = matches!(step, Step::Time(_)).then_some(final_status);
            rows.push((final_status, step, want));
        }
    }
    for (from, step, want) in rows {
        let mut r = two_level_request();
        r.status = from;
        let was = r.clone();
        let got = match step {
            Step::Time(at) => {
                r.advance(at(before, inside, after));
                Some(r.status)
            }
            Step::Cancel => r.cancel(intervention(before)).ok().map(|()| r.status),
            Step::Revoke => r.revoke(intervention(before)).ok().map(|()| r.status),
            Step::Approve => r
                .override_to(Status::Approved, intervention(before))
                .ok()
                .map(|_| r.status),
            Step::Reject => r
                .override_to(Status::Rejected, intervention(before))
                .ok()
                .map(|_| r.status),
        };
        assert_eq!(got, want, "{from:?} {step:?}");
        if want.is_none() {
            assert_eq!(r, was, "a refused step leaves the request untouched");
        }
    }
}

#[test]
fn an_override_cannot_set_any_other_status() {
    for to in [
        Status::Pending,
        Status::Active,
        Status::Ended,
        Status::Revoked,
    ] {
        let mut r = two_level_request();
        assert!(r.override_to(to, intervention(t0())).is_err(), "{to:?}");
        assert_eq!(r, two_level_request());
    }
}

#[test]
fn an_approval_inside_the_window_is_live_at_once_and_the_grant_follows_the_window() {
    let mut r = two_level_request();
    let start = r.granted_window.start();
    let end = r.granted_window.end();
    r.answer(ans(1, "alice@example.test", Verb::Approve), start)
        .unwrap();
    r.answer(ans(2, "carol@example.test", Verb::Approve), start)
        .unwrap();
    assert_eq!(r.status, Status::Approved);
    assert!(!r.allows_at(start), "approved is not yet active");
    assert_eq!(r.advance(start), vec![Tick::Started]);
    assert!(r.allows_at(start));
    assert!(!r.allows_at(end), "never past the window's end");
    assert_eq!(r.next_due(), Some(end));
    assert_eq!(r.advance(end), vec![Tick::Ended]);
    assert_eq!(r.next_due(), None);
    assert!(!r.allows_at(start));
}

#[test]
fn emergency_is_granted_at_once_and_may_be_revoked() {
    let mut r = two_level_request();
    let start = r.granted_window.start();
    assert_eq!(
        r.grant_at_once(Route::Emergency, start),
        vec![Tick::Started]
    );
    assert_eq!((r.status, r.route), (Status::Active, Route::Emergency));
    assert!(r.allows_at(start));
    r.revoke(intervention(start)).unwrap();
    assert_eq!(r.status, Status::Revoked);
    assert!(!r.allows_at(start));
    assert_eq!(r.interventions.len(), 1);
    assert_eq!(r.interventions[0].kind, InterventionKind::Revoke);
}

#[test]
fn a_cancelled_request_refuses_every_answer() {
    let mut r = two_level_request();
    r.cancel(intervention(t0())).unwrap();
    assert_eq!(
        r.answer(ans(1, "alice@example.test", Verb::Approve), t0()),
        Err(AnswerRefusal::Closed(Status::Cancelled))
    );
}

proptest! {
    /// Any sequence of steps at any times: a final status never changes,
    /// `advance` applied twice does nothing the second time, and the
    /// request allows access only while active and inside its window.
    #[test]
    fn lifecycle_invariants_for_any_sequence(
        steps in proptest::collection::vec((0u8..6, 0i64..(30 * 60)), 0..25)
    ) {
        let mut r = two_level_request();
        let mut final_seen: Option<Status> = None;
        for (step, minutes) in steps {
            let at = t0() + Duration::minutes(minutes);
            let i = intervention(at);
            match step {
                0 => { r.advance(at); }
                // Refusals are allowed here; the invariants below are what
                // is checked.
                1 => { r.cancel(i).ok(); }
                2 => { r.revoke(i).ok(); }
                3 => { r.override_to(Status::Approved, i).ok(); }
                4 => { r.override_to(Status::Rejected, i).ok(); }
                _ => { r.answer(ans(r.level, "alice@example.test", Verb::Approve), at).ok(); }
            }
            r.advance(at);
            let once = r.clone();
            prop_assert!(r.advance(at).is_empty(), "advance is idempotent");
            prop_assert_eq!(&r, &once);
            if let Some(f) = final_seen { prop_assert_eq!(r.status, f); }
            if r.status.is_final() { final_seen = Some(r.status); }
            if r.allows_at(at) {
                prop_assert_eq!(r.status, Status::Active);
                prop_assert!(r.granted_window.start() <= at && at < r.granted_window.end());
            }
            prop_assert_eq!(r.next_due().is_none(), r.status.is_final());
        }
    }
}

#[test]
fn a_group_that_requires_a_comment_refuses_a_bare_verb() {
    let mut r = two_level_request();
    r.require_comment = true;
    assert_eq!(
        r.answer(ans(1, "alice@example.test", Verb::Approve), t0()),
        Err(AnswerRefusal::CommentRequired)
    );
    assert_eq!(r, {
        let mut same = two_level_request();
        same.require_comment = true;
        same
    });
    let mut with_comment = ans(1, "alice@example.test", Verb::Disapprove);
    with_comment.comment = "  ".into();
    assert_eq!(
        r.answer(with_comment, t0()),
        Err(AnswerRefusal::CommentRequired)
    );
    let mut with_comment = ans(1, "alice@example.test", Verb::Approve);
    with_comment.comment = "checked CHG-1".into();
    assert!(r.answer(with_comment, t0()).is_ok());
}

/// Reminders at 50% and 90% of the time to the deadline (24 h): each once,
/// in order, several passed at once collapsed into one, none after a
/// decision.
#[test]
fn reminders_come_once_each_at_their_share_of_the_deadline() {
    let mut r = two_level_request();
    r.reminders = vec![50, 90];
    let half = t0() + Duration::hours(12);
    assert_eq!(r.next_due(), Some(half));
    assert!(r.advance(half - Duration::seconds(1)).is_empty());
    assert_eq!(r.advance(half), vec![Tick::Reminded { level: 1 }]);
    assert!(r.advance(half).is_empty(), "once");
    let ninety = t0() + Duration::minutes(24 * 60 * 9 / 10);
    assert_eq!(r.next_due(), Some(ninety));
    let mut late = r.clone();
    assert_eq!(late.advance(ninety), vec![Tick::Reminded { level: 1 }]);
    assert_eq!(late.next_due(), Some(late.deadline));

    let mut both = two_level_request();
    both.reminders = vec![50, 90];
    assert_eq!(
        both.advance(ninety),
        vec![Tick::Reminded { level: 1 }],
        "collapsed"
    );
    assert_eq!(both.reminders_sent, 2);

    let mut decided = two_level_request();
    decided.reminders = vec![50];
    decided.cancel(intervention(t0())).unwrap();
    assert!(decided.advance(half).is_empty());
}

/// Level 1 escalates to erin after 2 h: she is added after the level's
/// own approvers (indexes of tokens already issued stay), may decide, and
/// the escalation happens once; a person of another level is never added.
#[test]
fn escalation_adds_its_approvers_to_the_waiting_level_once() {
    let mut r = two_level_request();
    r.level_opened_at = Some(t0());
    r.escalations = vec![Escalation {
        level: 1,
        approvers: vec![addr("erin@example.test"), addr("carol@example.test")],
        after: Duration::hours(2),
    }];
    let at = t0() + Duration::hours(2);
    assert_eq!(r.next_due(), Some(at));
    assert_eq!(r.advance(at), vec![Tick::Escalated { level: 1 }]);
    assert_eq!(
        r.levels[0].approvers,
        vec![
            addr("alice@example.test"),
            addr("bob@example.test"),
            addr("erin@example.test")
        ],
        "carol decides at level 2 and is not added to level 1"
    );
    assert!(r.advance(at + Duration::hours(1)).is_empty(), "once");
    assert_eq!(r.next_due(), Some(r.deadline));
    assert_eq!(
        r.answer(ans(1, "erin@example.test", Verb::Approve), at),
        Ok(Transition::LevelAdvanced { from: 1, to: 2 })
    );
    assert_eq!(r.level_opened_at, Some(at), "level 2 counts from now");
}
