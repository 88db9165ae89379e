//! Reading requests: by id, page by page (through the status index), and
//! by due instant (through the due index).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::codec::decode;
use super::txn::T;
use super::{index, Store, StoreError};
use crate::domain::ids::RequestId;
use crate::domain::request::{Request, Status};

impl Store {
    /// Request `id`, as a batch in progress sees it when this is a batch's
    /// view.
    pub(crate) fn request(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        let key = id.get().to_be_bytes();
        self.read(T::Requests, &key)?
            .map(|v| decode(id.to_string().as_bytes(), &v))
            .transpose()
    }

    /// Every request `keep` selects, oldest first. A record this build cannot
    /// read is logged and left out, so that one bad record does not stop
    /// listing all the others (reading it by id still fails).
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

    /// Up to `limit` requests after `after` (by id, oldest first) that have
    /// `status` (read through the status index) and that `keep` selects.
    /// Unreadable records are logged and left out.
    pub(crate) fn requests_page(
        &self,
        status: Option<Status>,
        after: Option<RequestId>,
        limit: usize,
        keep: impl Fn(&Request) -> bool,
    ) -> Result<Vec<Request>, StoreError> {
        let from = after.map_or(0, |id| id.get().saturating_add(1));
        let mut out = Vec::new();
        let mut take = |r: Request| {
            if keep(&r) {
                out.push(r);
            }
            out.len() < limit
        };
        match status {
            Some(status) => {
                let mut start = index::status_prefix(status).to_vec();
                start.extend_from_slice(&from.to_be_bytes());
                let prefix = index::status_prefix(status);
                for item in self.by_status.range(start..) {
                    let (k, _) = item?;
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let Some(id) = index::parse_status_key(&k) else {
                        continue;
                    };
                    match self.request(id) {
                        Ok(Some(r)) if r.status == status => {
                            if !take(r) {
                                break;
                            }
                        }
                        Ok(_) => {
                            tracing::error!(request = %id, "status index out of step; entry skipped")
                        }
                        Err(e) => tracing::error!(error = %e, "unreadable request record skipped"),
                    }
                }
            }
            None => {
                for item in self.requests.range(from.to_be_bytes()..) {
                    let (k, v) = item?;
                    match decode::<Request>(&k, &v) {
                        Ok(r) => {
                            if !take(r) {
                                break;
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "unreadable request record skipped"),
                    }
                }
            }
        }
        Ok(out)
    }

    /// How many requests have `status`: a count each change keeps in its
    /// own transaction, so reading it costs one key however big the store.
    pub(crate) fn count_with_status(&self, status: Status) -> Result<usize, StoreError> {
        // Kept by every commit, so a scrape does not walk a million keys.
        let n = self
            .meta
            .get(super::count_key(status))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Every request with `status`, oldest first, read through the status
    /// index. Unreadable records are logged and left out, as in
    /// [`Store::requests`].
    #[cfg(test)]
    pub(crate) fn requests_with_status(&self, status: Status) -> Result<Vec<Request>, StoreError> {
        let mut out = Vec::new();
        for item in self.by_status.scan_prefix(index::status_prefix(status)) {
            let (k, _) = item?;
            let Some(id) = index::parse_status_key(&k) else {
                tracing::error!("malformed status index key skipped");
                continue;
            };
            match self.request(id) {
                // The index is written with the record; a mismatch would be
                // a bug, and the record is the truth.
                Ok(Some(r)) if r.status == status => out.push(r),
                Ok(_) => tracing::error!(request = %id, "status index out of step; entry skipped"),
                Err(e) => tracing::error!(error = %e, "unreadable request record skipped"),
            }
        }
        Ok(out)
    }

    /// The open requests (pending, approved, active) of `requester` for
    /// `action` on `resource`, oldest first, read through the subject index.
    pub(crate) fn open_for_subject(
        &self,
        requester: &str,
        action: &str,
        resource: &str,
    ) -> Result<Vec<Request>, StoreError> {
        let mut out = Vec::new();
        let prefix = index::subject_prefix(requester, action, resource);
        for item in self.by_subject.scan_prefix(&prefix) {
            let (k, _) = item?;
            // Exactly the subject: a key is the prefix plus an 8-byte id.
            if k.len() != prefix.len() + 8 {
                continue;
            }
            let Some(id) = index::parse_subject_key(&k) else {
                continue;
            };
            // The record is the truth: an index entry that disagrees with it
            // (a bug, or damage) never grants anything.
            match self.request(id)? {
                Some(r)
                    if !r.status.is_final()
                        && r.requester.as_str() == requester
                        && r.action == action
                        && r.resource == resource =>
                {
                    out.push(r)
                }
                _ => tracing::error!(request = %id, "subject index out of step; entry skipped"),
            }
        }
        Ok(out)
    }

    /// The requests due at or before `now`, earliest first.
    pub(crate) fn due(&self, now: DateTime<Utc>) -> Result<Vec<RequestId>, StoreError> {
        let mut out = Vec::new();
        for item in self.by_due.range(..=index::due_bound(now)) {
            let (k, _) = item?;
            match index::parse_due_key(&k) {
                Some((_, id)) => out.push(id),
                None => tracing::error!("malformed due index key skipped"),
            }
        }
        Ok(out)
    }

    /// The earliest instant at which some request is due, if any is.
    pub(crate) fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .by_due
            .first()?
            .and_then(|(k, _)| index::parse_due_key(&k))
            .map(|(at, _)| at))
    }

    /// Notified whenever a change may have moved the next due instant.
    pub(crate) fn due_changed(&self) -> Arc<Notify> {
        self.due_changed.clone()
    }
}
