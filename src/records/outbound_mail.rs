//! A fully composed outgoing mail, as it waits in the outbox. Composing before
//! queueing means the outbox holds exactly what will be sent, whatever
//! happens to templates or configuration before delivery.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{Address, RequestId};

/// Why approvald sends a mail; kept for the audit trail and the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum MailPurpose {
    /// Asks an approver for a decision.
    ApprovalRequest,
    /// Tells the requester their request was received.
    Received,
    /// Tells the requester the final outcome.
    Decided,
    /// Explains to a human why their reply could not be used.
    Explanation,
    /// Tells of an emergency, a cancel, a revoke or an override.
    Notice,
}

/// One mail to one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboundMail {
    pub(crate) purpose: MailPurpose,
    /// The request it is about, if any.
    pub(crate) request: Option<RequestId>,
    pub(crate) to: Address,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: Option<String>,
    /// Message-ID without angle brackets; stable so that a resend after a
    /// crash is recognisably the same mail.
    pub(crate) message_id: String,
    /// Where replies go: the plus-address carrying the token.
    pub(crate) reply_to: Option<Address>,
    pub(crate) in_reply_to: Option<String>,
    pub(crate) references: Vec<String>,
    /// `auto-generated` for notifications, `auto-replied` for explanations.
    pub(crate) auto_submitted: String,
}
