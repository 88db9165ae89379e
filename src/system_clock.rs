//! The wall clock: the one place that reads the system time. Everything
//! else is handed a [`Clock`], so every decision replays in tests.

use chrono::{DateTime, Utc};

use crate::domain::clock::Clock;

/// The real wall clock, used by the daemon and the CLI.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one reader of the system clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
