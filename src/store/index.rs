//! Secondary indexes over requests, maintained in the same transaction as
//! the request itself: by status (listing without scanning every request
//! ever stored), by due instant (timers that sleep until the next one) and,
//! for requests still open, by subject — requester, action, resource — so
//! the grants check and the one-pending-per-subject rule read only those.
//!
//! Keys only; the values are empty. Both sort as bytes in the order they
//! are read: status then id, instant then id.

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::ids::RequestId;
use crate::domain::request::{Request, Status};

/// Version of the index layout. A store whose indexes were written by an
/// older layout (or by a build without them) is reindexed on open.
pub(super) const INDEX_VERSION: u32 = 2;

/// The stable on-disk code of a status. Never renumber: add new ones.
fn status_code(s: Status) -> u8 {
    match s {
        Status::Pending => 1,
        Status::Approved => 2,
        Status::Rejected => 3,
        Status::Expired => 4,
        Status::Active => 5,
        Status::Ended => 6,
        Status::Cancelled => 7,
        Status::Revoked => 8,
    }
}

/// The prefix under which every request of `status` is indexed.
pub(super) fn status_prefix(status: Status) -> [u8; 1] {
    [status_code(status)]
}

pub(super) fn status_key(r: &Request) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = status_code(r.status);
    k[1..].copy_from_slice(&r.id.get().to_be_bytes());
    k
}

/// The subject prefix: requester, action and resource, each length-prefixed
/// so that no choice of text can make two subjects share a prefix.
pub(super) fn subject_prefix(requester: &str, action: &str, resource: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + requester.len() + action.len() + resource.len() + 8);
    for part in [requester, action, resource] {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        k.extend_from_slice(&len.to_be_bytes());
        k.extend_from_slice(part.as_bytes());
    }
    k
}

/// The subject-index key of `r`, while it can still grant (pending,
/// approved, active); closed requests leave the index.
pub(super) fn subject_key(r: &Request) -> Option<Vec<u8>> {
    if r.status.is_final() {
        return None;
    }
    let mut k = subject_prefix(r.requester.as_str(), &r.action, &r.resource);
    k.extend_from_slice(&r.id.get().to_be_bytes());
    Some(k)
}

/// Reads the id at the end of a subject-index key.
pub(super) fn parse_subject_key(k: &[u8]) -> Option<RequestId> {
    let tail = k.len().checked_sub(8)?;
    let id = u64::from_be_bytes(<[u8; 8]>::try_from(k.get(tail..)?).ok()?);
    Some(RequestId::new(id))
}

/// Milliseconds since the epoch with the sign bit flipped, so that byte
/// order is time order for instants before and after 1970 alike.
fn instant_bytes(at: DateTime<Utc>) -> [u8; 8] {
    let ms = at.timestamp_millis();
    (u64::from_be_bytes(ms.to_be_bytes()) ^ (1 << 63)).to_be_bytes()
}

fn instant_of(bytes: [u8; 8]) -> Option<DateTime<Utc>> {
    let ms = i64::from_be_bytes((u64::from_be_bytes(bytes) ^ (1 << 63)).to_be_bytes());
    Utc.timestamp_millis_opt(ms).single()
}

pub(super) fn due_key(r: &Request) -> Option<[u8; 16]> {
    // Rounded up to the millisecond the key holds: rounded down, the timer
    // woke a fraction of a millisecond before the instant, found nothing to
    // do, and took the entry for one it cannot apply.
    let at = ceil_to_millis(r.next_due()?);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&instant_bytes(at));
    k[8..].copy_from_slice(&r.id.get().to_be_bytes());
    Some(k)
}

/// `at`, or the next whole millisecond after it.
fn ceil_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let sub = at.timestamp_subsec_nanos() % 1_000_000;
    if sub == 0 {
        return at;
    }
    at + chrono::Duration::nanoseconds(i64::from(1_000_000 - sub))
}

/// The greatest key of an entry due at or before `now` (read inclusively).
pub(super) fn due_bound(now: DateTime<Utc>) -> [u8; 16] {
    let mut k = [0xffu8; 16];
    k[..8].copy_from_slice(&instant_bytes(now));
    k
}

/// Reads a due-index key back: when, and which request.
pub(super) fn parse_due_key(k: &[u8]) -> Option<(DateTime<Utc>, RequestId)> {
    let at = instant_of(<[u8; 8]>::try_from(k.get(..8)?).ok()?)?;
    let id = u64::from_be_bytes(<[u8; 8]>::try_from(k.get(8..16)?).ok()?);
    Some((at, RequestId::new(id)))
}

/// Reads the id out of a status-index key.
pub(super) fn parse_status_key(k: &[u8]) -> Option<RequestId> {
    let id = u64::from_be_bytes(<[u8; 8]>::try_from(k.get(1..9)?).ok()?);
    Some(RequestId::new(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn subjects_never_share_a_prefix_by_shifting_text_between_fields() {
        let a = subject_prefix("dave@example.test", "sign", "web-01");
        let b = subject_prefix("dave@example.test", "signweb", "-01");
        let c = subject_prefix("dave@example.test", "sign", "web-011");
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
        assert!(!c.starts_with(&a), "a longer resource is another subject");
    }

    /// Regression: the key held the instant rounded down to the
    /// millisecond, so the timer could wake just before a request was due
    /// and leave it for the stuck pause. The key is never before the
    /// instant, and an entry read as due is due.
    #[test]
    fn regression_a_due_key_is_never_earlier_than_the_instant() {
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
        for nanos in [0, 1, 999_999, 1_000_000, 1_000_001, 123_456_789] {
            let at = base + Duration::nanoseconds(nanos);
            let key = ceil_to_millis(at);
            assert!(key >= at, "{nanos}");
            assert!(key - at < Duration::milliseconds(1), "{nanos}");
            assert_eq!(key.timestamp_subsec_nanos() % 1_000_000, 0, "{nanos}");
        }
    }

    #[test]
    fn instants_sort_as_bytes_and_read_back() {
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
        let instants = [
            Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(),
            Utc.timestamp_millis_opt(-1).unwrap(),
            Utc.timestamp_millis_opt(0).unwrap(),
            base,
            base + Duration::milliseconds(1),
            base + Duration::days(3650),
        ];
        for pair in instants.windows(2) {
            assert!(instant_bytes(pair[0]) < instant_bytes(pair[1]), "{pair:?}");
        }
        for at in instants {
            assert_eq!(instant_of(instant_bytes(at)), Some(at));
        }
    }

    #[test]
    fn the_bound_covers_everything_due_at_now_and_nothing_later() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
        let key = |at: DateTime<Utc>, id: u64| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&instant_bytes(at));
            k[8..].copy_from_slice(&id.to_be_bytes());
            k
        };
        assert!(key(now, u64::MAX) <= due_bound(now));
        assert!(key(now - Duration::milliseconds(1), 1) < due_bound(now));
        assert!(key(now + Duration::milliseconds(1), 0) > due_bound(now));
        assert_eq!(
            parse_due_key(&key(now, 42)),
            Some((now, RequestId::new(42)))
        );
    }
}
