//! Whether the daemon works: heartbeats of the workers, the IMAP link, the
//! spools, and the decision drawn from them — for the systemd watchdog,
//! `GET /v1/health` and the metrics.

pub(crate) mod heartbeat;
pub(crate) mod imap_link;
pub(crate) mod spools;
pub(crate) mod verdict;

use schemars::JsonSchema;
use serde::Serialize;
use tokio::time::Instant;

pub(crate) use heartbeat::{beating, supervised, Heartbeat, Workers};
pub(crate) use imap_link::{ImapLink, LinkState};
pub(crate) use spools::Spools;
use verdict::{Verdict, WorkerState};

/// Everything health is judged from, shared by the workers that report and
/// the monitor, endpoints and metrics that read.
#[derive(Clone)]
pub(crate) struct Health {
    /// The long-running workers' heartbeats.
    pub(crate) workers: Workers,
    /// The IMAP connection's state.
    pub(crate) imap: ImapLink,
    /// Depth and head age of the store's spools.
    pub(crate) spools: Spools,
}

impl Health {
    /// The verdict at `now`.
    pub(crate) fn verdict(&self, now: Instant) -> Verdict {
        verdict::decide(now, &self.workers.snapshot(), &self.imap.state().0)
    }

    /// What `GET /v1/health` answers at `now`.
    pub(crate) fn report(&self, now: Instant) -> HealthReport {
        let v = self.verdict(now);
        let (state, since) = self.imap.state();
        HealthReport {
            status: if v.healthy { "ok" } else { "degraded" },
            problems: v.problems,
            workers: v
                .workers
                .iter()
                .map(|w| WorkerView {
                    name: w.name,
                    state: match w.state {
                        WorkerState::Ok => "ok",
                        WorkerState::Stalled { .. } => "stalled",
                        WorkerState::Stopped => "stopped",
                    },
                    last_heartbeat_seconds: w.beats.then_some(w.silent.as_secs_f64()),
                })
                .collect(),
            imap: ImapView {
                state: match state {
                    LinkState::Connecting => "connecting",
                    LinkState::Connected => "connected",
                    LinkState::Failing(_) => "failing",
                },
                reason: match state {
                    LinkState::Failing(why) => Some(why),
                    _ => None,
                },
                since_seconds: now.saturating_duration_since(since).as_secs_f64(),
                last_poll: self.imap.last_poll(),
            },
            spools: self
                .spools
                .sample(now)
                .into_iter()
                .map(|s| SpoolView {
                    name: s.name,
                    depth: s.depth,
                    oldest_seconds: s.oldest.map(|d| d.as_secs_f64()),
                })
                .collect(),
        }
    }
}

/// `GET /v1/health`: 200 with `status: ok`, or 503 with `status: degraded`
/// and what is wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct HealthReport {
    /// `ok`, or `degraded` when a worker is stalled or stopped or IMAP is
    /// not connected.
    pub(crate) status: &'static str,
    /// What is wrong, one sentence each; empty when ok.
    pub(crate) problems: Vec<String>,
    /// Each long-running worker.
    pub(crate) workers: Vec<WorkerView>,
    /// The approvals inbox connection.
    pub(crate) imap: ImapView,
    /// The store's queues.
    pub(crate) spools: Vec<SpoolView>,
}

/// One worker in the health report.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WorkerView {
    /// `imap`, `outbox`, `audit`, `webhooks`, `timers`, `api`, and `http`
    /// and `metrics` when those listeners are configured.
    pub(crate) name: &'static str,
    /// `ok`, `stalled` (no heartbeat within its bound) or `stopped`.
    pub(crate) state: &'static str,
    /// Seconds since its last heartbeat; absent for a task judged by its
    /// life alone (`api`, `http`, `metrics`: accept loops).
    pub(crate) last_heartbeat_seconds: Option<f64>,
}

/// The IMAP connection in the health report.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ImapView {
    /// `connecting` (first login under way), `connected` or `failing`.
    pub(crate) state: &'static str,
    /// Why it is failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Seconds in this state.
    pub(crate) since_seconds: f64,
    /// Unix time the inbox was last read to its end; absent before the
    /// first time.
    pub(crate) last_poll: Option<i64>,
}

/// One spool in the health report.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SpoolView {
    /// `outbox`, `audit` or `webhooks`.
    pub(crate) name: &'static str,
    /// Entries waiting.
    pub(crate) depth: usize,
    /// Seconds the oldest entry has been seen waiting at the head (a lower
    /// bound, restarted with the daemon); absent when empty.
    pub(crate) oldest_seconds: Option<f64>,
}
