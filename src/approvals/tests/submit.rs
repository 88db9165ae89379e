//! Submission: admission, refusals, the mails and audit a new request causes.

use super::*;

// ---- submit ----------------------------------------------------------------

#[tokio::test]
async fn refused_submission_is_audited_and_stores_no_request() {
    let f = Fixture::standard();
    let mut s = submission();
    s.reason = "Because".into();
    match f.svc.submit(s, ADMIN).await {
        Err(SubmitError::Invalid(errors)) => {
            assert!(errors.iter().any(|e| e.field == "reason"), "{errors:?}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(f.svc.list(&Filter::default(), ALL).unwrap().is_empty());
    assert!(
        f.take_outbox().is_empty(),
        "a refused submission mails nobody"
    );
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::Submitted]);
    assert_eq!(audit[0].outcome, "refused");
    assert_eq!(audit[0].actor.as_deref(), Some(DAVE));
    assert!(audit[0].request.is_none(), "no request exists to name");
    assert!(
        audit[0].reason.as_deref().unwrap_or("").contains("reason"),
        "{:?}",
        audit[0].reason
    );
}

#[tokio::test]
async fn refused_submission_does_not_use_up_a_request_id() {
    let f = Fixture::standard();
    let mut bad = submission();
    bad.justification = String::new();
    assert!(f.svc.submit(bad, ADMIN).await.is_err());
    let r = f.svc.submit(submission(), ADMIN).await.unwrap();
    assert_eq!(r.id.to_string(), "AR-1");
}

#[tokio::test]
async fn submission_mails_receipt_and_every_approver_but_the_requester() {
    // The requester is also a level-1 approver: never asked about their own request.
    let mut levels = two_levels();
    levels[0].approvers.insert(1, addr(DAVE));
    let f = Fixture::new(levels, SenderRule::TokenAndFrom);
    let (r, mails) = f.submit().await;

    assert_eq!(r.status, Status::Pending);
    assert_eq!(r.level, 1);
    assert_eq!(f.request(r.id), r, "the request is stored as returned");
    assert_eq!(
        f.svc
            .list(
                &Filter {
                    status: Some(Status::Pending),
                    requester: Some(addr(DAVE)),
                    ..Filter::default()
                },
                ALL,
            )
            .unwrap(),
        vec![r.clone()]
    );

    let mut shape: Vec<_> = mails
        .iter()
        .map(|m| (format!("{:?}", m.purpose), m.to.as_str()))
        .collect();
    shape.sort();
    assert_eq!(
        shape,
        [
            ("ApprovalRequest".to_string(), ALICE),
            ("ApprovalRequest".to_string(), BOB),
            ("Received".to_string(), DAVE),
        ]
    );
    assert!(mails.iter().all(|m| m.request == Some(r.id)));

    let ring = keyring();
    let mut tokens = Vec::new();
    for m in mails
        .iter()
        .filter(|m| m.purpose == MailPurpose::ApprovalRequest)
    {
        let token = Token::parse(&token_of(m)).unwrap();
        let claims = ring
            .verify(&token, &r.nonce, m.to.as_str(), f.now())
            .unwrap();
        assert_eq!(claims.request, r.id.get());
        assert_eq!(claims.level, 1);
        let index = r.levels[0]
            .approvers
            .iter()
            .position(|a| *a == m.to)
            .unwrap();
        assert_eq!(
            usize::from(claims.approver_index),
            index,
            "bound to {}",
            m.to
        );
        tokens.push(token_of(m));
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 2, "every approver has a token of their own");

    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::Submitted]);
    assert_eq!(audit[0].outcome, "pending");
    assert_eq!(audit[0].request.as_deref(), Some("AR-1"));
    assert_eq!(audit[0].level, Some(1));
}

/// A local account submits only for the requesters it is allowed to: the
/// account of dave (uid 1000) for dave, not for anyone else; an account no
/// rule names, for nobody. Every refusal is audited.
#[tokio::test]
async fn an_account_submits_only_for_whom_it_may() {
    let f = Fixture::standard();
    let dave = Caller::Local { uid: 1000 };
    assert!(f.svc.submit(submission(), dave.clone()).await.is_ok());
    f.take_audit();
    for (caller, requester) in [
        (dave, "erin@example.test"),
        (Caller::Local { uid: 4242 }, DAVE),
    ] {
        let mut s = submission();
        s.requester = addr(requester);
        match f.svc.submit(s, caller.clone()).await {
            Err(SubmitError::Forbidden(why)) => {
                assert!(why.contains(&caller.shown()), "{why}")
            }
            other => panic!("{caller:?} for {requester}: {other:?}"),
        }
        let audit = f.take_audit();
        assert_eq!(kinds(&audit), [EventKind::Submitted]);
        assert_eq!(audit[0].outcome, "refused");
    }
    assert_eq!(f.svc.list(&Filter::default(), ALL).unwrap().len(), 1);
}
