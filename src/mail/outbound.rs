//! Delivery of the outbox over SMTP.
//!
//! The outbox (in the store) holds fully composed mails; this module turns
//! each into a MIME message, hands it to the submission server and removes
//! it only once the server has accepted it. A mail is therefore never lost.
//! It can be sent twice when the server's acceptance does not reach the
//! outbox: the process dies (or is stopped mid-send) between the server's
//! acceptance and the removal, or the acceptance arrives after the send
//! timeout. Its Message-ID is stable, so clients can recognise the
//! duplicate.
//!
//! Retry policy:
//! - A permanent refusal that concerns this mail (a 5xx reply with a
//!   recipient, mailbox or content status such as 5.1.1) will never succeed:
//!   the mail is audited as `MailFailed` (outcome `failed`) and removed.
//! - Everything else is kept and retried with capped exponential backoff
//!   (1 s doubling to 60 s) per mail. A failure that concerns the server
//!   rather than the mail (no connection, TLS, timeout, authentication, 421,
//!   or a 5xx policy refusal that may be a configuration error) also pauses
//!   all sending with the same backoff, so an outage costs one connection
//!   attempt per pause, not one per queued mail. Mails that have failed less
//!   often are tried first, so one undeliverable mail cannot hold up the rest.
//! - Retries are logged every time but audited once per mail, when it has
//!   failed [`OutboxPacing::audit_after`] times in a row (outcome
//!   `deferred`): the audit trail shows every stuck mail without one line per
//!   retry. The count lives in memory and restarts with the process.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::{SmtpConfig, TlsMode};
use crate::domain::clock::Clock;
use crate::domain::ids::Address;
use crate::mail::compose::is_safe_message_id;
use crate::mail::tls::ca_certificates;
use crate::records::{AuditEvent, EventKind};
use crate::records::{MailPurpose, OutboundMail};
use crate::shutdown::Shutdown;
use crate::store::Store;

/// How long connecting (TCP, TLS, EHLO, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one whole send may take. lettre's own timeout covers only
/// connecting; a server that stalls mid-transaction must not stall the
/// outbox forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// Longest SMTP error text kept in an audit record; servers can be verbose.
const MAX_REASON_CHARS: usize = 300;

/// Mails in flight at once (and pooled SMTP connections). lettre 0.11 leaves
/// Nagle's algorithm on, so one mail costs about one delayed-ACK period
/// (~40 ms) of waiting; a few in parallel keep a backlog moving.
const SEND_CONCURRENCY: usize = 4;

/// `Auto-Submitted` (RFC 3834): tells vacation responders and other robots
/// not to answer, which prevents mail loops with approvald's own replies.
#[derive(Clone)]
struct AutoSubmitted(String);

/// Header name checked at compile time (the constructor is a `const fn`).
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        AUTO_SUBMITTED
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Microsoft's equivalent of `Auto-Submitted`: Exchange and Outlook ignore
/// RFC 3834 but honour this, so out-of-office replies are not sent back to
/// the token-carrying Reply-To address.
#[derive(Clone)]
struct AutoResponseSuppress;

/// Header name checked at compile time.
const AUTO_RESPONSE_SUPPRESS: HeaderName =
    HeaderName::new_from_ascii_str("X-Auto-Response-Suppress");

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        AUTO_RESPONSE_SUPPRESS
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "OOF, AutoReply".into())
    }
}

/// Why a mail was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SendError {
    /// It will never be accepted (bad recipient, content refused): retrying
    /// is pointless.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// It may be accepted later.
    #[error("not sent for now: {why}")]
    Transient {
        /// The server's or the network's words.
        why: String,
        /// The failure concerns the server or the connection, not this
        /// mail: other mails would fail the same way right now.
        outage: bool,
    },
}

/// The SMTP client: a pooled connection to the configured submission
/// server, sending as one fixed From mailbox.
pub(crate) struct Mailer {
    /// Kept to build a fresh transport after a send was abandoned.
    builder: AsyncSmtpTransportBuilder,
    /// lettre's pooled transport; pooling saves a TLS handshake and login
    /// per mail when several mails go out together. Replaced when a send
    /// times out: lettre would put the abandoned connection, possibly in the
    /// middle of a transaction, back into the pool, and the next mail's
    /// commands would then be paired with stale replies. The lock is only
    /// held to clone or swap the handle, never across an await.
    transport: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    /// `from_name <address>` on every mail.
    from: Mailbox,
    /// Bound on one whole send; see [`SEND_TIMEOUT`].
    send_timeout: Duration,
    /// Dates each mail.
    clock: Arc<dyn Clock>,
}

impl Mailer {
    /// Builds the client for `cfg`, sending as `from_name <address>`.
    ///
    /// Reads and checks the CA file now, so a bad one is a startup error.
    /// No connection is made until the first send. Must be called within
    /// the Tokio runtime (the pool starts a housekeeping task).
    pub(crate) fn new(
        cfg: &SmtpConfig,
        from_name: &str,
        address: &Address,
        clock: Arc<dyn Clock>,
    ) -> Result<Mailer, String> {
        let ep = &cfg.endpoint;
        let tls = match ep.tls {
            TlsMode::None => Tls::None,
            TlsMode::Implicit => Tls::Wrapper(tls_parameters(&ep.host, ep.ca_file.as_deref())?),
            TlsMode::StartTls => Tls::Required(tls_parameters(&ep.host, ep.ca_file.as_deref())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ep.host.as_str())
            .port(ep.port)
            .tls(tls)
            .timeout(Some(CONNECT_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(u32::try_from(SEND_CONCURRENCY).unwrap_or(4)));
        if let Some((user, password)) = &cfg.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
        }
        Ok(Mailer {
            transport: Mutex::new(builder.clone().build()),
            builder,
            from: from_mailbox(from_name, address)?,
            send_timeout: SEND_TIMEOUT,
            clock,
        })
    }

    /// Sends one mail and waits for the server's verdict.
    pub(crate) async fn send(&self, m: &OutboundMail) -> Result<(), SendError> {
        let message = build_message(&self.from, m, SystemTime::from(self.clock.now()))?;
        let transport = self.transport().clone();
        match tokio::time::timeout(self.send_timeout, transport.send(message)).await {
            Err(_) => {
                *self.transport() = self.builder.clone().build();
                Err(SendError::Transient {
                    why: format!(
                        "no answer from the SMTP server within {} ms",
                        self.send_timeout.as_millis()
                    ),
                    outage: true,
                })
            }
            Ok(Err(e)) => Err(classify(e.status().map(|c| c.to_string()), e.to_string())),
            Ok(Ok(_)) => Ok(()),
        }
    }

    fn transport(&self) -> std::sync::MutexGuard<'_, AsyncSmtpTransport<Tokio1Executor>> {
        // A panic elsewhere cannot leave the handle half-written: recover it.
        self.transport.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// lettre's TLS settings: Mozilla roots plus the private CA, if any. lettre
/// builds its own rustls configuration (with the ring provider), so the
/// trust anchors are handed over rather than a `ClientConfig`.
fn tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, String> {
    let mut builder =
        TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::WebpkiRoots);
    if let Some(path) = ca_file {
        for der in ca_certificates(path)? {
            let cert = Certificate::from_der(der.to_vec())
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("SMTP TLS settings: {e}"))
}

fn from_mailbox(from_name: &str, address: &Address) -> Result<Mailbox, String> {
    let addr = address
        .as_str()
        .parse::<lettre::Address>()
        .map_err(|e| format!("{address}: {e}"))?;
    let name = from_name.trim();
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_string()),
        addr,
    ))
}

fn mailbox(address: &Address) -> Result<Mailbox, SendError> {
    address
        .as_str()
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|e| SendError::Permanent(format!("{address} is not a deliverable address: {e}")))
}

/// `<id>` for a header, refusing ids that would corrupt it.
fn angle(id: &str) -> Result<String, SendError> {
    if is_safe_message_id(id) {
        Ok(format!("<{id}>"))
    } else {
        Err(SendError::Permanent(format!(
            "{id:?} is not a usable Message-ID"
        )))
    }
}

/// The MIME message for `m`: multipart/alternative (text, then HTML) when
/// there is HTML, text/plain alone otherwise. `date` is a parameter so that
/// tests get reproducible output.
pub(crate) fn build_message(
    from: &Mailbox,
    m: &OutboundMail,
    date: SystemTime,
) -> Result<Message, SendError> {
    // Composition already removes control characters from subjects; this
    // repeats it so that no outbox record can inject header lines.
    let subject: String = m
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut b = Message::builder()
        .from(from.clone())
        .to(mailbox(&m.to)?)
        .subject(subject)
        .message_id(Some(angle(&m.message_id)?))
        .date(date)
        .header(AutoSubmitted(m.auto_submitted.clone()))
        .header(AutoResponseSuppress);
    if let Some(reply_to) = &m.reply_to {
        b = b.reply_to(mailbox(reply_to)?);
    }
    if let Some(parent) = &m.in_reply_to {
        b = b.in_reply_to(angle(parent)?);
    }
    if !m.references.is_empty() {
        let refs = m
            .references
            .iter()
            .map(|r| angle(r))
            .collect::<Result<Vec<_>, _>>()?;
        b = b.references(refs.join(" "));
    }
    let built = match &m.html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            html.clone(),
        )),
        None => b.singlepart(SinglePart::plain(m.text.clone())),
    };
    built.map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}

/// Sorts an SMTP failure into permanent or transient, from the reply code
/// (`None` when no reply was received at all) and the error text, which
/// carries the enhanced status code (RFC 3463) when the server sent one.
fn classify(code: Option<String>, why: String) -> SendError {
    let Some(code) = code.and_then(|c| c.parse::<u16>().ok()) else {
        return SendError::Transient { why, outage: true };
    };
    match code {
        500..=599 if refuses_this_mail(code, &why) => SendError::Permanent(why),
        // Service closing, TLS or authentication temporarily unavailable,
        // and every other 5xx: about the server or our configuration.
        421 | 432 | 454 | 500..=599 => SendError::Transient { why, outage: true },
        _ => SendError::Transient { why, outage: false },
    }
}

/// Whether a 5xx reply is about this mail (its recipient, the mailbox, its
/// content) rather than about the server or our configuration (relay
/// denied, authentication, sender not allowed), which must not cost mails.
fn refuses_this_mail(code: u16, why: &str) -> bool {
    match enhanced_status(why) {
        Some((5, 1, detail)) => matches!(detail, 1 | 2 | 3 | 6 | 10),
        Some((5, 2, _)) | Some((5, 3, 4)) | Some((5, 6, _)) => true,
        Some(_) => false,
        // Without an enhanced code, RFC 5321's mailbox replies.
        None => matches!(code, 550..=553),
    }
}

/// The first `class.subject.detail` enhanced status code in `text`.
fn enhanced_status(text: &str) -> Option<(u8, u16, u16)> {
    text.split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .find_map(|word| {
            let mut parts = word.split('.');
            let class = parts.next()?.parse::<u8>().ok()?;
            let subject = parts.next()?.parse::<u16>().ok()?;
            let detail = parts.next()?.parse::<u16>().ok()?;
            (parts.next().is_none()
                && matches!(class, 2 | 4 | 5)
                && subject < 1000
                && detail < 1000)
                .then_some((class, subject, detail))
        })
}

/// Something that can deliver an outbox mail: the SMTP [`Mailer`], or a
/// scripted stand-in in tests of the worker.
pub(crate) trait Deliver {
    /// Delivers `m`, or says why not.
    fn deliver(&self, m: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl Deliver for Mailer {
    fn deliver(&self, m: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send(m)
    }
}

/// How the outbox worker paces itself.
#[derive(Clone, Debug)]
pub(crate) struct OutboxPacing {
    /// Mails read from the outbox per pass.
    pub(crate) batch: usize,
    /// How long an empty outbox is left alone without a wake-up; a safety
    /// net in case a notification is missed.
    pub(crate) idle_recheck: Duration,
    /// First retry delay after a failure.
    pub(crate) backoff_min: Duration,
    /// Longest retry delay: an outage ends at most this long before sending
    /// resumes.
    pub(crate) backoff_max: Duration,
    /// Failures in a row after which a mail is audited as deferred.
    pub(crate) audit_after: u32,
}

impl Default for OutboxPacing {
    fn default() -> Self {
        OutboxPacing {
            batch: 50,
            idle_recheck: Duration::from_secs(30),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            audit_after: 5,
        }
    }
}

impl OutboxPacing {
    /// `backoff_min` doubled per earlier failure, capped at `backoff_max`.
    fn backoff(&self, failures: u32) -> Duration {
        Backoff {
            initial: self.backoff_min,
            max: self.backoff_max,
            jitter: false,
        }
        .delay(failures)
    }
}

/// Retry state of one outbox entry, kept in memory.
#[derive(Clone, Copy, Debug)]
struct Retry {
    /// Failures in a row.
    failures: u32,
    /// Not to be tried before this.
    due: Instant,
}

/// What the worker does after a pass over the outbox.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Look at the outbox again right away: something changed.
    Again,
    /// Sleep this long, or less if new mail arrives.
    Idle(Duration),
    /// Sleep this long whatever arrives: the server or the store is failing.
    Pause(Duration),
    /// Shutdown was requested.
    Stop,
}

/// Delivers the outbox until `shutdown` fires (or its sender is dropped).
pub(crate) async fn run_outbox(
    store: Store,
    mailer: Mailer,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) {
    run_outbox_with(store, mailer, OutboxPacing::default(), clock, shutdown).await;
}

/// [`run_outbox`] with any [`Deliver`] and pacing, for tests.
pub(crate) async fn run_outbox_with<D: Deliver>(
    store: Store,
    deliver: D,
    pacing: OutboxPacing,
    clock: Arc<dyn Clock>,
    shutdown: Shutdown,
) {
    let ready = store.outbox().ready();
    let mut worker = Worker {
        store,
        deliver,
        pacing,
        retries: HashMap::new(),
        delivered: HashSet::new(),
        outages: 0,
        clock,
    };
    loop {
        if shutdown.is_requested() {
            return;
        }
        let next = worker.pass(&shutdown).await;
        // One flush per pass makes the removals and `mailed` records durable
        // (and wakes the audit shipper for them).
        if let Err(e) = worker.store.flush().await {
            tracing::error!(error = %e, "cannot flush the outbox bookkeeping");
        }
        let stop = match next {
            Next::Again => false,
            Next::Idle(d) => wait(&shutdown, &ready, d, true).await,
            Next::Pause(d) => wait(&shutdown, &ready, d, false).await,
            Next::Stop => true,
        };
        if stop {
            return;
        }
    }
}

/// The outbox worker's state between passes.
struct Worker<D> {
    /// Where the outbox and the audit spool live.
    store: Store,
    /// The SMTP client (or a test stand-in).
    deliver: D,
    /// Batch size, backoff and audit threshold.
    pacing: OutboxPacing,
    /// Entries that failed transiently, by outbox sequence number.
    retries: HashMap<u64, Retry>,
    /// Entries the server accepted but the store failed to remove: removed
    /// again later without sending them again.
    delivered: HashSet<u64>,
    /// Outages in a row (server or store), for the pause length.
    outages: u32,
    /// Dates the audit records of deliveries.
    clock: Arc<dyn Clock>,
}

impl<D: Deliver> Worker<D> {
    /// Tries every entry that is due, fresh entries first.
    async fn pass(&mut self, shutdown: &Shutdown) -> Next {
        // Read past the entries known to be waiting for a retry, so that
        // they cannot hide newer mail from a fixed-size batch.
        let limit = self.pacing.batch.saturating_add(self.retries.len());
        let batch = match self.store.outbox().durable(limit).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return self.pause();
            }
        };
        if batch.is_empty() {
            self.retries.clear();
            self.delivered.clear();
            return Next::Idle(self.pacing.idle_recheck);
        }
        let now = Instant::now();
        let mut next_due = now + self.pacing.idle_recheck;
        let mut due: Vec<(u64, OutboundMail, u32)> = Vec::new();
        for (seq, mail) in batch {
            match self.retries.get(&seq) {
                Some(r) if r.due > now => next_due = next_due.min(r.due),
                r => due.push((seq, mail, r.map_or(0, |r| r.failures))),
            }
        }
        if due.is_empty() {
            return Next::Idle(next_due.saturating_duration_since(now));
        }
        // Fresh mails first, so that a mail that keeps failing cannot hold
        // up the others; the sort is stable, keeping outbox order otherwise.
        due.sort_by_key(|(_, _, failures)| *failures);
        let mut to_send = Vec::with_capacity(due.len());
        for (seq, mail, _) in due {
            if self.delivered.contains(&seq) {
                if !self.remove(seq, &mail) {
                    return self.pause();
                }
                self.delivered.remove(&seq);
            } else {
                to_send.push((seq, mail));
            }
        }
        // A few mails in flight at once: each SMTP transaction spends most
        // of its time waiting for the server, so this multiplies throughput
        // after a backlog without hammering the relay.
        for chunk in to_send.chunks(SEND_CONCURRENCY) {
            if shutdown.is_requested() {
                return Next::Stop;
            }
            let sends =
                futures::future::join_all(chunk.iter().map(|(_, m)| self.deliver.deliver(m)));
            let results = tokio::select! {
                r = sends => r,
                _ = shutdown.requested() => return Next::Stop,
            };
            // Settle every send of the chunk before acting on an outage:
            // mails the server accepted must leave the outbox either way.
            let mut stop = None;
            for ((seq, mail), result) in chunk.iter().zip(results) {
                let next = self.settle(*seq, mail, result);
                stop = stop.or(next);
            }
            if let Some(next) = stop {
                return next;
            }
        }
        Next::Again
    }

    /// Records the outcome of one send; `Some` when the pass must end.
    fn settle(
        &mut self,
        seq: u64,
        mail: &OutboundMail,
        result: Result<(), SendError>,
    ) -> Option<Next> {
        match result {
            Ok(()) => {
                self.outages = 0;
                self.retries.remove(&seq);
                tracing::info!(
                    message_id = %mail.message_id,
                    to = %mail.to,
                    purpose = purpose_name(mail.purpose),
                    "mail sent"
                );
                self.audit(mail_event(
                    self.clock.now(),
                    EventKind::Mailed,
                    mail,
                    "sent",
                    None,
                ));
                if !self.remove(seq, mail) {
                    self.delivered.insert(seq);
                    return Some(self.pause());
                }
            }
            Err(SendError::Permanent(why)) => {
                self.retries.remove(&seq);
                tracing::error!(
                    message_id = %mail.message_id,
                    to = %mail.to,
                    error = %why,
                    "mail refused for good; dropped from the outbox"
                );
                self.audit(mail_event(
                    self.clock.now(),
                    EventKind::MailFailed,
                    mail,
                    "failed",
                    Some(&why),
                ));
                if !self.remove(seq, mail) {
                    return Some(self.pause());
                }
            }
            Err(SendError::Transient { why, outage }) => {
                self.deferred(seq, mail, &why);
                if outage {
                    return Some(self.pause());
                }
            }
        }
        None
    }

    /// Schedules the retry of a transient failure.
    fn deferred(&mut self, seq: u64, mail: &OutboundMail, why: &str) {
        let failures = self
            .retries
            .get(&seq)
            .map_or(0, |r| r.failures)
            .saturating_add(1);
        let delay = self.pacing.backoff(failures);
        self.retries.insert(
            seq,
            Retry {
                failures,
                due: Instant::now() + delay,
            },
        );
        tracing::warn!(
            message_id = %mail.message_id,
            to = %mail.to,
            error = %why,
            failures,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "mail not sent; will retry"
        );
        if failures == self.pacing.audit_after {
            self.audit(mail_event(
                self.clock.now(),
                EventKind::MailFailed,
                mail,
                "deferred",
                Some(why),
            ));
        }
    }

    /// Pauses all sending, longer with every outage in a row.
    fn pause(&mut self) -> Next {
        self.outages = self.outages.saturating_add(1);
        Next::Pause(self.pacing.backoff(self.outages))
    }

    /// Removes a finished entry; false (and logged) if the store failed.
    fn remove(&self, seq: u64, mail: &OutboundMail) -> bool {
        match self.store.outbox().remove(seq) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(
                    message_id = %mail.message_id,
                    error = %e,
                    "cannot remove a finished mail from the outbox"
                );
                false
            }
        }
    }

    fn audit(&self, event: AuditEvent) {
        if let Err(e) = self.store.audit_only(event) {
            tracing::error!(error = %e, "cannot record a mail audit event");
        }
    }
}

/// Waits `d`, or less if new mail arrives (when `wake_on_mail`); returns
/// whether shutdown was requested meanwhile.
async fn wait(
    shutdown: &Shutdown,
    ready: &tokio::sync::Notify,
    d: Duration,
    wake_on_mail: bool,
) -> bool {
    tokio::select! {
        _ = shutdown.requested() => true,
        _ = tokio::time::sleep(d) => false,
        _ = ready.notified(), if wake_on_mail => false,
    }
}

fn purpose_name(p: MailPurpose) -> &'static str {
    match p {
        MailPurpose::ApprovalRequest => "approval-request",
        MailPurpose::Received => "received",
        MailPurpose::Decided => "decided",
        MailPurpose::Explanation => "explanation",
    }
}

/// The audit record of a delivery outcome: the recipient as actor, the
/// request id for joining, and the mail named by purpose and Message-ID
/// only. The subject and Reply-To carry the approval token, which must not
/// reach the log.
fn mail_event(
    at: DateTime<Utc>,
    kind: EventKind,
    m: &OutboundMail,
    outcome: &str,
    why: Option<&str>,
) -> AuditEvent {
    let reason = why.map(|w| {
        let mut r: String = w.chars().take(MAX_REASON_CHARS).collect();
        if w.chars().nth(MAX_REASON_CHARS).is_some() {
            r.push('…');
        }
        r
    });
    let about = m.request.map(|r| format!(" about {r}")).unwrap_or_default();
    let message = format!(
        "{} mail{about} to {} {outcome} (Message-ID {})",
        purpose_name(m.purpose),
        m.to,
        m.message_id
    );
    let mut event = AuditEvent::new(at, kind, outcome, message).with_actor(m.to.as_str());
    if let Some(id) = m.request {
        event = event.with_request(id.to_string());
    }
    if let Some(r) = reason {
        event = event.with_reason(r);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Endpoint;
    use crate::domain::ids::RequestId;
    use crate::secret::Secret;
    use crate::store::Change;
    use crate::system_clock::SystemClock;
    use mail_parser::{MessageParser, MimeHeaders};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn mail(n: u64) -> OutboundMail {
        OutboundMail {
            purpose: MailPurpose::ApprovalRequest,
            request: Some(RequestId::new(7)),
            to: addr(&format!("approver{n}@example.test")),
            subject: format!("[AR-7] Approval needed {n} – Genehmigung"),
            text:
                "##- Please type your reply above this line -##\nHallo Jörg\nApproval token: abc\n"
                    .into(),
            html: Some("<p>Hallo J&ouml;rg</p>".into()),
            message_id: format!("approvald.AR-7.request.1.{n}@example.test"),
            reply_to: Some(addr("approvals+abc@example.test")),
            in_reply_to: Some("root@example.test".into()),
            references: vec!["root@example.test".into(), "other@example.test".into()],
            auto_submitted: "auto-generated".into(),
        }
    }

    fn from() -> Mailbox {
        from_mailbox("Access approvals", &addr("approvals@example.test")).unwrap()
    }

    fn date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
    }

    /// A body as sent, with the wire's CRLF line ends and the final line
    /// break MIME adds taken back out.
    fn lf(body: Option<std::borrow::Cow<'_, str>>) -> String {
        body.unwrap_or_default()
            .replace("\r\n", "\n")
            .trim_end()
            .to_string()
    }

    #[test]
    fn message_carries_every_header() {
        let bytes = build_message(&from(), &mail(1), date())
            .unwrap()
            .formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let first = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first()).map(|a| {
                (
                    a.name().map(str::to_string),
                    a.address().unwrap_or("").to_string(),
                )
            })
        };
        assert_eq!(
            first(parsed.from()),
            Some((
                Some("Access approvals".into()),
                "approvals@example.test".into()
            ))
        );
        assert_eq!(
            first(parsed.to()),
            Some((None, "approver1@example.test".into()))
        );
        assert_eq!(
            first(parsed.reply_to()),
            Some((None, "approvals+abc@example.test".into()))
        );
        assert_eq!(
            parsed.subject(),
            Some("[AR-7] Approval needed 1 – Genehmigung")
        );
        assert_eq!(
            parsed.message_id(),
            Some("approvald.AR-7.request.1.1@example.test")
        );
        assert_eq!(
            parsed.in_reply_to().as_text_list().map(|l| l.to_vec()),
            Some(vec!["root@example.test".into()])
        );
        assert_eq!(
            parsed.references().as_text_list().map(|l| l.to_vec()),
            Some(vec![
                "root@example.test".into(),
                "other@example.test".into()
            ])
        );
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            parsed.header_raw("X-Auto-Response-Suppress").map(str::trim),
            Some("OOF, AutoReply")
        );
        assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_795_000_000));
    }

    #[test]
    fn html_mail_is_multipart_alternative_text_first() {
        let bytes = build_message(&from(), &mail(1), date())
            .unwrap()
            .formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let ct = parsed.root_part().content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let parts = parsed.root_part().sub_parts().unwrap();
        assert_eq!(parts.len(), 2);
        let kinds: Vec<(String, String)> = parts
            .iter()
            .map(|&i| {
                let ct = parsed.part(i).unwrap().content_type().unwrap();
                (
                    ct.ctype().to_string(),
                    ct.subtype().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("text".into(), "plain".into()),
                ("text".into(), "html".into())
            ]
        );
        assert_eq!(lf(parsed.body_text(0)), lf(Some(mail(1).text.into())));
        assert_eq!(lf(parsed.body_html(0)), "<p>Hallo J&ouml;rg</p>");
        assert!(
            bytes.is_ascii(),
            "bodies are transfer-encoded for 7-bit servers"
        );
    }

    #[test]
    fn text_only_mail_is_a_single_plain_part() {
        let mut m = mail(1);
        m.html = None;
        m.reply_to = None;
        m.in_reply_to = None;
        m.references.clear();
        let bytes = build_message(&from(), &m, date()).unwrap().formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let ct = parsed.root_part().content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
        assert_eq!(lf(parsed.body_text(0)), lf(Some(m.text.clone().into())));
        assert!(parsed.reply_to().is_none());
        assert!(parsed.header_raw("In-Reply-To").is_none());
        assert!(parsed.header_raw("References").is_none());
    }

    #[test]
    fn outbox_record_cannot_inject_headers() {
        let mut m = mail(1);
        m.subject = "hi\r\nBcc: victim@example.test".into();
        let bytes = build_message(&from(), &m, date()).unwrap().formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert!(parsed.bcc().is_none());
        assert!(parsed.header_raw("Bcc").is_none());
        assert_eq!(parsed.subject(), Some("hi  Bcc: victim@example.test"));
        let bad_ids = ["", "a b@x", "a@x>\r\nBcc: v@x", "<a@x>"];
        for id in bad_ids {
            for field in ["message-id", "in-reply-to", "references"] {
                let mut m = mail(1);
                match field {
                    "message-id" => m.message_id = id.into(),
                    "in-reply-to" => m.in_reply_to = Some(id.into()),
                    _ => m.references = vec![id.into()],
                }
                assert!(
                    matches!(
                        build_message(&from(), &m, date()),
                        Err(SendError::Permanent(_))
                    ),
                    "{field} {id:?} accepted"
                );
            }
        }
    }

    #[test]
    fn smtp_failure_classification_table() {
        let outage = |w: &str| SendError::Transient {
            why: w.into(),
            outage: true,
        };
        let later = |w: &str| SendError::Transient {
            why: w.into(),
            outage: false,
        };
        let perm = |w: &str| SendError::Permanent(w.into());
        let cases: Vec<(Option<&str>, &str, SendError)> = vec![
            (
                None,
                "network error: Connection refused",
                outage("network error: Connection refused"),
            ),
            (
                None,
                "tls error: invalid peer certificate",
                outage("tls error: invalid peer certificate"),
            ),
            (
                Some("550"),
                "5.1.1 <x@y>: Recipient address rejected: User unknown",
                perm("5.1.1 <x@y>: Recipient address rejected: User unknown"),
            ),
            (
                Some("552"),
                "5.2.2 mailbox full",
                perm("5.2.2 mailbox full"),
            ),
            (
                Some("552"),
                "5.3.4 Message size exceeds fixed limit",
                perm("5.3.4 Message size exceeds fixed limit"),
            ),
            (
                Some("554"),
                "5.6.0 content rejected",
                perm("5.6.0 content rejected"),
            ),
            (Some("553"), "5.1.10 null MX", perm("5.1.10 null MX")),
            (
                Some("550"),
                "mailbox unavailable",
                perm("mailbox unavailable"),
            ),
            // Configuration or server problems: keep every mail.
            (
                Some("554"),
                "5.7.1 <x@y>: Relay access denied",
                outage("5.7.1 <x@y>: Relay access denied"),
            ),
            (
                Some("553"),
                "5.7.1 <a@b>: Sender address rejected: not owned by user",
                outage("5.7.1 <a@b>: Sender address rejected: not owned by user"),
            ),
            (
                Some("553"),
                "5.1.8 sender domain unknown",
                outage("5.1.8 sender domain unknown"),
            ),
            (
                Some("535"),
                "5.7.8 Error: authentication failed",
                outage("5.7.8 Error: authentication failed"),
            ),
            (
                Some("530"),
                "Authentication required",
                outage("Authentication required"),
            ),
            (
                Some("554"),
                "Transaction failed",
                outage("Transaction failed"),
            ),
            (
                Some("502"),
                "Command not implemented",
                outage("Command not implemented"),
            ),
            (
                Some("421"),
                "4.3.2 Service shutting down",
                outage("4.3.2 Service shutting down"),
            ),
            (
                Some("454"),
                "4.7.0 TLS not available",
                outage("4.7.0 TLS not available"),
            ),
            (Some("450"), "4.2.0 greylisted", later("4.2.0 greylisted")),
            (
                Some("451"),
                "4.3.0 temporary lookup failure",
                later("4.3.0 temporary lookup failure"),
            ),
            (
                Some("452"),
                "4.5.3 too many recipients",
                later("4.5.3 too many recipients"),
            ),
            (Some("nonsense"), "garbled", outage("garbled")),
        ];
        for (code, why, want) in cases {
            assert_eq!(
                classify(code.map(str::to_string), why.to_string()),
                want,
                "{code:?} {why}"
            );
        }
    }

    #[test]
    fn enhanced_status_table() {
        type Status = Option<(u8, u16, u16)>;
        let cases: [(&str, Status); 7] = [
            ("5.1.1 <x>: unknown", Some((5, 1, 1))),
            ("permanent error (550): 5.7.1 denied", Some((5, 7, 1))),
            ("Relay denied 5.7.1", Some((5, 7, 1))),
            ("version 1.2.3 of the server", None),
            ("5.1 short", None),
            ("5.1.1.1 long", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(enhanced_status(text), want, "{text:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_min_and_is_capped() {
        let p = OutboxPacing::default();
        let got: Vec<u64> = [1, 2, 3, 4, 5, 6, 7, 8, 100, u32::MAX]
            .iter()
            .map(|&n| p.backoff(n).as_secs())
            .collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(p.backoff(0).as_secs(), 1);
    }

    // ---- A scripted SMTP server, to check what lettre reports ----

    /// How the scripted server behaves.
    #[derive(Clone, Copy)]
    enum Script {
        /// Accepts every mail.
        Accept,
        /// Answers RCPT TO with this reply.
        RcptReply(&'static str),
        /// Never says anything.
        Stall,
        /// On the first connection, never answers the end of DATA; later
        /// connections accept.
        StallFirstData,
    }

    /// Serves SMTP on 127.0.0.1 per `script`; returns the port and the
    /// number of messages accepted so far.
    async fn smtp_server(script: Script) -> (u16, Arc<Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0u32));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut connections = 0;
            while let Ok((sock, _)) = listener.accept().await {
                connections += 1;
                let stall_data = matches!(script, Script::StallFirstData) && connections == 1;
                let counter = counter.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    if matches!(script, Script::Stall) {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                if stall_data {
                                    tokio::time::sleep(Duration::from_secs(60)).await;
                                    return;
                                }
                                in_data = false;
                                *counter.lock().unwrap() += 1;
                                w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match (verb.as_str(), script) {
                            ("EHLO", _) => b"250-test\r\n250 8BITMIME\r\n",
                            ("RCPT", Script::RcptReply(r)) => r.as_bytes(),
                            ("DATA", _) => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            ("QUIT", _) => {
                                w.write_all(b"221 bye\r\n").await.ok();
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        w.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        (port, accepted)
    }

    fn smtp_config(port: u16, tls: TlsMode, ca_file: Option<std::path::PathBuf>) -> SmtpConfig {
        SmtpConfig {
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
                tls,
                ca_file,
            },
            credentials: None,
        }
    }

    fn mailer(port: u16) -> Mailer {
        Mailer::new(
            &smtp_config(port, TlsMode::None, None),
            "Access approvals",
            &addr("approvals@example.test"),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn mailer_reports_what_the_server_said() {
        type Check = fn(&Result<(), SendError>) -> bool;
        let cases: [(&str, Script, Check); 4] = [
            ("accepted", Script::Accept, |r| r.is_ok()),
            (
                "unknown user",
                Script::RcptReply("550 5.1.1 <x>: User unknown\r\n"),
                |r| matches!(r, Err(SendError::Permanent(w)) if w.contains("5.1.1")),
            ),
            (
                "greylisted",
                Script::RcptReply("450 4.2.0 try later\r\n"),
                |r| matches!(r, Err(SendError::Transient { outage: false, .. })),
            ),
            (
                "relay denied",
                Script::RcptReply("554 5.7.1 Relay access denied\r\n"),
                |r| matches!(r, Err(SendError::Transient { outage: true, .. })),
            ),
        ];
        for (name, script, ok) in cases {
            let (port, accepted) = smtp_server(script).await;
            let got = mailer(port).send(&mail(1)).await;
            assert!(ok(&got), "{name}: {got:?}");
            let want = u32::from(matches!(script, Script::Accept));
            assert_eq!(*accepted.lock().unwrap(), want, "{name}");
        }
    }

    #[tokio::test]
    async fn no_server_and_stalled_server_are_outages() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = free.local_addr().unwrap().port();
        drop(free);
        let got = mailer(closed_port).send(&mail(1)).await;
        assert!(
            matches!(got, Err(SendError::Transient { outage: true, .. })),
            "{got:?}"
        );

        let (port, _) = smtp_server(Script::Stall).await;
        let mut m = mailer(port);
        m.send_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let got = m.send(&mail(1)).await;
        assert!(
            matches!(got, Err(SendError::Transient { outage: true, .. })),
            "{got:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the send timeout bounds a stalled server"
        );
    }

    #[tokio::test]
    async fn connection_abandoned_by_the_send_timeout_is_not_reused() {
        let (port, accepted) = smtp_server(Script::StallFirstData).await;
        let mut m = mailer(port);
        m.send_timeout = Duration::from_millis(300);
        let first = m.send(&mail(1)).await;
        assert!(
            matches!(first, Err(SendError::Transient { outage: true, .. })),
            "{first:?}"
        );
        // The worker backs off before retrying; meanwhile lettre would have
        // parked the abandoned connection, and reusing it would time out
        // again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = m.send(&mail(2)).await;
        assert_eq!(second, Ok(()));
        assert_eq!(*accepted.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn mailer_checks_the_ca_file_at_startup() {
        let from = addr("approvals@example.test");
        for tls in [TlsMode::Implicit, TlsMode::StartTls, TlsMode::None] {
            assert!(Mailer::new(
                &smtp_config(465, tls, None),
                "A",
                &from,
                Arc::new(SystemClock)
            )
            .is_ok());
        }
        let not_pem = tempfile::NamedTempFile::new().unwrap();
        for tls in [TlsMode::Implicit, TlsMode::StartTls] {
            let cfg = smtp_config(465, tls, Some(not_pem.path().to_path_buf()));
            let err = Mailer::new(&cfg, "A", &from, Arc::new(SystemClock))
                .err()
                .unwrap();
            assert!(err.contains("no PEM certificate"), "{err}");
        }
        let mut cfg = smtp_config(465, TlsMode::Implicit, None);
        cfg.credentials = Some(("user".into(), Secret::new("hunter2".into())));
        assert!(Mailer::new(&cfg, "A", &from, Arc::new(SystemClock)).is_ok());
    }

    // ---- The outbox worker, with a scripted deliverer and a real store ----

    /// Scripted answers, by recipient.
    type Answers = HashMap<String, Vec<Result<(), SendError>>>;

    /// Answers per recipient from a script (then succeeds), recording every
    /// attempt in order.
    #[derive(Clone, Default)]
    struct Scripted {
        answers: Arc<Mutex<Answers>>,
        attempts: Arc<Mutex<Vec<String>>>,
    }

    impl Scripted {
        fn script(&self, to: &str, answers: Vec<Result<(), SendError>>) {
            self.answers.lock().unwrap().insert(to.into(), answers);
        }

        fn attempts(&self) -> Vec<String> {
            self.attempts.lock().unwrap().clone()
        }
    }

    impl Deliver for Scripted {
        fn deliver(&self, m: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send {
            let to = m.to.to_string();
            self.attempts.lock().unwrap().push(to.clone());
            let answer = match self.answers.lock().unwrap().get_mut(&to) {
                Some(list) if !list.is_empty() => list.remove(0),
                _ => Ok(()),
            };
            async move { answer }
        }
    }

    fn transient(outage: bool) -> Result<(), SendError> {
        Err(SendError::Transient {
            why: "451 4.3.0 try again".into(),
            outage,
        })
    }

    fn pacing() -> OutboxPacing {
        OutboxPacing {
            batch: 50,
            idle_recheck: Duration::from_secs(30),
            backoff_min: Duration::from_millis(5),
            backoff_max: Duration::from_millis(40),
            audit_after: 3,
        }
    }

    fn queue(store: &Store, mails: Vec<OutboundMail>) {
        store
            .commit(None, |_| Change {
                mails: mails.clone(),
                ..Change::nothing(())
            })
            .unwrap();
    }

    /// Runs the worker until the outbox is empty (or 10 s pass), then stops
    /// it and returns the audit events written.
    async fn run_until_empty(store: &Store, deliver: Scripted) -> Vec<AuditEvent> {
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            deliver,
            pacing(),
            Arc::new(SystemClock),
            rx,
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !store.outbox().peek(1).unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.stop();
        tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .unwrap()
            .unwrap();
        store
            .audit()
            .peek(1000)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    fn outcomes(events: &[AuditEvent]) -> Vec<(EventKind, String, String)> {
        events
            .iter()
            .map(|e| {
                (
                    e.kind,
                    e.actor.clone().unwrap_or_default(),
                    e.outcome.clone(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn sent_mails_leave_the_outbox_and_are_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, vec![mail(1), mail(2)]);
        let d = Scripted::default();
        let events = run_until_empty(&store, d.clone()).await;
        assert!(store.outbox().peek(10).unwrap().is_empty());
        assert_eq!(
            d.attempts(),
            vec!["approver1@example.test", "approver2@example.test"]
        );
        assert_eq!(
            outcomes(&events),
            vec![
                (
                    EventKind::Mailed,
                    "approver1@example.test".into(),
                    "sent".into()
                ),
                (
                    EventKind::Mailed,
                    "approver2@example.test".into(),
                    "sent".into()
                ),
            ]
        );
        let e = &events[0];
        assert_eq!(e.request.as_deref(), Some("AR-7"));
        assert_eq!(
            e.message,
            "approval-request mail about AR-7 to approver1@example.test sent \
             (Message-ID approvald.AR-7.request.1.1@example.test)"
        );
        assert!(
            !e.message.contains("abc"),
            "no token in the audit: {}",
            e.message
        );
    }

    #[tokio::test]
    async fn permanently_refused_mail_is_dropped_and_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, vec![mail(1), mail(2)]);
        let d = Scripted::default();
        d.script(
            "approver1@example.test",
            vec![Err(SendError::Permanent("550 5.1.1 unknown".into()))],
        );
        let events = run_until_empty(&store, d.clone()).await;
        assert_eq!(
            d.attempts(),
            vec!["approver1@example.test", "approver2@example.test"]
        );
        assert_eq!(
            outcomes(&events),
            vec![
                (
                    EventKind::MailFailed,
                    "approver1@example.test".into(),
                    "failed".into()
                ),
                (
                    EventKind::Mailed,
                    "approver2@example.test".into(),
                    "sent".into()
                ),
            ]
        );
        assert_eq!(events[0].reason.as_deref(), Some("550 5.1.1 unknown"));
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_sent_and_audited_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, vec![mail(1)]);
        let d = Scripted::default();
        d.script(
            "approver1@example.test",
            (0..5).map(|_| transient(false)).collect(),
        );
        let events = run_until_empty(&store, d.clone()).await;
        assert_eq!(d.attempts().len(), 6, "five failures, then success");
        assert_eq!(
            outcomes(&events),
            vec![
                (
                    EventKind::MailFailed,
                    "approver1@example.test".into(),
                    "deferred".into()
                ),
                (
                    EventKind::Mailed,
                    "approver1@example.test".into(),
                    "sent".into()
                ),
            ],
            "one deferred record after audit_after failures, not one per retry"
        );
    }

    #[tokio::test]
    async fn an_outage_ends_the_pass_after_its_chunk_and_nothing_is_sent_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n = SEND_CONCURRENCY as u64 + 2;
        queue(&store, (1..=n).map(mail).collect());
        let d = Scripted::default();
        d.script("approver1@example.test", vec![transient(true)]);
        run_until_empty(&store, d.clone()).await;
        let attempts = d.attempts();
        let first_chunk: std::collections::HashSet<&str> = attempts
            .iter()
            .take(SEND_CONCURRENCY)
            .map(String::as_str)
            .collect();
        let want: std::collections::HashSet<String> = (1..=SEND_CONCURRENCY)
            .map(|i| format!("approver{i}@example.test"))
            .collect();
        assert_eq!(
            first_chunk,
            want.iter().map(String::as_str).collect(),
            "the outage ended the pass before the next chunk: {attempts:?}"
        );
        for i in 1..=n {
            let to = format!("approver{i}@example.test");
            let sent = attempts.iter().filter(|a| **a == to).count();
            let expected = if i == 1 { 2 } else { 1 };
            assert_eq!(sent, expected, "{to}: {attempts:?}");
        }
    }

    #[tokio::test]
    async fn a_mail_that_keeps_failing_does_not_hold_up_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, vec![mail(1), mail(2)]);
        let d = Scripted::default();
        // Fails as an outage every time: the worst case for the queue head.
        d.script(
            "approver1@example.test",
            (0..1000).map(|_| transient(true)).collect(),
        );
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            d.clone(),
            pacing(),
            Arc::new(SystemClock),
            rx,
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.outbox().peek(10).unwrap().len() > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.stop();
        tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .unwrap()
            .unwrap();
        let left: Vec<String> = store
            .outbox()
            .peek(10)
            .unwrap()
            .into_iter()
            .map(|(_, m)| m.to.to_string())
            .collect();
        assert_eq!(left, vec!["approver1@example.test"], "kept, never lost");
        assert!(d.attempts().contains(&"approver2@example.test".to_string()));
    }

    #[tokio::test]
    async fn flushed_mail_wakes_the_idle_worker_and_shutdown_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Scripted::default();
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            d.clone(),
            pacing(),
            Arc::new(SystemClock),
            rx,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        queue(&store, vec![mail(1)]);
        // Committed mail wakes the worker only once it is durable.
        store.flush().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !store.outbox().peek(1).unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            store.outbox().peek(1).unwrap().is_empty(),
            "sent well before the 30 s idle recheck"
        );
        stop.stop();
        tokio::time::timeout(Duration::from_secs(1), worker)
            .await
            .expect("the worker stops promptly")
            .unwrap();
    }

    /// A deliverer whose sends never finish.
    struct Hangs;

    impl Deliver for Hangs {
        fn deliver(&self, _: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send {
            std::future::pending()
        }
    }

    #[tokio::test]
    async fn shutdown_interrupts_a_hanging_send_and_keeps_the_mail() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        queue(&store, vec![mail(1)]);
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            Hangs,
            pacing(),
            Arc::new(SystemClock),
            rx,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.stop();
        tokio::time::timeout(Duration::from_secs(1), worker)
            .await
            .expect("the worker stops promptly")
            .unwrap();
        assert_eq!(
            store.outbox().peek(10).unwrap().len(),
            1,
            "the mail stays queued"
        );
    }

    #[tokio::test]
    async fn dropped_shutdown_sender_also_stops_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store,
            Scripted::default(),
            pacing(),
            Arc::new(SystemClock),
            rx,
        ));
        drop(stop);
        tokio::time::timeout(Duration::from_secs(1), worker)
            .await
            .unwrap()
            .unwrap();
    }
}
