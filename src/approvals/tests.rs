use super::inbox::Handled;
use super::*;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::domain::access_window::AccessWindow;
use crate::domain::policy::Group;
use crate::domain::policy::{Policy, Submission};
use crate::domain::request::tests::{addr, t0};
use crate::domain::request::Level;
use crate::domain::request::{Request, Status};
use crate::domain::sender_rule::SenderRule;
use crate::domain::token::{Keyring, Token, TokenClaims};
use crate::mail::compose::Composer;
use crate::mail::parse::InboxAddress;
use crate::mail::templates::Templates;
use crate::records::AuditEvent;
use crate::records::MailPurpose;
use crate::records::{Disposition, EventKind, MessageKey, OutboundMail};
use crate::secret::SecretBytes;
use crate::store::Store;

/// A clock the test moves by hand, so deadlines and the daily explanation
/// allowance can be crossed without waiting.
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

const INBOX: &str = "approvals@example.test";
const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";
const DAVE: &str = "dave@example.test";
const MALLORY: &str = "mallory@example.test";
const AUTHSERV: &str = "mx.example.test";

/// Requests live two days, so that "the next day" is still before the
/// deadline.
fn deadline() -> Duration {
    Duration::hours(48)
}

fn keyring() -> Keyring {
    Keyring::new(SecretBytes::new(vec![7; 32]), vec![]).unwrap()
}

/// Level 1: alice or bob; level 2: carol.
fn two_levels() -> Vec<Level> {
    vec![
        Level {
            approvers: vec![addr(ALICE), addr(BOB)],
            quorum: 1,
        },
        Level {
            approvers: vec![addr(CAROL)],
            quorum: 1,
        },
    ]
}

fn policy(levels: Vec<Level>) -> Policy {
    Policy {
        reasons: vec!["Incident".into()],
        groups: vec![Group {
            name: "pki".into(),
            members: vec![addr(DAVE)],
            actions: vec!["certificate.sign".into()],
            deadline: deadline(),
            max_window: Duration::hours(8),
            levels,
        }],
    }
}

fn submission() -> Submission {
    Submission {
        requester: addr(DAVE),
        action: "certificate.sign".into(),
        resource: "web-01".into(),
        justification: "the certificate expires tomorrow".into(),
        reason: "Incident".into(),
        governance_code: "CHG-1".into(),
        window: AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(3)).unwrap(),
    }
}

/// The service over a real store in a temporary directory, real templates,
/// a real keyring and a hand-moved clock.
struct Fixture {
    svc: Approvals,
    clock: Arc<TestClock>,
    /// IMAP UIDs handed out so far: every reply gets a fresh identity.
    uid: AtomicU32,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new(levels: Vec<Level>, sender_policy: SenderRule) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let composer = Composer::new(
            Templates::load(None).unwrap(),
            "Access approvals",
            addr(INBOX),
        )
        .unwrap();
        let clock = Arc::new(TestClock(Mutex::new(t0())));
        let inbound = InboundSettings {
            inbox: InboxAddress::new(INBOX).unwrap(),
            sender_rule: sender_policy,
            max_message_size: 1 << 20,
            offset: FixedOffset::east_opt(0).unwrap(),
        };
        let settings = SettingsHandle::new(Settings {
            policy: policy(levels),
            keyring: keyring(),
            composer,
            inbound,
        });
        let svc = Approvals::new(store, settings, clock.clone());
        Fixture {
            svc,
            clock,
            uid: AtomicU32::new(0),
            _dir: dir,
        }
    }

    /// Two levels, From must be the approver.
    fn standard() -> Fixture {
        Fixture::new(two_levels(), SenderRule::TokenAndFrom)
    }

    fn advance(&self, d: Duration) {
        let mut now = self.clock.0.lock().unwrap();
        *now += d;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Submits the standard request; returns it and the mails it queued.
    async fn submit(&self) -> (Request, Vec<OutboundMail>) {
        let r = match self.svc.submit(submission()).await {
            Ok(r) => r,
            Err(e) => panic!("submission refused: {e:?}"),
        };
        (r, self.take_outbox())
    }

    /// Everything queued since the last call (marked sent, so that each
    /// step's mails can be asserted on their own).
    fn take_outbox(&self) -> Vec<OutboundMail> {
        let store = self.svc.store();
        let out = store.outbox().peek(10_000).unwrap();
        for (seq, _) in &out {
            store.outbox().remove(*seq).unwrap();
        }
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// Every audit event written since the last call.
    fn take_audit(&self) -> Vec<AuditEvent> {
        let store = self.svc.store();
        let spool = store.audit().peek(10_000).unwrap();
        for (seq, _) in &spool {
            store.audit().remove(*seq).unwrap();
        }
        spool.into_iter().map(|(_, e)| e).collect()
    }

    fn next_key(&self) -> MessageKey {
        MessageKey {
            uidvalidity: 1,
            uid: self.uid.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// Replies to `mail` as `from`, under a fresh IMAP identity and a fresh
    /// Message-ID.
    fn answer(&self, mail: &OutboundMail, from: &str, text: &str) -> Handled {
        self.answer_with(mail, from, text, &[])
    }

    fn answer_with(
        &self,
        mail: &OutboundMail,
        from: &str,
        text: &str,
        extra_headers: &[&str],
    ) -> Handled {
        let key = self.next_key();
        let mid = format!("reply-{}@client.example.test", key.uid);
        let raw = reply_with(mail, from, text, &mid, extra_headers);
        self.svc.handle_message(key, &raw).unwrap()
    }

    fn request(&self, id: RequestId) -> Request {
        self.svc.get(id).unwrap().unwrap()
    }

    fn explained_today(&self, sender: &str) -> u32 {
        let day = self.now().format("%Y-%m-%d").to_string();
        self.svc.store().explained_count(sender, &day).unwrap()
    }
}

/// A minimal but realistic reply from a mail client: threading headers, the
/// approver's text on top, the original quoted below.
fn reply(mail: &OutboundMail, from: &str, text: &str, message_id: &str) -> Vec<u8> {
    reply_with(mail, from, text, message_id, &[])
}

fn reply_with(
    mail: &OutboundMail,
    from: &str,
    text: &str,
    message_id: &str,
    extra_headers: &[&str],
) -> Vec<u8> {
    let to = mail.reply_to.as_ref().map_or(INBOX, |a| a.as_str());
    let mut m = String::new();
    for h in extra_headers {
        m.push_str(h);
        m.push_str("\r\n");
    }
    m.push_str(&format!("From: {from}\r\n"));
    m.push_str(&format!("To: {to}\r\n"));
    m.push_str(&format!("Subject: Re: {}\r\n", mail.subject));
    m.push_str("Date: Sat, 21 Nov 2026 09:30:00 +0000\r\n");
    m.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    m.push_str(&format!("In-Reply-To: <{}>\r\n", mail.message_id));
    m.push_str(&format!("References: <{}>\r\n", mail.message_id));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
    m.push_str(text);
    m.push_str("\r\n\r\nOn Sat, 21 Nov 2026 at 09:00, Access approvals <");
    m.push_str(INBOX);
    m.push_str("> wrote:\r\n");
    for line in mail.text.lines() {
        if line.is_empty() {
            m.push_str(">\r\n");
        } else {
            m.push_str(&format!("> {line}\r\n"));
        }
    }
    m.into_bytes()
}

/// The token a mail's reply address carries.
fn token_of(mail: &OutboundMail) -> String {
    let reply_to = mail.reply_to.as_ref().unwrap();
    let (_, token) = reply_to.local().split_once('+').unwrap();
    token.to_string()
}

/// `mail` with its token replaced everywhere (reply address, subject tag,
/// footer), as a reply quoting it would carry the other token.
fn with_token(mail: &OutboundMail, token: &str) -> OutboundMail {
    let old = token_of(mail);
    let mut m = mail.clone();
    m.subject = m.subject.replace(&old, token);
    m.text = m.text.replace(&old, token);
    m.reply_to = Some(
        mail.reply_to
            .as_ref()
            .unwrap()
            .as_str()
            .replace(&old, token)
            .parse()
            .unwrap(),
    );
    m
}

/// The approval request mailed to `to`.
fn ask<'a>(mails: &'a [OutboundMail], to: &str) -> &'a OutboundMail {
    mails
        .iter()
        .find(|m| m.purpose == MailPurpose::ApprovalRequest && m.to.as_str() == to)
        .unwrap_or_else(|| panic!("no approval request to {to} in {mails:#?}"))
}

fn kinds(events: &[AuditEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

fn processed() -> Handled {
    Handled {
        disposition: Disposition::Processed,
        duplicate: false,
    }
}

fn rejected() -> Handled {
    Handled {
        disposition: Disposition::Rejected,
        duplicate: false,
    }
}

// ---- submit ----------------------------------------------------------------

#[tokio::test]
async fn refused_submission_is_audited_and_stores_no_request() {
    let f = Fixture::standard();
    let mut s = submission();
    s.reason = "Because".into();
    match f.svc.submit(s).await {
        Err(SubmitError::Invalid(errors)) => {
            assert!(errors.iter().any(|e| e.field == "reason"), "{errors:?}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(f.svc.list(None, None).unwrap().is_empty());
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
    assert!(f.svc.submit(bad).await.is_err());
    let r = f.svc.submit(submission()).await.unwrap();
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
            .list(Some(Status::Pending), Some(&addr(DAVE)))
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
        let claims = ring.verify(&token, m.to.as_str(), f.now()).unwrap();
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
    assert_eq!(level2.len(), 1, "{level2:#?}");
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
    assert_eq!(outcome.len(), 1, "{outcome:#?}");
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
    assert_eq!(outcome.len(), 1, "no level-2 mail after a rejection");
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
    assert_eq!(mails_after.len(), 1);
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
}

#[tokio::test]
async fn token_and_from_refuses_another_sender_without_naming_the_approver() {
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
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0].purpose, MailPurpose::Explanation);
    assert_eq!(told[0].to, addr(MALLORY));
    for part in [&told[0].subject, &told[0].text] {
        assert!(
            !part.contains(ALICE),
            "the stranger learns the approver: {part}"
        );
        assert!(
            !part.contains("alice"),
            "the stranger learns the approver: {part}"
        );
    }
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
                let forged = keyring().sign(&claims, ALICE);
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
                with_token(ask(mails, ALICE), other.sign(&claims, ALICE).as_str())
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
                with_token(ask(mails, ALICE), keyring().sign(&claims, ALICE).as_str())
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
    let own = keyring().sign(&claims, DAVE);
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

// ---- expiry --------------------------------------------------------------------

#[tokio::test]
async fn expiry_closes_due_requests_once_and_tells_the_requester() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.take_audit();

    f.advance(deadline() - Duration::minutes(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0, "expired early");
    assert_eq!(f.request(r.id).status, Status::Pending);

    f.advance(Duration::minutes(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 1);
    let after = f.request(r.id);
    assert_eq!(after.status, Status::Expired);
    assert_eq!(after.closed_at, Some(r.deadline));
    let outcome = f.take_outbox();
    assert_eq!(outcome.len(), 1, "{outcome:#?}");
    assert_eq!(outcome[0].purpose, MailPurpose::Decided);
    assert_eq!(outcome[0].to, addr(DAVE));
    assert!(
        outcome[0].subject.contains("Expired"),
        "{}",
        outcome[0].subject
    );
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::Expired]);
    assert_eq!(audit[0].request.as_deref(), Some("AR-1"));
    assert_eq!(audit[0].outcome, "expired");

    f.advance(Duration::hours(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0, "expired twice");
    assert!(f.take_outbox().is_empty());
    assert!(f.take_audit().is_empty());
    assert_eq!(f.request(r.id), after);
}

#[tokio::test]
async fn expiry_leaves_decided_requests_alone() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.answer(ask(&mails, BOB), BOB, "DISAPPROVE");
    let decided = f.request(r.id);
    f.take_outbox();
    f.take_audit();
    f.advance(deadline() + Duration::hours(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0);
    assert_eq!(f.request(r.id), decided);
    assert!(f.take_outbox().is_empty());
    assert!(f.take_audit().is_empty());
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
async fn message_without_any_token_is_refused_and_explained() {
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
    let told = f.take_outbox();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].purpose, MailPurpose::Explanation);
    assert_eq!(told[0].request, None);
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
