//! The monitor: every tick it notes the spools' heads, judges health,
//! pings the systemd watchdog while every worker makes progress, and keeps
//! the service manager's `STATUS=` in step with the IMAP connection and any
//! stalled worker. It runs on the same runtime as the workers, so a runtime
//! that no longer runs tasks stops the pings too.

use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::notify;
use crate::health::imap_link::status_line;
use crate::health::verdict::{Verdict, WorkerState};
use crate::health::{Health, LinkState};
use crate::shutdown::Shutdown;

/// How often health is judged when no watchdog asks for more.
const TICK: Duration = Duration::from_secs(1);

/// The status line for a verdict and an IMAP state.
pub(super) fn status_for(verdict: &Verdict, imap: &LinkState) -> String {
    if verdict.alive {
        return status_line(imap);
    }
    // Without the seconds of silence, so that the line changes (and is
    // sent) only when what is wrong changes.
    let wrong: Vec<String> = verdict
        .workers
        .iter()
        .filter_map(|w| match w.state {
            WorkerState::Ok => None,
            WorkerState::Stalled { .. } => Some(format!("worker {} stalled", w.name)),
            WorkerState::Stopped => Some(format!("worker {} stopped", w.name)),
        })
        .collect();
    format!("stalled, watchdog not pinged: {}", wrong.join("; "))
}

/// Runs until `shutdown`. `watchdog` is systemd's interval: pings go out at
/// half of it, and only while the verdict says alive. `sent` is the status
/// line already sent with `READY=1`.
pub(super) async fn run_monitor(
    health: Health,
    watchdog: Option<Duration>,
    mut sent: String,
    shutdown: Shutdown,
) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pings = watchdog.map(|w| {
        let mut i = tokio::time::interval(w / 2);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    });
    let mut was_alive = true;
    loop {
        let ping = tokio::select! {
            _ = ticks.tick() => false,
            _ = async {
                match pings.as_mut() {
                    Some(p) => { p.tick().await; }
                    None => std::future::pending::<()>().await,
                }
            } => true,
            _ = shutdown.requested() => return,
        };
        let now = Instant::now();
        let verdict = health.verdict(now);
        if ping {
            if verdict.alive {
                notify::watchdog();
            }
            continue;
        }
        health.spools.observe(now);
        if verdict.alive != was_alive {
            if verdict.alive {
                tracing::info!("every worker makes progress again; watchdog pings resume");
            } else {
                tracing::error!(problems = %verdict.problems.join("; "), "a worker is stalled; the watchdog is no longer pinged");
            }
            was_alive = verdict.alive;
        }
        let status = status_for(&verdict, &health.imap.state().0);
        if status != sent {
            notify::status(&status);
            sent = status;
        }
    }
}
