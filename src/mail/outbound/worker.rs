//! The outbox worker: sends what the store queued, a few at a time,
//! retrying with backoff, pausing through outages, removing a mail only once
//! the server took it, and auditing every outcome.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::transport::{Mailer, SendError};
use super::SEND_CONCURRENCY;
use crate::backoff::Backoff;
use crate::domain::clock::Clock;
use crate::health::Heartbeat;
use crate::records::{AuditEvent, EventKind, MailPurpose, OutboundMail};
use crate::shutdown::Shutdown;
use crate::store::Store;

/// Longest SMTP error text kept in an audit record; servers can be verbose.
const MAX_REASON_CHARS: usize = 300;

/// Something that can deliver an outbox mail: the SMTP [`Mailer`], or a
/// scripted stand-in in tests of the worker.
pub(crate) trait Deliver {
    /// Delivers `m`, or says why not.
    fn deliver(&self, m: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send;
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
    heart: Heartbeat,
    shutdown: Shutdown,
) {
    run_outbox_with(
        store,
        mailer,
        OutboxPacing::default(),
        clock,
        heart,
        shutdown,
    )
    .await;
}

/// The outbox worker's heartbeat bound: it beats before each chunk of
/// sends, and a chunk lasts at most one whole send.
pub(crate) const STALL_BOUND: Duration = super::transport::SEND_TIMEOUT.saturating_mul(2);

/// [`run_outbox`] with any [`Deliver`] and pacing, for tests.
pub(crate) async fn run_outbox_with<D: Deliver>(
    store: Store,
    deliver: D,
    pacing: OutboxPacing,
    clock: Arc<dyn Clock>,
    heart: Heartbeat,
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
        heart: heart.clone(),
    };
    loop {
        if shutdown.is_requested() {
            return;
        }
        heart.beat();
        let next = worker.pass(&shutdown).await;
        // One flush per pass makes the removals and `mailed` records durable
        // (and wakes the audit shipper for them).
        if let Err(e) = worker.store.flush().await {
            tracing::error!(error = %e, "cannot flush the outbox bookkeeping");
        }
        let stop = match next {
            Next::Again => false,
            Next::Idle(d) => wait(&shutdown, &ready, &heart, d, true).await,
            Next::Pause(d) => wait(&shutdown, &ready, &heart, d, false).await,
            Next::Stop => true,
        };
        if stop {
            return;
        }
    }
}

/// The outbox worker's state between passes.
struct Worker<D> {
    /// Where the outbox and the audit trail live.
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
    /// Beaten before each chunk of sends.
    heart: Heartbeat,
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
            self.heart.beat();
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
    heart: &Heartbeat,
    d: Duration,
    wake_on_mail: bool,
) -> bool {
    tokio::select! {
        _ = shutdown.requested() => true,
        _ = tokio::time::sleep(d) => false,
        _ = ready.notified(), if wake_on_mail => false,
        never = heart.pulse() => match never {},
    }
}

fn purpose_name(p: MailPurpose) -> &'static str {
    match p {
        MailPurpose::ApprovalRequest => "approval-request",
        MailPurpose::Received => "received",
        MailPurpose::Decided => "decided",
        MailPurpose::Explanation => "explanation",
        MailPurpose::Notice => "notice",
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
    use super::super::test_support::*;
    use super::*;
    use crate::store::Change;
    use crate::system_clock::SystemClock;
    use std::sync::Mutex;

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
            crate::health::Heartbeat::detached(),
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
        let store = Store::open_or_init(dir.path()).unwrap();
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
        let store = Store::open_or_init(dir.path()).unwrap();
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
        let store = Store::open_or_init(dir.path()).unwrap();
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
        let store = Store::open_or_init(dir.path()).unwrap();
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
        let store = Store::open_or_init(dir.path()).unwrap();
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
            crate::health::Heartbeat::detached(),
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
        let store = Store::open_or_init(dir.path()).unwrap();
        let d = Scripted::default();
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            d.clone(),
            pacing(),
            Arc::new(SystemClock),
            crate::health::Heartbeat::detached(),
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
        let store = Store::open_or_init(dir.path()).unwrap();
        queue(&store, vec![mail(1)]);
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store.clone(),
            Hangs,
            pacing(),
            Arc::new(SystemClock),
            crate::health::Heartbeat::detached(),
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
        let store = Store::open_or_init(dir.path()).unwrap();
        let (stop, rx) = crate::shutdown::channel();
        let worker = tokio::spawn(run_outbox_with(
            store,
            Scripted::default(),
            pacing(),
            Arc::new(SystemClock),
            crate::health::Heartbeat::detached(),
            rx,
        ));
        drop(stop);
        tokio::time::timeout(Duration::from_secs(1), worker)
            .await
            .unwrap()
            .unwrap();
    }
}
