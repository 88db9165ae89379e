//! The approval flow end to end: submit over the API, approvers answer by
//! replying from their own mailboxes, approvald decides.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::daemon::TestDaemon;
use crate::support::daemon_config::{DaemonConfig, Group, Level};
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::{ReplyDraft, Smtp};
use crate::support::stack::{skip_without_stack, Stack};
use crate::support::syslog::SyslogListener;
use crate::support::unique_address;

pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The people of one test, with addresses no other test uses.
pub(crate) struct People {
    pub(crate) alice: String,
    pub(crate) bob: String,
    pub(crate) carol: String,
    pub(crate) dave: String,
    pub(crate) mallory: String,
}

impl People {
    pub(crate) fn new(test: &str) -> People {
        People {
            alice: unique_address("alice", test),
            bob: unique_address("bob", test),
            carol: unique_address("carol", test),
            dave: unique_address("dave", test),
            mallory: unique_address("mallory", test),
        }
    }
}

pub(crate) fn group(p: &People, levels: Vec<Level>) -> Group {
    Group {
        name: "pki-operators".into(),
        members: vec![p.dave.clone()],
        actions: vec!["certificate.sign".into()],
        deadline: "24h".into(),
        max_window: "8h".into(),
        levels,
        extra: Vec::new(),
    }
}

pub(crate) fn submission(requester: &str) -> Value {
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    let end = start + chrono::Duration::hours(2);
    json!({
        "requester": requester,
        "action": "certificate.sign",
        "resource": "web-01.example.test",
        "justification": "TLS certificate expires tomorrow",
        "reason": "Scheduled maintenance",
        "governance_code": "CHG-4711",
        "window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()},
    })
}

/// A running daemon with its syslog listener and temporary directory.
pub(crate) struct Setup {
    pub(crate) stack: &'static Stack,
    pub(crate) syslog: SyslogListener,
    pub(crate) daemon: TestDaemon,
    pub(crate) _dir: tempfile::TempDir,
    /// Requests submitted through [`Setup::submit`]: each gets its own
    /// resource, since one requester may have only one pending request
    /// per action and resource.
    pub(crate) submitted: std::sync::atomic::AtomicUsize,
}

pub(crate) async fn start(groups: Vec<Group>) -> Setup {
    start_with(groups, |_| {}).await
}

pub(crate) async fn start_with(groups: Vec<Group>, edit: impl FnOnce(&mut DaemonConfig)) -> Setup {
    let stack = Stack::shared();
    let syslog = SyslogListener::bind().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = DaemonConfig::new(stack, &syslog, groups);
    edit(&mut config);
    let daemon = TestDaemon::start(dir.path(), config).await;
    Setup {
        stack,
        syslog,
        daemon,
        _dir: dir,
        submitted: std::sync::atomic::AtomicUsize::new(0),
    }
}

impl Setup {
    pub(crate) async fn submit(&self, requester: &str) -> String {
        let n = self
            .submitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut body = submission(requester);
        if n > 0 {
            body["resource"] = json!(format!("web-{:02}.example.test", n + 1));
        }
        let (status, body) = self.daemon.submit(&body).await;
        assert_eq!(status, 201, "submit answered {body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// The approval mail for request `id` in `who`'s inbox.
    pub(crate) async fn approval_mail(&self, who: &str, id: &str) -> Mail {
        let tag = format!("[{id}]");
        Mailbox::new(self.stack, who)
            .wait_for(
                "INBOX",
                |m| m.subject().contains(&tag) && m.subject().contains("Approval needed"),
                WAIT,
            )
            .await
    }

    pub(crate) async fn reply(&self, original: &Mail, from: &str, text: &str) {
        Smtp::new(self.stack)
            .send(&ReplyDraft::new(original, from, text).message())
            .await;
    }

    pub(crate) fn inbox(&self) -> Mailbox {
        Mailbox::new(self.stack, self.daemon.address())
    }

    pub(crate) async fn get(&self, id: &str) -> Value {
        let (status, body) = self.daemon.get(id).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_level_request_is_rejected_at_level_two_with_comment() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("twolevel");
    let levels = vec![
        Level::new(&[&p.alice, &p.bob], 1),
        Level::new(&[&p.carol], 1),
    ];
    let s = start(vec![group(&p, levels)]).await;
    let id = s.submit(&p.dave).await;

    let received = Mailbox::new(s.stack, &p.dave)
        .wait_for("INBOX", |m| m.subject().contains(&id), WAIT)
        .await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.approval_mail(&p.bob, &id).await;
    assert_eq!(
        Mailbox::new(s.stack, &p.carol).count("INBOX").await,
        0,
        "level 2 is not asked before level 1 decides"
    );
    assert_eq!(
        ask.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let reply_to = ask.reply_to().unwrap();
    assert!(
        reply_to.starts_with(&format!(
            "{}+",
            s.daemon.address().split('@').next().unwrap()
        )),
        "{reply_to}"
    );

    s.reply(&ask, &p.alice, "APPROVE").await;
    let ask2 = s.approval_mail(&p.carol, &id).await;
    let mid = s.get(&id).await;
    assert_eq!(mid["status"], "pending");
    assert_eq!(mid["level"], 2);
    assert!(
        ask2.text().contains(&p.alice),
        "level 2 sees level 1's decision:\n{}",
        ask2.text()
    );

    s.reply(&ask2, &p.carol, "DISAPPROVE not during the change freeze")
        .await;
    let done = s.daemon.wait_for_status(&id, "rejected", WAIT).await;
    let decisions = done["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2, "{done}");
    assert_eq!(decisions[0]["approver"], p.alice.as_str());
    assert_eq!(decisions[0]["verb"], "approve");
    assert_eq!(decisions[1]["approver"], p.carol.as_str());
    assert_eq!(decisions[1]["verb"], "disapprove");
    assert_eq!(decisions[1]["comment"], "not during the change freeze");
    assert_eq!(decisions[1]["channel"], "email");

    let rejection = Mailbox::new(s.stack, &p.dave)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&id) && m.subject().contains("Rejected"),
            WAIT,
        )
        .await;
    let root = received.message_id().unwrap();
    assert!(
        rejection
            .header("In-Reply-To")
            .unwrap_or_default()
            .contains(&root),
        "threaded to the request"
    );
    assert!(rejection.text().contains("not during the change freeze"));

    for msgid in [
        "submitted",
        "decision-accepted",
        "level-advanced",
        "rejected",
    ] {
        s.syslog
            .wait_for(
                |l| l.contains(&format!(" {msgid} ")) && l.contains(&format!("request=\"{id}\"")),
                WAIT,
            )
            .await;
    }
    s.inbox().wait_for_count("Processed", 2, WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn single_approval_path_ends_approved() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("single");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "Approved.").await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"].as_array().unwrap().len(), 1);
    Mailbox::new(s.stack, &p.dave)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&id) && m.subject().contains("Approved"),
            WAIT,
        )
        .await;
    s.syslog
        .wait_for(
            |l| l.contains(" approved ") && l.contains(&format!("request=\"{id}\"")),
            WAIT,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_reply_with_right_token_wrong_from_changes_nothing() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("forged");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.mallory, "APPROVE").await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" reply-refused ") && l.contains(&p.mallory),
            WAIT,
        )
        .await;
    assert!(line.contains("token belongs to"), "{line}");
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(r["decisions"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_reply_is_refused_and_changes_nothing() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("replay");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice, &p.bob], 2)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.inbox().wait_for_count("Processed", 1, WAIT).await;
    let before = s.get(&id).await;
    assert_eq!(before["decisions"].as_array().unwrap().len(), 1);

    // The same answer again (a resend, or someone replaying a captured mail).
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" reply-refused ") && l.contains(&format!("request=\"{id}\"")),
            WAIT,
        )
        .await;
    assert!(line.contains("already answered"), "{line}");
    let after = s.get(&id).await;
    assert_eq!(after["decisions"], before["decisions"]);
    assert_eq!(
        after["status"], "pending",
        "a replay never counts toward the quorum"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_arriving_while_stopped_is_applied_exactly_once_after_restart() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("restart");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let status = s.daemon.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    s.reply(&ask, &p.alice, "APPROVE").await;
    s.inbox().wait_for_count("INBOX", 1, WAIT).await;
    s.daemon.restart().await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"].as_array().unwrap().len(), 1);
    s.inbox().wait_for_count("Processed", 1, WAIT).await;

    // And once more: a restart after handling applies nothing again.
    s.daemon.kill().await;
    s.daemon.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = s.get(&id).await;
    assert_eq!(again["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(s.inbox().count("INBOX").await, 0);
    assert_eq!(s.inbox().count("Processed").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_submission_is_refused_naming_the_field() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("invalid");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("not in a group", submission(&p.mallory), "action"),
        (
            "unregistered reason",
            {
                let mut v = submission(&p.dave);
                v["reason"] = json!("Because");
                v
            },
            "reason",
        ),
        (
            "empty justification",
            {
                let mut v = submission(&p.dave);
                v["justification"] = json!("");
                v
            },
            "justification",
        ),
        (
            "window too long",
            {
                let mut v = submission(&p.dave);
                let start = chrono::Utc::now() + chrono::Duration::minutes(5);
                v["window"] = json!({"start": start.to_rfc3339(), "end": (start + chrono::Duration::hours(9)).to_rfc3339()});
                v
            },
            "window",
        ),
        (
            "inverted window",
            {
                let mut v = submission(&p.dave);
                let start = chrono::Utc::now() + chrono::Duration::hours(2);
                v["window"] = json!({"start": start.to_rfc3339(), "end": (start - chrono::Duration::hours(1)).to_rfc3339()});
                v
            },
            "window",
        ),
        (
            "right-to-left override in the resource",
            {
                let mut v = submission(&p.dave);
                v["resource"] = json!("invoice\u{202E}fdp.exe");
                v
            },
            "resource",
        ),
        (
            "zero-width character in the justification",
            {
                let mut v = submission(&p.dave);
                v["justification"] = json!("approved by the C\u{200B}ISO already");
                v
            },
            "justification",
        ),
        (
            "line separator in the governance code",
            {
                let mut v = submission(&p.dave);
                v["governance_code"] = json!("CHG-1\u{2028}Approved: yes");
                v
            },
            "governance_code",
        ),
    ];
    for (name, body, field) in cases {
        let (status, answer) = s.daemon.submit(&body).await;
        assert!(status == 400 || status == 422, "{name}: {status} {answer}");
        assert_eq!(answer["field"], field, "{name}: {answer}");
    }
    let (_, list) = s.daemon.list("").await;
    assert_eq!(
        list["requests"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

/// The same flow with every connection encrypted, as in production: IMAP
/// over implicit TLS and over STARTTLS, SMTP over STARTTLS with AUTH and over
/// implicit TLS with and without AUTH, all trusting the stack's private CA through `ca_file`.
#[tokio::test(flavor = "multi_thread")]
async fn approval_over_tls_connections_trusting_a_private_ca() {
    use crate::support::daemon_config::TlsMode;
    if skip_without_stack() {
        return;
    }
    let cases = [
        (
            "imaps-smtp-starttls",
            TlsMode::Implicit,
            TlsMode::StartTls,
            true,
        ),
        (
            "imap-starttls-smtps",
            TlsMode::StartTls,
            TlsMode::Implicit,
            false,
        ),
        // Implicit TLS is approvald's own handshake, lettre's AUTH on top.
        (
            "imaps-smtps-login",
            TlsMode::Implicit,
            TlsMode::Implicit,
            true,
        ),
    ];
    for (name, imap, smtp, login) in cases {
        let p = People::new(name);
        let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
            c.imap_tls = imap;
            c.smtp_tls = smtp;
            c.smtp_login = login;
        })
        .await;
        let id = s.submit(&p.dave).await;
        let ask = s.approval_mail(&p.alice, &id).await;
        s.reply(&ask, &p.alice, "APPROVE").await;
        s.daemon.wait_for_status(&id, "approved", WAIT).await;
    }
}

/// The API knows who is asking (the socket's peer credentials): an account
/// may submit only for the requesters `[[api.submitters]]` lets it, anything
/// else is answered 403 and audited.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_may_submit_only_for_the_requesters_it_is_allowed() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("submitters");
    let me = current_uid();
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.api_extra.push(format!(
            "submitters = [ {{ uid = {me}, requesters = [\"{}\"] }} ]",
            p.bob
        ));
    })
    .await;
    let (status, answer) = s.daemon.submit(&submission(&p.dave)).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["field"], "requester", "{answer}");
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" submitted ") && l.contains("outcome=\"refused\""),
            WAIT,
        )
        .await;
    assert!(line.contains(&format!("uid {me}")), "{line}");
    let (_, list) = s.daemon.list("").await;
    assert_eq!(
        list["requests"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

/// This process's uid, as the daemon sees it through the socket.
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}
