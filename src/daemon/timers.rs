//! The timer worker: sleeps until the next instant the store's due index
//! names (or until a change moves it), then applies whatever is due. On
//! start it applies everything overdue once, so a restart misses nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::approvals::Approvals;
use crate::domain::clock::Clock;
use crate::health::Heartbeat;
use crate::shutdown::Shutdown;

/// Longest sleep without looking again: the index is read by wall-clock
/// time while sleeps are monotonic, so a clock stepped forward (NTP, a
/// resumed VM) is noticed within this long.
const RECHECK: Duration = Duration::from_secs(300);

/// How often old handled-message records and counters are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Pause after a failure, or while something stays due that could not be
/// applied (an unreadable record), so the worker never spins.
const STUCK: Duration = Duration::from_secs(30);

/// The timer worker's heartbeat bound: it beats before each pass, and a
/// pass is store work only (no network), seconds at worst.
pub(crate) const STALL_BOUND: Duration = Duration::from_secs(120);

/// Runs until `shutdown`.
pub(crate) async fn run_timers(
    approvals: Arc<Approvals>,
    clock: Arc<dyn Clock>,
    heart: Heartbeat,
    shutdown: Shutdown,
) {
    let wake = approvals.due_changed();
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        heart.beat();
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            match approvals.prune_history().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "pruned old handled-message records"),
                Err(e) => tracing::error!(error = %e, "cannot prune old records"),
            }
            pruned_at = Some(tokio::time::Instant::now());
        }
        let now = clock.now();
        match approvals.apply_due_at(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                requests = n,
                "applied due timers (deadlines, reminders, escalations, windows)"
            ),
            Err(e) => tracing::error!(error = %e, "cannot apply due timers"),
        }
        let sleep = match approvals.next_due() {
            // Due at or before the pass's own instant and still there: it
            // could not be applied.
            Ok(Some(at)) if at <= now => STUCK,
            // Due after the pass's instant: sleep until then, or not at
            // all if it came due while the pass ran (a monotonic sleep can
            // end a moment before the wall clock reaches the instant).
            Ok(Some(at)) => (at - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(RECHECK),
            Ok(None) => RECHECK,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the due index");
                STUCK
            }
        };
        tracing::debug!(sleep_ms = sleep.as_millis(), "timer sleeps");
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {}
            never = heart.pulse() => match never {},
            _ = shutdown.requested() => return,
        }
    }
}
