//! A durable queue of records waiting for a worker: the mail outbox and the
//! webhook queue are both one of these (so is what older builds spooled of
//! the audit trail; see `audit_queue`). Entries are appended inside a state
//! change's transaction and leave only when the worker has delivered them.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::codec::decode;
use super::StoreError;

/// What a spool's worker waits on.
#[derive(Default)]
pub(super) struct Signal {
    /// Entries were appended since the last flush: the worker must not be
    /// woken for them until they are on disk.
    unflushed: AtomicBool,
    /// Wakes the worker once the flush made them durable.
    ready: Arc<Notify>,
}

impl Signal {
    pub(super) fn appended(&self) {
        self.unflushed.store(true, Ordering::Release);
    }
}

/// Forces the database to disk and wakes the workers of every spool whose
/// new entries the flush made durable.
#[derive(Clone)]
pub(super) struct Flusher {
    /// The database the flush covers.
    db: sled::Db,
    /// Every spool's signal: one flush makes all of them durable.
    signals: Arc<[Arc<Signal>]>,
}

impl Flusher {
    pub(super) fn new(db: sled::Db, signals: Vec<Arc<Signal>>) -> Self {
        Flusher {
            db,
            signals: signals.into(),
        }
    }

    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        let pending: Vec<bool> = self
            .signals
            .iter()
            .map(|s| s.unflushed.swap(false, Ordering::AcqRel))
            .collect();
        // sled 0.34's flush_async deadlocks when called concurrently (upstream
        // issue #1308, fixed after the last release); the blocking flush on a
        // blocking thread does not.
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Flush(e.to_string()))
            .and_then(|r| r.map_err(StoreError::from));
        for (signal, was) in self.signals.iter().zip(pending) {
            match (&flushed, was) {
                // Still unflushed: the next successful flush wakes the worker.
                (Err(_), true) => {
                    signal.unflushed.fetch_or(true, Ordering::AcqRel);
                }
                (Ok(_), true) => signal.ready.notify_one(),
                (_, false) => {}
            }
        }
        flushed.map(|_| ())
    }
}

/// A durable queue of `T`, in commit order.
pub(crate) struct Spool<T> {
    /// The database, for the quarantine tree.
    db: sled::Db,
    /// Entries by sequence number (big-endian, so iteration is oldest first).
    pub(super) tree: sled::Tree,
    /// Whether entries await a flush, and the worker's wake-up.
    pub(super) signal: Arc<Signal>,
    /// Makes entries durable before a worker may act on them.
    flusher: Flusher,
    /// The spool holds records of one type only.
    _records: PhantomData<fn() -> T>,
}

impl<T> Clone for Spool<T> {
    fn clone(&self) -> Self {
        Spool {
            db: self.db.clone(),
            tree: self.tree.clone(),
            signal: self.signal.clone(),
            flusher: self.flusher.clone(),
            _records: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Spool<T> {
    pub(super) fn new(
        db: sled::Db,
        tree: sled::Tree,
        signal: Arc<Signal>,
        flusher: Flusher,
    ) -> Self {
        Spool {
            db,
            tree,
            signal,
            flusher,
            _records: PhantomData,
        }
    }

    /// Up to `limit` entries, oldest first. An entry this build cannot read
    /// is moved to the `quarantine` tree (kept for an operator, out of the
    /// way) so that one bad record cannot stall the whole spool.
    pub(crate) fn peek(&self, limit: usize) -> Result<Vec<(u64, T)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.iter().take(limit) {
            let (k, v) = item?;
            let decoded = <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    why: "spool key is not 8 bytes".into(),
                })
                .and_then(|seq| decode(&k, &v).map(|body| (seq, body)));
            match decoded {
                Ok(entry) => out.push(entry),
                Err(e) => {
                    tracing::error!(error = %e, "unreadable spool entry moved to quarantine");
                    let mut qkey = self.tree.name().to_vec();
                    qkey.push(b'/');
                    qkey.extend_from_slice(&k);
                    self.db.open_tree("quarantine")?.insert(qkey, v)?;
                    self.tree.remove(&k)?;
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` entries, oldest first, each one durable: read, then
    /// flushed, so nothing goes out for a change a crash could still undo
    /// (a batch of replies is flushed only once it is complete).
    pub(crate) async fn durable(&self, limit: usize) -> Result<Vec<(u64, T)>, StoreError> {
        let batch = self.peek(limit)?;
        if !batch.is_empty() {
            self.flusher.flush().await?;
        }
        Ok(batch)
    }

    /// Removes a delivered entry. Not flushed here: the worker flushes once
    /// per batch (a crash before that repeats the entry, never loses it).
    pub(crate) fn remove(&self, seq: u64) -> Result<(), StoreError> {
        self.tree.remove(seq.to_be_bytes())?;
        Ok(())
    }

    /// Makes removals durable, so a restart does not deliver them again.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush().await
    }

    /// How many entries wait (committed, durable or not yet). Counts keys:
    /// nothing is decoded.
    pub(crate) fn len(&self) -> usize {
        self.tree.len()
    }

    /// The sequence number of the oldest waiting entry, without decoding it.
    pub(crate) fn first_seq(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .tree
            .first()?
            .and_then(|(k, _)| <[u8; 8]>::try_from(k.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    /// Notified when the spool gains durable entries.
    pub(crate) fn ready(&self) -> Arc<Notify> {
        self.signal.ready.clone()
    }
}
