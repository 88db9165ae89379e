//! Time is an input: the domain never reads the system clock itself, so every
//! decision can be replayed deterministically in tests.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock, used by the daemon.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
