//! How long to wait before trying a failing server again: doubling from a
//! first delay up to a cap, optionally with jitter. One formula for every
//! worker (IMAP, SMTP, syslog), so they all recover the same way.

use std::time::Duration;

/// A capped exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The delay after the first failure.
    pub(crate) initial: Duration,
    /// The longest delay: an outage ends at most this long (plus jitter)
    /// before work resumes.
    pub(crate) max: Duration,
    /// Add up to 50 % at random, so that several clients do not hammer a
    /// recovering server in step.
    pub(crate) jitter: bool,
}

impl Backoff {
    /// The delay after `failures` failures in a row (0 counts as 1).
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        if !self.jitter {
            return base;
        }
        let mut b = [0u8; 2];
        let permille = match getrandom::getrandom(&mut b) {
            Ok(()) => u32::from(u16::from_le_bytes(b)) % 500,
            Err(_) => 250,
        };
        base + base * permille / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_first_delay_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: false,
        };
        let got: Vec<u64> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 100, u32::MAX]
            .iter()
            .map(|&n| b.delay(n).as_secs())
            .collect();
        assert_eq!(got, vec![1, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
    }

    #[test]
    fn jitter_adds_at_most_half() {
        let b = Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
            jitter: true,
        };
        for n in [1, 3, 10, u32::MAX] {
            let plain = Backoff { jitter: false, ..b }.delay(n);
            for _ in 0..50 {
                let d = b.delay(n);
                assert!(d >= plain && d < plain + plain / 2, "{n}: {d:?}");
            }
        }
    }
}
