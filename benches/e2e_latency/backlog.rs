//! Backlog drain: the daemon was down while replies piled up; how fast does
//! it work through them once it is back?
//!
//! Setup, not timed as the result: `n` requests are submitted through the
//! API of a running daemon, which mails one approval request per request
//! (each with its own token) to the approver. Once every mail is delivered
//! the daemon is stopped, the approval mails are read back and each is
//! answered with a Thunderbird-style APPROVE reply (quoting the original),
//! and the replies are put into the approvals INBOX with IMAP APPEND. The
//! tokens are the daemon's own, so the daemon takes exactly the path it
//! takes in production, and the bench needs no key or signing code.
//!
//! Timed: from starting the daemon again to the INBOX being empty, which
//! the daemon reaches only after every decision is committed and flushed
//! (it moves a batch only after its flush). The API is then checked for
//! zero pending requests. The daemon's outbox sends one outcome mail per
//! decision meanwhile, through the same machine's Postfix and Dovecot: that
//! competition is part of the measurement, as it would be in production.
//!
//! The `held` variant points the restarted daemon's SMTP at a closed port,
//! so that its outbox keeps every outcome mail (retrying with backoff)
//! while it drains: no mail server delivers anything during either drain,
//! and the figure is approvald's own pace against the bare client's.

use std::time::{Duration, Instant};

use async_imap::Session;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::bare;
use crate::latency::ms;
use crate::people::{self, Setup};
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::ReplyDraft;
use crate::support::stack::Stack;

/// Submissions in flight at once during the setup.
pub(crate) const SUBMIT_CONCURRENCY: usize = 4;
/// IMAP connections appending replies at once.
pub(crate) const APPEND_CONNECTIONS: usize = 4;
/// Mailboxes holding copies of the backlog for the bare client, drained
/// just before and just after the daemon.
const BARE_BEFORE: &str = "BareBefore";
const BARE_AFTER: &str = "BareAfter";
/// How often the INBOX is counted while it drains.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Everything one backlog run measured.
#[derive(Debug)]
pub(crate) struct BacklogRun {
    /// Replies in the backlog.
    pub(crate) n: usize,
    /// Whether outcome mails were held back during the drain (the `held`
    /// variant): the drain then competes with no delivery.
    pub(crate) held: bool,
    /// Setup: submitting the `n` requests through the API.
    pub(crate) submit: Duration,
    /// Setup: from the first submission until all `2n` mails (approval
    /// requests and receipts) were delivered.
    pub(crate) outbox_fill: Duration,
    /// Setup: APPENDing the `n` replies.
    pub(crate) append: Duration,
    /// Average size of one reply, in bytes.
    pub(crate) reply_bytes: usize,
    /// Start until the API socket answers (opening the store included).
    pub(crate) startup: Duration,
    /// Start until the INBOX is empty.
    pub(crate) drained: Duration,
    /// Start until the API shows no pending request.
    pub(crate) applied: Duration,
    /// Outcome mails delivered by the time the INBOX was empty: how much
    /// the outbox competed with the drain.
    pub(crate) outcomes_at_drain: usize,
    /// Start until the last outcome mail was delivered.
    pub(crate) outbox_done: Duration,
    /// (seconds since start, messages left in the INBOX), about once a
    /// second.
    pub(crate) progress: Vec<(f64, u32)>,
    /// The bare client's drain of the same replies just before the daemon
    /// started: the yardstick (see [`bare`]).
    pub(crate) bare_before: Duration,
    /// The same, just after the daemon drained (its outbox still sending,
    /// as it was during the daemon's drain).
    pub(crate) bare_after: Duration,
    /// The load average (1, 5, 15 minutes) just before the daemon started:
    /// the machine is shared, and the figures mean little without it.
    pub(crate) load_before: String,
    /// The load average just after the second bare drain.
    pub(crate) load_after: String,
}

impl BacklogRun {
    /// Replies per second over the whole drain, startup included.
    pub(crate) fn rate(&self) -> f64 {
        self.n as f64 / self.drained.as_secs_f64()
    }

    /// Replies per second once the API answered (the store is open).
    pub(crate) fn rate_after_startup(&self) -> f64 {
        self.n as f64 / (self.drained - self.startup).as_secs_f64()
    }

    /// The bare client's rate: the mean of its two runs' rates.
    pub(crate) fn bare_rate(&self) -> f64 {
        let rate = |d: Duration| self.n as f64 / d.as_secs_f64();
        (rate(self.bare_before) + rate(self.bare_after)) / 2.0
    }

    /// approvald's rate as a fraction of the bare client's.
    pub(crate) fn ratio(&self) -> f64 {
        self.rate() / self.bare_rate()
    }
}

/// The load average as `/proc/loadavg` gives it (1, 5, 15 minutes).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs the backlog bench with `n` replies; `held`: with outcome mails held
/// back during the drain (see the module's documentation).
pub(crate) async fn run(stack: &Stack, n: usize, held: bool) -> BacklogRun {
    eprintln!(
        "e2e_latency: backlog of {n} replies{}",
        if held { ", outcome mails held" } else { "" }
    );
    let part = if held { "bench-held" } else { "bench-backlog" };
    let mut setup = people::start(stack, part, |_| {}).await;
    let approver_box = Mailbox::new(stack, &setup.approver);
    let requester_box = Mailbox::new(stack, &setup.requester);
    // Generous: the setup sends 2n mails through a busy machine.
    let patience = Duration::from_secs(120).max(Duration::from_millis(300) * n as u32);

    let started = Instant::now();
    submit_all(&setup, n).await;
    let submit = started.elapsed();
    eprintln!("  submitted {n} requests in {:.1} s", submit.as_secs_f64());
    wait_for_count(&approver_box, n, patience, "approval requests").await;
    wait_for_count(&requester_box, n, patience, "receipts").await;
    let outbox_fill = started.elapsed();
    let exit = setup.daemon.terminate().await;
    assert!(exit.success(), "approvald exited with {exit}");

    let replies = replies(&approver_box, &setup.approver).await;
    assert_eq!(replies.len(), n, "approval mails read back");
    let reply_bytes = replies.iter().map(Vec::len).sum::<usize>() / n.max(1);
    let inbox = Mailbox::new(stack, setup.daemon.address());
    let started = Instant::now();
    append_all(stack, setup.daemon.address(), replies).await;
    let append = started.elapsed();
    eprintln!(
        "  appended {n} replies ({reply_bytes} bytes each) in {:.1} s",
        append.as_secs_f64()
    );
    assert_eq!(inbox.count("INBOX").await, n, "replies in the INBOX");
    let address = setup.daemon.address().to_owned();
    bare::copy_inbox(stack, &address, &[BARE_BEFORE, BARE_AFTER]).await;
    let (moved, bare_before) = bare::drain(stack, &address, BARE_BEFORE).await;
    assert_eq!(moved, n, "bare client: messages moved");
    eprintln!(
        "  bare client drained {n} in {:.2} s ({:.0} /s)",
        bare_before.as_secs_f64(),
        n as f64 / bare_before.as_secs_f64()
    );

    let load_before = load_average();
    eprintln!("  load average before the daemon's drain: {load_before}");
    if held {
        // Port 9 (discard) is closed on the test machine: every delivery
        // attempt is refused at once and the mail stays in the outbox.
        setup
            .daemon
            .config_mut()
            .env
            .push(("APPROVALD__SMTP__PORT".into(), "9".into()));
    }
    let started = Instant::now();
    setup.daemon.restart().await;
    let startup = started.elapsed();
    let (drained, progress) = wait_drained(&inbox, started, patience).await;
    let outcomes_at_drain = requester_box.count("INBOX").await.saturating_sub(n);
    let applied = wait_applied(&setup, started, patience).await;
    eprintln!(
        "  drained in {:.2} s ({:.0} replies/s), all applied after {:.1} s",
        drained.as_secs_f64(),
        n as f64 / drained.as_secs_f64(),
        applied.as_secs_f64()
    );
    let (moved, bare_after) = bare::drain(stack, &address, BARE_AFTER).await;
    assert_eq!(moved, n, "bare client: messages moved");
    let load_after = load_average();
    eprintln!(
        "  bare client drained {n} in {:.2} s ({:.0} /s); load average {load_after}",
        bare_after.as_secs_f64(),
        n as f64 / bare_after.as_secs_f64()
    );
    assert_eq!(inbox.count("Rejected").await, 0, "no reply was refused");
    assert_eq!(inbox.count("Processed").await, n, "every reply processed");
    let approved = count(&setup, "status=approved").await;
    assert_eq!(approved, n, "approved requests");
    let outbox_done = if held {
        Duration::ZERO
    } else {
        wait_for_count(&requester_box, 2 * n, patience, "outcome mails").await;
        started.elapsed()
    };
    let exit = setup.daemon.terminate().await;
    assert!(exit.success(), "approvald exited with {exit}");
    BacklogRun {
        n,
        held,
        submit,
        outbox_fill,
        append,
        reply_bytes,
        startup,
        drained,
        applied,
        outcomes_at_drain,
        outbox_done,
        progress,
        bare_before,
        bare_after,
        load_before,
        load_after,
    }
}

async fn submit_all(setup: &Setup, n: usize) {
    let mut done = 0usize;
    let mut calls = futures::stream::iter(0..n)
        .map(|_| setup.submit())
        .buffer_unordered(SUBMIT_CONCURRENCY);
    while calls.next().await.is_some() {
        done += 1;
        if done % 1000 == 0 {
            eprintln!("  submitted {done}/{n}");
        }
    }
}

/// Waits until `mailbox`'s INBOX holds at least `n` messages.
async fn wait_for_count(mailbox: &Mailbox, n: usize, patience: Duration, what: &str) {
    let deadline = Instant::now() + patience;
    let mut last_report = Instant::now();
    loop {
        let have = mailbox.count("INBOX").await;
        if have >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {have} of {n} {what} after {patience:?}",
            mailbox.user()
        );
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("  {have}/{n} {what} delivered");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An APPROVE reply to every mail in `approver`'s INBOX, as wire bytes.
async fn replies(mailbox: &Mailbox, approver: &str) -> Vec<Vec<u8>> {
    let mut session = mailbox.session().await;
    session.examine("INBOX").await.expect("EXAMINE");
    let mut out = Vec::new();
    {
        let mut fetches = session
            .fetch("1:*", "(UID BODY.PEEK[])")
            .await
            .expect("FETCH");
        while let Some(fetch) = fetches.try_next().await.expect("FETCH") {
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                let mail = Mail {
                    uid,
                    raw: body.to_vec(),
                };
                out.push(
                    ReplyDraft::new(&mail, approver, "APPROVE")
                        .message()
                        .formatted(),
                );
            }
        }
    }
    session.logout().await.ok();
    out
}

/// APPENDs `replies` to `user`'s INBOX over several connections.
async fn append_all(stack: &Stack, user: &str, replies: Vec<Vec<u8>>) {
    let per_connection = replies.len().div_ceil(APPEND_CONNECTIONS).max(1);
    let jobs = replies.chunks(per_connection).map(|chunk| async move {
        let mut session = append_session(stack, user).await;
        for raw in chunk {
            session
                .append("INBOX", None, None, raw)
                .await
                .expect("APPEND");
        }
        session.logout().await.ok();
    });
    futures::future::join_all(jobs).await;
}

/// A logged-in IMAP session with Nagle's algorithm off. APPEND writes the
/// message and its final CRLF separately; with Nagle on, the CRLF waits for
/// the server's delayed ACK, about 40 ms per message on Linux.
pub(crate) async fn append_session(stack: &Stack, user: &str) -> Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", stack.imap_port))
        .await
        .expect("IMAP connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let mut client = async_imap::Client::new(tcp);
    let greeting = client.read_response().await.expect("IMAP greeting");
    assert!(greeting.is_some(), "IMAP server closed before its greeting");
    client
        .login(user, &stack.password)
        .await
        .map_err(|(e, _)| e)
        .expect("IMAP login")
}

/// Counts the INBOX until it is empty; the time since `started` and the
/// progress, about once a second.
async fn wait_drained(
    inbox: &Mailbox,
    started: Instant,
    patience: Duration,
) -> (Duration, Vec<(f64, u32)>) {
    let mut session = inbox.session().await;
    let mut progress = Vec::new();
    let mut next_mark = Duration::ZERO;
    loop {
        let mb = session.status("INBOX", "(MESSAGES)").await.expect("STATUS");
        let at = started.elapsed();
        if mb.exists == 0 {
            progress.push((at.as_secs_f64(), 0));
            session.logout().await.ok();
            return (at, progress);
        }
        if at >= next_mark {
            progress.push((at.as_secs_f64(), mb.exists));
            eprintln!("  {:>6.1} s: {} left", at.as_secs_f64(), mb.exists);
            next_mark = at + Duration::from_secs(1);
        }
        assert!(
            at < patience,
            "{} replies left after {patience:?}",
            mb.exists
        );
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// Waits until the API lists no pending request; the time since `started`.
async fn wait_applied(setup: &Setup, started: Instant, patience: Duration) -> Duration {
    loop {
        let pending = count(setup, "status=pending").await;
        let at = started.elapsed();
        if pending == 0 {
            return at;
        }
        assert!(
            at < patience,
            "{pending} requests pending after {patience:?}"
        );
        eprintln!("  {pending} pending after {:.0} ms", ms(at));
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// How many requests `GET /v1/requests?{query}` lists.
async fn count(setup: &Setup, query: &str) -> usize {
    let (code, body) = setup.daemon.list(query).await;
    assert_eq!(code, 200, "list {query}: {body}");
    body.get("requests")
        .and_then(Value::as_array)
        .or_else(|| body.as_array())
        .map(Vec::len)
        .unwrap_or_else(|| panic!("list {query}: unexpected answer {body}"))
}
