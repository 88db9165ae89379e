//! Writing one state change: the request and its indexes, the status
//! counts, the spools, the audit chain, the inbox memory and the
//! explanation counters. Written once against [`Txn`], so that a change
//! committed alone and a change inside a batch write exactly the same keys.

use super::codec::{decode, encode};
use super::txn::{TxError, Txn, T};
use super::{audit_head, count_of, index, AUDIT_HEAD};
use crate::domain::ids::RequestId;
use crate::domain::request::{Request, Status};
use crate::records::audit_chain;
use crate::records::{AuditEvent, Explained, OutboundMail, OutboundWebhook, Seen};
use sled::transaction::ConflictableTransactionError;

/// Everything one state change writes.
pub(crate) struct Change<R> {
    /// The request's new state, if it changed.
    pub(crate) request: Option<Request>,
    /// Mails the change causes, queued in the outbox.
    pub(crate) mails: Vec<OutboundMail>,
    /// Audit events it causes, numbered into the trail (and so queued for
    /// the shipper).
    pub(crate) audit: Vec<AuditEvent>,
    /// Webhook calls it causes, queued for the webhook worker.
    pub(crate) webhooks: Vec<OutboundWebhook>,
    /// The inbox message whose handling this change is.
    pub(crate) seen: Option<Seen>,
    /// A sender who is sent an explanation by this change, counted against
    /// their daily allowance.
    pub(crate) explained: Option<Explained>,
    /// What the caller wants back (the outcome).
    pub(crate) result: R,
}

impl<R> Change<R> {
    /// A change that writes nothing but returns `result`.
    pub(crate) fn nothing(result: R) -> Self {
        Change {
            request: None,
            mails: Vec::new(),
            audit: Vec::new(),
            webhooks: Vec::new(),
            seen: None,
            explained: None,
            result,
        }
    }
}

/// Which workers a written change concerns: they are woken once it is on
/// disk.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Wrote {
    pub(super) mail: bool,
    pub(super) audit: bool,
    pub(super) hooks: bool,
    /// The request's next due instant moved: the timer re-reads its index.
    pub(super) due: bool,
}

impl Wrote {
    pub(super) fn or(self, other: Wrote) -> Wrote {
        Wrote {
            mail: self.mail || other.mail,
            audit: self.audit || other.audit,
            hooks: self.hooks || other.hooks,
            due: self.due || other.due,
        }
    }
}

pub(super) fn abort<E: std::fmt::Display>(e: E) -> TxError {
    ConflictableTransactionError::Abort(e.to_string())
}

/// Reads request `id` (if given), lets `f` decide the change, and writes it
/// through `t`, indexes, counts and audit chain included.
pub(super) fn write<R>(
    t: &(impl Txn + ?Sized),
    id: Option<RequestId>,
    f: &impl Fn(Option<Request>) -> Change<R>,
) -> Result<(R, Wrote), TxError> {
    let current = match id {
        Some(id) => read_request(t, id)?,
        None => None,
    };
    let change = f(current.clone());
    let mut wrote = Wrote::default();
    if let Some(r) = &change.request {
        let old = match current.as_ref().filter(|c| c.id == r.id) {
            Some(c) => Some(c.clone()),
            None => read_request(t, r.id)?,
        };
        if let Some(old) = &old {
            t.remove(T::ByStatus, &index::status_key(old))?;
            if let Some(k) = index::due_key(old) {
                t.remove(T::ByDue, &k)?;
            }
            if let Some(k) = index::subject_key(old) {
                t.remove(T::BySubject, &k)?;
            }
        }
        t.insert(
            T::Requests,
            &r.id.get().to_be_bytes(),
            encode(r).map_err(abort)?,
        )?;
        t.insert(T::ByStatus, &index::status_key(r), Vec::new())?;
        if let Some(k) = index::due_key(r) {
            t.insert(T::ByDue, &k, Vec::new())?;
        }
        if let Some(k) = index::subject_key(r) {
            t.insert(T::BySubject, &k, Vec::new())?;
        }
        let before = old.as_ref().map(|o| o.status);
        if before != Some(r.status) {
            if let Some(b) = before {
                add_to_count(t, b, -1)?;
            }
            add_to_count(t, r.status, 1)?;
        }
        wrote.due = old.and_then(|o| o.next_due()) != r.next_due();
    }
    for m in &change.mails {
        let key = seq_key(t, "outbox")?;
        t.insert(T::Outbox, &key, encode(m).map_err(abort)?)?;
    }
    if !change.audit.is_empty() {
        // Numbered and linked here, in the transaction that records them: a
        // crash can lose neither a number nor an event, so the trail has no
        // gaps.
        let mut head = match t.get(T::Meta, AUDIT_HEAD)? {
            None => None,
            // Never restart the numbering over a damaged head: that would
            // overwrite the trail.
            Some(v) => Some(
                audit_head(&v).ok_or_else(|| abort("the audit trail's head record is damaged"))?,
            ),
        };
        for e in &change.audit {
            let link = audit_chain::link(e, head);
            let sealed = AuditEvent {
                link: Some(link),
                ..e.clone()
            };
            // Written once: the shipper reads the trail from its cursor
            // (see `audit_queue`).
            let bytes = encode(&sealed).map_err(abort)?;
            t.insert(T::AuditLog, &link.seq.to_be_bytes(), bytes)?;
            head = Some((link.seq, link.hash));
        }
        if let Some((seq, hash)) = head {
            let mut v = seq.to_be_bytes().to_vec();
            v.extend_from_slice(&hash);
            t.insert(T::Meta, AUDIT_HEAD, v)?;
        }
    }
    for h in &change.webhooks {
        let key = seq_key(t, "webhooks")?;
        t.insert(T::Webhooks, &key, encode(h).map_err(abort)?)?;
    }
    if let Some(s) = &change.seen {
        let v = encode(s).map_err(abort)?;
        t.insert(T::SeenUid, &s.key.bytes(), v.clone())?;
        if let Some(dedup) = &s.dedup_key {
            t.insert(T::SeenMessageId, dedup.as_bytes(), v)?;
        }
    }
    if let Some(x) = &change.explained {
        for key in [
            Explained::sender_key(&x.sender, x.at),
            Explained::hour_key(x.at),
        ] {
            let count = t
                .get(T::Explained, &key)?
                .map(|v| count_of(&v))
                .unwrap_or(0);
            t.insert(
                T::Explained,
                &key,
                count.saturating_add(1).to_be_bytes().to_vec(),
            )?;
        }
    }
    wrote.mail = !change.mails.is_empty();
    wrote.audit = !change.audit.is_empty();
    wrote.hooks = !change.webhooks.is_empty();
    Ok((change.result, wrote))
}

fn read_request(t: &(impl Txn + ?Sized), id: RequestId) -> Result<Option<Request>, TxError> {
    t.get(T::Requests, &id.get().to_be_bytes())?
        .map(|v| decode::<Request>(id.to_string().as_bytes(), &v))
        .transpose()
        .map_err(abort)
}

/// The next key of spool `name`, from its counter in `meta`. Kept in the
/// store (not sled's id generator) so that it is exported and restored
/// with the entries: a restored store never reuses a key or sorts a new
/// entry before an old one.
fn seq_key(t: &(impl Txn + ?Sized), name: &str) -> Result<[u8; 8], TxError> {
    let key = spool_counter(name);
    let next = counter(t, &key)?;
    t.insert(T::Meta, &key, next.saturating_add(1).to_be_bytes().to_vec())?;
    Ok(next.to_be_bytes())
}

/// The meta key of spool `name`'s next key.
pub(super) fn spool_counter(name: &str) -> Vec<u8> {
    format!("next_key/{name}").into_bytes()
}

/// The meta key of the number of requests with `status`.
pub(super) fn count_key(status: Status) -> Vec<u8> {
    format!("count/{}", status.as_str()).into_bytes()
}

/// Adds `delta` to the count of `status`.
fn add_to_count(t: &(impl Txn + ?Sized), status: Status, delta: i64) -> Result<(), TxError> {
    let key = count_key(status);
    let n = counter(t, &key)?;
    let n = if delta < 0 {
        n.saturating_sub(delta.unsigned_abs())
    } else {
        n.saturating_add(delta.unsigned_abs())
    };
    t.insert(T::Meta, &key, n.to_be_bytes().to_vec())?;
    Ok(())
}

/// A counter kept in `meta` (0 when missing).
fn counter(t: &(impl Txn + ?Sized), key: &[u8]) -> Result<u64, TxError> {
    Ok(t.get(T::Meta, key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}
