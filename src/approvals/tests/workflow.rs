//! The workflow beyond levels: windows and the grants check, emergency and
//! justification-only access, cancel, revoke and override — each committed
//! with its notices and audit, and refused when it does not apply.

use super::*;
use crate::approvals::{Act, ActionError};

const DAVES_ACCOUNT: Caller = Caller::Local { uid: 1000 };
const STRANGER: Caller = Caller::Local { uid: 4242 };

/// The standard group, plus one allowing emergency access for
/// `vault.read` and one granting `proxy.open` on justification alone.
fn workflow_policy() -> Policy {
    let mut p = policy(two_levels());
    let base = p.groups[0].clone();
    p.groups.push(Group {
        name: "on-call".into(),
        actions: vec!["vault.read".into()],
        emergency: true,
        ..base.clone()
    });
    p.groups.push(Group {
        name: "proxy".into(),
        actions: vec!["proxy.open".into()],
        levels: vec![],
        justification_only: true,
        ..base
    });
    p
}

fn fixture() -> Fixture {
    Fixture::build(workflow_policy(), SenderRule::TokenAndFrom, 60)
}

fn asking(action: &str, emergency: bool) -> Submission {
    Submission {
        action: action.into(),
        emergency,
        ..submission()
    }
}

async fn grant(f: &Fixture, action: &str) -> crate::approvals::GrantAnswer {
    f.svc
        .check_grant(&addr(DAVE), action, "web-01", ADMIN)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_grants_check_follows_pending_approved_active_ended() {
    let f = fixture();
    let (r, mails) = f.submit().await;
    let g = grant(&f, "certificate.sign").await;
    assert_eq!(
        (g.allowed, g.request, g.reason.as_str()),
        (false, Some(r.id), "pending approval")
    );

    f.answer(ask(&mails, ALICE), ALICE, "APPROVE");
    let level2 = f.take_outbox();
    f.answer(ask(&level2, CAROL), CAROL, "APPROVE");
    assert_eq!(f.request(r.id).status, Status::Approved);
    let g = grant(&f, "certificate.sign").await;
    assert!(
        !g.allowed && g.reason.starts_with("approved; the window starts"),
        "{g:?}"
    );

    f.take_audit();
    f.advance(Duration::hours(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 1);
    assert_eq!(f.request(r.id).status, Status::Active);
    let g = grant(&f, "certificate.sign").await;
    assert!(g.allowed, "{g:?}");
    assert_eq!(g.until, Some(r.granted_window.end()));
    assert!(
        !grant(&f, "vault.read").await.allowed,
        "another action is another subject"
    );

    f.advance(Duration::hours(2));
    assert_eq!(f.svc.apply_due().await.unwrap(), 1);
    assert_eq!(f.request(r.id).status, Status::Ended);
    assert!(!grant(&f, "certificate.sign").await.allowed);
    let audit = f.take_audit();
    let moved: Vec<_> = kinds(&audit)
        .into_iter()
        .filter(|k| *k != EventKind::GrantChecked)
        .collect();
    assert_eq!(moved, [EventKind::WindowStarted, EventKind::WindowEnded]);
    let ended = audit
        .iter()
        .find(|e| e.kind == EventKind::WindowEnded)
        .unwrap();
    assert!(
        ended.message.contains("may be rotated"),
        "{}",
        ended.message
    );
    assert!(
        audit
            .iter()
            .filter(|e| e.kind == EventKind::GrantChecked)
            .count()
            >= 2,
        "every check is audited"
    );
    assert_eq!(f.svc.apply_due().await.unwrap(), 0, "timers are idempotent");
}

#[tokio::test]
async fn emergency_is_granted_at_once_and_every_approver_is_told() {
    let f = fixture();
    f.advance(Duration::hours(1));
    let mut sub = asking("vault.read", true);
    sub.window = AccessWindow::new(f.now(), f.now() + Duration::hours(1)).unwrap();
    let r = f.svc.submit(sub, ADMIN).await.unwrap();
    assert_eq!(
        (r.status, r.route),
        (Status::Active, crate::domain::request::Route::Emergency)
    );
    let mails = f.take_outbox();
    let notices: Vec<_> = mails
        .iter()
        .filter(|m| m.purpose == MailPurpose::Notice)
        .collect();
    let mut told: Vec<_> = notices.iter().map(|m| m.to.to_string()).collect();
    told.sort();
    assert_eq!(told, [ALICE, BOB, CAROL], "every approver of every level");
    assert!(
        mails.iter().all(|m| m.subject.contains("EMERGENCY")),
        "{mails:#?}"
    );
    assert!(mails
        .iter()
        .all(|m| m.purpose != MailPurpose::ApprovalRequest));
    assert!(
        notices[0].text.contains("the certificate expires tomorrow"),
        "the full request"
    );
    let audit = f.take_audit();
    let alert = audit
        .iter()
        .find(|e| e.kind == EventKind::EmergencyGranted)
        .unwrap();
    assert_eq!(alert.kind.severity(), crate::records::Severity::Alert);
    let g = f
        .svc
        .check_grant(&addr(DAVE), "vault.read", "web-01", ADMIN)
        .await
        .unwrap();
    assert!(g.allowed && g.emergency, "{g:?}");

    let revoked = f
        .svc
        .act(r.id, Act::Revoke, "alice", "not an incident", ADMIN)
        .await
        .unwrap();
    assert_eq!(revoked.status, Status::Revoked);
    let g = f
        .svc
        .check_grant(&addr(DAVE), "vault.read", "web-01", ADMIN)
        .await
        .unwrap();
    assert!(!g.allowed);
    let told: Vec<_> = f.take_outbox().iter().map(|m| m.to.to_string()).collect();
    assert!(
        told.contains(&DAVE.to_string()) && told.contains(&CAROL.to_string()),
        "{told:?}"
    );
}

#[tokio::test]
async fn emergency_where_the_group_does_not_allow_it_is_refused_naming_the_field() {
    let f = fixture();
    let err = f
        .svc
        .submit(asking("certificate.sign", true), ADMIN)
        .await
        .unwrap_err();
    let SubmitError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(errors[0].field, "emergency");
    assert!(f.take_outbox().is_empty());
    assert!(f.svc.list(&Filter::default(), ALL).unwrap().is_empty());
}

#[tokio::test]
async fn justification_only_is_granted_without_asking_anyone() {
    let f = fixture();
    let r = f
        .svc
        .submit(asking("proxy.open", false), ADMIN)
        .await
        .unwrap();
    assert_eq!(r.status, Status::Approved, "the window starts in an hour");
    let mails = f.take_outbox();
    assert!(
        mails.iter().all(|m| m.to == addr(DAVE)),
        "no approver mail: {mails:#?}"
    );
    let purposes: Vec<_> = mails.iter().map(|m| m.purpose).collect();
    assert_eq!(purposes, [MailPurpose::Received, MailPurpose::Decided]);
    let audit = f.take_audit();
    let granted = audit
        .iter()
        .find(|e| e.kind == EventKind::JustificationGranted)
        .unwrap();
    assert_eq!(
        granted.reason.as_deref(),
        Some("the certificate expires tomorrow")
    );
}

#[tokio::test]
async fn a_second_pending_request_for_the_same_subject_is_refused() {
    let f = fixture();
    let (first, _) = f.submit().await;
    match f.svc.submit(submission(), ADMIN).await {
        Err(SubmitError::Duplicate(id)) => assert_eq!(id, first.id),
        other => panic!("{other:?}"),
    }
    let mut elsewhere = submission();
    elsewhere.resource = "web-02".into();
    assert!(
        f.svc.submit(elsewhere, ADMIN).await.is_ok(),
        "another resource is fine"
    );
    f.svc
        .act(first.id, Act::Cancel, "dave", "wrong window", DAVES_ACCOUNT)
        .await
        .unwrap();
    assert!(
        f.svc.submit(submission(), ADMIN).await.is_ok(),
        "resubmitted at once after a cancel"
    );
}

#[tokio::test]
async fn cancel_kills_the_tokens_and_tells_those_asked() {
    let f = fixture();
    let (r, mails) = f.submit().await;
    let cancelled = f
        .svc
        .act(r.id, Act::Cancel, "dave", "wrong window", DAVES_ACCOUNT)
        .await
        .unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    let mut told: Vec<_> = f.take_outbox().iter().map(|m| m.to.to_string()).collect();
    told.sort();
    assert_eq!(
        told,
        [ALICE, BOB, DAVE],
        "the requester and level 1, not level 2"
    );
    f.take_audit();
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), rejected());
    let audit = f.take_audit();
    assert!(
        audit
            .iter()
            .any(|e| e.reason.as_deref().is_some_and(|r| r.contains("cancelled"))),
        "{audit:#?}"
    );
    assert_eq!(f.request(r.id).status, Status::Cancelled);
}

#[tokio::test]
async fn override_is_recorded_audited_as_a_warning_and_never_silent() {
    let f = fixture();
    let (r, _) = f.submit().await;
    f.take_audit();
    let done = f
        .svc
        .act(
            r.id,
            Act::Override(Status::Approved),
            "root on call",
            "CAB approved by phone",
            ADMIN,
        )
        .await
        .unwrap();
    assert_eq!(done.status, Status::Approved);
    let i = &done.interventions[0];
    assert_eq!(
        (i.by.as_str(), i.uid, i.channel),
        (
            "root on call",
            Some(0),
            crate::domain::request::Channel::Override
        )
    );
    let audit = f.take_audit();
    let ev = audit
        .iter()
        .find(|e| e.kind == EventKind::Overridden)
        .unwrap();
    assert_eq!(ev.kind.severity(), crate::records::Severity::Warning);
    assert_eq!(ev.reason.as_deref(), Some("CAB approved by phone"));
    assert!(ev.actor.as_deref().unwrap().contains("uid 0"));
    let told: Vec<_> = f.take_outbox().iter().map(|m| m.to.to_string()).collect();
    assert!(
        told.contains(&DAVE.to_string()) && told.contains(&ALICE.to_string()),
        "{told:?}"
    );
}

/// Who may do what, and what is refused: every refusal audited, nothing
/// changed.
#[tokio::test]
async fn interventions_refused_table() {
    let f = fixture();
    let (r, _) = f.submit().await;
    type Row = (
        &'static str,
        Act,
        &'static str,
        &'static str,
        Caller,
        &'static str,
    );
    let rows: Vec<Row> = vec![
        (
            "a stranger cancels",
            Act::Cancel,
            "x",
            "y",
            STRANGER,
            "forbidden",
        ),
        (
            "the requester's account overrides",
            Act::Override(Status::Approved),
            "dave",
            "y",
            DAVES_ACCOUNT,
            "forbidden",
        ),
        (
            "the requester's account revokes",
            Act::Revoke,
            "dave",
            "y",
            DAVES_ACCOUNT,
            "forbidden",
        ),
        ("no reason", Act::Cancel, "root", " ", ADMIN, "invalid"),
        ("no name", Act::Cancel, "", "why", ADMIN, "invalid"),
        (
            "a bidi control in the name",
            Act::Cancel,
            "ro\u{202e}ot",
            "why",
            ADMIN,
            "invalid",
        ),
        (
            "override to active",
            Act::Override(Status::Active),
            "root",
            "why",
            ADMIN,
            "invalid",
        ),
        (
            "revoke a pending request",
            Act::Revoke,
            "root",
            "why",
            ADMIN,
            "conflict",
        ),
    ];
    for (name, act, by, reason, caller, want) in rows {
        f.take_audit();
        let got = f.svc.act(r.id, act, by, reason, caller).await;
        let kind = match got {
            Err(ActionError::Forbidden(_)) => "forbidden",
            Err(ActionError::Invalid(_)) => "invalid",
            Err(ActionError::Conflict(_)) => "conflict",
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(kind, want, "{name}");
        assert_eq!(f.request(r.id).status, Status::Pending, "{name}");
        assert_eq!(kinds(&f.take_audit()), [EventKind::ActionRefused], "{name}");
        assert!(f.take_outbox().is_empty(), "{name}");
    }
    let missing = f
        .svc
        .act(RequestId::new(99), Act::Cancel, "root", "why", ADMIN)
        .await;
    assert!(matches!(missing, Err(ActionError::NotFound(_))));
}

#[tokio::test]
async fn watchers_hear_every_outcome_and_a_late_reply_is_told_it_is_no_longer_needed() {
    let mut p = workflow_policy();
    p.groups[0].notify = vec![addr("security@example.test")];
    let f = Fixture::build(p, SenderRule::TokenAndFrom, 60);
    let (r, mails) = f.submit().await;
    f.answer(ask(&mails, ALICE), ALICE, "APPROVE");
    let level2 = f.take_outbox();
    f.answer(ask(&level2, CAROL), CAROL, "DISAPPROVE");
    let outcome = f.take_outbox();
    let watcher = outcome
        .iter()
        .find(|m| m.to == addr("security@example.test"))
        .expect("the watcher is told");
    assert!(watcher.subject.contains("Rejected"), "{}", watcher.subject);
    f.take_audit();
    // Bob's level closed without him: his reply is refused, and the
    // explanation says why in plain words.
    assert_eq!(f.answer(ask(&mails, BOB), BOB, "APPROVE"), rejected());
    let told = f.take_outbox();
    assert!(
        told.iter()
            .any(|m| m.to == addr(BOB) && m.text.contains("no longer needs an answer")),
        "{told:#?}"
    );
    assert_eq!(f.request(r.id).status, Status::Rejected);
}

/// The grant notice every approver gets carries a token of its own: a
/// REVOKE reply from any of them ends the access; a REVOKE to a pending
/// request, an APPROVE to the grant notice and a REVOKE from someone else
/// change nothing.
#[tokio::test]
async fn revoke_by_reply_table() {
    let f = fixture();
    let (r, mails) = f.submit().await;
    assert_eq!(
        f.answer(ask(&mails, ALICE), ALICE, "REVOKE"),
        rejected(),
        "nothing granted yet"
    );
    assert_eq!(f.request(r.id).status, Status::Pending);
    f.take_outbox();
    f.answer(ask(&mails, ALICE), ALICE, "APPROVE");
    let level2 = f.take_outbox();
    f.answer(ask(&level2, CAROL), CAROL, "APPROVE");
    let granted = f.take_outbox();
    let notice_to = |who: &str| {
        granted
            .iter()
            .find(|m| m.to == addr(who) && m.purpose == MailPurpose::Notice)
            .unwrap()
            .clone()
    };
    let to_bob = notice_to(BOB);
    assert!(to_bob.text.contains("reply with REVOKE"), "{}", to_bob.text);
    assert_eq!(
        f.answer(&to_bob, MALLORY, "REVOKE"),
        rejected(),
        "not from bob"
    );
    assert_eq!(
        f.answer(&to_bob, BOB, "APPROVE"),
        rejected(),
        "already approved"
    );
    assert_eq!(f.request(r.id).status, Status::Approved);
    f.take_outbox();
    f.take_audit();
    assert_eq!(
        f.answer(&to_bob, BOB, "REVOKE - not during the freeze"),
        processed()
    );
    let done = f.request(r.id);
    assert_eq!(done.status, Status::Revoked);
    let i = done.interventions.last().unwrap();
    assert_eq!(
        (i.by.as_str(), i.reason.as_str(), i.channel),
        (
            BOB,
            "not during the freeze",
            crate::domain::request::Channel::Email
        )
    );
    assert!(kinds(&f.take_audit()).contains(&EventKind::Revoked));
    let told: Vec<_> = f.take_outbox().iter().map(|m| m.to.to_string()).collect();
    assert!(
        told.contains(&DAVE.to_owned()),
        "the requester is told: {told:?}"
    );
    assert_eq!(
        f.answer(&notice_to(ALICE), ALICE, "REVOKE"),
        rejected(),
        "revoked once"
    );
}

/// The window's end and a revoke queue the group's `on_end` call in the
/// same transaction as the state change; a group without one queues none.
#[tokio::test]
async fn access_ending_queues_the_on_end_webhook_with_the_change() {
    let mut p = workflow_policy();
    p.groups[0].on_end = Some("https://vault.example.test/rotate".into());
    let f = Fixture::build(p, SenderRule::TokenAndFrom, 60);
    let (r, mails) = f.submit().await;
    f.answer(ask(&mails, ALICE), ALICE, "APPROVE");
    let level2 = f.take_outbox();
    f.answer(ask(&level2, CAROL), CAROL, "APPROVE");
    assert!(
        f.svc.store().webhooks().peek(10).unwrap().is_empty(),
        "not yet"
    );
    f.advance(Duration::hours(3));
    f.svc.apply_due().await.unwrap();
    assert_eq!(f.request(r.id).status, Status::Ended);
    let hooks = f.svc.store().webhooks().peek(10).unwrap();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let body: serde_json::Value = serde_json::from_str(&hooks[0].1.body).unwrap();
    assert_eq!(body["event"], "access-ended");
    assert_eq!(body["request"], r.id.to_string());
    assert_eq!(body["status"], "ended");
    assert_eq!(hooks[0].1.url, "https://vault.example.test/rotate");

    // Another group, no hook: nothing queued when its emergency access is
    // revoked.
    let mut sub = asking("vault.read", true);
    sub.window = AccessWindow::new(f.now(), f.now() + Duration::hours(1)).unwrap();
    let emergency = f.svc.submit(sub, ADMIN).await.unwrap();
    f.svc
        .act(emergency.id, Act::Revoke, "root", "test", ADMIN)
        .await
        .unwrap();
    assert_eq!(f.svc.store().webhooks().peek(10).unwrap().len(), 1);
}
