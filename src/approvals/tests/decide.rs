//! Deciding: levels, quorum, rejection, narrowed windows.

use super::*;

// ---- decisions ---------------------------------------------------------------

#[tokio::test]
async fn approval_at_level_one_asks_level_two_then_final_approval_tells_requester() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();

    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), processed());
    let after = f.request(r.id);
    assert_eq!((after.status, after.level), (Status::Pending, 2));
    assert_eq!(after.decisions.len(), 1);
    assert_eq!(after.decisions[0].approver, addr(ALICE));
    let level2 = f.take_outbox();
    assert_eq!(level2.len(), 2, "{level2:#?}");
    let to_bob = level2.iter().find(|m| m.to == addr(BOB)).unwrap();
    assert_eq!(
        to_bob.purpose,
        MailPurpose::Notice,
        "bob's level closed without him"
    );
    assert!(
        to_bob.subject.contains("No longer needs your answer"),
        "{}",
        to_bob.subject
    );
    let to_carol = ask(&level2, CAROL);
    let claims = Token::parse(&token_of(to_carol)).unwrap().claims();
    assert_eq!(claims.level, 2);
    assert!(
        to_carol.subject.contains("level 2 of 2"),
        "{}",
        to_carol.subject
    );
    let audit = f.take_audit();
    assert_eq!(
        kinds(&audit),
        [EventKind::DecisionAccepted, EventKind::LevelAdvanced]
    );
    assert!(audit.iter().all(|e| e.request.as_deref() == Some("AR-1")));
    assert_eq!(audit[0].actor.as_deref(), Some(ALICE));
    assert_eq!(audit[0].level, Some(1));
    assert_eq!(audit[1].level, Some(2));

    assert_eq!(f.answer(to_carol, CAROL, "APPROVE fine by me"), processed());
    let done = f.request(r.id);
    assert_eq!(done.status, Status::Approved);
    assert_eq!(done.closed_at, Some(f.now()));
    assert_eq!(done.decisions[1].comment, "fine by me");
    let outcome = f.take_outbox();
    assert_eq!(outcome.len(), 4, "{outcome:#?}");
    let granted: Vec<_> = outcome[1..].iter().map(|m| m.to.to_string()).collect();
    assert_eq!(
        granted,
        [ALICE, BOB, CAROL],
        "every approver asked hears of the grant"
    );
    assert!(outcome[1..]
        .iter()
        .all(|m| m.purpose == MailPurpose::Notice && m.reply_to.is_some()));
    assert_eq!(outcome[0].purpose, MailPurpose::Decided);
    assert_eq!(outcome[0].to, addr(DAVE));
    assert!(
        outcome[0].subject.contains("Approved"),
        "{}",
        outcome[0].subject
    );
    let audit = f.take_audit();
    assert_eq!(
        kinds(&audit),
        [EventKind::DecisionAccepted, EventKind::Approved]
    );
    assert!(audit.iter().all(|e| e.request.as_deref() == Some("AR-1")));
    assert_eq!(audit[0].reason.as_deref(), Some("APPROVE: fine by me"));
}

#[tokio::test]
async fn disapproval_rejects_and_tells_the_requester() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();

    assert_eq!(
        f.answer(ask(&mails, BOB), BOB, "DISAPPROVE not during the freeze"),
        processed()
    );
    let after = f.request(r.id);
    assert_eq!(after.status, Status::Rejected);
    assert_eq!(after.decisions[0].comment, "not during the freeze");
    let outcome = f.take_outbox();
    assert_eq!(
        outcome.len(),
        2,
        "no level-2 mail after a rejection: {outcome:#?}"
    );
    assert_eq!(
        (outcome[1].purpose, outcome[1].to.as_str()),
        (MailPurpose::Notice, ALICE),
        "alice no longer needs to answer"
    );
    assert_eq!(outcome[0].purpose, MailPurpose::Decided);
    assert_eq!(outcome[0].to, addr(DAVE));
    assert!(
        outcome[0].subject.contains("Rejected"),
        "{}",
        outcome[0].subject
    );
    let audit = f.take_audit();
    assert_eq!(
        kinds(&audit),
        [EventKind::DecisionAccepted, EventKind::Rejected]
    );
    assert!(audit.iter().all(|e| e.request.as_deref() == Some("AR-1")));
    assert_eq!(audit[1].actor.as_deref(), Some(BOB));

    // A later answer to the closed request changes nothing.
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), rejected());
    assert_eq!(f.request(r.id), after);
}

#[tokio::test]
async fn quorum_of_two_is_not_reached_by_one_approver() {
    let mut levels = two_levels();
    levels[0].quorum = 2;
    let f = Fixture::new(levels, SenderRule::TokenAndFrom);
    let (r, mails) = f.submit().await;
    f.take_audit();

    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), processed());
    let half = f.request(r.id);
    assert_eq!((half.status, half.level), (Status::Pending, 1));
    assert!(f.take_outbox().is_empty(), "level 2 asked after one of two");
    assert_eq!(kinds(&f.take_audit()), [EventKind::DecisionAccepted]);

    // The same approver again does not make two.
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), rejected());
    assert_eq!(f.request(r.id), half);
    f.take_outbox();
    f.take_audit();

    assert_eq!(f.answer(ask(&mails, BOB), BOB, "APPROVE"), processed());
    assert_eq!(f.request(r.id).level, 2);
    assert_eq!(ask(&f.take_outbox(), CAROL).to, addr(CAROL));
    assert_eq!(
        kinds(&f.take_audit()),
        [EventKind::DecisionAccepted, EventKind::LevelAdvanced]
    );
}

#[tokio::test]
async fn narrowed_window_is_granted_not_the_requested_one() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    assert_eq!(
        f.answer(ask(&mails, ALICE), ALICE, "APPROVE 1h"),
        processed()
    );
    let after = f.request(r.id);
    assert_eq!(after.requested_window, r.requested_window);
    assert_eq!(after.granted_window.start(), r.requested_window.start());
    assert_eq!(after.granted_window.length(), Duration::hours(1));
}
