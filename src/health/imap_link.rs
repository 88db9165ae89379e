//! The state of the IMAP connection as the worker reports it: what
//! readiness waits for, what `STATUS=` and `/v1/health` say, and when the
//! inbox was last read to the end.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::domain::clock::Clock;

/// Where the IMAP worker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Logging in for the first time since start.
    Connecting,
    /// Logged in and the inbox selected.
    Connected,
    /// The last attempt failed for this reason; the worker retries.
    Failing(String),
}

/// The state and the instant it began.
#[derive(Clone, Debug)]
struct Current {
    /// What the worker reported last.
    state: LinkState,
    /// When that state began, for "failing for N s".
    since: Instant,
}

/// Shared between the IMAP worker (which reports) and readiness, the
/// status line, health and metrics (which read).
#[derive(Clone)]
pub(crate) struct ImapLink {
    /// The current state; watched by readiness and the status line.
    current: Arc<watch::Sender<Current>>,
    /// Unix time of the last pass that read the inbox to its end; 0 before
    /// the first.
    last_poll: Arc<AtomicI64>,
    /// Dates the polls: wall-clock time, for a metric compared across hosts.
    clock: Arc<dyn Clock>,
}

impl ImapLink {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> ImapLink {
        let (tx, _) = watch::channel(Current {
            state: LinkState::Connecting,
            since: Instant::now(),
        });
        ImapLink {
            current: Arc::new(tx),
            last_poll: Arc::new(AtomicI64::new(0)),
            clock,
        }
    }

    /// Logged in, inbox selected.
    pub(crate) fn connected(&self) {
        self.set(LinkState::Connected);
    }

    /// The connection failed (or could not be made); the worker retries.
    pub(crate) fn failing(&self, why: String) {
        self.set(LinkState::Failing(why));
    }

    /// The inbox was read to its end just now.
    pub(crate) fn polled(&self) {
        self.last_poll
            .store(self.clock.now().timestamp(), Ordering::Relaxed);
    }

    fn set(&self, state: LinkState) {
        self.current.send_if_modified(|c| {
            if c.state == state {
                return false;
            }
            *c = Current {
                state,
                since: Instant::now(),
            };
            true
        });
    }

    /// The state now, and since when.
    pub(crate) fn state(&self) -> (LinkState, Instant) {
        let c = self.current.borrow();
        (c.state.clone(), c.since)
    }

    /// Unix time of the last complete read of the inbox, if any.
    pub(crate) fn last_poll(&self) -> Option<i64> {
        Some(self.last_poll.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// Completes once the first login succeeded or failed.
    pub(crate) async fn settled(&self) {
        let mut rx = self.current.subscribe();
        // The sender lives in `self`, so the wait cannot fail.
        let _settled = rx.wait_for(|c| c.state != LinkState::Connecting).await;
    }
}

/// The service manager's one-line status for an IMAP state.
pub(crate) fn status_line(state: &LinkState) -> String {
    match state {
        LinkState::Connected => "ready; IMAP connected".into(),
        LinkState::Connecting => "ready; IMAP not connected yet: still logging in".into(),
        LinkState::Failing(why) => format!("ready; IMAP login failing, retrying: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system_clock::SystemClock;

    #[tokio::test]
    async fn settles_on_the_first_outcome_and_keeps_its_start() {
        let link = ImapLink::new(Arc::new(SystemClock));
        assert_eq!(link.state().0, LinkState::Connecting);
        assert_eq!(link.last_poll(), None);
        let waiting = tokio::spawn({
            let link = link.clone();
            async move { link.settled().await }
        });
        link.failing("IMAP: LOGIN refused".into());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        let (_, since) = link.state();
        link.failing("IMAP: LOGIN refused".into());
        assert_eq!(link.state().1, since, "the same failure again is no change");
        link.connected();
        link.polled();
        assert_eq!(link.state().0, LinkState::Connected);
        assert!(link.last_poll().is_some());
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_line(&LinkState::Connected), "ready; IMAP connected");
        assert_eq!(
            status_line(&LinkState::Failing("IMAP: greeting timed out".into())),
            "ready; IMAP login failing, retrying: IMAP: greeting timed out"
        );
    }
}
