//! Durable state in sled: requests and their indexes, the mail outbox, the
//! audit trail and the record of handled IMAP messages. The only module that
//! knows about sled.
//!
//! Every state change is one transaction over all trees it touches, so a
//! decision, the mail it causes and its audit record are written together or
//! not at all. Workers deliver from the outbox and the audit trail later.

mod audit_queue;
mod backup;
mod batch;
mod change;
mod codec;
mod inbox;
mod index;
mod requests;
mod spool;
mod txn;

use std::path::Path;
use std::sync::Arc;

use sled::Transactional;
use tokio::sync::Notify;

use crate::domain::ids::{RequestId, RequestNonce};
use crate::domain::request::Request;
use crate::records::{AuditEvent, OutboundMail, OutboundWebhook};
use batch::Batch;
use change::{count_key, spool_counter, Wrote};
use codec::{decode, RECORD_VERSION};
use spool::{Flusher, Signal};
use txn::T;

pub(crate) use audit_queue::{AuditQueue, Queued};
pub(crate) use change::Change;
pub(crate) use spool::Spool;

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
    #[error("store: no randomness: {0}")]
    Randomness(String),
    #[error("no store in {0} (create one with `approvald store init`, or restore one with `approvald store import`)")]
    Missing(String),
    #[error("{0} already holds a store; refusing to overwrite it")]
    Exists(String),
    #[error("store import: {0}")]
    Import(String),
    /// The blocking thread that wrote a batch failed (it panicked or was
    /// cancelled at shutdown): nothing of the batch may be acknowledged.
    #[error("store: the thread writing a batch failed: {0}")]
    Worker(String),
}

impl StoreError {
    /// Whether one record could not be read (damaged, or written by a
    /// newer build), as opposed to the store itself failing: the caller
    /// refuses what that record concerns and carries on with the rest.
    pub(crate) fn is_unreadable_record(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::UnknownVersion { .. }
        )
    }
}

/// The sled database and its trees.
#[derive(Clone)]
pub(crate) struct Store {
    /// The database, for id counters and the quarantine.
    db: sled::Db,
    /// Requests by id (big-endian u64, so iteration is oldest first).
    requests: sled::Tree,
    /// Request ids by status, so listing one status reads only those.
    by_status: sled::Tree,
    /// Request ids by the next instant time alone changes them, so timers
    /// sleep until exactly then.
    by_due: sled::Tree,
    /// Open request ids by requester, action and resource: the grants
    /// check and the duplicate rule read only the subject's own.
    by_subject: sled::Tree,
    /// Composed mails waiting for the SMTP worker, in commit order.
    outbox: Spool<OutboundMail>,
    /// Audit events waiting for the syslog shipper: the trail from a
    /// cursor on (and what older builds spooled).
    audit: AuditQueue,
    /// Every audit event by sequence number, kept after shipping: what
    /// `audit verify` and `audit export` read.
    audit_log: sled::Tree,
    /// Webhook calls waiting for the webhook worker, in commit order.
    webhooks: Spool<OutboundWebhook>,
    /// Handled messages by UIDVALIDITY+UID.
    seen_uid: sled::Tree,
    /// Handled messages by dedup key (Message-ID, From and tokens), for
    /// redeliveries and rescans.
    seen_message_id: sled::Tree,
    /// Explanations sent per sender and day, for the rate limit.
    explained: sled::Tree,
    /// Counters (the request id sequence) and the index layout version.
    meta: sled::Tree,
    /// Makes every spool's new entries durable, then wakes its worker.
    flusher: Flusher,
    /// Wakes the timer when a change may have moved the next due instant.
    due_changed: Arc<Notify>,
    /// This store's random identity, made at init: it goes into every
    /// Message-ID, so a restored or second store never repeats one that
    /// mail providers have seen (they drop repeats).
    id: Arc<str>,
    /// Taken shared by every commit and exclusively by an export, so that
    /// an export is one consistent moment of the store.
    writers: Arc<std::sync::RwLock<()>>,
    /// Set on a batch's view of the store (see [`Store::batched`]): its
    /// changes are held there until the batch is written.
    batch: Option<Arc<Batch>>,
}

/// Spools whose keys come from a counter in `meta`.
const SPOOLS: [&str; 3] = ["outbox", "audit", "webhooks"];

impl Store {
    /// Opens the existing store in `dir`. A missing store is an error, not
    /// a new empty one: a mistyped path must not silently start numbering
    /// again at AR-1.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        if !exists(dir) {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        Store::open_db(dir)
    }

    /// Creates a new, empty store in `dir` with a fresh identity.
    pub(crate) fn init(dir: &Path) -> Result<Store, StoreError> {
        if exists(dir) {
            return Err(StoreError::Exists(dir.display().to_string()));
        }
        Store::open_db(dir)
    }

    /// Opens the store in `dir`, creating it the first time: for tests that
    /// reopen a store they made.
    #[cfg(test)]
    pub(crate) fn open_or_init(dir: &Path) -> Result<Store, StoreError> {
        Store::open_db(dir)
    }

    fn open_db(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // A daemon with a small working set: sled's default 1 GiB cache
            // would be wasted memory.
            .cache_capacity(64 * 1024 * 1024)
            .open()?;
        let meta = db.open_tree("meta")?;
        let id = match meta.get(STORE_ID)? {
            Some(id) => String::from_utf8_lossy(&id).into_owned(),
            // A new store, or one made before stores had an identity.
            None => {
                let id = new_store_id()?;
                meta.insert(STORE_ID, id.as_bytes())?;
                db.flush()?;
                id
            }
        };
        let mail_signal = Arc::new(Signal::default());
        let audit_signal = Arc::new(Signal::default());
        let hook_signal = Arc::new(Signal::default());
        let flusher = Flusher::new(
            db.clone(),
            vec![
                mail_signal.clone(),
                audit_signal.clone(),
                hook_signal.clone(),
            ],
        );
        let store = Store {
            requests: db.open_tree("requests")?,
            by_status: db.open_tree("requests_by_status")?,
            by_due: db.open_tree("requests_by_due")?,
            by_subject: db.open_tree("requests_by_subject")?,
            outbox: Spool::new(
                db.clone(),
                db.open_tree("outbox")?,
                mail_signal,
                flusher.clone(),
            ),
            audit: AuditQueue::new(
                Spool::new(
                    db.clone(),
                    db.open_tree("audit")?,
                    audit_signal,
                    flusher.clone(),
                ),
                db.open_tree("audit_log")?,
                meta.clone(),
            ),
            webhooks: Spool::new(
                db.clone(),
                db.open_tree("webhooks")?,
                hook_signal,
                flusher.clone(),
            ),
            audit_log: db.open_tree("audit_log")?,
            seen_uid: db.open_tree("seen_uid")?,
            seen_message_id: db.open_tree("seen_message_id")?,
            explained: db.open_tree("explained")?,
            meta,
            db,
            flusher,
            due_changed: Arc::new(Notify::new()),
            id: id.into(),
            writers: Arc::default(),
            batch: None,
        };
        store.reindex_if_needed()?;
        store.count_statuses_if_needed()?;
        store.start_spool_counters()?;
        store.audit.start_cursor()?;
        Ok(store)
    }

    /// Starts each spool's key counter above its last key, for a store
    /// whose keys came from sled's id generator (made by an older build).
    fn start_spool_counters(&self) -> Result<(), StoreError> {
        for name in SPOOLS {
            let counter = spool_counter(name);
            if self.meta.get(&counter)?.is_some() {
                continue;
            }
            let next = match self.db.open_tree(name)?.last()? {
                Some((k, _)) => <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0)
                    .saturating_add(1),
                None => 0,
            };
            self.meta.insert(counter, &next.to_be_bytes())?;
        }
        Ok(())
    }

    /// Builds the indexes from the requests when they were written by
    /// another layout or by a build that had none: a store carried over
    /// from an older release lists and expires its requests like a new one.
    fn reindex_if_needed(&self) -> Result<(), StoreError> {
        let current = self
            .meta
            .get(b"index_version")?
            .and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok())
            .map(u32::from_be_bytes);
        if current == Some(index::INDEX_VERSION) {
            return Ok(());
        }
        self.by_status.clear()?;
        self.by_due.clear()?;
        self.by_subject.clear()?;
        let mut indexed = 0usize;
        for r in self.requests(|_| true)? {
            self.by_status.insert(index::status_key(&r), &[])?;
            if let Some(k) = index::due_key(&r) {
                self.by_due.insert(k, &[])?;
            }
            if let Some(k) = index::subject_key(&r) {
                self.by_subject.insert(k, &[])?;
            }
            indexed += 1;
        }
        self.meta
            .insert(b"index_version", &index::INDEX_VERSION.to_be_bytes())?;
        self.meta.remove(COUNTS_KEPT)?;
        self.db.flush()?;
        tracing::info!(requests = indexed, "request indexes rebuilt");
        Ok(())
    }

    /// Counts the requests of each status once from the status index, for
    /// a store whose counts are not kept yet (new, rebuilt, or older).
    fn count_statuses_if_needed(&self) -> Result<(), StoreError> {
        if self.meta.get(COUNTS_KEPT)?.is_some() {
            return Ok(());
        }
        let _alone = self.writers.write().unwrap_or_else(|e| e.into_inner());
        for status in crate::domain::request::Status::ALL {
            let n = self
                .by_status
                .scan_prefix(index::status_prefix(status))
                .keys()
                .try_fold(0u64, |n, k| k.map(|_| n + 1))?;
            self.meta.insert(count_key(status), &n.to_be_bytes())?;
        }
        self.meta.insert(COUNTS_KEPT, &[1])?;
        self.db.flush()?;
        Ok(())
    }

    /// A fresh identity for a new request: the next id (AR-1, AR-2, … from a
    /// counter of its own, so that ids people quote stay small and dense)
    /// and a random nonce, which stays unique where an id may repeat (a
    /// store restored from a backup counts again from where it was).
    pub(crate) fn new_request_identity(&self) -> Result<(RequestId, RequestNonce), StoreError> {
        let mut nonce = [0u8; 16];
        getrandom::getrandom(&mut nonce).map_err(|e| StoreError::Randomness(e.to_string()))?;
        Ok((self.new_request_id()?, RequestNonce::from_bytes(nonce)))
    }

    fn new_request_id(&self) -> Result<RequestId, StoreError> {
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

    /// Reads request `id` (if given), lets `f` decide the change, and writes
    /// the change atomically, indexes included. `f` must be pure: sled may
    /// run it again when a concurrent transaction conflicts.
    pub(crate) fn commit<R>(
        &self,
        id: Option<RequestId>,
        f: impl Fn(Option<Request>) -> Change<R>,
    ) -> Result<R, StoreError> {
        if let Some(batch) = &self.batch {
            return self.commit_in_batch(batch, id, f);
        }
        let _writing = self.shared_writer();
        let trees = self.trees();
        let (result, wrote) = trees
            .as_slice()
            .transaction(|t| change::write(t.as_slice(), id, &f))
            .map_err(|e| batch::commit_error(id, e))?;
        self.signal(wrote);
        Ok(result)
    }

    /// The writer lock, shared with other single changes. While a batch
    /// holds it (a few tens of milliseconds), a caller on one of the
    /// runtime's threads hands that thread's other tasks to another thread
    /// before it waits: the IMAP worker, the API and the timers go on.
    fn shared_writer(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        use std::sync::TryLockError;
        // A poisoned lock only means another writer panicked; the store's
        // own transactions keep it consistent.
        match self.writers.try_read() {
            Ok(shared) => shared,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                let wait = || self.writers.read().unwrap_or_else(|e| e.into_inner());
                let on_multi_thread_runtime =
                    tokio::runtime::Handle::try_current().is_ok_and(|h| {
                        h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                    });
                if on_multi_thread_runtime {
                    tokio::task::block_in_place(wait)
                } else {
                    wait()
                }
            }
        }
    }

    /// Tells the workers what a written change concerns. Workers are woken
    /// only once it is on disk (see `flush`): a mail or audit line must
    /// never go out for a change a crash could undo. The timer only
    /// re-reads its index, and whatever it then decides is its own flushed
    /// change: waking it early is harmless.
    fn signal(&self, wrote: Wrote) {
        if wrote.mail {
            self.outbox.signal.appended();
        }
        if wrote.audit {
            self.audit.spooled.signal.appended();
        }
        if wrote.hooks {
            self.webhooks.signal.appended();
        }
        if wrote.due {
            self.due_changed.notify_one();
        }
    }

    /// The trees a change may touch, in [`T`]'s order.
    fn trees(&self) -> [&sled::Tree; txn::TREES] {
        txn::ALL.map(|t| self.tree(t))
    }

    fn tree(&self, tree: T) -> &sled::Tree {
        match tree {
            T::Requests => &self.requests,
            T::ByStatus => &self.by_status,
            T::ByDue => &self.by_due,
            T::BySubject => &self.by_subject,
            T::Outbox => &self.outbox.tree,
            T::Webhooks => &self.webhooks.tree,
            T::SeenUid => &self.seen_uid,
            T::SeenMessageId => &self.seen_message_id,
            T::Explained => &self.explained,
            T::Meta => &self.meta,
            T::AuditLog => &self.audit_log,
        }
    }

    /// Forces everything written so far to disk. Call before acknowledging
    /// anything to the outside world (an API answer, an IMAP move).
    /// Wakes the mail and audit workers for what the flush made durable.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.flusher.flush().await
    }

    /// Forces everything to disk from a thread that is not the runtime's
    /// (the command line, the benchmark's loader).
    pub(crate) fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// This store's identity.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Mails waiting to be sent.
    pub(crate) fn outbox(&self) -> &Spool<OutboundMail> {
        &self.outbox
    }

    /// Audit events not yet shipped to syslog.
    pub(crate) fn audit(&self) -> &AuditQueue {
        &self.audit
    }

    /// Recorded audit events from sequence number `since` on, at most
    /// `limit`, oldest first.
    pub(crate) fn audit_log(
        &self,
        since: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_log
            .range(since.to_be_bytes()..)
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                decode(&k, &v)
            })
            .collect()
    }

    /// The last recorded audit event's sequence number and hash.
    #[cfg(test)]
    pub(crate) fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        read_audit_head(&self.meta)
    }

    /// Webhook calls not yet delivered.
    pub(crate) fn webhooks(&self) -> &Spool<OutboundWebhook> {
        &self.webhooks
    }

    /// Overwrites request `id`'s record with bytes no build can read, as
    /// disk damage would: for tests of what depends on the record.
    #[cfg(test)]
    pub(crate) fn damage_request(&self, id: RequestId) {
        self.requests
            .insert(id.get().to_be_bytes(), br#"{"v":1,"damaged":"#.to_vec())
            .unwrap_or_else(|e| panic!("damage {id}: {e}"));
    }

    /// Records an audit event that goes with no other change.
    pub(crate) fn audit_only(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.commit(None, |_| Change {
            audit: vec![event.clone()],
            ..Change::nothing(())
        })
    }
}

/// Set once the status counts are kept (a store of an older build gets
/// them counted once at open).
const COUNTS_KEPT: &[u8] = b"status_counts_kept";

/// The meta key of the store's identity.
const STORE_ID: &[u8] = b"store_id";

/// Whether `dir` holds a sled database (its `db` file and `conf`).
fn exists(dir: &Path) -> bool {
    dir.join("db").is_file() && dir.join("conf").is_file()
}

/// 64 random bits in hex: short enough for a Message-ID, unique enough
/// that two stores never share one.
fn new_store_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| StoreError::Randomness(e.to_string()))?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// The meta key of the last audit event's sequence number and hash.
const AUDIT_HEAD: &[u8] = b"audit_head";

/// The trail's head as `meta` holds it; a damaged record is an error, not
/// an empty trail.
fn read_audit_head(meta: &sled::Tree) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    meta.get(AUDIT_HEAD)?
        .map(|v| {
            audit_head(&v).ok_or_else(|| StoreError::Corrupt {
                key: "meta/audit_head".into(),
                why: "not a sequence number and hash".into(),
            })
        })
        .transpose()
}

/// The sequence number and hash stored under [`AUDIT_HEAD`].
fn audit_head(v: &[u8]) -> Option<(u64, [u8; 32])> {
    let seq = <[u8; 8]>::try_from(v.get(..8)?).ok()?;
    let hash = <[u8; 32]>::try_from(v.get(8..)?).ok()?;
    Some((u64::from_be_bytes(seq), hash))
}

fn count_of(v: &[u8]) -> u32 {
    <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
