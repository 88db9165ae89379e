//! Delivery-to-decision latency: sequential single replies, each sent over
//! SMTP as an approver's client would, each timed from the moment Postfix
//! accepted it (the final 250 of the SMTP transaction) to three events,
//! watched at the same time:
//!
//! 1. *in INBOX*: Dovecot has stored it, seen by polling `STATUS INBOX
//!    (UIDNEXT)` every 10 ms on a separate connection. UIDNEXT only grows,
//!    so a message the daemon has already moved away is still noticed.
//! 2. *IDLE notified*: a second, idle session of the bench (not the
//!    daemon's) is told `* n EXISTS`. This is what the daemon waits for in
//!    IDLE mode; the gap after (1) is Dovecot's, not approvald's.
//! 3. *decided*: `GET /v1/requests/{id}` shows the request decided, polled
//!    every 10 ms over the API socket.

use std::time::{Duration, Instant};

use async_imap::extensions::idle::{Handle, IdleResponse};
use async_imap::imap_proto::{MailboxDatum, Response};
use async_imap::Session;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::people;
use crate::support::daemon::TestDaemon;
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::{ReplyDraft, Smtp};
use crate::support::stack::Stack;

/// How often the INBOX and the API are looked at.
const POLL: Duration = Duration::from_millis(10);
/// Bound on any single wait; far above any latency worth reporting.
const WAIT: Duration = Duration::from_secs(60);
/// How long the IDLE watcher keeps listening after the decision: when the
/// daemon moved the message out before Dovecot told idle sessions (possible
/// when polling), no EXISTS may ever come.
const IDLE_GRACE: Duration = Duration::from_millis(1500);

/// How the daemon watches its inbox in one run.
#[derive(Clone, Debug)]
pub(crate) struct Mode {
    /// Short name, for addresses and file names: `idle` or `poll`.
    pub(crate) key: &'static str,
    /// Heading in the report.
    pub(crate) title: String,
    /// `[imap] idle`.
    pub(crate) idle: bool,
    /// `[imap] poll_interval`.
    pub(crate) poll_interval: String,
}

impl Mode {
    /// IMAP IDLE, as configured by default.
    pub(crate) fn idle() -> Mode {
        Mode {
            key: "idle",
            title: "IMAP IDLE (`idle = true`)".into(),
            idle: true,
            poll_interval: "30s".into(),
        }
    }

    /// Polling every `interval`.
    pub(crate) fn poll(interval: &str) -> Mode {
        Mode {
            key: "poll",
            title: format!("polling (`idle = false`, `poll_interval = \"{interval}\"`)"),
            idle: false,
            poll_interval: interval.to_owned(),
        }
    }
}

/// One reply's timings.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// The request, for the raw data.
    pub(crate) id: String,
    /// The SMTP transaction itself (connect to final 250).
    pub(crate) smtp: Duration,
    /// Acceptance to stored in the INBOX.
    pub(crate) inbox: Duration,
    /// Acceptance to a bench IDLE session being told; `None` when the
    /// message was gone before Dovecot told idle sessions.
    pub(crate) notified: Option<Duration>,
    /// Acceptance to the decision showing in the API.
    pub(crate) decided: Duration,
}

/// Everything one latency run measured.
#[derive(Debug)]
pub(crate) struct LatencyRun {
    /// How the daemon was configured.
    pub(crate) mode: Mode,
    /// `POST /v1/requests` round trips (each includes an fsync).
    pub(crate) submits: Vec<Duration>,
    /// One per reply, in order.
    pub(crate) samples: Vec<Sample>,
}

/// Runs `n` sequential replies against a fresh daemon in `mode`.
pub(crate) async fn run(stack: &Stack, mode: Mode, n: usize) -> LatencyRun {
    eprintln!("e2e_latency: {}: {n} sequential replies", mode.title);
    let part = format!("bench-lat-{}", mode.key);
    let mut setup = people::start(stack, &part, |c| {
        c.poll_interval = mode.poll_interval.clone();
        c.env
            .push(("APPROVALD__IMAP__IDLE".into(), mode.idle.to_string()));
    })
    .await;
    let mut ids = Vec::with_capacity(n);
    let mut submits = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, took) = setup.submit().await;
        ids.push(id);
        submits.push(took);
    }
    let asks = approval_mails(stack, &setup.approver, &ids).await;
    // The receipts too: the outbox is idle before the first reply.
    Mailbox::new(stack, &setup.requester)
        .wait_for_count("INBOX", n, WAIT)
        .await;

    let inbox = Mailbox::new(stack, setup.daemon.address());
    let mut status = inbox.session().await;
    let mut idler = inbox.session().await;
    idler.select("INBOX").await.expect("SELECT INBOX");
    let smtp = Smtp::new(stack);
    let mut samples = Vec::with_capacity(n);
    for (i, (id, ask)) in ids.iter().zip(&asks).enumerate() {
        // A person replies at a random moment: with polling, this spreads
        // the replies evenly over the poll cycle.
        tokio::time::sleep(jitter(Duration::from_millis(500), Duration::from_secs(1))).await;
        let baseline = wait_until_empty(&mut status).await;
        let reply = ReplyDraft::new(ask, &setup.approver, "APPROVE").message();
        // Collects anything still pending (the previous MOVE's EXPUNGE)
        // before listening.
        idler.noop().await.expect("NOOP");
        let mut handle = idler.idle();
        handle.init().await.expect("IDLE");
        let started = Instant::now();
        smtp.send(&reply).await;
        let accepted = Instant::now();
        let (decided_tx, decided_rx) = watch::channel(false);
        let (stored, notified, decided) = tokio::join!(
            new_uid(&mut status, baseline),
            exists(&mut handle, decided_rx),
            async {
                let at = decision(&setup.daemon, id).await;
                decided_tx.send(true).ok();
                at
            },
        );
        idler = handle.done().await.expect("DONE");
        let sample = Sample {
            id: id.clone(),
            smtp: accepted - started,
            inbox: stored.saturating_duration_since(accepted),
            notified: notified.map(|t| t.saturating_duration_since(accepted)),
            decided: decided.saturating_duration_since(accepted),
        };
        eprintln!(
            "  {:>3}/{n} {id}: in INBOX {:>6.1} ms, IDLE told {:>8}, decided {:>7.1} ms",
            i + 1,
            ms(sample.inbox),
            sample
                .notified
                .map(|d| format!("{:.1} ms", ms(d)))
                .unwrap_or_else(|| "-".into()),
            ms(sample.decided),
        );
        samples.push(sample);
    }
    status.logout().await.ok();
    idler.logout().await.ok();
    let exit = setup.daemon.terminate().await;
    assert!(exit.success(), "approvald exited with {exit}");
    LatencyRun {
        mode,
        submits,
        samples,
    }
}

/// The approval mail of each request in `ids`, in that order.
async fn approval_mails(stack: &Stack, approver: &str, ids: &[String]) -> Vec<Mail> {
    let mails = Mailbox::new(stack, approver)
        .wait_for_count("INBOX", ids.len(), WAIT)
        .await;
    ids.iter()
        .map(|id| {
            let tag = format!("[{id}]");
            mails
                .iter()
                .find(|m| m.subject().contains(&tag))
                .cloned()
                .unwrap_or_else(|| panic!("no approval mail for {id}"))
        })
        .collect()
}

/// Waits until the INBOX is empty (the previous reply moved away) and
/// returns its UIDNEXT.
async fn wait_until_empty(s: &mut Session<TcpStream>) -> u32 {
    let deadline = Instant::now() + WAIT;
    loop {
        let mb = s
            .status("INBOX", "(MESSAGES UIDNEXT)")
            .await
            .expect("STATUS");
        if mb.exists == 0 {
            return mb.uid_next.expect("UIDNEXT");
        }
        assert!(
            Instant::now() < deadline,
            "the approvals INBOX still holds {} message(s)",
            mb.exists
        );
        tokio::time::sleep(POLL).await;
    }
}

/// When UIDNEXT first passes `baseline`: the message is stored.
async fn new_uid(s: &mut Session<TcpStream>, baseline: u32) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let mb = s.status("INBOX", "(UIDNEXT)").await.expect("STATUS");
        if mb.uid_next.unwrap_or(0) > baseline {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "the reply never reached the INBOX"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// When the idle session is first told `* n EXISTS` (n > 0); `None` when
/// that did not happen within [`IDLE_GRACE`] of the decision.
async fn exists(
    handle: &mut Handle<TcpStream>,
    mut decided: watch::Receiver<bool>,
) -> Option<Instant> {
    loop {
        let (wait, _stop) = handle.wait_with_timeout(WAIT);
        let give_up = async {
            decided.wait_for(|d| *d).await.ok();
            tokio::time::sleep(IDLE_GRACE).await;
        };
        tokio::select! {
            r = wait => match r {
                Ok(IdleResponse::NewData(data)) => {
                    if let Response::MailboxData(MailboxDatum::Exists(n)) = data.parsed() {
                        if *n > 0 {
                            return Some(Instant::now());
                        }
                    }
                }
                Ok(_) => return None,
                Err(e) => panic!("IDLE: {e}"),
            },
            () = give_up => return None,
        }
    }
}

/// When the API first shows request `id` decided (it must be approved).
async fn decision(daemon: &TestDaemon, id: &str) -> Instant {
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = daemon.get(id).await;
        let status = body.get("status").and_then(|s| s.as_str()).unwrap_or("");
        if code == 200 && status != "pending" {
            let at = Instant::now();
            assert_eq!(status, "approved", "{id}: {body:#}");
            return at;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not decided after {WAIT:?}: {code} {body:#}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A uniformly random duration in `[base, base + spread)`.
fn jitter(base: Duration, spread: Duration) -> Duration {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).expect("getrandom");
    let fraction = f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0);
    base + spread.mul_f64(fraction)
}

/// Milliseconds, for printing.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
