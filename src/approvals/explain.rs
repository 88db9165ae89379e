//! Answers to people whose reply could not be used: why, and what to send
//! instead. Capped per sender and day, never sent to automated mail, so
//! approvald can neither loop with a robot nor be used as a mail cannon.

use chrono::{DateTime, Utc};

use super::settings::Settings;
use super::Approvals;
use crate::domain::ids::{Address, RequestId};
use crate::mail::parse::InboundMail;
use crate::records::{Explained, OutboundMail};
use crate::store::StoreError;

/// At most this many explanatory answers per sender and day: enough for a
/// person to correct a mistake, too few to be a mail cannon.
const EXPLANATIONS_PER_DAY: u32 = 3;

/// Leave to send one explanation, counted against the sender's day when the
/// explanation is actually queued.
#[derive(Clone, Debug)]
pub(super) struct Allowance {
    /// The counter the explanation increments.
    pub(super) explained: Explained,
}

impl Approvals {
    /// Whether the sender of `mail` may be sent an explanation now: a human
    /// (not an automated message) with a From address, under the daily cap.
    pub(super) fn allowance_for(
        &self,
        mail: &InboundMail,
        now: DateTime<Utc>,
    ) -> Result<Option<Allowance>, StoreError> {
        let Some(from) = mail.from.as_deref().filter(|_| mail.automated.is_none()) else {
            return Ok(None);
        };
        let day = now.format("%Y-%m-%d").to_string();
        if self.store.explained_count(from, &day)? >= EXPLANATIONS_PER_DAY {
            tracing::info!(sender = from, "explanation cap reached; not answering");
            return Ok(None);
        }
        Ok(Some(Allowance {
            explained: Explained {
                sender: from.to_string(),
                day,
            },
        }))
    }

    /// The explanatory answer to `mail`, if it can be composed.
    pub(super) fn explanation_for(
        &self,
        s: &Settings,
        mail: &InboundMail,
        why: &str,
        request: Option<RequestId>,
        allowance: &Allowance,
    ) -> Option<OutboundMail> {
        let to: Address = allowance.explained.sender.parse().ok()?;
        s.composer
            .explanation(
                &to,
                &mail.redacted_subject(),
                mail.message_id.as_deref(),
                why,
                request,
            )
            .map_err(|e| tracing::error!(error = %e, "cannot compose an explanation"))
            .ok()
    }
}
