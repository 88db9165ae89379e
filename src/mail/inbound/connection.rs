//! One IMAP connection: TLS setup, login, and the few commands the worker
//! needs, each bounded by a timeout so a silent server cannot hang us.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{collect, uid_set};
use crate::config::{ImapConfig, TlsMode};
use crate::health::Heartbeat;
use crate::store::StoreError;

/// A byte stream IMAP can run over: plain TCP or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

/// Why the worker lost its connection or could not go on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InboxError {
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP: {0} timed out")]
    Timeout(&'static str),
    #[error("IMAP: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bounds every step of the conversation and beats before each, so the
/// worker's silence never exceeds one step: the heartbeat bound follows
/// from `timeout`.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    /// Bound on any single step (`[imap] timeout`).
    pub(crate) timeout: Duration,
    /// The IMAP worker's heartbeat.
    pub(crate) heart: Heartbeat,
}

impl Guard {
    async fn run<T, E>(
        &self,
        what: &'static str,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<T, InboxError>
    where
        InboxError: From<E>,
    {
        self.heart.beat();
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(InboxError::from),
            Err(_) => Err(InboxError::Timeout(what)),
        }
    }
}

/// One fetched message.
pub(crate) struct Fetched {
    pub(crate) uid: u32,
    /// The whole message, or only its header section when it is larger
    /// than the daemon reads.
    pub(crate) raw: Vec<u8>,
    /// The message's full size as the server reports it (RFC822.SIZE).
    pub(crate) size: usize,
}

/// A logged-in session and what the server can do.
pub(crate) struct ImapSession {
    session: Session<Box<dyn Io>>,
    /// The server supports IDLE (RFC 2177): changes are pushed, not polled.
    pub(crate) idle: bool,
    /// The server supports MOVE (RFC 6851); otherwise COPY + expunge.
    has_move: bool,
    /// The server supports UID EXPUNGE (RFC 4315), so the COPY fallback
    /// expunges only our messages.
    has_uidplus: bool,
    /// Bounds each command and beats the worker's heartbeat.
    guard: Guard,
}

async fn tls_wrap(
    guard: &Guard,
    tcp: TcpStream,
    host: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, InboxError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        InboxError::Protocol(format!("{host:?} is not a valid TLS server name: {e}"))
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    guard
        .run("TLS handshake", connector.connect(name, tcp))
        .await
}

/// Connects, secures and logs in as configured.
pub(crate) async fn connect(
    cfg: &ImapConfig,
    tls: &Arc<rustls::ClientConfig>,
    guard: Guard,
) -> Result<ImapSession, InboxError> {
    let ep = &cfg.endpoint;
    let tcp = guard
        .run("connect", TcpStream::connect((ep.host.as_str(), ep.port)))
        .await?;
    tcp.set_nodelay(true)?;
    let mut client: Client<Box<dyn Io>> = match ep.tls {
        TlsMode::None => Client::new(Box::new(tcp)),
        TlsMode::Implicit => Client::new(Box::new(tls_wrap(&guard, tcp, &ep.host, tls).await?)),
        TlsMode::StartTls => {
            let mut plain = Client::new(tcp);
            greeting(&guard, &mut plain).await?;
            guard
                .run("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None))
                .await?;
            Client::new(Box::new(
                tls_wrap(&guard, plain.into_inner(), &ep.host, tls).await?,
            ))
        }
    };
    if ep.tls != TlsMode::StartTls {
        greeting(&guard, &mut client).await?;
    }
    let login = client.login(&cfg.username, cfg.password.expose());
    guard.heart.beat();
    let mut session = match tokio::time::timeout(guard.timeout, login).await {
        Err(_) => return Err(InboxError::Timeout("LOGIN")),
        Ok(Err((e, _))) => return Err(e.into()),
        Ok(Ok(s)) => s,
    };
    // Capabilities can change after login (Dovecot lists MOVE only then).
    let caps = guard.run("CAPABILITY", session.capabilities()).await?;
    Ok(ImapSession {
        idle: cfg.idle && caps.has_str("IDLE"),
        has_move: caps.has_str("MOVE"),
        has_uidplus: caps.has_str("UIDPLUS"),
        session,
        guard,
    })
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug>(
    guard: &Guard,
    c: &mut Client<T>,
) -> Result<(), InboxError> {
    match guard.run("greeting", c.read_response()).await? {
        Some(_) => Ok(()),
        None => Err(InboxError::Protocol(
            "the server closed the connection before its greeting".into(),
        )),
    }
}

impl ImapSession {
    /// Creates `name` unless it exists.
    pub(crate) async fn ensure_mailbox(&mut self, name: &str) -> Result<(), InboxError> {
        let existing = {
            let list = self
                .guard
                .run("LIST", self.session.list(Some(""), Some(name)))
                .await?;
            self.guard.run("LIST", collect(list)).await?
        };
        if existing.iter().any(|n| n.name() == name) {
            return Ok(());
        }
        tracing::info!(mailbox = name, "creating mailbox");
        self.guard.run("CREATE", self.session.create(name)).await
    }

    /// Selects `mailbox` and returns its UIDVALIDITY.
    pub(crate) async fn select(&mut self, mailbox: &str) -> Result<u32, InboxError> {
        let mb = self
            .guard
            .run("SELECT", self.session.select(mailbox))
            .await?;
        mb.uid_validity
            .ok_or_else(|| InboxError::Protocol(format!("{mailbox} has no UIDVALIDITY")))
    }

    /// UIDs of every message in the selected mailbox.
    pub(crate) async fn search_all(&mut self) -> Result<Vec<u32>, InboxError> {
        let uids = self
            .guard
            .run("UID SEARCH", self.session.uid_search("ALL"))
            .await?;
        Ok(uids.into_iter().collect())
    }

    /// Fetches the given messages, in UID order, as far as `max_bytes`
    /// allows (always at least one): whole when at most `max_size` bytes,
    /// headers only otherwise (the rest would not be parsed anyway).
    /// Returns what was fetched and the UIDs left for another batch.
    pub(crate) async fn fetch(
        &mut self,
        uids: &[u32],
        max_size: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Fetched>, Vec<u32>), InboxError> {
        let set = uid_set(uids);
        let sizes = {
            let s = self
                .guard
                .run(
                    "UID FETCH",
                    self.session.uid_fetch(&set, "(UID RFC822.SIZE)"),
                )
                .await?;
            self.guard.run("UID FETCH", collect(s)).await?
        };
        let listed: Vec<(u32, u32)> = sizes
            .iter()
            .filter_map(|f| f.uid.map(|uid| (uid, f.size.unwrap_or(0))))
            .collect();
        let BatchPlan {
            whole: small,
            headers_only: large,
            deferred,
        } = plan_batch(listed, max_size, max_bytes);
        let size_of: std::collections::HashMap<u32, u32> = sizes
            .iter()
            .filter_map(|f| f.uid.map(|uid| (uid, f.size.unwrap_or(0))))
            .collect();
        let mut out = Vec::with_capacity(sizes.len());
        for (part, query) in [
            (&small, "(UID BODY.PEEK[])"),
            (&large, "(UID BODY.PEEK[HEADER])"),
        ] {
            if part.is_empty() {
                continue;
            }
            let fetched = {
                let s = self
                    .guard
                    .run("UID FETCH", self.session.uid_fetch(uid_set(part), query))
                    .await?;
                self.guard.run("UID FETCH", collect(s)).await?
            };
            for f in fetched {
                let bytes = f.body().or_else(|| f.header());
                if let (Some(uid), Some(bytes)) = (f.uid, bytes) {
                    let size = size_of.get(&uid).copied().unwrap_or(0);
                    out.push(Fetched {
                        uid,
                        raw: bytes.to_vec(),
                        size: usize::try_from(size).unwrap_or(usize::MAX),
                    });
                }
            }
        }
        out.sort_by_key(|f| f.uid);
        Ok((out, deferred))
    }

    /// Moves messages to `mailbox` (MOVE, or COPY + delete + expunge).
    pub(crate) async fn move_uids(
        &mut self,
        uids: &[u32],
        mailbox: &str,
    ) -> Result<(), InboxError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        if self.has_move {
            return self
                .guard
                .run("UID MOVE", self.session.uid_mv(&set, mailbox))
                .await;
        }
        self.guard
            .run("UID COPY", self.session.uid_copy(&set, mailbox))
            .await?;
        {
            let s = self
                .guard
                .run(
                    "UID STORE",
                    self.session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
                )
                .await?;
            self.guard.run("UID STORE", collect(s)).await?;
        }
        if self.has_uidplus {
            let s = self
                .guard
                .run("UID EXPUNGE", self.session.uid_expunge(&set))
                .await?;
            self.guard.run("UID EXPUNGE", collect(s)).await?;
        } else {
            let s = self.guard.run("EXPUNGE", self.session.expunge()).await?;
            self.guard.run("EXPUNGE", collect(s)).await?;
        }
        Ok(())
    }

    /// Waits for something to happen in the selected mailbox: IDLE until the
    /// server reports a change or `renew` passes, or a plain sleep of `poll`
    /// where IDLE is missing.
    pub(crate) async fn wait(
        self,
        poll: Duration,
        renew: Duration,
    ) -> Result<ImapSession, InboxError> {
        if !self.idle {
            // A wait by design: the worker pulses through it.
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                never = self.guard.heart.pulse() => match never {},
            }
            // A NOOP keeps the connection alive and proves it still is.
            let mut me = self;
            me.guard.run("NOOP", me.session.noop()).await?;
            return Ok(me);
        }
        // Mail that arrived while we were busy is announced as EXISTS in the
        // responses to our own commands; IDLE would not report it again.
        let mut announced = false;
        let me = self;
        while let Ok(r) = me.session.unsolicited_responses.try_recv() {
            announced |= matches!(
                r,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            );
        }
        if announced {
            return Ok(me);
        }
        let ImapSession {
            session,
            idle,
            has_move,
            has_uidplus,
            guard,
        } = me;
        let mut handle = session.idle();
        guard.run("IDLE", handle.init()).await?;
        let (wait, _stop) = handle.wait_with_timeout(renew);
        // IDLE may last until `renew`, minutes: the worker pulses through
        // it, the wait itself being bounded by `renew`.
        let idled = tokio::select! {
            r = wait => r?,
            never = guard.heart.pulse() => match never {},
        };
        match idled {
            IdleResponse::NewData(_) => tracing::debug!("IDLE: mailbox changed"),
            IdleResponse::Timeout => tracing::debug!("IDLE: renewing"),
            IdleResponse::ManualInterrupt => {}
        }
        let session = guard.run("DONE", handle.done()).await?;
        Ok(ImapSession {
            session,
            idle,
            has_move,
            has_uidplus,
            guard,
        })
    }
}

/// Which listed messages one batch fetches, and how.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BatchPlan {
    /// Fetched whole.
    pub(crate) whole: Vec<u32>,
    /// Larger than the daemon reads: fetched as far as their headers.
    pub(crate) headers_only: Vec<u32>,
    /// Left for the next batch: the byte budget ran out.
    pub(crate) deferred: Vec<u32>,
}

/// Splits `(uid, size)` pairs, in UID order, into what one batch fetches
/// within `max_bytes` (always at least one message, so a batch never stalls)
/// and what waits for the next one. A message counts with what holding it
/// costs: all of it, or at most `max_size` when only its headers are read.
pub(crate) fn plan_batch(
    mut listed: Vec<(u32, u32)>,
    max_size: usize,
    max_bytes: usize,
) -> BatchPlan {
    listed.sort_unstable();
    let limit = u32::try_from(max_size).unwrap_or(u32::MAX);
    let mut plan = BatchPlan {
        whole: Vec::new(),
        headers_only: Vec::new(),
        deferred: Vec::new(),
    };
    let mut budget = max_bytes;
    for (uid, size) in listed {
        let cost = usize::try_from(size.min(limit)).unwrap_or(usize::MAX);
        let first = plan.whole.is_empty() && plan.headers_only.is_empty();
        if !plan.deferred.is_empty() || (cost > budget && !first) {
            plan.deferred.push(uid);
            continue;
        }
        budget = budget.saturating_sub(cost);
        if size > limit {
            plan.headers_only.push(uid);
        } else {
            plan.whole.push(uid);
        }
    }
    plan
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[test]
    fn batch_plan_table() {
        // (listed (uid, size), max_size, max_bytes, whole, headers only, deferred)
        type Row = (Vec<(u32, u32)>, usize, usize, Vec<u32>, Vec<u32>, Vec<u32>);
        let cases: Vec<Row> = vec![
            (vec![], 100, 1000, vec![], vec![], vec![]),
            (
                vec![(1, 10), (2, 10), (3, 10)],
                100,
                1000,
                vec![1, 2, 3],
                vec![],
                vec![],
            ),
            (
                vec![(3, 400), (1, 400), (2, 400)],
                1000,
                1000,
                vec![1, 2],
                vec![],
                vec![3],
            ),
            // One message bigger than the budget still goes, alone.
            (
                vec![(1, 5000), (2, 10)],
                10_000,
                1000,
                vec![1],
                vec![],
                vec![2],
            ),
            // An oversized message costs only what is read of it.
            (
                vec![(1, 1_000_000), (2, 10)],
                100,
                150,
                vec![2],
                vec![1],
                vec![],
            ),
            // Order is kept: nothing after a deferred message jumps the queue.
            (
                vec![(1, 600), (2, 600), (3, 1)],
                1000,
                1000,
                vec![1],
                vec![],
                vec![2, 3],
            ),
        ];
        for (listed, max_size, max_bytes, whole, headers_only, deferred) in cases {
            let plan = plan_batch(listed.clone(), max_size, max_bytes);
            assert_eq!(
                plan,
                BatchPlan {
                    whole,
                    headers_only,
                    deferred
                },
                "{listed:?} {max_size} {max_bytes}"
            );
        }
    }
}
