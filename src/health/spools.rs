//! How full the store's spools are (the outbox, the audit queue, the
//! webhook queue) and how long their oldest entry has waited.
//!
//! Spool entries carry no time of their own, so the age is observed: the
//! sampler remembers since when the entry at the head has been there. It
//! is a lower bound (an entry may have waited behind others before it came
//! to the head), accurate to one sample, and starts again at a restart;
//! what it shows reliably is the thing worth an alert: a head that does not
//! move.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::Store;

/// The spools, by the name reports and metrics use.
pub(crate) const NAMES: [&str; 3] = ["outbox", "audit", "webhooks"];

/// One spool at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpoolState {
    /// One of [`NAMES`].
    pub(crate) name: &'static str,
    /// Entries waiting.
    pub(crate) depth: usize,
    /// How long the entry at the head has been seen waiting; `None` when
    /// the spool is empty.
    pub(crate) oldest: Option<Duration>,
}

/// The head of one spool as last seen.
#[derive(Clone, Copy, Debug, Default)]
struct Head {
    /// Its sequence number; `None` when empty.
    seq: Option<u64>,
    /// When it was first seen at the head.
    since: Option<Instant>,
}

/// Samples the spools; shared by the periodic monitor and the endpoints.
#[derive(Clone)]
pub(crate) struct Spools {
    /// Where the spools are.
    store: Store,
    /// Each spool's head, in the order of [`NAMES`].
    heads: Arc<Mutex<[Head; 3]>>,
}

impl Spools {
    pub(crate) fn new(store: Store) -> Spools {
        Spools {
            store,
            heads: Arc::default(),
        }
    }

    /// Notes each spool's head at `now` (cheap: one key per spool). Called
    /// every second by the monitor, so ages are accurate to about that.
    pub(crate) fn observe(&self, now: Instant) {
        let seqs = [
            self.store.outbox().first_seq(),
            self.store.audit().first_seq(),
            self.store.webhooks().first_seq(),
        ];
        let mut heads = self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (head, seq) in heads.iter_mut().zip(seqs) {
            match seq {
                Ok(seq) => *head = advance(*head, seq, now),
                Err(e) => tracing::warn!(error = %e, "cannot read a spool's head"),
            }
        }
    }

    /// Every spool's depth and head age at `now`.
    pub(crate) fn sample(&self, now: Instant) -> Vec<SpoolState> {
        self.observe(now);
        let depths = [
            self.store.outbox().len(),
            self.store.audit().len(),
            self.store.webhooks().len(),
        ];
        let heads = *self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        NAMES
            .iter()
            .zip(depths)
            .zip(heads)
            .map(|((name, depth), head)| SpoolState {
                name,
                depth,
                oldest: head.since.map(|s| now.saturating_duration_since(s)),
            })
            .collect()
    }
}

/// The head after seeing `seq` at the front at `now`.
fn advance(head: Head, seq: Option<u64>, now: Instant) -> Head {
    match seq {
        None => Head::default(),
        Some(s) if head.seq == Some(s) => head,
        Some(s) => Head {
            seq: Some(s),
            since: Some(now),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_is_the_time_the_head_has_stayed() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let h = advance(Head::default(), Some(7), t0);
        assert_eq!(h.since, Some(t0));
        let h = advance(h, Some(7), t0 + s(30));
        assert_eq!(h.since, Some(t0), "the same head keeps its start");
        let h = advance(h, Some(8), t0 + s(31));
        assert_eq!(h.since, Some(t0 + s(31)), "a new head starts again");
        let h = advance(h, None, t0 + s(32));
        assert_eq!((h.seq, h.since), (None, None));
    }

    #[tokio::test]
    async fn samples_a_real_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_init(dir.path()).unwrap();
        let spools = Spools::new(store.clone());
        let t0 = Instant::now();
        let empty = spools.sample(t0);
        assert!(empty.iter().all(|s| s.depth == 0 && s.oldest.is_none()));
        store
            .audit_only(crate::records::AuditEvent::new(
                crate::domain::clock::Clock::now(&crate::system_clock::SystemClock),
                crate::records::EventKind::DaemonStarted,
                "ok",
                "test",
            ))
            .unwrap();
        spools.observe(t0);
        let later = spools.sample(t0 + Duration::from_secs(9));
        let audit = later.iter().find(|s| s.name == "audit").unwrap();
        assert_eq!(audit.depth, 1);
        assert_eq!(audit.oldest, Some(Duration::from_secs(9)));
    }
}
