//! Ships the audit trail to syslog from the store's cursor. An event
//! leaves the queue only after the transport accepted it, so a syslog
//! outage delays the audit trail but loses nothing.

use std::time::Duration;

use super::format::{self, Origin};
use super::transport::SyslogSender;
use crate::backoff::Backoff;
use crate::config::AuditConfig;
use crate::shutdown::Shutdown;
use crate::store::{AuditQueue, Queued};

/// Events formatted and sent per read of the queue.
const BATCH: usize = 256;

/// Retries while the collector is unreachable: soon at first, then at
/// most once a minute.
const RETRY: Backoff = Backoff {
    initial: Duration::from_millis(500),
    max: Duration::from_secs(60),
    jitter: false,
};

/// Sends queued events until `shutdown`, then makes one last attempt to
/// empty the queue so that the stop event itself is shipped.
pub(crate) async fn run_shipper(
    queue: AuditQueue,
    settings: AuditConfig,
    origin: Origin,
    shutdown: Shutdown,
) {
    let mut sender = SyslogSender::new(settings.target, settings.tls);
    let ready = queue.ready();
    let mut failures: u32 = 0;
    loop {
        match ship(&queue, &mut sender, &origin).await {
            Ok(0) => {
                failures = 0;
                tokio::select! {
                    _ = ready.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    _ = shutdown.requested() => break,
                }
            }
            Ok(_) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = RETRY.delay(failures);
                if failures == 1 || failures % 20 == 0 {
                    tracing::warn!(error = %e, retry_in = ?delay, "audit events not shipped; they stay queued");
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.requested() => break,
                }
            }
        }
    }
    // Give the final events (the stop record) a bounded chance to go out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        match ship(&queue, &mut sender, &origin).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "audit events stay queued for the next start");
                break;
            }
        }
    }
}

/// Sends one batch; returns how many events left the queue.
async fn ship(
    queue: &AuditQueue,
    sender: &mut SyslogSender,
    origin: &Origin,
) -> Result<usize, String> {
    // A store error is named as one: it is not the collector's fault.
    let store = |e: crate::store::StoreError| format!("store: {e}");
    let batch = queue.durable(BATCH).await.map_err(store)?;
    let pid = std::process::id();
    let mut sent: Vec<Queued> = Vec::with_capacity(batch.len());
    let mut failed = None;
    for (queued, event) in batch {
        let procid = event.pid.unwrap_or(pid);
        let line = format::line(&event, origin, procid);
        if let Err(e) = sender.send(&line).await {
            failed = Some(format!("{}: {e}", sender.target()));
            break;
        }
        sent.push(queued);
    }
    if !sent.is_empty() {
        // What syslog accepted leaves even when a later line failed, and
        // the removal is made durable so a restart does not send it again.
        queue.shipped(&sent).map_err(store)?;
        queue.flush().await.map_err(store)?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(sent.len()),
    }
}
