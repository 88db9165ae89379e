//! The passing of time: requests whose due instant (an undecided request's
//! deadline, a granted window's start or end) has come. Read from the store's due index, so the
//! cost is the number of due requests, not of all requests ever stored;
//! idempotent, so a restart simply applies whatever is overdue once.

use chrono::{DateTime, Utc};

use super::effects::Outputs;
use super::Approvals;
use crate::store::{Change, StoreError};

impl Approvals {
    /// Applies every timer due now: expires each pending request past its
    /// deadline (telling its requester), starts each granted window that
    /// has begun and ends each that is over. Returns how many requests
    /// changed.
    #[cfg(test)]
    pub(crate) async fn apply_due(&self) -> Result<usize, StoreError> {
        self.apply_due_at(self.clock.now()).await
    }

    /// [`Approvals::apply_due`] as of `now`: the timer worker passes the
    /// instant it then compares the next due instant with, so that one
    /// coming due during the pass is never mistaken for one that cannot be
    /// applied.
    pub(crate) async fn apply_due_at(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let s = self.settings.current();
        let mut changed = 0;
        for id in self.store.due(now)? {
            let moved = self.store.commit(Some(id), |current| {
                let Some(mut request) = current else {
                    return Change::nothing(false);
                };
                let ticks = request.advance(now);
                if ticks.is_empty() {
                    return Change::nothing(false);
                }
                let mut out = Outputs::default();
                out.add_ticks(&s, &request, ticks, now);
                out.into_change(Some(request), true)
            });
            // One request that cannot be read or written must not keep
            // every other from moving on.
            match moved {
                Ok(moved) => changed += usize::from(moved),
                Err(e) => tracing::error!(request = %id, error = %e, "cannot apply a due timer"),
            }
        }
        if changed > 0 {
            self.store.flush().await?;
        }
        Ok(changed)
    }

    /// Forgets handled-message records and explanation counters older than
    /// the retention period (see [`crate::store::Store::prune`]).
    pub(crate) async fn prune_history(&self) -> Result<usize, StoreError> {
        let cutoff = self.clock.now() - self.settings.current().retention;
        let removed = self.store.prune(cutoff)?;
        if removed > 0 {
            self.store.flush().await?;
        }
        Ok(removed)
    }

    /// When the next timer is due, if any is: the timer worker sleeps until
    /// then (or until a change moves it).
    pub(crate) fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.next_due()
    }

    /// Notified when a change may have moved the next due instant.
    pub(crate) fn due_changed(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.store.due_changed()
    }
}
