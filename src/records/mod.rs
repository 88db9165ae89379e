//! The records the store persists and the adapters produce or consume: an
//! audit event, a composed outgoing mail, the memory of a handled inbox
//! message. They sit beneath both the store and the adapters so that data
//! flows one way: the store imports nothing from `audit/` or `mail/`, and
//! the adapters share these types without reaching through each other.

pub(crate) mod audit_chain;
mod audit_event;
mod inbox;
mod outbound_mail;
mod webhook;

pub(crate) use audit_event::{AuditEvent, EventKind, Severity};
pub(crate) use inbox::{Disposition, Explained, MessageKey, Seen};
pub(crate) use outbound_mail::{MailPurpose, OutboundMail};
pub(crate) use webhook::OutboundWebhook;
