//! Durable state in sled: requests, the mail outbox, the audit spool and the
//! record of handled IMAP messages. The only module that knows about sled.
//!
//! Every state change is one transaction over all trees it touches, so a
//! decision, the mail it causes and its audit record are written together or
//! not at all. Workers deliver from the outbox and the audit spool later.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use tokio::sync::Notify;

use crate::audit::AuditEvent;
use crate::domain::ids::RequestId;
use crate::domain::request::Request;
use crate::mail::message::OutboundMail;

/// Version of the records written by this build. Records carry it so that a
/// later build can migrate or refuse data it does not understand.
const RECORD_VERSION: u32 = 1;

/// A stored record: the payload and the format version it was written in.
#[derive(Serialize, Deserialize)]
struct Record<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {key} cannot be read: {why}")]
    Corrupt { key: String, why: String },
    #[error("store: flush failed: {0}")]
    Flush(String),
    #[error("store record {key} has version {found}; this build reads version {RECORD_VERSION}")]
    UnknownVersion { key: String, found: u32 },
}

/// Identifies a message in the IMAP inbox for all time: a UID is only
/// meaningful together with the mailbox's UIDVALIDITY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct MessageKey {
    /// The mailbox incarnation; a new value means every UID was reassigned.
    pub(crate) uidvalidity: u32,
    /// The message within that incarnation.
    pub(crate) uid: u32,
}

impl MessageKey {
    fn bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.uidvalidity.to_be_bytes());
        b[4..].copy_from_slice(&self.uid.to_be_bytes());
        b
    }
}

/// Where a handled message belongs in IMAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Disposition {
    Processed,
    Rejected,
}

/// The memory that a message was handled, written in the same transaction as
/// its effects so that a restart never applies it twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The IMAP identity it was handled under.
    pub(crate) key: MessageKey,
    /// Its Message-ID, to recognise it under another IMAP identity.
    pub(crate) message_id: Option<String>,
    /// Where it belongs, so a restart can finish the move.
    pub(crate) disposition: Disposition,
    /// When it was handled.
    pub(crate) at: DateTime<Utc>,
}

/// Everything one state change writes.
pub(crate) struct Change<R> {
    /// The request's new state, if it changed.
    pub(crate) request: Option<Request>,
    /// Mails the change causes, queued in the outbox.
    pub(crate) mails: Vec<OutboundMail>,
    /// Audit events it causes, queued in the spool.
    pub(crate) audit: Vec<AuditEvent>,
    /// The inbox message whose handling this change is.
    pub(crate) seen: Option<Seen>,
    /// A sender who is sent an explanation by this change, counted against
    /// their daily allowance.
    pub(crate) explained: Option<Explained>,
    /// What the caller wants back (the outcome).
    pub(crate) result: R,
}

/// One explanation sent to `sender` on `day` (a UTC date, `YYYY-MM-DD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explained {
    /// Who was answered (lower-case address).
    pub(crate) sender: String,
    /// The UTC day the cap applies to.
    pub(crate) day: String,
}

impl Explained {
    fn key(&self) -> Vec<u8> {
        format!("{}/{}", self.day, self.sender).into_bytes()
    }
}

impl<R> Change<R> {
    /// A change that writes nothing but returns `result`.
    pub(crate) fn nothing(result: R) -> Self {
        Change {
            request: None,
            mails: Vec::new(),
            audit: Vec::new(),
            seen: None,
            explained: None,
            result,
        }
    }
}

/// The sled database and its trees.
#[derive(Clone)]
pub(crate) struct Store {
    /// The database, for flushes and id counters.
    db: sled::Db,
    /// Requests by id (big-endian u64, so iteration is oldest first).
    requests: sled::Tree,
    /// Composed mails waiting for the SMTP worker, in commit order.
    outbox: sled::Tree,
    /// Audit events waiting for the syslog shipper, in commit order.
    audit: sled::Tree,
    /// Handled messages by UIDVALIDITY+UID.
    seen_uid: sled::Tree,
    /// Handled messages by Message-ID, for redeliveries and rescans.
    seen_message_id: sled::Tree,
    /// Explanations sent per sender and day, for the rate limit.
    explained: sled::Tree,
    /// Counters (the request id sequence).
    meta: sled::Tree,
    /// Wakes the mail worker when the outbox gains durable entries.
    outbox_ready: Arc<Notify>,
    /// The outbox gained entries since the last flush.
    unflushed_mail: Arc<AtomicBool>,
    /// The audit spool gained entries since the last flush.
    unflushed_audit: Arc<AtomicBool>,
    /// Wakes the audit shipper when the spool gains entries.
    audit_ready: Arc<Notify>,
}

fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Record {
        v: RECORD_VERSION,
        body,
    })
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let show = || String::from_utf8_lossy(key).into_owned();
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let version: Version = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: show(),
        why: e.to_string(),
    })?;
    if version.v != RECORD_VERSION {
        return Err(StoreError::UnknownVersion {
            key: show(),
            found: version.v,
        });
    }
    serde_json::from_slice::<Record<T>>(bytes)
        .map(|r| r.body)
        .map_err(|e| StoreError::Corrupt {
            key: show(),
            why: e.to_string(),
        })
}

fn abort<E: std::fmt::Display>(e: E) -> ConflictableTransactionError<String> {
    ConflictableTransactionError::Abort(e.to_string())
}

fn seq_key(tree: &TransactionalTree) -> Result<[u8; 8], ConflictableTransactionError<String>> {
    Ok(tree.generate_id()?.to_be_bytes())
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // A daemon with a small working set: sled's default 1 GiB cache
            // would be wasted memory.
            .cache_capacity(64 * 1024 * 1024)
            .open()?;
        Ok(Store {
            requests: db.open_tree("requests")?,
            outbox: db.open_tree("outbox")?,
            audit: db.open_tree("audit")?,
            seen_uid: db.open_tree("seen_uid")?,
            seen_message_id: db.open_tree("seen_message_id")?,
            explained: db.open_tree("explained")?,
            meta: db.open_tree("meta")?,
            db,
            outbox_ready: Arc::new(Notify::new()),
            unflushed_mail: Arc::new(AtomicBool::new(false)),
            unflushed_audit: Arc::new(AtomicBool::new(false)),
            audit_ready: Arc::new(Notify::new()),
        })
    }

    /// A fresh, never reused request id: AR-1, AR-2, … from a counter of
    /// its own, so that ids people quote stay small and dense.
    pub(crate) fn new_request_id(&self) -> Result<RequestId, StoreError> {
        let next = self.meta.update_and_fetch(b"request_seq", |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some(n.saturating_add(1).to_be_bytes().to_vec())
        })?;
        let n = next
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(1);
        Ok(RequestId::new(n))
    }

    pub(crate) fn request(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        let key = id.get().to_be_bytes();
        self.requests
            .get(key)?
            .map(|v| decode(id.to_string().as_bytes(), &v))
            .transpose()
    }

    /// Every request `keep` selects, oldest first. A record this build cannot
    /// read is logged and left out, so that one bad record does not stop
    /// listing and expiring all the others (reading it by id still fails).
    pub(crate) fn requests(
        &self,
        keep: impl Fn(&Request) -> bool,
    ) -> Result<Vec<Request>, StoreError> {
        let mut out = Vec::new();
        for item in self.requests.iter() {
            let (k, v) = item?;
            match decode::<Request>(&k, &v) {
                Ok(r) if keep(&r) => out.push(r),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "unreadable request record skipped"),
            }
        }
        Ok(out)
    }

    /// Reads request `id` (if given), lets `f` decide the change, and writes
    /// the change atomically. `f` must be pure: sled may run it again when a
    /// concurrent transaction conflicts.
    pub(crate) fn commit<R>(
        &self,
        id: Option<RequestId>,
        f: impl Fn(Option<Request>) -> Change<R>,
    ) -> Result<R, StoreError> {
        let trees = (
            &self.requests,
            &self.outbox,
            &self.audit,
            &self.seen_uid,
            &self.seen_message_id,
            &self.explained,
        );
        let outcome =
            trees.transaction(|(requests, outbox, audit, seen_uid, seen_mid, explained)| {
                let current = match id {
                    Some(id) => requests
                        .get(id.get().to_be_bytes())?
                        .map(|v| decode::<Request>(id.to_string().as_bytes(), &v))
                        .transpose()
                        .map_err(abort)?,
                    None => None,
                };
                let change = f(current);
                if let Some(r) = &change.request {
                    requests.insert(&r.id.get().to_be_bytes(), encode(r).map_err(abort)?)?;
                }
                for m in &change.mails {
                    outbox.insert(&seq_key(outbox)?, encode(m).map_err(abort)?)?;
                }
                for e in &change.audit {
                    audit.insert(&seq_key(audit)?, encode(e).map_err(abort)?)?;
                }
                if let Some(s) = &change.seen {
                    let v = encode(s).map_err(abort)?;
                    seen_uid.insert(&s.key.bytes(), v.clone())?;
                    if let Some(mid) = &s.message_id {
                        seen_mid.insert(mid.as_bytes(), v)?;
                    }
                }
                if let Some(x) = &change.explained {
                    let key = x.key();
                    let count = explained.get(&key)?.map(|v| count_of(&v)).unwrap_or(0);
                    explained.insert(key, &count.saturating_add(1).to_be_bytes())?;
                }
                let wrote_mail = !change.mails.is_empty();
                let wrote_audit = !change.audit.is_empty();
                Ok((change.result, wrote_mail, wrote_audit))
            });
        let (result, wrote_mail, wrote_audit) = outcome.map_err(|e| match e {
            TransactionError::Abort(why) => StoreError::Corrupt {
                key: id.map(|i| i.to_string()).unwrap_or_default(),
                why,
            },
            TransactionError::Storage(e) => StoreError::Sled(e),
        })?;
        // Workers are woken only once this is on disk (see `flush`): a mail
        // or audit line must never go out for a change a crash could undo.
        if wrote_mail {
            self.unflushed_mail.store(true, Ordering::Release);
        }
        if wrote_audit {
            self.unflushed_audit.store(true, Ordering::Release);
        }
        Ok(result)
    }

    /// Forces everything written so far to disk. Call before acknowledging
    /// anything to the outside world (an API answer, an IMAP move).
    /// Wakes the mail and audit workers for what the flush made durable.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        // sled 0.34's flush_async deadlocks when called concurrently (upstream
        // issue #1308, fixed after the last release); the blocking flush on a
        // blocking thread does not.
        let mail = self.unflushed_mail.swap(false, Ordering::AcqRel);
        let audit = self.unflushed_audit.swap(false, Ordering::AcqRel);
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Flush(e.to_string()))
            .and_then(|r| r.map_err(StoreError::from));
        if let Err(e) = flushed {
            // Still unflushed: the next successful flush wakes the workers.
            self.unflushed_mail.fetch_or(mail, Ordering::AcqRel);
            self.unflushed_audit.fetch_or(audit, Ordering::AcqRel);
            return Err(e);
        }
        if mail {
            self.outbox_ready.notify_one();
        }
        if audit {
            self.audit_ready.notify_one();
        }
        Ok(())
    }

    /// Whether a message was already handled, by its IMAP identity or, when
    /// that is new (a redelivery, a UIDVALIDITY change), by its Message-ID.
    pub(crate) fn seen(
        &self,
        key: MessageKey,
        message_id: Option<&str>,
    ) -> Result<Option<Seen>, StoreError> {
        if let Some(v) = self.seen_uid.get(key.bytes())? {
            return decode(b"seen_uid", &v).map(Some);
        }
        match message_id {
            Some(mid) => self
                .seen_message_id
                .get(mid.as_bytes())?
                .map(|v| decode(mid.as_bytes(), &v))
                .transpose(),
            None => Ok(None),
        }
    }

    /// How many explanations `sender` was sent on `day`.
    pub(crate) fn explained_count(&self, sender: &str, day: &str) -> Result<u32, StoreError> {
        let key = Explained {
            sender: sender.to_string(),
            day: day.to_string(),
        }
        .key();
        Ok(self.explained.get(key)?.map(|v| count_of(&v)).unwrap_or(0))
    }

    /// Mails waiting to be sent, oldest first.
    pub(crate) fn outbox(&self, limit: usize) -> Result<Vec<(u64, OutboundMail)>, StoreError> {
        spooled(&self.db, &self.outbox, limit)
    }

    /// Mails waiting to be sent, oldest first, each one durable: read, then
    /// flushed, so nothing goes out for a change a crash could still undo
    /// (a batch of replies is flushed only once it is complete).
    pub(crate) async fn durable_outbox(
        &self,
        limit: usize,
    ) -> Result<Vec<(u64, OutboundMail)>, StoreError> {
        let batch = self.outbox(limit)?;
        if !batch.is_empty() {
            self.flush().await?;
        }
        Ok(batch)
    }

    /// Removes a sent mail from the outbox.
    pub(crate) fn outbox_sent(&self, seq: u64) -> Result<(), StoreError> {
        self.outbox.remove(seq.to_be_bytes())?;
        Ok(())
    }

    /// Audit events not yet shipped to syslog, oldest first.
    pub(crate) fn audit_spool(&self, limit: usize) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        spooled(&self.db, &self.audit, limit)
    }

    /// Audit events not yet shipped, oldest first, each one durable (see
    /// [`Store::durable_outbox`]).
    pub(crate) async fn durable_audit_spool(
        &self,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        let batch = self.audit_spool(limit)?;
        if !batch.is_empty() {
            self.flush().await?;
        }
        Ok(batch)
    }

    /// Removes shipped audit events from the spool.
    pub(crate) fn audit_shipped(&self, seq: u64) -> Result<(), StoreError> {
        self.audit.remove(seq.to_be_bytes())?;
        Ok(())
    }

    /// Records an audit event that goes with no other change.
    pub(crate) fn audit_only(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.commit(None, |_| Change {
            audit: vec![event.clone()],
            ..Change::nothing(())
        })
    }

    pub(crate) fn outbox_ready(&self) -> Arc<Notify> {
        self.outbox_ready.clone()
    }

    pub(crate) fn audit_ready(&self) -> Arc<Notify> {
        self.audit_ready.clone()
    }
}

fn count_of(v: &[u8]) -> u32 {
    <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .unwrap_or(u32::MAX)
}

/// Reads up to `limit` entries of a spool in order. An entry this build
/// cannot read is moved to the `quarantine` tree (kept for an operator, out
/// of the way) so that one bad record cannot stall the whole spool.
fn spooled<T: DeserializeOwned>(
    db: &sled::Db,
    tree: &sled::Tree,
    limit: usize,
) -> Result<Vec<(u64, T)>, StoreError> {
    let mut out = Vec::new();
    for item in tree.iter().take(limit) {
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
                let mut qkey = tree.name().to_vec();
                qkey.push(b'/');
                qkey.extend_from_slice(&k);
                db.open_tree("quarantine")?.insert(qkey, v)?;
                tree.remove(&k)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
