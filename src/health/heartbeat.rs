//! Heartbeats: every long-running worker proves that it still makes
//! progress by beating. A worker beats after each unit of work and before
//! each bounded operation (an IMAP command, an SMTP send), and keeps beating
//! from inside a wait that is legitimately long (IDLE, a backoff) through
//! [`Heartbeat::pulse`]. A worker that stops beating for longer than its
//! bound — blocked somewhere nothing bounds, or gone — is stalled.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How often a worker in a legitimate wait beats: well under the shortest
/// stall bound, so that a waiting worker never looks stalled.
pub(crate) const PULSE: Duration = Duration::from_secs(1);

/// One worker's record, shared by the worker and the health check.
#[derive(Debug)]
struct Slot {
    /// The worker's name, as health reports and metrics show it.
    name: &'static str,
    /// Longest silence that is still progress: longer than the worker's
    /// longest bounded operation. `None` for a task judged by its life
    /// alone (a server's accept loop, which has nothing to beat for).
    stall_after: Option<Duration>,
    /// The last beat (tokio's clock, so tests can pause and advance it).
    last: Mutex<Instant>,
    /// The task returned, panicked or was aborted: it will never beat again.
    finished: AtomicBool,
}

/// A worker's side: beats, and marks the worker finished when its task
/// ends.
#[derive(Clone, Debug)]
pub(crate) struct Heartbeat {
    /// Shared with the registry.
    slot: Arc<Slot>,
}

impl Heartbeat {
    /// Records progress now.
    pub(crate) fn beat(&self) {
        let now = Instant::now();
        *self
            .slot
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
    }

    /// Beats every [`PULSE`] for as long as it is awaited; never completes.
    /// A worker puts it beside a wait whose length is bounded by design (an
    /// IDLE renewed every few minutes, a backoff), as one more branch of the
    /// `select!`: the wait may be long, the worker is still alive in it.
    pub(crate) async fn pulse(&self) -> Infallible {
        loop {
            self.beat();
            tokio::time::sleep(PULSE).await;
        }
    }

    /// A heartbeat that belongs to no registry, for tests of workers.
    #[cfg(test)]
    pub(crate) fn detached() -> Heartbeat {
        Workers::default().register("test", None)
    }
}

/// Runs `f`, beating every time the runtime polls it: for a worker whose
/// code cannot beat itself. A future is polled only when something it waits
/// for happened (a timer, I/O), so a worker that sleeps at most `N` seconds
/// between units of work is polled at least that often, while one blocked
/// on something that never comes is not polled at all.
pub(crate) async fn beating<F: Future>(heart: Heartbeat, f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        heart.beat();
        f.as_mut().poll(cx)
    })
    .await
}

/// Marks the worker finished when dropped: on return, on panic, on abort.
struct Finished(Heartbeat);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.slot.finished.store(true, Ordering::Release);
    }
}

/// Runs a worker's task so that its end, however it comes, is seen.
pub(crate) async fn supervised<F: Future>(heart: Heartbeat, f: F) -> F::Output {
    heart.beat();
    let _finished = Finished(heart);
    f.await
}

/// What the health check knows of one worker at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerSnapshot {
    /// The worker's name.
    pub(crate) name: &'static str,
    /// Its last beat.
    pub(crate) last: Instant,
    /// Its bound, if it has one (see [`Slot`]).
    pub(crate) stall_after: Option<Duration>,
    /// Its task has ended.
    pub(crate) finished: bool,
}

/// Every registered worker.
#[derive(Clone, Default, Debug)]
pub(crate) struct Workers {
    /// In registration order, so reports list them the same way each time.
    slots: Arc<Mutex<Vec<Arc<Slot>>>>,
}

impl Workers {
    /// Registers a worker; its first beat is now.
    pub(crate) fn register(&self, name: &'static str, stall_after: Option<Duration>) -> Heartbeat {
        let slot = Arc::new(Slot {
            name,
            stall_after,
            last: Mutex::new(Instant::now()),
            finished: AtomicBool::new(false),
        });
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(slot.clone());
        Heartbeat { slot }
    }

    /// The state of every worker now.
    pub(crate) fn snapshot(&self) -> Vec<WorkerSnapshot> {
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        slots
            .iter()
            .map(|s| WorkerSnapshot {
                name: s.name,
                last: *s
                    .last
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                stall_after: s.stall_after,
                finished: s.finished.load(Ordering::Acquire),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::verdict::{judge, WorkerState};

    fn state(workers: &Workers, name: &str) -> WorkerState {
        judge(Instant::now(), &workers.snapshot())
            .into_iter()
            .find(|w| w.name == name)
            .map(|w| w.state)
            .unwrap()
    }

    /// A worker in a wait far longer than its bound (IDLE lasts up to 29
    /// minutes) stays alive as long as it pulses; one blocked without
    /// pulsing is stalled once its bound passes.
    #[tokio::test(start_paused = true)]
    async fn a_pulsing_wait_stays_alive_and_a_silent_one_stalls() {
        let workers = Workers::default();
        let idle = workers.register("idle", Some(Duration::from_secs(10)));
        let stuck = workers.register("stuck", Some(Duration::from_secs(10)));
        let idling = {
            let idle = idle.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(29 * 60)) => {}
                    never = idle.pulse() => match never {},
                }
            })
        };
        let blocked = tokio::spawn(supervised(stuck, std::future::pending::<()>()));
        tokio::time::sleep(Duration::from_secs(20 * 60)).await;
        assert_eq!(state(&workers, "idle"), WorkerState::Ok);
        assert!(
            matches!(state(&workers, "stuck"), WorkerState::Stalled { .. }),
            "{:?}",
            state(&workers, "stuck")
        );
        blocked.abort();
        idling.abort();
        tokio::task::yield_now().await;
        assert_eq!(state(&workers, "stuck"), WorkerState::Stopped);
    }

    /// `beating` beats whenever the wrapped worker is woken, and not while
    /// it waits on something that never comes.
    #[tokio::test(start_paused = true)]
    async fn beating_follows_the_wrapped_future() {
        let workers = Workers::default();
        let ticking = workers.register("ticking", Some(Duration::from_secs(10)));
        let silent = workers.register("silent", Some(Duration::from_secs(10)));
        let t = tokio::spawn(beating(ticking, async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }));
        let s = tokio::spawn(beating(silent, std::future::pending::<()>()));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(state(&workers, "ticking"), WorkerState::Ok);
        assert!(matches!(
            state(&workers, "silent"),
            WorkerState::Stalled { .. }
        ));
        t.abort();
        s.abort();
    }

    #[tokio::test]
    async fn a_worker_that_returns_is_stopped() {
        let workers = Workers::default();
        let heart = workers.register("done", None);
        supervised(heart, async {}).await;
        assert_eq!(state(&workers, "done"), WorkerState::Stopped);
    }
}
