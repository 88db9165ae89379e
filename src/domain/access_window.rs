//! The time window a requester asks for and an approval grants.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A non-empty, half-open interval `[start, end)`. Built only through
/// [`AccessWindow::new`], so an inverted window cannot exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAccessWindow")]
pub(crate) struct AccessWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawAccessWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<RawAccessWindow> for AccessWindow {
    type Error = String;
    fn try_from(raw: RawAccessWindow) -> Result<Self, Self::Error> {
        AccessWindow::new(raw.start, raw.end)
    }
}

impl AccessWindow {
    pub(crate) fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, String> {
        if end <= start {
            return Err(format!(
                "the window ends ({}) at or before it starts ({})",
                end.to_rfc3339(),
                start.to_rfc3339()
            ));
        }
        Ok(AccessWindow { start, end })
    }

    pub(crate) fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub(crate) fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub(crate) fn length(&self) -> Duration {
        self.end - self.start
    }

    /// The overlap of two windows, if they overlap at all.
    pub(crate) fn intersect(&self, other: &AccessWindow) -> Option<AccessWindow> {
        AccessWindow::new(self.start.max(other.start), self.end.min(other.end)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn inverted_or_empty_window_is_refused() {
        assert!(AccessWindow::new(t(10), t(9)).is_err());
        assert!(AccessWindow::new(t(10), t(10)).is_err());
        assert!(AccessWindow::new(t(9), t(10)).is_ok());
    }

    #[test]
    fn intersection_is_the_overlap_or_nothing() {
        let a = AccessWindow::new(t(8), t(12)).unwrap();
        let b = AccessWindow::new(t(10), t(14)).unwrap();
        assert_eq!(a.intersect(&b), AccessWindow::new(t(10), t(12)).ok());
        let c = AccessWindow::new(t(12), t(13)).unwrap();
        assert_eq!(a.intersect(&c), None);
    }

    #[test]
    fn deserialising_an_inverted_window_fails() {
        let json = r#"{"start":"2026-11-21T10:00:00Z","end":"2026-11-21T09:00:00Z"}"#;
        assert!(serde_json::from_str::<AccessWindow>(json).is_err());
    }
}
