//! Delivery of the outbox over SMTP.
//!
//! The outbox (in the store) holds fully composed mails; this module turns
//! each into a MIME message, hands it to the submission server and removes
//! it only once the server has accepted it. A mail is therefore never lost.
//! It can be sent twice when the server's acceptance does not reach the
//! outbox: the process dies (or is stopped mid-send) between the server's
//! acceptance and the removal, or the acceptance arrives after the send
//! timeout. Its Message-ID is stable, so clients can recognise the
//! duplicate.
//!
//! Retry policy:
//! - A permanent refusal that concerns this mail (a 5xx reply with a
//!   recipient, mailbox or content status such as 5.1.1) will never succeed:
//!   the mail is audited as `MailFailed` (outcome `failed`) and removed.
//! - Everything else is kept and retried with capped exponential backoff
//!   (1 s doubling to 60 s) per mail. A failure that concerns the server
//!   rather than the mail (no connection, TLS, timeout, authentication, 421,
//!   or a 5xx policy refusal that may be a configuration error) also pauses
//!   all sending with the same backoff, so an outage costs one connection
//!   attempt per pause, not one per queued mail. Mails that have failed less
//!   often are tried first, so one undeliverable mail cannot hold up the rest.
//! - Retries are logged every time but audited once per mail, when it has
//!   failed [`OutboxPacing::audit_after`] times in a row (outcome
//!   `deferred`): the audit trail shows every stuck mail without one line per
//!   retry. The count lives in memory and restarts with the process.
//!
//! `message` builds the MIME message from an outbox record, `connector`
//! opens SMTP connections (TCP_NODELAY, TLS, login), `pool` keeps idle
//! ones, `transport` sends over them and sorts the answers, and `worker` runs the outbox: what to send next, retries,
//! pauses and the audit of each outcome.

mod connector;
mod message;
mod pool;
mod transport;
mod worker;

pub(crate) use transport::Mailer;
pub(crate) use worker::{run_outbox, STALL_BOUND as OUTBOX_STALL_BOUND};

/// Mails in flight at once (and pooled SMTP connections): each transaction
/// spends most of its time waiting for the server's replies, so a few in
/// parallel keep a backlog moving without hammering the relay.
pub(super) const SEND_CONCURRENCY: usize = 4;

#[cfg(test)]
pub(super) mod test_support {
    //! Records and helpers the tests of every part share.

    use std::time::{Duration, SystemTime};

    use lettre::message::Mailbox;

    use super::message::from_mailbox;
    use crate::domain::ids::{Address, RequestId};
    use crate::records::{MailPurpose, OutboundMail};

    pub(crate) fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    pub(crate) fn mail(n: u64) -> OutboundMail {
        OutboundMail {
            purpose: MailPurpose::ApprovalRequest,
            request: Some(RequestId::new(7)),
            to: addr(&format!("approver{n}@example.test")),
            subject: format!("[AR-7] Approval needed {n} – Genehmigung"),
            text:
                "##- Please type your reply above this line -##\nHallo Jörg\nApproval token: abc\n"
                    .into(),
            html: Some("<p>Hallo J&ouml;rg</p>".into()),
            message_id: format!("approvald.AR-7.request.1.{n}@example.test"),
            reply_to: Some(addr("approvals+abc@example.test")),
            in_reply_to: Some("root@example.test".into()),
            references: vec!["root@example.test".into(), "other@example.test".into()],
            auto_submitted: "auto-generated".into(),
        }
    }

    pub(crate) fn from() -> Mailbox {
        from_mailbox("Access approvals", &addr("approvals@example.test")).unwrap()
    }

    pub(crate) fn date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
    }

    /// A body as sent, with the wire's CRLF line ends and the final line
    /// break MIME adds taken back out.
    pub(crate) fn lf(body: Option<std::borrow::Cow<'_, str>>) -> String {
        body.unwrap_or_default()
            .replace("\r\n", "\n")
            .trim_end()
            .to_string()
    }
}
