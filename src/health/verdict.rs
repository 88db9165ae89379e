//! The health decision, pure: given the instant and what is known of the
//! workers and the IMAP link, is the daemon alive (the watchdog pings) and
//! is it healthy (`/v1/health` answers 200)?
//!
//! Two questions, because their remedies differ. A stalled or dead worker
//! is cured by a restart, so the watchdog stops pinging and systemd
//! restarts the service. A failing IMAP server is not cured by restarting
//! the daemon (a restart loop would only take the API down with it): the
//! IMAP worker keeps retrying, beating as it does, and the daemon reports
//! itself degraded instead.

use std::time::Duration;

use tokio::time::Instant;

use super::heartbeat::WorkerSnapshot;
use super::imap_link::LinkState;

/// How one worker is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WorkerState {
    /// Beat within its bound, or has no bound and still runs.
    Ok,
    /// Silent for longer than its bound.
    Stalled {
        /// How long it has been silent.
        silent: Duration,
    },
    /// Its task ended while the daemon runs.
    Stopped,
}

/// One worker, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerHealth {
    /// The worker's name.
    pub(crate) name: &'static str,
    /// Time since its last beat.
    pub(crate) silent: Duration,
    /// Whether it beats at all (has a bound): a task judged by its life
    /// alone has no heartbeat worth showing.
    pub(crate) beats: bool,
    /// The verdict.
    pub(crate) state: WorkerState,
}

/// Judges every worker at `now`.
pub(crate) fn judge(now: Instant, workers: &[WorkerSnapshot]) -> Vec<WorkerHealth> {
    workers
        .iter()
        .map(|w| {
            let silent = now.saturating_duration_since(w.last);
            let state = if w.finished {
                WorkerState::Stopped
            } else if w.stall_after.is_some_and(|bound| silent > bound) {
                WorkerState::Stalled { silent }
            } else {
                WorkerState::Ok
            };
            WorkerHealth {
                name: w.name,
                silent,
                beats: w.stall_after.is_some(),
                state,
            }
        })
        .collect()
}

/// The daemon as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Every worker, judged.
    pub(crate) workers: Vec<WorkerHealth>,
    /// Every worker makes progress: the watchdog may ping.
    pub(crate) alive: bool,
    /// Alive, and connected to the inbox: `/v1/health` answers 200.
    pub(crate) healthy: bool,
    /// What is wrong, one line each, for the report and the log.
    pub(crate) problems: Vec<String>,
}

/// Decides at `now`.
pub(crate) fn decide(now: Instant, workers: &[WorkerSnapshot], imap: &LinkState) -> Verdict {
    let workers = judge(now, workers);
    let mut problems: Vec<String> = workers
        .iter()
        .filter_map(|w| match &w.state {
            WorkerState::Ok => None,
            WorkerState::Stalled { silent } => Some(format!(
                "worker {} stalled: no heartbeat for {}s",
                w.name,
                silent.as_secs()
            )),
            WorkerState::Stopped => Some(format!("worker {} stopped", w.name)),
        })
        .collect();
    let alive = problems.is_empty();
    match imap {
        LinkState::Connected => {}
        LinkState::Connecting => problems.push("IMAP not connected yet".into()),
        LinkState::Failing(why) => problems.push(format!("IMAP failing, retrying: {why}")),
    }
    Verdict {
        healthy: problems.is_empty(),
        alive,
        workers,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn health_table() {
        // (case, workers as (name, last beat at s, bound s, finished), IMAP,
        //  now at s, alive, healthy, problems)
        type Row = (
            &'static str,
            Vec<(&'static str, u64, Option<u64>, bool)>,
            LinkState,
            u64,
            bool,
            bool,
            Vec<&'static str>,
        );
        let connected = LinkState::Connected;
        let rows: Vec<Row> = vec![
            (
                "all fresh",
                vec![
                    ("imap", 99, Some(120), false),
                    ("outbox", 95, Some(180), false),
                ],
                connected.clone(),
                100,
                true,
                true,
                vec![],
            ),
            (
                "one stale",
                vec![
                    ("imap", 99, Some(120), false),
                    ("timers", 0, Some(60), false),
                ],
                connected.clone(),
                100,
                false,
                false,
                vec!["worker timers stalled: no heartbeat for 100s"],
            ),
            (
                "at its bound is not yet stale",
                vec![("timers", 40, Some(60), false)],
                connected.clone(),
                100,
                true,
                true,
                vec![],
            ),
            (
                "dead task, however fresh its last beat",
                vec![("webhooks", 100, Some(60), true)],
                connected.clone(),
                100,
                false,
                false,
                vec!["worker webhooks stopped"],
            ),
            (
                "twenty minutes into IDLE, pulsing",
                vec![("imap", 1199, Some(120), false)],
                connected.clone(),
                1200,
                true,
                true,
                vec![],
            ),
            (
                "an accept loop is judged by its life alone",
                vec![("api", 0, None, false)],
                connected.clone(),
                100_000,
                true,
                true,
                vec![],
            ),
            (
                "a stopped accept loop is dead",
                vec![("api", 0, None, true)],
                connected.clone(),
                1,
                false,
                false,
                vec!["worker api stopped"],
            ),
            (
                "IMAP failing but its worker retrying: alive, degraded",
                vec![("imap", 99, Some(120), false)],
                LinkState::Failing("IMAP: greeting timed out".into()),
                100,
                true,
                false,
                vec!["IMAP failing, retrying: IMAP: greeting timed out"],
            ),
            (
                "still logging in",
                vec![("imap", 99, Some(120), false)],
                LinkState::Connecting,
                100,
                true,
                false,
                vec!["IMAP not connected yet"],
            ),
            (
                "a clock before the last beat counts as no silence",
                vec![("imap", 100, Some(1), false)],
                connected.clone(),
                50,
                true,
                true,
                vec![],
            ),
        ];
        // Any instant will do: only differences matter.
        let at = Instant::now();
        for (case, workers, imap, now, alive, healthy, problems) in rows {
            let workers: Vec<WorkerSnapshot> = workers
                .into_iter()
                .map(|(name, beat, bound, finished)| WorkerSnapshot {
                    name,
                    last: at + S(beat),
                    stall_after: bound.map(S),
                    finished,
                })
                .collect();
            let v = decide(at + S(now), &workers, &imap);
            assert_eq!(v.alive, alive, "{case}: {v:?}");
            assert_eq!(v.healthy, healthy, "{case}: {v:?}");
            assert_eq!(v.problems, problems, "{case}");
        }
    }
}
