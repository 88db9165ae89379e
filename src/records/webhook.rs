//! A webhook call waiting in the store: written in the same transaction as
//! the state change that causes it, delivered (and retried) by the webhook
//! worker, like mail from the outbox.

use serde::{Deserialize, Serialize};

use crate::domain::ids::RequestId;

/// One POST to one URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboundWebhook {
    /// The request it is about, for the audit trail.
    pub(crate) request: RequestId,
    /// What happened (`access-ended`), also sent in the body.
    pub(crate) event: String,
    /// Where to POST: the group's `on_end` URL as it was when the request
    /// was made.
    pub(crate) url: String,
    /// The JSON body, fixed at commit time so a retry sends the same bytes.
    pub(crate) body: String,
}
