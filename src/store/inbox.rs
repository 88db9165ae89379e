//! What the store remembers about inbox messages and explanations, and the
//! pruning that keeps that memory from growing without bound.

use chrono::{DateTime, Utc};

use super::codec::decode;
use super::txn::T;
use super::{count_of, Store, StoreError};
use crate::records::{Explained, MessageKey, Seen};

impl Store {
    /// Whether a message was already handled, by its IMAP identity or, when
    /// that is new (a redelivery, a UIDVALIDITY change), by its dedup key.
    pub(crate) fn seen(
        &self,
        key: MessageKey,
        dedup_key: Option<&str>,
    ) -> Result<Option<Seen>, StoreError> {
        if let Some(v) = self.read(T::SeenUid, &key.bytes())? {
            return decode(b"seen_uid", &v).map(Some);
        }
        match dedup_key {
            Some(k) => self
                .read(T::SeenMessageId, k.as_bytes())?
                .map(|v| decode(k.as_bytes(), &v))
                .transpose(),
            None => Ok(None),
        }
    }

    /// How many explanations `sender` was sent on `at`'s UTC day.
    pub(crate) fn explained_to(&self, sender: &str, at: DateTime<Utc>) -> Result<u32, StoreError> {
        let key = Explained::sender_key(sender, at);
        Ok(self
            .read(T::Explained, &key)?
            .map(|v| count_of(&v))
            .unwrap_or(0))
    }

    /// How many explanations were sent, to anyone, in `at`'s UTC hour.
    pub(crate) fn explained_in_hour(&self, at: DateTime<Utc>) -> Result<u32, StoreError> {
        let key = Explained::hour_key(at);
        Ok(self
            .read(T::Explained, &key)?
            .map(|v| count_of(&v))
            .unwrap_or(0))
    }

    /// Forgets what only mattered until `cutoff`: handled-message records
    /// older than it whose request (if any) closed before it, and
    /// explanation counters of days before it. Returns how many records
    /// went. A request still open keeps the memory of its replies, however
    /// old, so none can be applied twice.
    pub(crate) fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut removed = 0;
        for tree in [&self.seen_uid, &self.seen_message_id] {
            for item in tree.iter() {
                let (k, v) = item?;
                let seen: Seen = match decode(&k, &v) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable handled-message record kept");
                        continue;
                    }
                };
                if seen.at >= cutoff {
                    continue;
                }
                let done = match seen.request {
                    None => true,
                    Some(id) => match self.request(id) {
                        Ok(Some(r)) => r.closed_at.is_some_and(|closed| closed < cutoff),
                        Ok(None) => true,
                        // Unreadable: keep the memory rather than risk a
                        // second application.
                        Err(_) => false,
                    },
                };
                if done {
                    tree.remove(&k)?;
                    removed += 1;
                }
            }
        }
        let cutoff_day = cutoff.format("%Y-%m-%d").to_string();
        for item in self.explained.iter() {
            let (k, _) = item?;
            let key = String::from_utf8_lossy(&k);
            let day = key.strip_prefix("h/").unwrap_or(&key);
            if day.get(..10).is_some_and(|d| d < cutoff_day.as_str()) {
                self.explained.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
