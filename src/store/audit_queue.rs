//! The audit events waiting for the syslog shipper: the trail itself, read
//! from a cursor on.
//!
//! Every event is written once, into the trail (`audit_log`, by sequence
//! number), in the transaction of the change that caused it. The shipper
//! reads the trail from the cursor and moves the cursor past what syslog
//! accepted. Builds before this one kept a second copy of every event in a
//! spool tree (`audit`) and removed each after shipping it: two more writes
//! per event, on the path of every decision. What such a build left in that
//! spool is shipped first, from there.
//!
//! Nothing readable is lost: the cursor moves past events syslog accepted,
//! once they are durable (a crash before the cursor's move is flushed
//! ships them again: at least once, as before), and past an event this
//! build cannot read, logged, once nothing before it waits (see
//! [`AuditQueue::peek`]).
//!
//! Going back to a build older than this one: let the queue empty first
//! (`approvald_spool_depth{spool="audit"}` 0). Such a build ships only its
//! spool, so what this build had not shipped would never leave; and after
//! coming back, the events the older build wrote are shipped again from
//! the trail (duplicates, never gaps).

use std::sync::Arc;

use tokio::sync::Notify;

use super::codec::decode;
use super::spool::Spool;
use super::{read_audit_head, StoreError};
use crate::records::AuditEvent;

/// The meta key of the sequence number of the first event not yet shipped.
pub(super) const AUDIT_SHIPPED: &[u8] = b"audit_shipped";

/// Where a waiting event is, so that it can leave once shipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// In the spool an older build wrote, under this key.
    Spooled(u64),
    /// In the trail, with this sequence number.
    Trail(u64),
}

/// The events waiting to be shipped, oldest first.
#[derive(Clone)]
pub(crate) struct AuditQueue {
    /// What older builds spooled and did not ship; shipped first. Its
    /// signal is also the queue's: a change that records events wakes the
    /// shipper once flushed.
    pub(super) spooled: Spool<AuditEvent>,
    /// The trail, by sequence number.
    log: sled::Tree,
    /// Where the cursor and the trail's head are kept.
    meta: sled::Tree,
}

impl AuditQueue {
    pub(super) fn new(spooled: Spool<AuditEvent>, log: sled::Tree, meta: sled::Tree) -> Self {
        AuditQueue { spooled, log, meta }
    }

    /// Sets the cursor, where there is none, past the whole trail: a store
    /// an older build wrote had every event it had not shipped in its
    /// spool, so every event of its trail is either shipped or spooled.
    pub(super) fn start_cursor(&self) -> Result<(), StoreError> {
        if self.meta.get(AUDIT_SHIPPED)?.is_none() {
            // A damaged head refuses: guessing would ship the whole trail
            // again, or skip it.
            let next = self.head()?.map_or(1, |h| h.saturating_add(1));
            self.meta.insert(AUDIT_SHIPPED, &next.to_be_bytes())?;
        }
        Ok(())
    }

    /// The first trail event not yet shipped. A cursor that is not a
    /// sequence number, or points beyond the trail's next event, is
    /// damaged: trusting it would skip events without a trace.
    pub(super) fn cursor(&self) -> Result<u64, StoreError> {
        let damaged = |why: String| StoreError::Corrupt {
            key: "meta/audit_shipped".into(),
            why,
        };
        let next = match self.meta.get(AUDIT_SHIPPED)? {
            None => return Ok(1),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| damaged("not a sequence number".into()))?,
        };
        let end = self.head()?.unwrap_or(0).saturating_add(1);
        if next > end {
            return Err(damaged(format!(
                "points at event {next}, beyond the trail's next event {end}"
            )));
        }
        Ok(next)
    }

    /// The trail's last sequence number; a damaged head record is an
    /// error, not an empty trail.
    fn head(&self) -> Result<Option<u64>, StoreError> {
        Ok(read_audit_head(&self.meta)?.map(|(seq, _)| seq))
    }

    /// Moves the cursor to `next`, never back.
    fn advance(&self, next: u64) -> Result<(), StoreError> {
        self.meta.fetch_and_update(AUDIT_SHIPPED, |old| {
            let old = old
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some(old.max(next).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// Up to `limit` waiting events, oldest first: what an older build
    /// spooled, then the trail from the cursor. A trail event this build
    /// cannot read is logged and passed over (its sequence number is
    /// missing from what syslog receives, so the gap shows there, and
    /// `audit verify` names it); it cannot be set aside without breaking
    /// the trail, and it must not stall every event after it.
    pub(crate) fn peek(&self, limit: usize) -> Result<Vec<(Queued, AuditEvent)>, StoreError> {
        let mut out: Vec<(Queued, AuditEvent)> = self
            .spooled
            .peek(limit)?
            .into_iter()
            .map(|(k, e)| (Queued::Spooled(k), e))
            .collect();
        // The trail only once the older spool is empty, so that events go
        // out in trail order (a spool entry set aside as unreadable still
        // counts against the limit of its pass).
        if out.len() >= limit || self.spooled.first_seq()?.is_some() {
            return Ok(out);
        }
        let from = self.cursor()?;
        for item in self.log.range(from.to_be_bytes()..) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let Ok(seq) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                tracing::error!("an audit trail key is not a sequence number; passed over");
                continue;
            };
            match decode::<AuditEvent>(&k, &v) {
                Ok(e) => out.push((Queued::Trail(seq), e)),
                Err(e) => {
                    tracing::error!(seq, error = %e, "unreadable audit event not shipped; `approvald audit verify` names it");
                    // Passed over by moving the cursor only if nothing
                    // before it waits, so the cursor never skips an event
                    // that was not shipped.
                    if out.is_empty() {
                        self.advance(seq.saturating_add(1))?;
                    } else {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` waiting events, each one durable: read, then flushed,
    /// so nothing goes out for a change a crash could still undo.
    pub(crate) async fn durable(
        &self,
        limit: usize,
    ) -> Result<Vec<(Queued, AuditEvent)>, StoreError> {
        let batch = self.peek(limit)?;
        if !batch.is_empty() {
            self.spooled.flush().await?;
        }
        Ok(batch)
    }

    /// Marks `shipped`, the first events [`AuditQueue::peek`] returned, in
    /// its order, as shipped. Not flushed here (see [`AuditQueue::flush`]).
    pub(crate) fn shipped(&self, shipped: &[Queued]) -> Result<(), StoreError> {
        let mut past = None;
        for q in shipped {
            match *q {
                Queued::Spooled(k) => self.spooled.remove(k)?,
                Queued::Trail(seq) => past = Some(seq.saturating_add(1)),
            }
        }
        if let Some(next) = past {
            // Never back: a cursor moved by a concurrent pass stays.
            self.advance(next)?;
        }
        Ok(())
    }

    /// Makes what was marked shipped durable, so a restart does not ship
    /// it again.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.spooled.flush().await
    }

    /// How many events wait. Counts keys and sequence numbers: nothing is
    /// decoded.
    pub(crate) fn len(&self) -> usize {
        let trail = match (self.head(), self.cursor()) {
            (Ok(Some(head)), Ok(next)) if head >= next => head - next + 1,
            _ => 0,
        };
        self.spooled
            .len()
            .saturating_add(usize::try_from(trail).unwrap_or(usize::MAX))
    }

    /// A number that names the oldest waiting event and changes when it
    /// leaves (the spool's key, or the trail's sequence number).
    pub(crate) fn first_seq(&self) -> Result<Option<u64>, StoreError> {
        if let Some(k) = self.spooled.first_seq()? {
            return Ok(Some(k));
        }
        let next = self.cursor()?;
        Ok(self.head()?.filter(|&h| h >= next).map(|_| next))
    }

    /// Notified when the queue gains durable events.
    pub(crate) fn ready(&self) -> Arc<Notify> {
        self.spooled.ready()
    }
}
