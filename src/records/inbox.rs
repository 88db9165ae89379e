//! What is remembered about inbox messages: which were handled (so none is
//! applied twice, even across restarts and UIDVALIDITY changes) and whom
//! approvald answered (so explanations stay under their daily cap).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::RequestId;

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
    /// Big-endian UIDVALIDITY then UID, so keys sort by mailbox incarnation
    /// and arrival.
    pub(crate) fn bytes(self) -> [u8; 8] {
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
    /// Its Message-ID together with its From and its token candidates (see
    /// `approvals::inbox::dedup_key`), to recognise the same message under
    /// another IMAP identity. The Message-ID alone would let a mail that
    /// used a Message-ID first swallow a later genuine reply carrying it.
    #[serde(alias = "message_id")]
    pub(crate) dedup_key: Option<String>,
    /// Where it belongs, so a restart can finish the move.
    pub(crate) disposition: Disposition,
    /// The request its token named, if any: the record is kept while that
    /// request may still be answered, and pruned a retention period after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<RequestId>,
    /// When it was handled.
    pub(crate) at: DateTime<Utc>,
}

/// One explanation sent to `sender` at `at`, counted against the sender's
/// daily cap and the hourly cap on all explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explained {
    /// Who was answered (lower-case address).
    pub(crate) sender: String,
    /// When: the UTC day and hour the caps apply to.
    pub(crate) at: DateTime<Utc>,
}

impl Explained {
    /// The per-sender counter's key: day first, so one day's counters sit
    /// together and old days can be pruned by range.
    pub(crate) fn sender_key(sender: &str, at: DateTime<Utc>) -> Vec<u8> {
        format!("{}/{}", at.format("%Y-%m-%d"), sender).into_bytes()
    }

    /// The key of the counter of every explanation sent in `at`'s hour;
    /// `h` sorts after the digits of the per-sender keys.
    pub(crate) fn hour_key(at: DateTime<Utc>) -> Vec<u8> {
        format!("h/{}", at.format("%Y-%m-%dT%H")).into_bytes()
    }
}
