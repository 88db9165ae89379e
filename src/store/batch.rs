//! Many state changes written as one: the changes of a batch of inbox
//! messages are decided one after another against an in-memory overlay of
//! the store, then written in one sled transaction.
//!
//! Why: one transaction per message cost a third of a backlog drain (sled
//! locks and logs every transaction over all its trees, and every
//! message rewrote the same counters and the audit head). What keeps it
//! correct:
//!
//! - every read a decision makes (the request, the inbox memory, the
//!   explanation counters, the counters and audit head inside a change)
//!   sees the batch's earlier changes, so the batch decides exactly as the
//!   same messages decided one by one would;
//! - no other writer commits while a batch is open (the batch holds the
//!   store's writer lock exclusively), so nothing the batch read can change
//!   under it and its single write loses no one else's;
//! - a change that fails leaves the overlay as it was, and a batch that
//!   fails writes nothing: its messages are still in the inbox, decided
//!   again next time;
//! - the batch is written atomically, then flushed by the caller before any
//!   message leaves the inbox, as before.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{IVec, Transactional};

use super::change::{self, Change, Wrote};
use super::txn::{TxError, Txn, T, TREES};
use super::{Store, StoreError};
use crate::domain::ids::RequestId;
use crate::domain::request::Request;

/// Writes held back: per tree, each key's new value (`None`: removed).
#[derive(Default)]
pub(super) struct Overlay {
    trees: [BTreeMap<Vec<u8>, Option<IVec>>; TREES],
}

impl Overlay {
    fn get(&self, tree: T, key: &[u8]) -> Option<&Option<IVec>> {
        self.trees.get(tree as usize).and_then(|t| t.get(key))
    }

    fn put(&mut self, tree: T, key: &[u8], value: Option<IVec>) {
        if let Some(t) = self.trees.get_mut(tree as usize) {
            t.insert(key.to_vec(), value);
        }
    }

    fn merge(&mut self, newer: Overlay) {
        for (mine, theirs) in self.trees.iter_mut().zip(newer.trees) {
            mine.extend(theirs);
        }
    }

    fn is_empty(&self) -> bool {
        self.trees.iter().all(BTreeMap::is_empty)
    }
}

/// An open batch, shared by the batch's view of the store.
#[derive(Default)]
pub(super) struct Batch {
    /// The batch's writes so far; `None` once written (or abandoned), so a
    /// view that outlives its batch cannot write behind the lock's back.
    overlay: Mutex<Option<Overlay>>,
    /// The workers the batch's changes concern.
    wrote: Mutex<Wrote>,
}

/// One change's reads and writes inside a batch: its own writes first, then
/// the batch's, then the store as it was when the batch began.
struct View<'a> {
    store: &'a Store,
    batch: &'a Overlay,
    local: RefCell<Overlay>,
}

impl Txn for View<'_> {
    fn get(&self, tree: T, key: &[u8]) -> Result<Option<IVec>, TxError> {
        if let Some(v) = self.local.borrow().get(tree, key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.batch.get(tree, key) {
            return Ok(v.clone());
        }
        Ok(self.store.tree(tree).get(key)?)
    }

    fn insert(&self, tree: T, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        self.local.borrow_mut().put(tree, key, Some(value.into()));
        Ok(())
    }

    fn remove(&self, tree: T, key: &[u8]) -> Result<(), TxError> {
        self.local.borrow_mut().put(tree, key, None);
        Ok(())
    }
}

fn lost() -> StoreError {
    StoreError::Worker("a batch's view of the store was used after the batch ended".into())
}

impl Store {
    /// Runs `f` with a view of the store whose changes are held in memory
    /// and, when `f` succeeds, written together in one transaction. Other
    /// writers wait meanwhile. Not flushed: the caller flushes before
    /// acknowledging anything. When `f` fails, nothing of it is written.
    pub(crate) fn batched<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> Result<R, E>,
    ) -> Result<R, E> {
        let _alone = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let batch = Arc::new(Batch {
            overlay: Mutex::new(Some(Overlay::default())),
            wrote: Mutex::default(),
        });
        let view = Store {
            batch: Some(batch.clone()),
            ..self.clone()
        };
        let outcome = f(&view);
        let overlay = batch
            .overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let result = outcome?;
        let overlay = overlay.ok_or_else(lost)?;
        if !overlay.is_empty() {
            self.write_overlay(&overlay)?;
        }
        let wrote = *batch.wrote.lock().unwrap_or_else(|e| e.into_inner());
        self.signal(wrote);
        Ok(result)
    }

    /// [`Store::commit`] inside a batch: the change is decided against the
    /// batch's view and kept in its overlay.
    pub(super) fn commit_in_batch<R>(
        &self,
        batch: &Batch,
        id: Option<RequestId>,
        f: impl Fn(Option<Request>) -> Change<R>,
    ) -> Result<R, StoreError> {
        let mut guard = batch.overlay.lock().unwrap_or_else(|e| e.into_inner());
        let overlay = guard.as_mut().ok_or_else(lost)?;
        let view = View {
            store: self,
            batch: overlay,
            local: RefCell::default(),
        };
        let written = change::write(&view, id, &f);
        let local = view.local.into_inner();
        let (result, wrote) = written.map_err(|e| match e {
            ConflictableTransactionError::Abort(why) => {
                commit_error(id, TransactionError::Abort(why))
            }
            ConflictableTransactionError::Storage(e) => StoreError::Sled(e),
            // Nothing inside a batch conflicts: no other writer runs.
            ConflictableTransactionError::Conflict => {
                StoreError::Worker("a conflict inside a batch".into())
            }
        })?;
        overlay.merge(local);
        let mut all = batch.wrote.lock().unwrap_or_else(|e| e.into_inner());
        *all = all.or(wrote);
        Ok(result)
    }

    /// A read that sees the open batch's writes, if any.
    pub(super) fn read(&self, tree: T, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        if let Some(batch) = &self.batch {
            let guard = batch.overlay.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = guard.as_ref().ok_or_else(lost)?.get(tree, key) {
                return Ok(v.clone());
            }
        }
        Ok(self.tree(tree).get(key)?)
    }

    /// Writes a batch's overlay in one transaction.
    fn write_overlay(&self, overlay: &Overlay) -> Result<(), StoreError> {
        let trees = self.trees();
        trees
            .as_slice()
            .transaction(|t| {
                for (tree, writes) in t.iter().zip(&overlay.trees) {
                    for (k, v) in writes {
                        match v {
                            Some(v) => tree.insert(k.as_slice(), v.clone())?,
                            None => tree.remove(k.as_slice())?,
                        };
                    }
                }
                Ok::<_, ConflictableTransactionError<String>>(())
            })
            .map_err(|e| commit_error(None, e))
    }
}

/// A failed change as the store reports it.
pub(super) fn commit_error(id: Option<RequestId>, e: TransactionError<String>) -> StoreError {
    match e {
        TransactionError::Abort(why) => StoreError::Corrupt {
            key: id.map(|i| i.to_string()).unwrap_or_default(),
            why,
        },
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}
