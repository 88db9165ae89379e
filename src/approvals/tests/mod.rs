use super::inbox::Handled;
use super::*;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::domain::access_window::AccessWindow;
use crate::domain::policy::Group;
use crate::domain::policy::{Policy, Submission};
use crate::domain::request::tests::{addr, t0};
use crate::domain::request::Level;
use crate::domain::request::{Request, Status};
use crate::domain::sender_rule::SenderRule;
use crate::domain::submitters::{Admins, For, Submitters};
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

/// The submitting account of most tests: root, who may submit for anyone.
const ADMIN: Caller = Caller::Local { uid: 0 };

/// A page that holds everything a test stores.
const ALL: Page = Page {
    after: None,
    limit: usize::MAX,
};
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
            emergency: false,
            justification_only: false,
            require_comment: false,
            notify: vec![],
            reminders: vec![],
            escalations: vec![],
            on_end: None,
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
        emergency: false,
    }
}

/// The service over a real store in a temporary directory, real templates,
/// a real keyring and a hand-moved clock.
struct Fixture {
    svc: Arc<Approvals>,
    clock: Arc<TestClock>,
    /// IMAP UIDs handed out so far: every reply gets a fresh identity.
    uid: AtomicU32,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new(levels: Vec<Level>, sender_policy: SenderRule) -> Fixture {
        Fixture::with_hourly_cap(levels, sender_policy, 60)
    }

    fn with_hourly_cap(levels: Vec<Level>, sender_policy: SenderRule, per_hour: u32) -> Fixture {
        Fixture::build(policy(levels), sender_policy, per_hour)
    }

    fn build(policy: Policy, sender_policy: SenderRule, per_hour: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_init(dir.path()).unwrap();
        let clock = Arc::new(TestClock(Mutex::new(t0())));
        let settings = SettingsHandle::new(settings_with_key(
            policy,
            sender_policy,
            per_hour,
            keyring(),
        ));
        let svc = Arc::new(Approvals::new(store, settings, clock.clone()));
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
        let r = match self.svc.submit(submission(), ADMIN).await {
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
        let queued = store.audit().peek(10_000).unwrap();
        let shipped: Vec<_> = queued.iter().map(|(q, _)| *q).collect();
        store.audit().shipped(&shipped).unwrap();
        queued.into_iter().map(|(_, e)| e).collect()
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
        self.svc.store().explained_to(sender, self.now()).unwrap()
    }
}

/// A minimal but realistic reply from a mail client: threading headers, the
/// approver's text on top, the original quoted below.
/// The settings a fixture runs under, with `keyring` for its tokens.
fn settings_with_key(
    policy: Policy,
    sender_policy: SenderRule,
    per_hour: u32,
    keyring: Keyring,
) -> Settings {
    let composer = Composer::new(
        Templates::load(None).unwrap(),
        "Access approvals",
        addr(INBOX),
    )
    .unwrap();
    let inbound = InboundSettings {
        inbox: InboxAddress::new(INBOX).unwrap(),
        sender_rule: sender_policy,
        max_message_size: 1 << 20,
        explanations_per_hour: per_hour,
        timezone: chrono_tz::Tz::UTC,
    };
    Settings {
        retention: Duration::days(30),
        submitters: Submitters::new(vec![(0, For::Anyone), (1000, For::Only(vec![addr(DAVE)]))]),
        admins: Admins::new(vec![0]),
        api_keys: crate::domain::api_keys::ApiKeys::default(),
        policy,
        keyring,
        composer,
        inbound,
    }
}

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

mod decide;
mod inbox;
mod submit;
mod timers;
mod workflow;
