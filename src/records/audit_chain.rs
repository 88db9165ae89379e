//! The audit trail's numbering and hash chain.
//!
//! Each event gets the next sequence number (1, 2, 3, … with no gaps, kept
//! in the store with the event itself) and a link:
//! `hash = SHA-256(prev ‖ canonical)`, where `prev` is the previous event's
//! hash (32 zero bytes before the first). A collector that receives the
//! lines sees a lost line as a gap in the numbers and an altered, inserted
//! or removed line as a link that does not hold.
//!
//! What is hashed is [`Sealed`]: the event's fields exactly as every output
//! format shows them (capped, control characters flattened), so a verifier
//! can rebuild it from a line it reads back, whichever relay reformatted the
//! line's header on the way. The host name, PRI and PROCID are not in it:
//! relays legitimately rewrite them.

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The link before the first event.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// Tags the canonical form, so a later change of what is hashed can never
/// be mistaken for this one.
const CANONICAL_TAG: &str = "approvald-audit-1";

/// Caps on structured-data values, in bytes. Chosen so that even a
/// worst-case event (every value at its cap, every byte escaped) keeps its
/// header and structured data within the 8 KiB a UDP datagram is truncated
/// to: truncation then only ever shortens MSG.
pub(crate) const VALUE_MAX: usize = 256;
/// The reason may carry an approver's comment, so it gets more room.
pub(crate) const REASON_MAX: usize = 1024;

/// Marks a value that was cut to its cap.
const ELLIPSIS: char = '…';

/// An event's place in the trail, assigned in the transaction that records
/// it. Stored with hex hashes, as the lines show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "StoredLink", try_from = "StoredLink")]
pub(crate) struct Link {
    /// Its sequence number.
    pub(crate) seq: u64,
    /// The previous event's hash.
    pub(crate) prev: [u8; 32],
    /// Its own hash, which the next event links to.
    pub(crate) hash: [u8; 32],
}

/// [`Link`] as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLink {
    seq: u64,
    prev: String,
    hash: String,
}

impl From<Link> for StoredLink {
    fn from(l: Link) -> Self {
        StoredLink {
            seq: l.seq,
            prev: hex(&l.prev),
            hash: hex(&l.hash),
        }
    }
}

impl TryFrom<StoredLink> for Link {
    type Error = String;

    fn try_from(s: StoredLink) -> Result<Self, Self::Error> {
        match (unhex(&s.prev), unhex(&s.hash)) {
            (Some(prev), Some(hash)) => Ok(Link {
                seq: s.seq,
                prev,
                hash,
            }),
            _ => Err(format!("audit event {}: malformed chain hash", s.seq)),
        }
    }
}

/// An event's fields as every output format shows them, and as the chain
/// hashes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sealed {
    /// The event's sequence number.
    pub(crate) seq: u64,
    /// RFC 3339 UTC with microseconds, or `-` for an instant RFC 5424
    /// cannot express.
    pub(crate) ts: String,
    /// The event kind's name (also the syslog MSGID).
    pub(crate) kind: String,
    /// Machine-readable result.
    pub(crate) outcome: String,
    /// Request id text.
    pub(crate) request: Option<String>,
    /// Who acted.
    pub(crate) actor: Option<String>,
    /// The access asked for.
    pub(crate) action: Option<String>,
    /// What it applies to.
    pub(crate) resource: Option<String>,
    /// Approval level concerned.
    pub(crate) level: Option<u8>,
    /// Why, when the outcome needs explaining.
    pub(crate) reason: Option<String>,
    /// The human-readable sentence.
    pub(crate) message: String,
}

impl Sealed {
    /// The fields of `event` numbered `seq`, made safe to show.
    pub(crate) fn of(event: &AuditEvent, seq: u64) -> Sealed {
        let value = |v: &Option<String>| v.as_deref().map(|s| capped(s, VALUE_MAX));
        Sealed {
            seq,
            ts: timestamp(event.at),
            kind: event.kind.msgid().to_string(),
            outcome: capped(&event.outcome, VALUE_MAX),
            request: value(&event.request),
            actor: value(&event.actor),
            action: value(&event.action),
            resource: value(&event.resource),
            level: event.level,
            reason: event.reason.as_deref().map(|s| capped(s, REASON_MAX)),
            message: message(&event.message),
        }
    }

    /// The bytes the chain hashes: a JSON array in a fixed order, which any
    /// verifier can rebuild from the fields.
    pub(crate) fn canonical(&self) -> Vec<u8> {
        let doc = (
            CANONICAL_TAG,
            self.seq,
            &self.ts,
            &self.kind,
            &self.outcome,
            &self.request,
            &self.actor,
            &self.action,
            &self.resource,
            self.level,
            &self.reason,
            &self.message,
        );
        // A tuple of strings and numbers always serialises.
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// This event's hash, after `prev`.
    pub(crate) fn hash_after(&self, prev: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.canonical());
        h.finalize().into()
    }
}

/// Numbers `event` as the event after `head` (`None` before the first) and
/// links it.
pub(crate) fn link(event: &AuditEvent, head: Option<(u64, [u8; 32])>) -> Link {
    let (last, prev) = head.unwrap_or((0, GENESIS));
    let seq = last.saturating_add(1);
    Link {
        seq,
        prev,
        hash: Sealed::of(event, seq).hash_after(&prev),
    }
}

/// RFC 3339 with microseconds and `Z`, or NILVALUE for instants RFC 5424
/// cannot express (years outside 0000-9999).
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    if !(0..=9999).contains(&at.year()) {
        return "-".to_string();
    }
    // chrono encodes a leap second as nanoseconds >= 1e9, which would print
    // as ":60"; RFC 5424 forbids leap seconds, so stay in second 59.
    let at = if at.nanosecond() >= 1_000_000_000 {
        at.with_nanosecond(999_999_999).unwrap_or(at)
    } else {
        at
    };
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `s` cut to `max` bytes (marked with an ellipsis) and without control
/// characters.
fn capped(s: &str, max: usize) -> String {
    let (kept, cut) = cap_bytes(s, max);
    let mut out: String = kept.chars().map(flatten_control).collect();
    if cut {
        out.push(ELLIPSIS);
    }
    out
}

/// The message: one line, no control characters, no trailing blanks (a
/// relay may drop them, which must not look like tampering).
fn message(s: &str) -> String {
    let flat: String = s.chars().map(flatten_control).collect();
    flat.trim_end().to_string()
}

/// The longest prefix of `s` of at most `max` bytes ending on a char
/// boundary, and whether anything was cut.
pub(crate) fn cap_bytes(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or(""), true)
}

/// Line breaks and other control characters would let hostile text start
/// a forged log line; replace them with a space.
pub(crate) fn flatten_control(c: char) -> char {
    if c.is_control() {
        ' '
    } else {
        c
    }
}

/// Lower-case hex, as the lines carry hashes.
pub(crate) fn hex(bytes: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// A hash back from its hex form.
pub(crate) fn unhex(s: &str) -> Option<[u8; 32]> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::EventKind;
    use chrono::TimeZone;

    fn event(message: &str) -> AuditEvent {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 5, 14, 25, 0)
            .single()
            .unwrap_or_else(|| panic!("valid instant"));
        AuditEvent::new(at, EventKind::Approved, "approved", message)
            .with_request("AR-7")
            .with_actor("alice@example.test")
    }

    #[test]
    fn links_follow_each_other_from_genesis() {
        let first = link(&event("one"), None);
        assert_eq!((first.seq, first.prev), (1, GENESIS));
        let second = link(&event("two"), Some((first.seq, first.hash)));
        assert_eq!((second.seq, second.prev), (2, first.hash));
        assert_ne!(first.hash, second.hash);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = Sealed::of(&event("m"), 5);
        let h = base.hash_after(&GENESIS);
        type Change = fn(&mut Sealed);
        let variants: Vec<(&str, Change)> = vec![
            ("seq", |s| s.seq = 6),
            ("ts", |s| s.ts.push('1')),
            ("kind", |s| s.kind = "rejected".into()),
            ("outcome", |s| s.outcome = "rejected".into()),
            ("request", |s| s.request = Some("AR-8".into())),
            ("actor", |s| s.actor = None),
            ("action", |s| s.action = Some("sign".into())),
            ("resource", |s| s.resource = Some("x".into())),
            ("level", |s| s.level = Some(2)),
            ("reason", |s| s.reason = Some(String::new())),
            ("message", |s| s.message.push('.')),
        ];
        for (name, change) in variants {
            let mut s = base.clone();
            change(&mut s);
            assert_ne!(s.hash_after(&GENESIS), h, "{name} is not covered");
        }
        assert_ne!(base.hash_after(&[1; 32]), h, "prev is not covered");
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let mut a = Sealed::of(&event("m"), 1);
        a.reason = None;
        let mut b = a.clone();
        b.reason = Some(String::new());
        assert_ne!(a.canonical(), b.canonical());
    }

    #[test]
    fn sealed_fields_are_what_lines_can_carry() {
        let long = "x".repeat(VALUE_MAX + 10);
        let e = event("line one\nline two\t \r\n")
            .with_action(long.clone())
            .with_reason("a\u{7}b");
        let s = Sealed::of(&e, 1);
        assert_eq!(s.message, "line one line two");
        assert_eq!(s.reason.as_deref(), Some("a b"));
        let action = s.action.unwrap_or_default();
        assert!(action.ends_with(ELLIPSIS) && action.len() <= VALUE_MAX + 3);
    }

    #[test]
    fn hex_round_trips() {
        let h = link(&event("m"), None).hash;
        assert_eq!(unhex(&hex(&h)), Some(h));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"a".repeat(62)), None);
    }
}
