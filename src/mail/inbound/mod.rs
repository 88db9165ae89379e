//! The IMAP worker: watches the approvals inbox (IDLE where the server has
//! it, polling otherwise), hands every message to the approvals service in
//! batches, and moves each message aside once its effects are on disk.
//!
//! Order of operations per batch: fetch → decide and commit each message
//! (effects plus a "seen" record, one transaction each) → one flush → move.
//! A crash before the flush loses nothing (the messages are still in the
//! inbox and unseen); a crash after it applies nothing twice (the seen
//! records say where each message belongs, and it is just moved).

mod connection;

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;

use crate::approvals::{Approvals, Handled, InboxMessage, ReadBatch};
use crate::backoff::Backoff;
use crate::config::ImapConfig;
use crate::records::{Disposition, MessageKey};
use crate::shutdown::Shutdown;

pub(crate) use connection::{connect, Fetched, Guard, ImapSession, InboxError};

/// Messages fetched and moved per round trip: large enough that a backlog of
/// thousands drains in seconds, small enough to bound memory.
const BATCH: usize = 200;

/// How long one IDLE lasts before it is re-issued; well under the 29-minute
/// limit of RFC 2177, and short enough to notice a silently dead connection.
const IDLE_RENEW: Duration = Duration::from_secs(5 * 60);

/// Reconnects after 1 s, 2 s, 4 s … at most 60 s, each with up to 50 %
/// random jitter so that several daemons do not hammer a recovering server
/// in step.
const RECONNECT: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(60),
    jitter: true,
};

/// The IMAP worker's heartbeat bound for a step timeout of `timeout`: it
/// beats before every step, so a working worker is silent for at most one
/// step and the handling of one batch between steps.
pub(crate) fn stall_bound(timeout: Duration) -> Duration {
    timeout.saturating_mul(2).max(Duration::from_secs(10))
}

/// What the worker reports as it goes.
#[derive(Clone)]
pub(crate) struct InboxReports {
    /// Beats as the worker progresses and while it waits.
    pub(crate) heart: crate::health::Heartbeat,
    /// The connection's state and the last complete read.
    pub(crate) link: crate::health::ImapLink,
}

/// Runs until `shutdown` fires, reconnecting with capped exponential backoff
/// and jitter whenever the server goes away.
pub(crate) async fn run_inbox(
    cfg: Arc<ImapConfig>,
    tls: Arc<rustls::ClientConfig>,
    approvals: Arc<Approvals>,
    reports: InboxReports,
    shutdown: Shutdown,
) {
    let mut failures: u32 = 0;
    loop {
        let outcome = tokio::select! {
            r = watch(&cfg, &tls, &approvals, &reports, &mut failures) => r,
            _ = shutdown.requested() => return,
        };
        if let Err(e) = outcome {
            reports.link.failing(e.to_string());
            failures = failures.saturating_add(1);
            let delay = RECONNECT.delay(failures);
            tracing::warn!(error = %e, retry_in = ?delay, "IMAP connection lost");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                never = reports.heart.pulse() => match never {},
                _ = shutdown.requested() => return,
            }
        }
    }
}

/// One connection's life: log in, then drain and wait until an error.
async fn watch(
    cfg: &ImapConfig,
    tls: &Arc<rustls::ClientConfig>,
    approvals: &Arc<Approvals>,
    reports: &InboxReports,
    failures: &mut u32,
) -> Result<(), InboxError> {
    let guard = Guard {
        timeout: cfg.timeout,
        heart: reports.heart.clone(),
    };
    let mut session = connect(cfg, tls, guard).await?;
    tracing::info!(host = %cfg.endpoint.host, mailbox = %cfg.mailbox, idle = session.idle, "watching inbox");
    session.ensure_mailbox(&cfg.processed_mailbox).await?;
    session.ensure_mailbox(&cfg.rejected_mailbox).await?;
    loop {
        let uidvalidity = session.select(&cfg.mailbox).await?;
        reports.link.connected();
        drain(&mut session, cfg, uidvalidity, approvals).await?;
        reports.link.polled();
        reports.heart.beat();
        *failures = 0;
        stall_point().await;
        session = session.wait(cfg.poll_interval, IDLE_RENEW).await?;
    }
}

/// Test builds only: when the file `APPROVALD_TEST_STALL_FILE` names
/// exists, the worker blocks here for good without beating, as it would in
/// a read nothing bounds. The end-to-end tests use it to prove that a
/// stalled worker stops the watchdog's pings and turns the health check
/// to 503. Compiled out of release builds.
async fn stall_point() {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os("APPROVALD_TEST_STALL_FILE") {
        if std::path::Path::new(&path).exists() {
            tracing::error!("APPROVALD_TEST_STALL_FILE exists: the IMAP worker stalls");
            std::future::pending::<()>().await;
        }
    }
}

/// Handles every message in the inbox, in batches, until it is empty.
///
/// Pipelined: while a batch is decided and flushed (on a blocking thread),
/// the IMAP connection fetches the batch after it, which is then read
/// (parsed) on other threads while the connection moves the batch before
/// it (already flushed): the server's work, the reading and the deciding
/// overlap. A batch is moved only after its flush; the batch fetched ahead is only
/// read (`BODY.PEEK`), so a crash at any point leaves every message whose
/// effects are not on disk in the inbox, unchanged, and every message
/// whose effects are on disk recognised as seen.
async fn drain(
    session: &mut ImapSession,
    cfg: &ImapConfig,
    uidvalidity: u32,
    approvals: &Arc<Approvals>,
) -> Result<(), InboxError> {
    let max_size = approvals.max_message_size();
    loop {
        let mut uids = session.search_all().await?;
        if uids.is_empty() {
            return Ok(());
        }
        uids.sort_unstable();
        let mut moved = 0usize;
        let mut chunks = uids.chunks(BATCH);
        let mut next = match chunks.next() {
            Some(chunk) => {
                let fetched = fetch_batch(session, chunk, max_size, cfg.max_batch_bytes).await?;
                Some(read(approvals, uidvalidity, chunk, fetched).await?)
            }
            None => None,
        };
        // The last decided batch, flushed, waiting to be moved.
        let mut decided: Option<Decided> = None;
        while let Some(Ahead { batch, deferred }) = next.take() {
            // When the byte budget ran out, the rest is searched for again
            // rather than fetched ahead.
            let following = if deferred { None } else { chunks.next() };
            let previous = decided.take();
            let imap = async {
                // Fetched first, so that reading it (on other threads)
                // overlaps the move as well as the deciding.
                let fetched = match following {
                    Some(c) => Some((
                        c,
                        fetch_batch(&mut *session, c, max_size, cfg.max_batch_bytes).await?,
                    )),
                    None => None,
                };
                let ahead = async {
                    match fetched {
                        Some((c, f)) => Ok(Some(read(approvals, uidvalidity, c, f).await?)),
                        None => Ok::<_, InboxError>(None),
                    }
                };
                let moving = async {
                    match previous {
                        Some(p) => p.move_aside(&mut *session, cfg).await,
                        None => Ok(0),
                    }
                };
                let (ahead, moved) = tokio::join!(ahead, moving);
                Ok::<_, InboxError>((moved?, ahead?))
            };
            let uids = batch.uids();
            // Group commit: the service makes the whole batch durable with
            // one fsync before it returns.
            let (handled, imap) = tokio::join!(approvals.decide_batch(batch), imap);
            let handled = handled?;
            let (moved_now, ahead) = imap?;
            moved += moved_now;
            crash_point_after_commit();
            decided = Some(Decided::sort(uids, handled));
            if deferred {
                // The byte budget ran out: search again for the rest.
                break;
            }
            next = ahead;
        }
        if let Some(last) = decided.take() {
            moved += last.move_aside(session, cfg).await?;
        }
        // Messages the server lists but never returns would otherwise be
        // searched for again at once, forever: wait for news instead.
        if moved == 0 {
            return Ok(());
        }
    }
}

/// A batch fetched and read, waiting to be decided.
struct Ahead {
    batch: ReadBatch,
    /// The byte budget ran out before the whole chunk was fetched.
    deferred: bool,
}

/// Reads a fetched chunk (on blocking threads) into a batch to decide.
async fn read(
    approvals: &Arc<Approvals>,
    uidvalidity: u32,
    chunk: &[u32],
    (messages, deferred): (Vec<Fetched>, Vec<u32>),
) -> Result<Ahead, InboxError> {
    if messages.len() + deferred.len() < chunk.len() {
        tracing::warn!(
            listed = chunk.len(),
            fetched = messages.len(),
            "the server listed messages it would not return; they stay in the inbox"
        );
    }
    let messages: Vec<InboxMessage> = messages
        .into_iter()
        .map(|m| InboxMessage {
            key: MessageKey {
                uidvalidity,
                uid: m.uid,
            },
            raw: m.raw,
            size: m.size,
        })
        .collect();
    Ok(Ahead {
        batch: approvals.read_batch(messages).await?,
        deferred: !deferred.is_empty(),
    })
}

/// A decided and flushed batch, by where its messages go.
struct Decided {
    processed: Vec<u32>,
    rejected: Vec<u32>,
}

impl Decided {
    fn sort(uids: Vec<u32>, handled: Vec<Handled>) -> Decided {
        let mut out = Decided {
            processed: Vec::new(),
            rejected: Vec::new(),
        };
        for (uid, handled) in uids.into_iter().zip(handled) {
            if handled.duplicate {
                tracing::info!(uid, "message was already handled; moving it aside");
            }
            match handled.disposition {
                Disposition::Processed => out.processed.push(uid),
                Disposition::Rejected => out.rejected.push(uid),
            }
        }
        out
    }

    /// Moves the batch out of the inbox; how many moved.
    async fn move_aside(
        self,
        session: &mut ImapSession,
        cfg: &ImapConfig,
    ) -> Result<usize, InboxError> {
        Ok(
            move_batch(session, &self.processed, &cfg.processed_mailbox).await?
                + move_batch(session, &self.rejected, &cfg.rejected_mailbox).await?,
        )
    }
}

/// Whether the server refused a command (NO or BAD) rather than the
/// connection failing: the session is still usable.
fn refused(e: &InboxError) -> bool {
    matches!(
        e,
        InboxError::Imap(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_))
    )
}

/// Fetches a batch; if the server refuses the batch (one damaged message
/// can fail a whole UID FETCH), fetches its messages one by one so that the
/// others are still handled. Messages it refuses stay in the inbox, logged.
async fn fetch_batch(
    session: &mut ImapSession,
    uids: &[u32],
    max_size: usize,
    max_bytes: usize,
) -> Result<(Vec<Fetched>, Vec<u32>), InboxError> {
    match session.fetch(uids, max_size, max_bytes).await {
        Err(e) if refused(&e) => {
            tracing::warn!(error = %e, "batch fetch refused; fetching one by one");
            let mut out = Vec::with_capacity(uids.len());
            let mut held = 0usize;
            for (i, uid) in uids.iter().enumerate() {
                if held >= max_bytes {
                    return Ok((out, uids.get(i..).unwrap_or_default().to_vec()));
                }
                match session
                    .fetch(std::slice::from_ref(uid), max_size, max_bytes)
                    .await
                {
                    Ok((mut one, _)) => {
                        held = held.saturating_add(one.iter().map(|f| f.raw.len()).sum());
                        out.append(&mut one);
                    }
                    Err(e) if refused(&e) => {
                        tracing::error!(uid, error = %e, "the server will not return this message; it stays in the inbox");
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((out, Vec::new()))
        }
        other => other,
    }
}

/// Moves handled messages; returns how many moved. A missing target is
/// recreated; a move still refused (a full mailbox) is logged and leaves
/// them in the inbox: their effects are stored, so a later pass only retries
/// the move.
async fn move_batch(
    session: &mut ImapSession,
    uids: &[u32],
    mailbox: &str,
) -> Result<usize, InboxError> {
    let mut moved = session.move_uids(uids, mailbox).await;
    if moved.as_ref().is_err_and(refused) {
        // Someone may have deleted the target since start-up: recreate it
        // and try once more.
        session.ensure_mailbox(mailbox).await?;
        moved = session.move_uids(uids, mailbox).await;
    }
    match moved {
        Ok(()) => Ok(uids.len()),
        Err(e) if refused(&e) => {
            tracing::error!(mailbox, count = uids.len(), error = %e, "cannot move handled messages; they stay in the inbox");
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Test builds only: dies here, after the batch's effects are durable and
/// before any message is moved, when `APPROVALD_TEST_CRASH_AFTER_COMMIT` is
/// set. The end-to-end tests use it to prove that a crash at this worst
/// moment neither loses nor doubles a decision. Compiled out of release
/// builds.
fn crash_point_after_commit() {
    #[cfg(debug_assertions)]
    if std::env::var_os("APPROVALD_TEST_CRASH_AFTER_COMMIT").is_some() {
        tracing::error!("APPROVALD_TEST_CRASH_AFTER_COMMIT set: aborting before the IMAP move");
        std::process::abort();
    }
}

/// Formats UIDs as an IMAP sequence set with ranges (`1:5,9,12:13`).
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut iter = sorted.into_iter().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&end.wrapping_add(1)) {
            end = iter.next().unwrap_or(end);
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
    }
    out
}

/// Collects a fallible stream into a vector.
async fn collect<T, S>(s: S) -> Result<Vec<T>, async_imap::error::Error>
where
    S: futures::Stream<Item = Result<T, async_imap::error::Error>>,
{
    s.try_collect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        let cases: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[3, 1, 2, 9, 11, 12], "1:3,9,11:12"),
            (&[5, 5, 6], "5:6"),
            (&[u32::MAX - 1, u32::MAX], "4294967294:4294967295"),
        ];
        for (uids, want) in cases {
            assert_eq!(uid_set(uids), *want, "{uids:?}");
        }
    }
}
