//! Checks a run of chained events: numbers contiguous, every hash the hash
//! of its own fields after the previous one. What `audit verify` reports,
//! for the store's copy and for a collector's file alike.

use std::fmt;

use crate::records::audit_chain::{Link, Sealed, GENESIS};

/// One problem found in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Events are missing between two that were read.
    Gap {
        /// The last number before the gap.
        after: u64,
        /// The next number read.
        next: u64,
    },
    /// An event's fields do not hash to the hash it carries: altered.
    Altered {
        /// Its number.
        seq: u64,
    },
    /// An event does not link to the one before it: one was inserted,
    /// removed or replaced.
    Unlinked {
        /// Its number.
        seq: u64,
    },
    /// A number read again with different content.
    Conflict {
        /// The number.
        seq: u64,
    },
    /// Numbers went backwards (lines out of order, or a second trail).
    OutOfOrder {
        /// The number read.
        seq: u64,
        /// The highest number before it.
        after: u64,
    },
    /// The first event claims a predecessor although it is number 1, or
    /// none although it is later.
    BadStart {
        /// Its number.
        seq: u64,
    },
    /// A line of ours that could not be read.
    Damaged {
        /// Where (line number in a file).
        at: u64,
        /// Why.
        why: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Gap { after, next } => {
                let missing = next.saturating_sub(*after).saturating_sub(1);
                write!(
                    f,
                    "gap: {missing} event(s) missing after {after} (next is {next})"
                )
            }
            Finding::Altered { seq } => write!(
                f,
                "event {seq}: altered (its hash does not match its content)"
            ),
            Finding::Unlinked { seq } => {
                write!(f, "event {seq}: does not link to the event before it")
            }
            Finding::Conflict { seq } => {
                write!(f, "event {seq}: seen twice with different content")
            }
            Finding::OutOfOrder { seq, after } => {
                write!(f, "event {seq}: out of order (after {after})")
            }
            Finding::BadStart { seq } => write!(f, "event {seq}: event 1 must follow nothing"),
            Finding::Damaged { at, why } => write!(f, "line {at}: unreadable event: {why}"),
        }
    }
}

/// Feeds events in order; collects findings.
#[derive(Debug, Default)]
pub(crate) struct Verifier {
    /// The last event accepted: its number and hash.
    last: Option<(u64, [u8; 32])>,
    /// The first number seen.
    first: Option<u64>,
    /// Events checked (repeats not counted).
    pub(crate) events: u64,
    /// Identical repeats (a line sent again after a reconnect), harmless.
    pub(crate) repeats: u64,
    /// What is wrong.
    pub(crate) findings: Vec<Finding>,
}

impl Verifier {
    /// Checks the next event.
    pub(crate) fn feed(&mut self, link: Link, sealed: &Sealed) {
        if sealed.seq != link.seq || sealed.hash_after(&link.prev) != link.hash {
            self.findings.push(Finding::Altered { seq: link.seq });
        }
        match self.last {
            None => {
                if link.seq == 1 && link.prev != GENESIS {
                    self.findings.push(Finding::BadStart { seq: link.seq });
                }
                self.first = Some(link.seq);
            }
            Some((last, last_hash)) => {
                if link.seq <= last {
                    if link.seq == last && link.hash == last_hash {
                        self.repeats += 1;
                    } else if link.seq == last {
                        self.findings.push(Finding::Conflict { seq: link.seq });
                    } else {
                        self.findings.push(Finding::OutOfOrder {
                            seq: link.seq,
                            after: last,
                        });
                    }
                    return;
                }
                if link.seq != last + 1 {
                    self.findings.push(Finding::Gap {
                        after: last,
                        next: link.seq,
                    });
                } else if link.prev != last_hash {
                    self.findings.push(Finding::Unlinked { seq: link.seq });
                }
            }
        }
        self.last = Some((link.seq, link.hash));
        self.events += 1;
    }

    /// Records a line of ours that could not be read.
    pub(crate) fn damaged(&mut self, at: u64, why: String) {
        self.findings.push(Finding::Damaged { at, why });
    }

    /// The range of numbers checked.
    pub(crate) fn range(&self) -> Option<(u64, u64)> {
        Some((self.first?, self.last?.0))
    }

    /// The last number and hash, to continue from.
    pub(crate) fn head(&self) -> Option<(u64, [u8; 32])> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::audit_chain::link;
    use crate::records::{AuditEvent, EventKind};
    use chrono::{TimeZone, Utc};

    fn chain(n: u64) -> Vec<(Link, Sealed)> {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("instant"));
        let mut head = None;
        (0..n)
            .map(|i| {
                let e = AuditEvent::new(at, EventKind::Mailed, "sent", format!("mail {i}"));
                let l = link(&e, head);
                head = Some((l.seq, l.hash));
                (l, Sealed::of(&e, l.seq))
            })
            .collect()
    }

    fn verify(events: &[(Link, Sealed)]) -> Verifier {
        let mut v = Verifier::default();
        for (l, s) in events {
            v.feed(*l, s);
        }
        v
    }

    #[test]
    fn an_intact_chain_has_no_findings() {
        let v = verify(&chain(5));
        assert_eq!(v.findings, []);
        assert_eq!((v.events, v.range()), (5, Some((1, 5))));
    }

    #[test]
    fn tampering_table() {
        type Tamper = fn(&mut Vec<(Link, Sealed)>);
        let cases: [(&str, Tamper, Finding); 6] = [
            (
                "a line lost",
                |c| drop(c.remove(2)),
                Finding::Gap { after: 2, next: 4 },
            ),
            (
                "a field altered",
                |c| c[1].1.actor = Some("mallory@example.test".into()),
                Finding::Altered { seq: 2 },
            ),
            (
                "altered and re-hashed alone",
                |c| {
                    c[1].1.outcome = "approved".into();
                    c[1].0.hash = c[1].1.hash_after(&c[1].0.prev);
                },
                Finding::Unlinked { seq: 3 },
            ),
            (
                "a forged line, self-consistent but on another chain",
                |c| {
                    c[2].1.message = "forged".into();
                    c[2].0.prev = [9; 32];
                    c[2].0.hash = c[2].1.hash_after(&c[2].0.prev);
                },
                Finding::Unlinked { seq: 3 },
            ),
            (
                "a repeat that differs",
                |c| {
                    let mut again = c[2].clone();
                    again.1.message = "other".into();
                    again.0.hash = again.1.hash_after(&again.0.prev);
                    c.insert(3, again);
                },
                Finding::Conflict { seq: 3 },
            ),
            (
                "lines swapped",
                |c| c.swap(1, 2),
                Finding::Gap { after: 1, next: 3 },
            ),
        ];
        for (name, tamper, want) in cases {
            let mut c = chain(5);
            tamper(&mut c);
            let v = verify(&c);
            assert!(v.findings.contains(&want), "{name}: {:?}", v.findings);
        }
    }

    #[test]
    fn an_identical_repeat_is_counted_not_reported() {
        let mut c = chain(3);
        c.insert(2, c[1].clone());
        let v = verify(&c);
        assert_eq!((v.findings.len(), v.repeats, v.events), (0, 1, 3));
    }

    #[test]
    fn a_trail_may_start_later_but_one_must_start_at_genesis() {
        let c = chain(4);
        assert_eq!(verify(&c[2..]).findings, []);
        let mut c = chain(2);
        c[0].0.prev = [7; 32];
        c[0].0.hash = c[0].1.hash_after(&c[0].0.prev);
        assert!(verify(&c).findings.contains(&Finding::BadStart { seq: 1 }));
    }
}
