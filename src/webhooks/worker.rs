//! The webhook worker: delivers what the store queued, oldest first,
//! retrying transient failures with backoff (in memory: a restart simply
//! tries again), removing an entry only once the receiver answered 2xx or
//! refused it for good, and auditing every outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::client::{HookClient, HookError};
use crate::backoff::Backoff;
use crate::domain::clock::Clock;
use crate::health::Heartbeat;
use crate::records::{AuditEvent, EventKind, OutboundWebhook};
use crate::shutdown::Shutdown;
use crate::store::Store;

/// Calls read per pass.
const BATCH: usize = 20;
/// Longest an idle worker sleeps without looking (a missed wake-up).
const IDLE: Duration = Duration::from_secs(30);
/// Retry delays: from 1 s, doubling, at most 10 minutes.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(600),
    jitter: false,
};

/// Retry state of one queued call.
#[derive(Clone, Copy, Debug)]
struct Retry {
    failures: u32,
    due: Instant,
}

/// The webhook worker's heartbeat bound: it beats before each call, and a
/// call is bounded by the client's timeout.
pub(crate) const STALL_BOUND: Duration = Duration::from_secs(60);

/// Delivers queued webhook calls until `shutdown`.
pub(crate) async fn run_webhooks(
    store: Store,
    client: HookClient,
    clock: Arc<dyn Clock>,
    heart: Heartbeat,
    shutdown: Shutdown,
) {
    let ready = store.webhooks().ready();
    let mut retries: HashMap<u64, Retry> = HashMap::new();
    loop {
        if shutdown.is_requested() {
            return;
        }
        heart.beat();
        let mut sleep = IDLE;
        match store.webhooks().durable(BATCH + retries.len()).await {
            Err(e) => {
                tracing::error!(error = %e, "cannot read the webhook queue");
                sleep = Duration::from_secs(5);
            }
            Ok(batch) => {
                if batch.is_empty() {
                    retries.clear();
                }
                let now = Instant::now();
                for (seq, hook) in batch {
                    if let Some(r) = retries.get(&seq).filter(|r| r.due > now) {
                        sleep = sleep.min(r.due - now);
                        continue;
                    }
                    heart.beat();
                    let outcome = tokio::select! {
                        _ = shutdown.requested() => return,
                        outcome = client.post(&hook.url, &hook.body) => outcome,
                    };
                    let at = clock.now();
                    let (done, event) = match outcome {
                        Ok(status) => (
                            true,
                            event(&hook, at, EventKind::WebhookDelivered, "delivered")
                                .with_reason(format!("answered {status}")),
                        ),
                        Err(HookError::Refused(why)) => (
                            true,
                            event(&hook, at, EventKind::WebhookFailed, "refused")
                                .with_reason(format!("{why}; not retried")),
                        ),
                        Err(HookError::Transient(why)) => {
                            let failures = retries.get(&seq).map_or(1, |r| r.failures + 1);
                            let delay = BACKOFF.delay(failures);
                            retries.insert(
                                seq,
                                Retry {
                                    failures,
                                    due: Instant::now() + delay,
                                },
                            );
                            sleep = sleep.min(delay);
                            // The first failure and then every tenth: an
                            // outage is visible without flooding the trail.
                            if failures != 1 && failures % 10 != 0 {
                                continue;
                            }
                            (
                                false,
                                event(&hook, at, EventKind::WebhookFailed, "deferred").with_reason(
                                    format!(
                                        "{why}; attempt {failures}, retried in {}s",
                                        delay.as_secs()
                                    ),
                                ),
                            )
                        }
                    };
                    if done {
                        retries.remove(&seq);
                        if let Err(e) = store.webhooks().remove(seq) {
                            tracing::error!(error = %e, "cannot remove a delivered webhook");
                        }
                    }
                    if let Err(e) = store.audit_only(event) {
                        tracing::error!(error = %e, "cannot audit a webhook outcome");
                    }
                }
                if let Err(e) = store.webhooks().flush().await {
                    tracing::error!(error = %e, "cannot flush the webhook queue");
                }
            }
        }
        tokio::select! {
            _ = shutdown.requested() => return,
            _ = tokio::time::sleep(sleep) => {}
            _ = ready.notified() => {}
            never = heart.pulse() => match never {},
        }
    }
}

fn event(
    hook: &OutboundWebhook,
    at: chrono::DateTime<chrono::Utc>,
    kind: EventKind,
    outcome: &str,
) -> AuditEvent {
    AuditEvent::new(
        at,
        kind,
        outcome,
        format!("{} webhook to {}", hook.event, shown_url(&hook.url)),
    )
    .with_request(hook.request.to_string())
}

/// The URL as the audit trail shows it: scheme, host, port and path, never
/// a query or user information, where a receiver's secret may ride.
fn shown_url(url: &str) -> String {
    match url.parse::<hyper::Uri>() {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme_str().unwrap_or("?"),
            u.host().unwrap_or("?"),
            u.port_u16().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(unreadable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_shows_no_query_or_credentials() {
        assert_eq!(
            super::shown_url("https://user:pw@vault.example.test:8200/rotate?token=s3cret"),
            "https://vault.example.test:8200/rotate"
        );
    }
}
