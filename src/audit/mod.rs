//! The audit trail: every event a security reviewer may ask about, as
//! RFC 5424 syslog lines for the SIEM.
//!
//! What is recorded is `records::AuditEvent` (beneath the store); `rfc5424` turns an event into one
//! line, `transport` delivers lines to a collector, and `shipper` moves
//! events from the store's audit trail (from the shipper's cursor) to the
//! transport.

pub(crate) mod cef;
pub(crate) mod format;
pub(crate) mod json;
pub(crate) mod read_back;
pub(crate) mod rfc5424;
pub(crate) mod shipper;
pub(crate) mod tls;
pub(crate) mod transport;
pub(crate) mod verify;

pub(crate) use transport::SyslogTarget;
