//! approvald under stress from outside: a crash at the worst moment, the
//! IMAP server going away, a large backlog, a mailbox recreated with new
//! UIDs. In every case each reply must be applied exactly once.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::flow::{group, start, start_with, submission, People, Setup, WAIT};
use crate::support::daemon::TestDaemon;
use crate::support::daemon_config::{DaemonConfig, Level};
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::{ReplyDraft, Smtp};
use crate::support::stack::{skip_without_stack, PrivateStack, Stack};
use crate::support::syslog::SyslogListener;

/// Longer than [`WAIT`], for the steps that handle hundreds of messages.
const LONG_WAIT: Duration = Duration::from_secs(90);

/// Audit lines with MSGID `msgid` about request `id`.
fn audit_lines(syslog: &SyslogListener, msgid: &str, id: &str) -> Vec<String> {
    syslog
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!(" {msgid} ")) && l.contains(&format!("request=\"{id}\"")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_between_commit_and_move_neither_loses_nor_doubles_the_decision() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("crash_commit");
    let mut s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.env
            .push(("APPROVALD_TEST_CRASH_AFTER_COMMIT".into(), "1".into()));
    })
    .await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;

    // The decision is on disk, the reply still in the inbox.
    let status = s.daemon.wait_exit(WAIT).await;
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "expected the test crash point to abort the daemon, it ended with {status}"
    );
    assert_eq!(
        s.inbox().count("INBOX").await,
        1,
        "the reply was moved before the crash"
    );
    assert_eq!(s.inbox().count("Processed").await, 0);

    s.daemon.config_mut().env.clear();
    s.daemon.restart().await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"].as_array().unwrap().len(), 1, "{done:#}");
    s.inbox().wait_for_count("Processed", 1, WAIT).await;
    s.syslog
        .wait_for(
            |l| l.contains(" approved ") && l.contains(&format!("request=\"{id}\"")),
            WAIT,
        )
        .await;
    // Time for a second application, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.inbox().count("INBOX").await, 0);
    assert_eq!(s.inbox().count("Processed").await, 1);
    assert_eq!(s.inbox().count("Rejected").await, 0);
    let again = s.get(&id).await;
    assert_eq!(again["decisions"].as_array().unwrap().len(), 1, "{again:#}");
    let accepted = audit_lines(&s.syslog, "decision-accepted", &id);
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
}

/// The signal `std::process::abort` raises.
const SIGABRT: i32 = 6;

#[tokio::test(flavor = "multi_thread")]
async fn imap_server_restart_is_survived_by_reconnecting() {
    if skip_without_stack() {
        return;
    }
    let stack = PrivateStack::start();
    let p = People::new("imap_restart");
    let syslog = SyslogListener::bind().await;
    let dir = tempfile::tempdir().unwrap();
    let config = DaemonConfig::new(
        &stack,
        &syslog,
        vec![group(&p, vec![Level::new(&[&p.alice], 1)])],
    );
    let daemon = TestDaemon::start(dir.path(), config).await;
    let (code, body) = daemon.submit(&submission(&p.dave)).await;
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let tag = format!("[{id}]");
    let ask = Mailbox::new(&stack, &p.alice)
        .wait_for("INBOX", |m| m.subject().contains(&tag), WAIT)
        .await;

    stack.restart_imap();
    Smtp::new(&stack)
        .send(&ReplyDraft::new(&ask, &p.alice, "APPROVE").message())
        .await;

    let done = daemon
        .wait_for_status(&id, "approved", Duration::from_secs(60))
        .await;
    assert_eq!(done["decisions"].as_array().unwrap().len(), 1, "{done:#}");
    Mailbox::new(&stack, daemon.address())
        .wait_for_count("Processed", 1, WAIT)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backlog_of_300_replies_is_drained_each_applied_once() {
    if skip_without_stack() {
        return;
    }
    const N: usize = 300;
    let p = People::new("backlog");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let started = Instant::now();
    // One at a time: parallel submissions are another test's subject.
    let mut ids = Vec::with_capacity(N);
    for _ in 0..N {
        ids.push(s.submit(&p.dave).await);
    }
    eprintln!("backlog: {N} submitted after {:?}", started.elapsed());
    let alice = Mailbox::new(s.stack, &p.alice);
    alice.wait_until_holds("INBOX", N, LONG_WAIT).await;
    let asks = alice.fetch_all("INBOX").await;
    assert_eq!(asks.len(), N);
    eprintln!("backlog: {N} requests asked after {:?}", started.elapsed());

    let status = s.daemon.terminate().await;
    assert!(status.success(), "{status:?}");
    let replies = approvals_from(&p.alice, &asks);
    Smtp::new(s.stack).send_raw_many(&replies, 8).await;
    eprintln!("backlog: {N} replies sent after {:?}", started.elapsed());
    s.inbox().wait_until_holds("INBOX", N, LONG_WAIT).await;
    eprintln!("backlog: {N} replies waiting after {:?}", started.elapsed());

    s.daemon.restart().await;
    let approved = wait_for_approved(&s, N, LONG_WAIT).await;
    eprintln!("backlog: {N} approved after {:?}", started.elapsed());
    s.inbox().wait_until_holds("Processed", N, WAIT).await;
    assert_eq!(s.inbox().count("INBOX").await, 0);
    assert_eq!(s.inbox().count("Processed").await, N);
    assert_eq!(s.inbox().count("Rejected").await, 0);

    let mut seen: Vec<&str> = approved.iter().map(|r| r["id"].as_str().unwrap()).collect();
    seen.sort_unstable();
    let mut submitted: Vec<&str> = ids.iter().map(String::as_str).collect();
    submitted.sort_unstable();
    assert_eq!(seen, submitted);
    let doubled: Vec<&Value> = approved
        .iter()
        .filter(|r| r["decisions"].as_array().map_or(0, Vec::len) != 1)
        .collect();
    assert!(
        doubled.is_empty(),
        "requests without exactly one decision: {doubled:#?}"
    );
}

/// A backlog larger than one batch's byte budget is drained over several
/// batches, each reply applied once: memory stays bounded by
/// `[imap] max_batch_bytes`, not by the backlog.
#[tokio::test(flavor = "multi_thread")]
async fn backlog_larger_than_the_byte_budget_drains_in_several_batches() {
    if skip_without_stack() {
        return;
    }
    const N: usize = 30;
    let p = People::new("byte_budget");
    let mut s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        for (name, value) in [
            ("APPROVALD__IMAP__MAX_BATCH_BYTES", "8192"),
            ("APPROVALD__INBOUND__MAX_MESSAGE_SIZE", "8192"),
        ] {
            c.env.push((name.into(), value.into()));
        }
    })
    .await;
    let mut ids = Vec::with_capacity(N);
    for _ in 0..N {
        ids.push(s.submit(&p.dave).await);
    }
    let alice = Mailbox::new(s.stack, &p.alice);
    alice.wait_until_holds("INBOX", N, LONG_WAIT).await;
    let asks = alice.fetch_all("INBOX").await;
    assert!(s.daemon.terminate().await.success());
    let replies = approvals_from(&p.alice, &asks);
    let total: usize = replies.iter().map(|(_, _, raw)| raw.len()).sum();
    assert!(
        total > 2 * 8192,
        "the backlog ({total} bytes) must need several batches"
    );
    Smtp::new(s.stack).send_raw_many(&replies, 8).await;
    s.inbox().wait_until_holds("INBOX", N, LONG_WAIT).await;

    s.daemon.restart().await;
    let approved = wait_for_approved(&s, N, LONG_WAIT).await;
    assert_eq!(approved.len(), N);
    s.inbox().wait_until_holds("Processed", N, WAIT).await;
    assert_eq!(s.inbox().count("INBOX").await, 0);
    assert_eq!(s.inbox().count("Rejected").await, 0);
    assert!(approved
        .iter()
        .all(|r| r["decisions"].as_array().map_or(0, Vec::len) == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_submissions_never_hang_the_api() {
    if skip_without_stack() {
        return;
    }
    const ROUNDS: usize = 10;
    const N: usize = 200;
    let p = People::new("parallel_submit");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    // Each submission is made durable (a store flush) before it is
    // answered; many at once must all be answered, none left waiting. The
    // client gives up after 20 s, which fails the test. A hang does not
    // come every time, hence the rounds.
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..ROUNDS {
        let round: Vec<String> = futures::stream::iter(0..N)
            .map(|_| s.submit(&p.dave))
            .buffer_unordered(16)
            .collect()
            .await;
        ids.extend(round);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ROUNDS * N, "request ids were reused");
    let (_, pending) = s.daemon.list("status=pending").await;
    assert_eq!(pending["requests"].as_array().unwrap().len(), ROUNDS * N);
}

/// An APPROVE reply from `who` to each of `asks`, as (sender, recipient,
/// raw message) for [`Smtp::send_raw_many`].
fn approvals_from(who: &str, asks: &[Mail]) -> Vec<(String, String, Vec<u8>)> {
    asks.iter()
        .map(|ask| {
            let draft = ReplyDraft::new(ask, who, "APPROVE");
            let to = draft.to.clone();
            (who.to_owned(), to, draft.message().formatted())
        })
        .collect()
}

/// Polls the API until `n` requests are approved and returns them all.
async fn wait_for_approved(s: &Setup, n: usize, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, list) = s.daemon.list("status=approved").await;
        assert_eq!(code, 200, "{list}");
        let requests = list["requests"].as_array().cloned().unwrap_or_default();
        if requests.len() >= n {
            return requests;
        }
        if Instant::now() >= deadline {
            let (_, pending) = s.daemon.list("status=pending").await;
            panic!(
                "{} of {n} requests approved after {timeout:?}; {} still pending",
                requests.len(),
                pending["requests"].as_array().map_or(0, Vec::len)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn message_seen_again_under_new_uidvalidity_is_not_applied_twice() {
    if skip_without_stack() {
        return;
    }
    const WATCHED: &str = "Approvals";
    let p = People::new("uidvalidity");
    let stack = Stack::shared();
    let syslog = SyslogListener::bind().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = DaemonConfig::new(
        stack,
        &syslog,
        vec![group(&p, vec![Level::new(&[&p.alice], 1)])],
    );
    config.mailbox = WATCHED.to_owned();
    let inbox = Mailbox::new(stack, &config.address);
    inbox.create_mailbox(WATCHED).await;
    let s = Setup {
        stack,
        syslog,
        daemon: TestDaemon::start(dir.path(), config).await,
        _dir: dir,
        submitted: std::sync::atomic::AtomicUsize::new(0),
    };
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    // Filed into the watched folder, as a server-side rule would.
    inbox.wait_until_holds("INBOX", 1, WAIT).await;
    assert_eq!(inbox.move_all("INBOX", WATCHED).await, 1);
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
    inbox.wait_for_count("Processed", 1, WAIT).await;
    s.syslog
        .wait_for(
            |l| l.contains(" approved ") && l.contains(&format!("request=\"{id}\"")),
            WAIT,
        )
        .await;

    // The folder is deleted and recreated (new UIDVALIDITY, UIDs from 1
    // again) and the handled reply lands in it once more, as after a
    // server migration or a restore from backup.
    let before = inbox.uidvalidity(WATCHED).await;
    inbox.delete_mailbox(WATCHED).await;
    inbox.create_mailbox(WATCHED).await;
    assert_eq!(inbox.copy_all("Processed", WATCHED).await, 1);
    let after = inbox.uidvalidity(WATCHED).await;
    assert_ne!(before, after, "the server kept the UIDVALIDITY");

    inbox.wait_until_holds("Processed", 2, WAIT).await;
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" reply-ignored ") && l.contains(&p.alice),
            WAIT,
        )
        .await;
    assert!(line.contains("same Message-ID"), "{line}");
    // Time for a second application, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(inbox.count(WATCHED).await, 0);
    assert_eq!(inbox.count("Rejected").await, 0);
    let r = s.get(&id).await;
    assert_eq!(r["status"], "approved");
    assert_eq!(r["decisions"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(audit_lines(&s.syslog, "decision-accepted", &id).len(), 1);
    assert_eq!(audit_lines(&s.syslog, "approved", &id).len(), 1);
    let outcomes = Mailbox::new(s.stack, &p.dave)
        .fetch_all("INBOX")
        .await
        .into_iter()
        .filter(|m| m.subject().contains(&id) && m.subject().contains("Approved"))
        .count();
    assert_eq!(outcomes, 1, "the requester was told more than once");
}

/// An operator (or a cleanup script) deletes the Processed mailbox while the
/// daemon runs: the next handled reply must still leave the inbox, into a
/// recreated Processed, instead of failing its move forever.
#[tokio::test(flavor = "multi_thread")]
async fn processed_mailbox_deleted_under_the_daemon_is_recreated() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("delproc");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let first = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &first).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&first, "approved", WAIT).await;
    s.inbox().wait_for_count("Processed", 1, WAIT).await;

    s.inbox().delete_mailbox("Processed").await;
    let second = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &second).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&second, "approved", WAIT).await;
    s.inbox().wait_for_count("Processed", 1, WAIT).await;
    let deadline = Instant::now() + WAIT;
    while s.inbox().count("INBOX").await > 0 {
        assert!(Instant::now() < deadline, "the reply never left the inbox");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
