//! The trees a state change touches, and the one interface through which a
//! change reads and writes them: inside a sled transaction (a change on its
//! own), or inside a batch's overlay (see [`batch`](super::batch)). The
//! change itself is written once, in [`change`](super::change), for both.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::IVec;

/// A tree a state change may touch; its position in [`Store::trees`](super::Store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum T {
    Requests,
    ByStatus,
    ByDue,
    BySubject,
    Outbox,
    Webhooks,
    SeenUid,
    SeenMessageId,
    Explained,
    Meta,
    AuditLog,
}

/// How many trees a state change may touch.
pub(super) const TREES: usize = 11;

/// Every tree, in order: a transaction's views come in this order.
pub(super) const ALL: [T; TREES] = [
    T::Requests,
    T::ByStatus,
    T::ByDue,
    T::BySubject,
    T::Outbox,
    T::Webhooks,
    T::SeenUid,
    T::SeenMessageId,
    T::Explained,
    T::Meta,
    T::AuditLog,
];

/// What a change's read or write can fail with: `Abort` refuses the change
/// (a record it depends on is unreadable), `Storage` is sled failing.
pub(super) type TxError = ConflictableTransactionError<String>;

/// The reads and writes of one state change.
pub(super) trait Txn {
    fn get(&self, tree: T, key: &[u8]) -> Result<Option<IVec>, TxError>;
    fn insert(&self, tree: T, key: &[u8], value: Vec<u8>) -> Result<(), TxError>;
    fn remove(&self, tree: T, key: &[u8]) -> Result<(), TxError>;
}

/// A sled transaction over the trees in [`T`]'s order.
impl Txn for [TransactionalTree] {
    fn get(&self, tree: T, key: &[u8]) -> Result<Option<IVec>, TxError> {
        Ok(view(self, tree)?.get(key)?)
    }

    fn insert(&self, tree: T, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        view(self, tree)?.insert(key, value)?;
        Ok(())
    }

    fn remove(&self, tree: T, key: &[u8]) -> Result<(), TxError> {
        view(self, tree)?.remove(key)?;
        Ok(())
    }
}

fn view(trees: &[TransactionalTree], tree: T) -> Result<&TransactionalTree, TxError> {
    trees
        .get(tree as usize)
        .ok_or_else(|| ConflictableTransactionError::Abort(format!("no tree {tree:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction's views are found by position: the list and the
    /// positions must agree.
    #[test]
    fn every_tree_sits_at_its_own_position() {
        for (i, t) in ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t:?}");
        }
    }
}
