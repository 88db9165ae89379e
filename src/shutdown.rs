//! One stop signal for every worker. The daemon holds the [`Stopper`];
//! each worker gets a [`Shutdown`] and checks it between units of work or
//! races it against whatever it waits for.

use tokio::sync::watch;

/// Fires the stop signal.
pub(crate) struct Stopper {
    /// `true` once stopping; workers watch it.
    tx: watch::Sender<bool>,
}

/// A worker's view of the stop signal. Cheap to clone; every clone sees the
/// same signal.
#[derive(Clone)]
pub(crate) struct Shutdown {
    /// Becomes `true` when the daemon stops.
    rx: watch::Receiver<bool>,
}

/// A new, unfired stop signal.
pub(crate) fn channel() -> (Stopper, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Stopper { tx }, Shutdown { rx })
}

impl Stopper {
    /// Tells every worker to stop.
    pub(crate) fn stop(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// Completes once a stop is requested, or once nobody can request one
    /// any more (the stopper is gone): a worker must never outlive its
    /// daemon.
    pub(crate) async fn requested(&self) {
        let mut rx = self.rx.clone();
        let _stopping = rx.wait_for(|stop| *stop).await;
    }

    /// Whether a stop was requested (or can no longer be).
    pub(crate) fn is_requested(&self) -> bool {
        *self.rx.borrow() || self.rx.has_changed().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_clone_sees_the_stop() {
        let (stopper, shutdown) = channel();
        let other = shutdown.clone();
        assert!(!shutdown.is_requested());
        let early = tokio::time::timeout(Duration::from_millis(20), other.requested()).await;
        assert!(early.is_err(), "completed before the stop");
        stopper.stop();
        assert!(shutdown.is_requested() && other.is_requested());
        tokio::time::timeout(Duration::from_secs(1), other.requested())
            .await
            .expect("stop seen");
    }

    #[tokio::test]
    async fn a_dropped_stopper_stops_the_workers() {
        let (stopper, shutdown) = channel();
        drop(stopper);
        assert!(shutdown.is_requested());
        tokio::time::timeout(Duration::from_secs(1), shutdown.requested())
            .await
            .expect("stop seen");
    }
}
