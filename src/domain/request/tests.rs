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
