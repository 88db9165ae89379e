//! Backup, restore and a health check of the store, in versioned JSON
//! lines that outlive sled's own file format:
//!
//! ```text
//! {"format":"approvald-store-export","version":1,"record_version":1,…}
//! {"tree":"requests","key":"<hex>","value":{…record…}}
//! {"tree":"meta","key":"<hex>","bytes":"<hex>"}
//! {"end":{"entries":N}}
//! ```
//!
//! Derived indexes are not exported (an import rebuilds them), nor the
//! store's identity (a restored store gets a new one, so it never repeats
//! a Message-ID the original sent after the backup). The closing line
//! makes a cut-off file fail to import instead of restoring half a store.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codec::{decode, RECORD_VERSION};
use super::{Store, StoreError, AUDIT_HEAD, STORE_ID};
use crate::audit::verify::Verifier;
use crate::domain::request::Request;
use crate::records::audit_chain::Sealed;
use crate::records::{AuditEvent, OutboundMail, OutboundWebhook, Seen};

/// What the first line says the file is.
const FORMAT: &str = "approvald-store-export";
/// The layout of the export file itself.
const EXPORT_VERSION: u32 = 1;

/// The trees an export carries, and how each one's records are read.
const TREES: [(&str, Kind); 11] = [
    ("requests", Kind::Request),
    ("outbox", Kind::Mail),
    ("audit", Kind::Audit),
    ("audit_log", Kind::Audit),
    ("webhooks", Kind::Webhook),
    ("seen_uid", Kind::Seen),
    ("seen_message_id", Kind::Seen),
    ("explained", Kind::Counter),
    ("meta", Kind::Meta),
    ("quarantine", Kind::Opaque),
    ("__sled__default", Kind::Opaque),
];

/// How a tree's values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Mail,
    Audit,
    Webhook,
    Seen,
    /// A 4-byte count.
    Counter,
    /// Counters and markers of various shapes.
    Meta,
    /// Kept as they are, never interpreted (quarantined records).
    Opaque,
}

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    record_version: u32,
    /// The exported store's identity, for the operator's records.
    store_id: String,
    exported_at: chrono::DateTime<chrono::Utc>,
}

/// One entry, or the closing line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Entry {
        tree: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<String>,
    },
    End {
        end: EndMark,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct EndMark {
    entries: u64,
}

/// What `store check` found.
#[derive(Debug, Default)]
pub(crate) struct CheckReport {
    /// Records read per tree.
    pub(crate) counts: Vec<(String, u64)>,
    /// Every record that could not be read, and every broken invariant.
    pub(crate) problems: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

fn unhex(s: &str) -> Result<Vec<u8>, StoreError> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .map_err(|e| StoreError::Import(format!("bad hex {s:?}: {e}")))
}

impl Store {
    /// Writes the whole store to `out`. Writers wait meanwhile, so the
    /// file is one consistent moment (a reply or timer waits a moment, it
    /// is not refused).
    pub(crate) fn export(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        out: &mut dyn Write,
    ) -> Result<u64, StoreError> {
        let _still = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let io = |e: std::io::Error| StoreError::Flush(format!("export: {e}"));
        let header = Header {
            format: FORMAT.into(),
            version: EXPORT_VERSION,
            record_version: RECORD_VERSION,
            store_id: self.id.to_string(),
            exported_at: now,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&header).unwrap_or_default()
        )
        .map_err(io)?;
        let mut entries = 0u64;
        for (name, kind) in TREES {
            let tree = self.db.open_tree(name)?;
            for item in tree.iter() {
                let (k, v) = item?;
                if name == "meta" && is_derived_or_identity(&k) {
                    continue;
                }
                let json = match kind {
                    Kind::Counter | Kind::Meta | Kind::Opaque => None,
                    _ => serde_json::from_slice::<Value>(&v).ok(),
                };
                let line = Line::Entry {
                    tree: name.into(),
                    key: hex(&k),
                    bytes: json.is_none().then(|| hex(&v)),
                    value: json,
                };
                writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())
                    .map_err(io)?;
                entries += 1;
            }
        }
        let end = Line::End {
            end: EndMark { entries },
        };
        writeln!(out, "{}", serde_json::to_string(&end).unwrap_or_default()).map_err(io)?;
        Ok(entries)
    }

    /// Creates a store in `dir` from an export: refused where a store
    /// exists, for a file of an unknown or newer version, and for a file
    /// cut short. The new store gets a fresh identity and rebuilt indexes,
    /// and is checked before this returns.
    pub(crate) fn import(dir: &Path, input: &mut dyn BufRead) -> Result<Store, StoreError> {
        let bad = |why: String| StoreError::Import(why);
        let mut lines = input.lines();
        let first = lines
            .next()
            .ok_or_else(|| bad("the file is empty".into()))?
            .map_err(|e| bad(e.to_string()))?;
        let header: Header = serde_json::from_str(&first)
            .map_err(|e| bad(format!("not an approvald store export: {e}")))?;
        if header.format != FORMAT || header.version != EXPORT_VERSION {
            return Err(bad(format!(
                "export format {} version {} is not one this build reads ({FORMAT} {EXPORT_VERSION})",
                header.format, header.version
            )));
        }
        if header.record_version > RECORD_VERSION {
            return Err(bad(format!(
                "records of version {} were written by a newer build (this one reads up to {RECORD_VERSION})",
                header.record_version
            )));
        }
        let mut entries: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut skipped = 0u64;
        let mut ended = None;
        for (n, line) in lines.enumerate() {
            let line = line.map_err(|e| bad(e.to_string()))?;
            if ended.is_some() {
                return Err(bad(format!("line {}: data after the end mark", n + 2)));
            }
            match serde_json::from_str::<Line>(&line)
                .map_err(|e| bad(format!("line {}: {e}", n + 2)))?
            {
                Line::Entry {
                    tree,
                    key,
                    value,
                    bytes,
                } => {
                    if !TREES.iter().any(|(t, _)| *t == tree) {
                        return Err(bad(format!("line {}: unknown tree {tree:?}", n + 2)));
                    }
                    let v = match (value, bytes) {
                        (Some(v), None) => {
                            serde_json::to_vec(&v).map_err(|e| bad(e.to_string()))?
                        }
                        (None, Some(b)) => unhex(&b)?,
                        _ => return Err(bad(format!("line {}: needs value or bytes", n + 2))),
                    };
                    let key = unhex(&key)?;
                    // Never taken from a file: the identity (a restored
                    // store gets its own) and what is derived (rebuilt).
                    if tree == "meta" && is_derived_or_identity(&key) {
                        skipped += 1;
                        continue;
                    }
                    entries.push((tree, key, v));
                }
                Line::End { end } => ended = Some(end.entries),
            }
        }
        match ended {
            Some(n) if n == entries.len() as u64 + skipped => {}
            Some(n) => {
                return Err(bad(format!(
                    "the file says {n} entries but holds {}",
                    entries.len()
                )))
            }
            None => return Err(bad("no end mark: the file was cut short".into())),
        }
        let existed = dir.exists();
        let store = Store::init(dir)?;
        match store.fill(entries) {
            Ok(()) => Ok(store),
            Err(e) => {
                // Leave no half-restored store behind for the daemon to
                // start on: remove what this import created.
                drop(store);
                if !existed {
                    if let Err(rm) = std::fs::remove_dir_all(dir) {
                        tracing::warn!(error = %rm, "cannot remove the failed import");
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes imported entries into this new store, rebuilds what is
    /// derived, and checks the result.
    fn fill(&self, entries: Vec<(String, Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        {
            let _alone = self.writers.write().unwrap_or_else(|e| e.into_inner());
            for name in super::SPOOLS {
                self.meta.remove(super::spool_counter(name))?;
            }
            // The file's, if it has one; otherwise set past its trail below.
            self.meta.remove(super::audit_queue::AUDIT_SHIPPED)?;
            for (tree, k, v) in entries {
                self.db.open_tree(tree)?.insert(k, v)?;
            }
            self.meta.remove(b"index_version")?;
            self.reindex_if_needed()?;
            // Counts are derived: made again from the rebuilt index.
            for status in crate::domain::request::Status::ALL {
                self.meta.remove(super::count_key(status))?;
            }
            // An export from a build whose spool keys came from sled.
            self.start_spool_counters()?;
            // An export from a build that spooled a copy of each event.
            self.audit.start_cursor()?;
            self.db.flush()?;
        }
        self.count_statuses_if_needed()?;
        let report = self.check()?;
        if !report.problems.is_empty() {
            return Err(StoreError::Import(format!(
                "the imported store does not check: {}",
                report.problems.join("; ")
            )));
        }
        Ok(())
    }

    /// Reads every record as the daemon would, and checks the audit trail's
    /// chain and head.
    pub(crate) fn check(&self) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        let mut chain = Verifier::default();
        for (name, kind) in TREES {
            let tree = self.db.open_tree(name)?;
            let mut count = 0u64;
            for item in tree.iter() {
                let (k, v) = item?;
                count += 1;
                let problem = match kind {
                    Kind::Request => decode::<Request>(&k, &v).err().map(|e| e.to_string()),
                    Kind::Mail => decode::<OutboundMail>(&k, &v).err().map(|e| e.to_string()),
                    Kind::Webhook => decode::<OutboundWebhook>(&k, &v)
                        .err()
                        .map(|e| e.to_string()),
                    Kind::Seen => decode::<Seen>(&k, &v).err().map(|e| e.to_string()),
                    Kind::Audit => match decode::<AuditEvent>(&k, &v) {
                        Err(e) => Some(e.to_string()),
                        Ok(e) => {
                            if name == "audit_log" {
                                match e.link {
                                    Some(l) => chain.feed(l, &Sealed::of(&e, l.seq)),
                                    None => {
                                        report.problems.push(format!(
                                            "audit_log/{}: event without a chain link",
                                            hex(&k)
                                        ));
                                    }
                                }
                            }
                            None
                        }
                    },
                    Kind::Counter => (v.len() != 4).then(|| "not a 4-byte count".to_string()),
                    Kind::Meta => meta_problem(&k, &v),
                    Kind::Opaque => None,
                };
                if let Some(p) = problem {
                    report
                        .problems
                        .push(format!("{name}/{}: {p}", String::from_utf8_lossy(&k)));
                }
            }
            report.counts.push((name.to_string(), count));
        }
        report
            .problems
            .extend(chain.findings.iter().map(|f| format!("audit trail: {f}")));
        let head = self
            .meta
            .get(AUDIT_HEAD)?
            .and_then(|v| super::audit_head(&v));
        if head != chain.head() {
            report.problems.push(format!(
                "audit trail: the head record ({:?}) is not the last event ({:?})",
                head.map(|h| h.0),
                chain.head().map(|h| h.0)
            ));
        }
        if let Err(e) = self.audit.cursor() {
            report.problems.push(format!("audit queue: {e}"));
        }
        Ok(report)
    }
}

/// Meta keys an export leaves out and an import ignores: the store's
/// identity and what is rebuilt from the records.
fn is_derived_or_identity(k: &[u8]) -> bool {
    k == STORE_ID || k == b"index_version" || k == super::COUNTS_KEPT || k.starts_with(b"count/")
}

fn meta_problem(k: &[u8], v: &[u8]) -> Option<String> {
    let want = match k {
        b"request_seq" => 8,
        b"index_version" => 4,
        k if k.starts_with(b"next_key/") || k.starts_with(b"count/") => 8,
        super::audit_queue::AUDIT_SHIPPED => 8,
        AUDIT_HEAD => 40,
        STORE_ID => return v.is_empty().then(|| "empty store id".to_string()),
        _ => return None,
    };
    (v.len() != want).then(|| format!("{} bytes, expected {want}", v.len()))
}
