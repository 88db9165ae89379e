//! Answers to approvers whose reply could not be used: why, and what to send
//! instead. Sent only to the verified approver of a verified token — never
//! to a stranger, never for a tokenless mail, never to automated mail — and
//! never echoing anything the reply said. Capped per approver and day, and
//! for everyone together per hour, so approvald can neither loop with a
//! robot nor be used as a mail cannon.

use chrono::{DateTime, Utc};

use super::inbox::EmailReply;
use super::settings::Settings;
use super::Approvals;
use crate::domain::ids::{Address, RequestId};
use crate::records::{Explained, OutboundMail};
use crate::store::StoreError;

/// At most this many explanatory answers per approver and day: enough for a
/// person to correct a mistake, too few to be a mail cannon.
const EXPLANATIONS_PER_DAY: u32 = 3;

/// Fixed sentences an explanation may carry: approvald's own words, so that
/// no sender can make it mail text of their choosing.
pub(super) mod why {
    /// The reply's text did not carry a decision the grammar accepts.
    pub(crate) const NO_DECISION: &str =
        "your reply does not start with a clear APPROVE or DISAPPROVE";
    /// The message had no text that could be read.
    pub(crate) const UNREADABLE: &str = "the text of your reply could not be read";
    /// The window after APPROVE could not be granted.
    pub(crate) const WINDOW: &str = "the window after APPROVE could not be read or lies outside the window requested: write APPROVE 2h, APPROVE 90m, APPROVE until 18:00 or APPROVE until 2026-11-22 18:00";
}

/// An explanation to send, if the caps allow.
#[derive(Clone, Debug)]
pub(super) struct Explanation {
    /// The token's approver, who sent the reply.
    pub(super) to: Address,
    /// The request the token is for.
    pub(super) request: RequestId,
    /// One of approvald's own sentences (see [`why`]), never the reply's.
    pub(super) why: String,
}

impl Approvals {
    /// Whether the reply's sender is proven to be `approver`, as strongly as
    /// the sender rule can prove anyone, and a person: the only one who may
    /// be told why their reply was refused.
    pub(super) fn is_verified_approver(
        &self,
        s: &Settings,
        reply: &EmailReply<'_>,
        approver: &Address,
    ) -> bool {
        reply.mail.automated.is_none()
            && reply.sender.from.as_ref() == Some(approver)
            && (s.inbound.sender_rule.authserv_id().is_none() || reply.sender.authenticated)
    }

    /// Whether the caps still allow an explanation to `to` now.
    pub(super) fn may_explain_to(
        &self,
        s: &Settings,
        to: &Address,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.store.explained_to(to.as_str(), now)? >= EXPLANATIONS_PER_DAY {
            tracing::info!(approver = %to, "daily explanation cap reached; not answering");
            return Ok(false);
        }
        if self.store.explained_in_hour(now)? >= s.inbound.explanations_per_hour {
            tracing::warn!(
                cap = s.inbound.explanations_per_hour,
                "hourly explanation cap reached; not answering"
            );
            return Ok(false);
        }
        Ok(true)
    }
}

/// The explanation as mail to queue and the counter it increments, or
/// `None` when it cannot be composed. Pure: may run inside a transaction.
pub(super) fn compose(
    s: &Settings,
    in_reply_to: Option<&str>,
    x: &Explanation,
    now: DateTime<Utc>,
) -> Option<(OutboundMail, Explained)> {
    let mail = s
        .composer
        .explanation(&x.to, x.request, in_reply_to, &x.why)
        .map_err(|e| tracing::error!(error = %e, "cannot compose an explanation"))
        .ok()?;
    Some((
        mail,
        Explained {
            sender: x.to.as_str().to_string(),
            at: now,
        },
    ))
}
