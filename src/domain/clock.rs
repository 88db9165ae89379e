//! Time is an input: the domain never reads the system clock itself, so every
//! decision can be replayed deterministically in tests.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}
