//! The inbox: exactly-once handling, sender rules, token problems,
//! explanations and hostile input.

use super::*;
use crate::approvals::reading::Read;
use crate::domain::request::Channel;

// ---- exactly once ------------------------------------------------------------

#[tokio::test]
async fn same_message_handled_twice_is_applied_once() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();
    let key = f.next_key();
    let raw = reply(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        "once@client.example.test",
    );

    assert_eq!(f.svc.handle_message(key, &raw).unwrap(), processed());
    let after = f.request(r.id);
    let (mails_after, audit_after) = (f.take_outbox(), f.take_audit());
    assert_eq!(
        mails_after.len(),
        2,
        "level 2 asked, bob told: {mails_after:#?}"
    );
    assert_eq!(audit_after.len(), 2);

    let again = f.svc.handle_message(key, &raw).unwrap();
    assert_eq!(
        again,
        Handled {
            disposition: Disposition::Processed,
            duplicate: true
        }
    );
    assert_eq!(f.request(r.id), after, "a second decision was applied");
    assert!(f.take_outbox().is_empty());
    assert!(f.take_audit().is_empty());
}

#[tokio::test]
async fn same_message_id_after_uidvalidity_change_is_not_applied_again() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let raw = reply(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        "once@client.example.test",
    );
    let first = MessageKey {
        uidvalidity: 1,
        uid: 40,
    };
    assert_eq!(f.svc.handle_message(first, &raw).unwrap(), processed());
    let after = f.request(r.id);
    f.take_outbox();
    f.take_audit();

    let rescanned = MessageKey {
        uidvalidity: 2,
        uid: 1,
    };
    let dup = Handled {
        disposition: Disposition::Processed,
        duplicate: true,
    };
    assert_eq!(f.svc.handle_message(rescanned, &raw).unwrap(), dup);
    assert_eq!(f.request(r.id), after);
    assert!(f.take_outbox().is_empty());
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::ReplyIgnored]);
    assert_eq!(audit[0].actor.as_deref(), Some(ALICE));

    // The new identity is remembered: seen again, nothing more is audited.
    assert_eq!(f.svc.handle_message(rescanned, &raw).unwrap(), dup);
    assert!(f.take_audit().is_empty(), "reply-ignored audited twice");
    assert_eq!(f.request(r.id), after);
}

/// Someone sends a mail with the Message-ID a genuine reply will carry (a
/// guessable client pattern, or a copy of a leaked one). It must not make
/// the genuine reply look already handled.
#[tokio::test]
async fn a_message_id_used_first_by_another_mail_does_not_swallow_the_genuine_reply() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let stolen_id = "CAF00genuine@client.example.test";
    let squatter = format!(
        "From: mallory@example.test\r\nTo: approvals@example.test\r\n\
         Subject: hello\r\nMessage-ID: <{stolen_id}>\r\n\r\nAPPROVE\r\n"
    );
    assert_eq!(
        f.svc
            .handle_message(f.next_key(), squatter.as_bytes())
            .unwrap(),
        rejected()
    );
    let genuine = reply(ask(&mails, ALICE), ALICE, "APPROVE", stolen_id);
    assert_eq!(
        f.svc.handle_message(f.next_key(), &genuine).unwrap(),
        processed(),
        "the genuine reply was taken for the squatter's"
    );
    assert_eq!(f.request(r.id).level, 2);
}

// ---- sender policies -----------------------------------------------------------

#[tokio::test]
async fn token_policy_accepts_the_token_from_any_sender() {
    let f = Fixture::new(two_levels(), SenderRule::Token);
    let (r, mails) = f.submit().await;
    f.take_audit();
    assert_eq!(
        f.answer(
            ask(&mails, ALICE),
            "alice.private@elsewhere.test",
            "APPROVE"
        ),
        processed()
    );
    let after = f.request(r.id);
    assert_eq!(after.level, 2);
    assert_eq!(
        after.decisions[0].approver,
        addr(ALICE),
        "recorded as the token's approver"
    );
    let audit = f.take_audit();
    assert_eq!(audit[0].kind, EventKind::DecisionAccepted);
    assert_eq!(audit[0].actor.as_deref(), Some(ALICE));
    let reason = audit[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("sent by alice.private@elsewhere.test"),
        "the real sender is on record: {reason}"
    );
    assert!(
        reason.contains("sender not verified"),
        "the audit says nothing verified the sender: {reason}"
    );
}

/// A forwarded approval mail: the requester, or another approver, answers
/// with the token it carries. Refused under every sender rule, even the one
/// that lets anyone holding a token answer.
#[tokio::test]
async fn forwarded_approval_mail_never_lets_the_requester_or_another_approver_vote() {
    let rules = [
        SenderRule::Token,
        SenderRule::TokenAndFrom,
        SenderRule::TokenFromDmarc {
            authserv_id: AUTHSERV.into(),
        },
    ];
    for rule in rules {
        for (who, verb) in [(DAVE, "APPROVE"), (BOB, "APPROVE"), (BOB, "DISAPPROVE")] {
            let f = Fixture::new(two_levels(), rule.clone());
            let (r, mails) = f.submit().await;
            f.take_audit();
            assert_eq!(
                f.answer(ask(&mails, ALICE), who, verb),
                rejected(),
                "{rule:?}: {who} with alice's token"
            );
            assert_eq!(f.request(r.id), r, "{rule:?}: {who} changed the request");
            let audit = f.take_audit();
            assert_eq!(kinds(&audit), [EventKind::ReplyRefused], "{rule:?} {who}");
        }
    }
}

#[tokio::test]
async fn an_approver_changes_approve_to_disapprove_while_the_level_is_open() {
    let mut levels = two_levels();
    levels[0].quorum = 2;
    let f = Fixture::new(levels, SenderRule::TokenAndFrom);
    let (r, mails) = f.submit().await;
    f.take_audit();
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), processed());
    assert_eq!(
        f.answer(ask(&mails, ALICE), ALICE, "DISAPPROVE - found a problem"),
        processed()
    );
    let after = f.request(r.id);
    assert_eq!(after.status, Status::Rejected);
    let audit = f.take_audit();
    let changed = audit
        .iter()
        .find(|e| e.kind == EventKind::DecisionAccepted && e.outcome == "changed")
        .unwrap_or_else(|| panic!("no changed decision audited: {audit:#?}"));
    assert!(changed.message.contains("decision changed"), "{changed:?}");
    // A second change of mind is not taken.
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), rejected());
}

#[tokio::test]
async fn token_and_from_refuses_another_sender_and_tells_them_nothing() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();
    assert_eq!(f.answer(ask(&mails, ALICE), MALLORY, "APPROVE"), rejected());
    assert_eq!(f.request(r.id), r, "state changed");

    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::ReplyRefused]);
    assert_eq!(audit[0].actor.as_deref(), Some(MALLORY));
    assert_eq!(audit[0].request.as_deref(), Some("AR-1"));
    let reason = audit[0].reason.as_deref().unwrap();
    assert!(
        reason.contains(MALLORY) && reason.contains(ALICE),
        "the audit log names both: {reason}"
    );

    let told = f.take_outbox();
    assert!(
        told.is_empty(),
        "only the token's own approver is ever answered: {told:#?}"
    );
}

#[tokio::test]
async fn dmarc_policy_trusts_only_our_own_servers_authentication_results() {
    let cases: &[(&str, &[&str], Handled)] = &[
        ("no Authentication-Results", &[], rejected()),
        (
            "dkim pass for the From domain from our server",
            &["Authentication-Results: mx.example.test; dkim=pass header.d=example.test"],
            processed(),
        ),
        (
            "dmarc pass from our server",
            &["Authentication-Results: mx.example.test; dmarc=pass header.from=example.test"],
            processed(),
        ),
        (
            "dkim pass claimed by another server",
            &["Authentication-Results: mx.evil.test; dkim=pass header.d=example.test"],
            rejected(),
        ),
        (
            "dkim pass from our server for another domain",
            &["Authentication-Results: mx.example.test; dkim=pass header.d=evil.test"],
            rejected(),
        ),
        (
            "dkim fail from our server",
            &["Authentication-Results: mx.example.test; dkim=fail header.d=example.test"],
            rejected(),
        ),
        (
            "forged pass below our server's fail",
            &[
                "Authentication-Results: mx.example.test; dkim=fail header.d=example.test",
                "Authentication-Results: mx.example.test; dkim=pass header.d=example.test",
            ],
            rejected(),
        ),
    ];
    for (name, headers, want) in cases {
        let f = Fixture::new(
            two_levels(),
            SenderRule::TokenFromDmarc {
                authserv_id: AUTHSERV.into(),
            },
        );
        let (r, mails) = f.submit().await;
        f.take_audit();
        let got = f.answer_with(ask(&mails, ALICE), ALICE, "APPROVE", headers);
        assert_eq!(got, *want, "{name}");
        let after = f.request(r.id);
        let audit = f.take_audit();
        if *want == processed() {
            assert_eq!(after.level, 2, "{name}");
            assert_eq!(audit[0].kind, EventKind::DecisionAccepted, "{name}");
        } else {
            assert_eq!(after, r, "{name}: state changed");
            assert_eq!(kinds(&audit), [EventKind::ReplyRefused], "{name}");
        }
    }
}

#[tokio::test]
async fn dmarc_policy_still_requires_from_to_be_the_approver() {
    let f = Fixture::new(
        two_levels(),
        SenderRule::TokenFromDmarc {
            authserv_id: AUTHSERV.into(),
        },
    );
    let (r, mails) = f.submit().await;
    let got = f.answer_with(
        ask(&mails, ALICE),
        "mallory@example.test",
        "APPROVE",
        &["Authentication-Results: mx.example.test; dkim=pass header.d=example.test"],
    );
    assert_eq!(got, rejected());
    assert_eq!(f.request(r.id), r);
}

#[tokio::test]
async fn token_and_from_compares_the_address_not_its_spelling() {
    let cases: &[(&str, &str, Handled)] = &[
        (
            "display name and capitals",
            "Alice Example <ALICE@Example.Test>",
            processed(),
        ),
        (
            "approver's address as display name only",
            "\"alice@example.test\" <mallory@example.test>",
            rejected(),
        ),
        (
            "two From addresses",
            "alice@example.test, mallory@example.test",
            rejected(),
        ),
        ("no address at all", "Alice", rejected()),
    ];
    for (name, from, want) in cases {
        let f = Fixture::standard();
        let (r, mails) = f.submit().await;
        assert_eq!(
            f.answer(ask(&mails, ALICE), from, "APPROVE"),
            *want,
            "{name}"
        );
        if *want == rejected() {
            assert_eq!(f.request(r.id), r, "{name}: state changed");
        }
    }
}

#[tokio::test]
async fn reply_that_lost_the_plus_address_is_matched_by_its_subject_tag() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let mut to_alice = ask(&mails, ALICE).clone();
    // Some clients answer the From address instead of Reply-To.
    to_alice.reply_to = None;
    assert_eq!(f.answer(&to_alice, ALICE, "APPROVE"), processed());
    assert_eq!(f.request(r.id).level, 2);
}

// ---- token problems ------------------------------------------------------------

/// Changes one character in the MAC part of a token, keeping it well-formed.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[40] = if chars[40] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

/// The reply grammar reads a message only when a token in it passes the
/// keyring's own check (well formed, a key it holds, not expired): tokens
/// of another key, expired ones and none at all are refused before their
/// text is looked at. A tampered signature is found only when deciding:
/// it binds the request's nonce, which is in the store.
#[tokio::test]
async fn the_grammar_reads_only_messages_whose_token_verifies() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let genuine = ask(&mails, ALICE).clone();
    let other = Keyring::new(SecretBytes::new(vec![9; 32]), vec![]).unwrap();
    let claims = TokenClaims {
        request: r.id.get(),
        level: 1,
        approver_index: 0,
        expires_at: r.deadline,
    };
    let cases: [(&str, OutboundMail, bool); 4] = [
        ("genuine", genuine.clone(), true),
        (
            "tampered",
            with_token(&genuine, &tampered(&token_of(&genuine))),
            true,
        ),
        (
            "signed with another key",
            with_token(&genuine, other.sign(&claims, &r.nonce, ALICE).as_str()),
            false,
        ),
        ("no token", with_token(&genuine, "none"), false),
    ];
    let s = f.svc.settings.current();
    for (name, mail, read) in cases {
        let raw = reply(&mail, ALICE, "APPROVE", "grammar@client.example.test");
        let (_, readings) = Read::of(&s, &raw, raw.len(), f.now()).mail.unwrap();
        assert_eq!(readings.text.is_some(), read, "{name}");
    }
    // Expired by the time it is read: not read either.
    let raw = reply(&genuine, ALICE, "APPROVE", "late@client.example.test");
    let late = r.deadline + Duration::minutes(1);
    let (_, readings) = Read::of(&s, &raw, raw.len(), late).mail.unwrap();
    assert!(readings.text.is_none(), "expired");
}

/// The read-ahead's check said "expired" (its clock was later than the
/// decision's: the wall clock stepped back in between); the token
/// verifies when deciding, so the reply is read then and decides, rather
/// than being refused as unreadable.
#[tokio::test]
async fn regression_a_reply_skipped_by_the_read_ahead_check_is_read_when_its_token_verifies() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let raw = reply(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        "clock@client.example.test",
    );
    let s = f.svc.settings.current();
    let read_late = Read::of(&s, &raw, raw.len(), r.deadline + Duration::minutes(1));
    let (_, readings) = read_late.mail.as_ref().unwrap();
    assert!(readings.text.is_none(), "the read-ahead skipped the text");
    let handled = f.svc.handle_read(&s, f.next_key(), read_late).unwrap();
    assert_eq!(handled, processed());
    assert_ne!(f.request(r.id), r, "the approval was applied");
}

/// A batch is read while the one before it is decided; a reload in
/// between (here: the token key withdrawn) applies to it when it is
/// decided, not one batch later.
#[tokio::test]
async fn regression_a_reload_between_reading_and_deciding_a_batch_applies_to_it() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let raw = reply(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        "reload@client.example.test",
    );
    let batch = f
        .svc
        .read_batch(vec![whole(f.next_key(), &raw)])
        .await
        .unwrap();
    let other = Keyring::new(SecretBytes::new(vec![9; 32]), vec![]).unwrap();
    f.svc.settings.replace(settings_with_key(
        policy(two_levels()),
        SenderRule::TokenAndFrom,
        60,
        other,
    ));
    let handled = f.svc.decide_batch(batch).await.unwrap();
    assert_eq!(handled, [rejected()]);
    assert_eq!(
        f.request(r.id),
        r,
        "nothing decided under the withdrawn key"
    );
}

#[tokio::test]
async fn unusable_tokens_are_refused_and_change_nothing() {
    type Setup = fn(&Fixture, &Request, &[OutboundMail]) -> OutboundMail;
    let cases: &[(&str, Setup, &str)] = &[
        (
            "token of an unknown request",
            |_, r, mails| {
                let claims = TokenClaims {
                    request: 999,
                    level: 1,
                    approver_index: 0,
                    expires_at: r.deadline,
                };
                let forged = keyring().sign(&claims, &r.nonce, ALICE);
                with_token(ask(mails, ALICE), forged.as_str())
            },
            "unknown request AR-999",
        ),
        (
            "token used after the deadline",
            |f, r, mails| {
                f.advance(r.deadline - f.now() + Duration::minutes(1));
                ask(mails, ALICE).clone()
            },
            "expired",
        ),
        (
            "token used at the very instant of the deadline",
            |f, r, mails| {
                f.advance(r.deadline - f.now());
                ask(mails, ALICE).clone()
            },
            "deadline has passed",
        ),
        (
            "tampered token",
            |_, _, mails| {
                let m = ask(mails, ALICE);
                with_token(m, &tampered(&token_of(m)))
            },
            "failed verification",
        ),
        (
            "token signed with another key",
            |_, r, mails| {
                let other = Keyring::new(SecretBytes::new(vec![9; 32]), vec![]).unwrap();
                let claims = TokenClaims {
                    request: r.id.get(),
                    level: 1,
                    approver_index: 0,
                    expires_at: r.deadline,
                };
                with_token(
                    ask(mails, ALICE),
                    other.sign(&claims, &r.nonce, ALICE).as_str(),
                )
            },
            "unknown key id",
        ),
        (
            "token naming an approver index the level does not have",
            |_, r, mails| {
                let claims = TokenClaims {
                    request: r.id.get(),
                    level: 1,
                    approver_index: 5,
                    expires_at: r.deadline,
                };
                with_token(
                    ask(mails, ALICE),
                    keyring().sign(&claims, &r.nonce, ALICE).as_str(),
                )
            },
            "names no approver",
        ),
        (
            "bob's token sent by alice",
            |_, _, mails| with_token(ask(mails, ALICE), &token_of(ask(mails, BOB))),
            "belongs to bob@example.test",
        ),
    ];
    for (name, setup, reason) in cases {
        let f = Fixture::standard();
        let (r, mails) = f.submit().await;
        f.take_audit();
        let mail = setup(&f, &r, &mails);
        assert_eq!(f.answer(&mail, ALICE, "APPROVE"), rejected(), "{name}");
        assert_eq!(f.request(r.id), r, "{name}: state changed");
        let audit = f.take_audit();
        assert_eq!(kinds(&audit), [EventKind::ReplyRefused], "{name}");
        let got = audit[0].reason.as_deref().unwrap_or("");
        assert!(got.contains(reason), "{name}: {got}");
        let told = f.take_outbox();
        assert!(
            told.iter().all(|m| m.purpose == MailPurpose::Explanation),
            "{name}: {told:#?}"
        );
    }
}

#[tokio::test]
async fn level_one_token_after_the_request_moved_to_level_two_is_refused() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), processed());
    let at_level_two = f.request(r.id);
    assert_eq!(at_level_two.level, 2);
    f.take_outbox();
    f.take_audit();

    assert_eq!(f.answer(ask(&mails, BOB), BOB, "APPROVE"), rejected());
    assert_eq!(f.request(r.id), at_level_two, "state changed");
    assert!(
        f.take_outbox()
            .iter()
            .all(|m| m.purpose == MailPurpose::Explanation),
        "a wrong-level answer asked someone"
    );
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::ReplyRefused]);
    assert_eq!(audit[0].actor.as_deref(), Some(BOB));
    assert_eq!(audit[0].level, Some(1));
    let reason = audit[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("level 1") && reason.contains("level 2"),
        "{reason}"
    );
}

#[tokio::test]
async fn requester_with_a_valid_token_for_themselves_cannot_approve() {
    let mut levels = two_levels();
    levels[0].approvers.push(addr(DAVE));
    let f = Fixture::new(levels, SenderRule::TokenAndFrom);
    let (r, mails) = f.submit().await;
    assert!(
        mails
            .iter()
            .all(|m| m.purpose != MailPurpose::ApprovalRequest || m.to != addr(DAVE)),
        "the requester was asked"
    );
    f.take_audit();
    let claims = TokenClaims {
        request: r.id.get(),
        level: 1,
        approver_index: 2,
        expires_at: r.deadline,
    };
    let own = keyring().sign(&claims, &r.nonce, DAVE);
    let mail = with_token(ask(&mails, ALICE), own.as_str());

    assert_eq!(f.answer(&mail, DAVE, "APPROVE"), rejected());
    assert_eq!(f.request(r.id), r, "state changed");
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::SelfApprovalRefused]);
    assert_eq!(audit[0].actor.as_deref(), Some(DAVE));
    assert_eq!(audit[0].request.as_deref(), Some("AR-1"));
    assert!(f
        .take_outbox()
        .iter()
        .all(|m| m.purpose == MailPurpose::Explanation));
}

// ---- explanations --------------------------------------------------------------

#[tokio::test]
async fn unusable_human_reply_is_explained_at_most_three_times_a_day() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let to_alice = ask(&mails, ALICE);
    for n in 1..=3 {
        assert_eq!(f.answer(to_alice, ALICE, "ok"), rejected(), "reply {n}");
        let told = f.take_outbox();
        assert_eq!(told.len(), 1, "reply {n}: {told:#?}");
        assert_eq!(told[0].purpose, MailPurpose::Explanation);
        assert_eq!(told[0].to, addr(ALICE));
        assert_eq!(told[0].auto_submitted, "auto-replied");
        assert_eq!(told[0].request, Some(r.id));
        assert!(
            told[0]
                .in_reply_to
                .as_deref()
                .unwrap_or("")
                .starts_with("reply-"),
            "threaded under the reply: {:?}",
            told[0].in_reply_to
        );
        assert!(
            !told[0].subject.contains(&token_of(to_alice)),
            "the token is repeated in the subject: {}",
            told[0].subject
        );
        assert_eq!(f.explained_today(ALICE), n);
    }
    assert_eq!(f.answer(to_alice, ALICE, "ok"), rejected());
    assert!(
        f.take_outbox().is_empty(),
        "a fourth explanation the same day"
    );
    assert_eq!(f.explained_today(ALICE), 3);
    assert_eq!(
        f.take_audit()
            .iter()
            .filter(|e| e.kind == EventKind::ReplyRefused)
            .count(),
        4,
        "every refusal is audited, explained or not"
    );

    f.advance(Duration::hours(24));
    assert_eq!(f.answer(to_alice, ALICE, "ok"), rejected());
    assert_eq!(f.take_outbox().len(), 1, "the allowance is per day");
    assert_eq!(f.request(r.id), r, "an unusable reply changed the request");
}

#[tokio::test]
async fn automated_mail_is_ignored_and_never_answered() {
    let cases: &[(&str, &[&str])] = &[
        ("Auto-Submitted", &["Auto-Submitted: auto-replied"]),
        ("X-Autoreply", &["X-Autoreply: yes"]),
        ("Precedence bulk", &["Precedence: bulk"]),
        ("null return path", &["Return-Path: <>"]),
    ];
    for (name, headers) in cases {
        let f = Fixture::standard();
        let (r, mails) = f.submit().await;
        f.take_audit();
        // Even a mail that reads like a decision is not one.
        let got = f.answer_with(ask(&mails, ALICE), ALICE, "APPROVE", headers);
        assert_eq!(got, rejected(), "{name}");
        assert_eq!(f.request(r.id), r, "{name}: state changed");
        assert!(f.take_outbox().is_empty(), "{name}: answered a machine");
        assert_eq!(f.explained_today(ALICE), 0, "{name}");
        assert_eq!(kinds(&f.take_audit()), [EventKind::ReplyIgnored], "{name}");
    }
}

// ---- hostile bytes -------------------------------------------------------------

#[tokio::test]
async fn malformed_messages_are_rejected_and_audited_without_panicking() {
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("binary garbage", b"\x00\xff\xfe\x01garbage\r\n\r\n\x80"),
        ("text without headers", b"APPROVE\r\n"),
        ("only a colon", b":"),
        ("header name then nothing", b"From"),
    ];
    for (name, raw) in cases {
        let f = Fixture::standard();
        let (r, _) = f.submit().await;
        f.take_audit();
        let key = f.next_key();
        assert_eq!(
            f.svc.handle_message(key, raw).unwrap(),
            rejected(),
            "{name}"
        );
        assert_eq!(f.request(r.id), r, "{name}");
        assert!(f.take_outbox().is_empty(), "{name}: answered garbage");
        let audit = f.take_audit();
        assert_eq!(kinds(&audit), [EventKind::ReplyRefused], "{name}");
        assert!(audit[0].reason.is_some(), "{name}");
        let again = f.svc.handle_message(key, raw).unwrap();
        assert!(again.duplicate, "{name}: looked at twice");
        assert!(f.take_audit().is_empty(), "{name}: audited twice");
    }
}

#[tokio::test]
async fn oversized_reply_is_refused_and_explained_not_read() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();
    let huge = format!("APPROVE\r\n{}", "x".repeat(f.svc.max_message_size() + 1));
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, &huge), rejected());
    assert_eq!(f.request(r.id), r);
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::ReplyRefused]);
    let reason = audit[0].reason.as_deref().unwrap();
    assert!(reason.contains("unreadable body"), "{reason}");
    let told = f.take_outbox();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].to, addr(ALICE));
}

#[tokio::test]
async fn tokenless_mail_from_a_known_address_is_refused_and_never_answered() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.take_audit();
    let raw = b"From: alice@example.test\r\nTo: approvals@example.test\r\n\
        Subject: approve please\r\nMessage-ID: <x1@client.example.test>\r\n\r\nAPPROVE\r\n";
    assert_eq!(f.svc.handle_message(f.next_key(), raw).unwrap(), rejected());
    assert_eq!(f.request(r.id), r);
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::ReplyRefused]);
    assert!(audit[0].request.is_none());
    // A tokenless mail proves nothing about its From: answering it would
    // let anyone make approvald mail anyone.
    assert!(
        f.take_outbox().is_empty(),
        "a tokenless mail is never answered"
    );
}

/// The sender controls the subject and the text of a reply; an explanation
/// repeats neither, so approvald never mails words an attacker chose.
#[tokio::test]
async fn explanation_echoes_nothing_of_the_reply() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    let mut mail = ask(&mails, ALICE).clone();
    mail.subject = format!("{} URGENT call +1-555-0100 evil.example", mail.subject);
    let key = f.next_key();
    let raw = reply(
        &mail,
        ALICE,
        "Please visit https://evil.example/login to confirm",
        &format!("echo-{}@client.example.test", key.uid),
    );
    assert_eq!(f.svc.handle_message(key, &raw).unwrap(), rejected());
    assert_eq!(f.request(r.id), r);
    let told = f.take_outbox();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0].to, addr(ALICE), "only to the token's approver");
    assert_eq!(told[0].subject, "[AR-1] Your reply could not be used");
    for part in [&told[0].subject, &told[0].text] {
        for echoed in ["evil", "555", "URGENT", "visit", "confirm"] {
            assert!(!part.contains(echoed), "{echoed:?} echoed in: {part}");
        }
    }
    assert!(told[0].text.contains("AR-1"), "{}", told[0].text);
}

#[tokio::test]
async fn explanations_to_everyone_together_are_capped_per_hour() {
    let mut levels = two_levels();
    levels[0].approvers.push(addr(MALLORY));
    let f = Fixture::with_hourly_cap(levels, SenderRule::TokenAndFrom, 2);
    let (_, mails) = f.submit().await;
    for who in [ALICE, BOB, MALLORY] {
        assert_eq!(
            f.answer(ask(&mails, who), who, "maybe"),
            rejected(),
            "{who}"
        );
    }
    let told = f.take_outbox();
    assert_eq!(told.len(), 2, "the hourly cap holds: {told:#?}");
    f.advance(Duration::hours(1));
    assert_eq!(f.answer(ask(&mails, MALLORY), MALLORY, "hmm"), rejected());
    assert_eq!(f.take_outbox().len(), 1, "a new hour, a new allowance");
}

#[tokio::test]
async fn stranger_without_a_token_is_not_answered_so_forged_from_cannot_relay_spam() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.take_audit();
    let raw = b"From: victim@elsewhere.test\r\nTo: approvals@example.test\r\n\
        Subject: buy now\r\nMessage-ID: <spam1@elsewhere.test>\r\n\r\nok\r\n";
    assert_eq!(f.svc.handle_message(f.next_key(), raw).unwrap(), rejected());
    assert_eq!(f.request(r.id), r);
    assert_eq!(kinds(&f.take_audit()), [EventKind::ReplyRefused]);
    assert!(f.take_outbox().is_empty(), "nobody is mailed");
}

#[tokio::test]
async fn reply_all_carrying_another_approvers_token_first_uses_the_senders_own() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_outbox();
    // Bob replies to all: Alice's plus-address is the To (first candidate),
    // Bob's own token rides in the quoted footer.
    let to_alice = ask(&mails, ALICE);
    let bobs = ask(&mails, BOB);
    let mut raw =
        String::from_utf8(reply(bobs, BOB, "APPROVE", "ra1@client.example.test")).unwrap();
    let alice_addr = to_alice.reply_to.as_ref().unwrap().to_string();
    let bob_addr = bobs.reply_to.as_ref().unwrap().to_string();
    raw = raw.replacen(
        &format!("To: {bob_addr}"),
        &format!("To: {alice_addr}, {bob_addr}"),
        1,
    );
    assert_eq!(
        f.svc.handle_message(f.next_key(), raw.as_bytes()).unwrap(),
        processed()
    );
    let after = f.request(r.id);
    assert_eq!(after.decisions.len(), 1);
    assert_eq!(after.decisions[0].approver, addr(BOB));
}

/// The IMAP worker downloads only the header section of an oversized
/// message: it must still be refused as too large, not as "no text".
#[tokio::test]
async fn oversized_reply_fetched_as_headers_only_is_refused_as_too_large() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.take_audit();
    let full = reply(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        "big1@client.example.test",
    );
    let text = String::from_utf8(full).unwrap();
    let (headers, _) = text.split_once("\r\n\r\n").unwrap();
    let header_section = format!("{headers}\r\n\r\n");
    let size = f.svc.max_message_size() + 1;
    let handled = f
        .svc
        .handle_fetched(f.next_key(), header_section.as_bytes(), size)
        .unwrap();
    assert_eq!(handled, rejected());
    assert_eq!(f.request(r.id), r);
    let audit = f.take_audit();
    let reason = audit[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("too large") || reason.contains("larger"),
        "{reason}"
    );
}

/// One request's record is damaged: the reply about it is refused and set
/// aside; the rest of the batch is decided as usual.
#[tokio::test]
async fn an_unreadable_request_record_refuses_its_reply_not_the_batch() {
    let f = Fixture::standard();
    let (first, first_mails) = f.submit().await;
    let mut other = submission();
    other.resource = "web-02".into();
    let second = f.svc.submit(other, ADMIN).await.unwrap();
    let second_mails = f.take_outbox();
    f.svc.store().damage_request(first.id);
    let (k1, k2) = (f.next_key(), f.next_key());
    let r1 = reply(
        ask(&first_mails, ALICE),
        ALICE,
        "APPROVE",
        "d1@client.example.test",
    );
    let r2 = reply(
        ask(&second_mails, ALICE),
        ALICE,
        "APPROVE",
        "d2@client.example.test",
    );
    let batch = vec![whole(k1, &r1), whole(k2, &r2)];
    let handled = f.svc.handle_batch(batch).await.unwrap();
    assert_eq!(handled, vec![rejected(), processed()]);
    assert_eq!(f.request(second.id).level, 2, "the other reply was applied");
    let audit = f.take_audit();
    let refused = audit
        .iter()
        .find(|e| e.kind == EventKind::ReplyRefused)
        .unwrap_or_else(|| panic!("{audit:#?}"));
    assert!(
        refused
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("cannot be read"),
        "{refused:?}"
    );
}

/// Messages of one batch that bear on each other (a second answer to the
/// same level, a redelivered copy, an approver whose level just closed)
/// decide exactly as they do one by one: each sees what the batch's
/// earlier messages did.
#[tokio::test]
async fn a_batch_decides_as_its_messages_do_one_by_one() {
    async fn run(batched: bool) -> (Vec<Handled>, Vec<EventKind>, Request, usize) {
        let f = Fixture::standard();
        let (r, mails) = f.submit().await;
        let first = reply(
            ask(&mails, ALICE),
            ALICE,
            "APPROVE",
            "a1@client.example.test",
        );
        let raws = [
            first.clone(),
            // The same mail delivered a second time.
            first,
            // Level 1 closed by the first: too late.
            reply(ask(&mails, BOB), BOB, "APPROVE", "b1@client.example.test"),
            // Alice changing her mind in a second mail.
            reply(
                ask(&mails, ALICE),
                ALICE,
                "DISAPPROVE",
                "a2@client.example.test",
            ),
            // Not an answer at all.
            reply(
                ask(&mails, ALICE),
                ALICE,
                "maybe later",
                "a3@client.example.test",
            ),
        ];
        let batch: Vec<InboxMessage> = raws.iter().map(|raw| whole(f.next_key(), raw)).collect();
        let handled = if batched {
            f.svc.handle_batch(batch).await.unwrap()
        } else {
            batch
                .iter()
                .map(|m| f.svc.handle_message(m.key, &m.raw).unwrap())
                .collect()
        };
        let audit = kinds(&f.take_audit());
        let mailed = f.take_outbox().len();
        (handled, audit, f.request(r.id), mailed)
    }
    let (one_by_one, audit_single, request_single, mailed_single) = run(false).await;
    let (in_batch, audit_batch, request_batch, mailed_batch) = run(true).await;
    assert_eq!(
        one_by_one,
        vec![
            processed(),
            Handled {
                disposition: Disposition::Processed,
                duplicate: true
            },
            rejected(),
            rejected(),
            rejected()
        ]
    );
    assert_eq!(in_batch, one_by_one);
    assert_eq!(audit_batch, audit_single);
    assert_eq!(request_batch.level, 2);
    assert_eq!(request_batch.status, request_single.status);
    assert_eq!(request_batch.levels, request_single.levels);
    assert_eq!(mailed_batch, mailed_single);
}

/// What the text part says and what the HTML part shows must agree: a
/// reply whose HTML shows "DISAPPROVE" while its text says "APPROVE" (or
/// that hides an APPROVE from the reader) decides nothing.
#[tokio::test]
async fn text_and_html_parts_that_disagree_decide_nothing() {
    let cases = [
        ("APPROVE", "<p>DISAPPROVE</p>"),
        ("APPROVE", "<p>Not now.</p>"),
        ("APPROVE", r#"<p style="display:none">APPROVE</p><p>no</p>"#),
        ("APPROVE 2h", "<p>APPROVE 8h</p>"),
    ];
    for (text, html) in cases {
        let f = Fixture::standard();
        let (r, mails) = f.submit().await;
        let mail = ask(&mails, ALICE);
        let raw = format!(
            "From: {ALICE}\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <parts@client.example.test>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nAlice\r\n\
             --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}<p>Alice</p>\r\n--b--\r\n",
            mail.reply_to.as_ref().unwrap(),
            mail.subject
        );
        assert_eq!(
            f.svc.handle_message(f.next_key(), raw.as_bytes()).unwrap(),
            rejected(),
            "{text} / {html}"
        );
        assert_eq!(f.request(r.id), r, "{text} / {html}");
    }
}

// ---- metrics -------------------------------------------------------------------

/// Every refusal is counted under its reason, every applied answer under its
/// channel: what `/metrics` exposes.
#[tokio::test]
async fn decisions_and_refusals_are_counted_by_channel_and_reason() {
    let f = Fixture::standard();
    let (_, mails) = f.submit().await;
    let c = f.svc.counters();
    assert_eq!(f.answer(ask(&mails, ALICE), MALLORY, "APPROVE"), rejected());
    assert_eq!(
        f.answer(ask(&mails, ALICE), ALICE, "maybe later"),
        rejected()
    );
    let automated = f.answer_with(
        ask(&mails, ALICE),
        ALICE,
        "APPROVE",
        &["Auto-Submitted: auto-replied"],
    );
    assert_eq!(automated, rejected());
    assert_eq!(c.decisions(Channel::Email), 0);
    assert_eq!(f.answer(ask(&mails, ALICE), ALICE, "APPROVE"), processed());
    assert_eq!(f.answer(ask(&mails, BOB), BOB, "APPROVE"), rejected());
    assert_eq!(c.decisions(Channel::Email), 1);
    assert_eq!(c.decisions(Channel::Link), 0);
    for (reason, n) in [
        ("sender", 1),
        ("no-decision", 1),
        ("automated", 1),
        ("wrong-level", 1),
        ("token", 0),
    ] {
        assert_eq!(c.refusals(reason), n, "{reason}");
    }
}

/// `raw` fetched whole under `key`, as the IMAP worker hands it over.
fn whole(key: MessageKey, raw: &[u8]) -> InboxMessage {
    InboxMessage {
        key,
        raw: raw.to_vec(),
        size: raw.len(),
    }
}
