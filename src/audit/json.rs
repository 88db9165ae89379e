//! CEE JSON lines: an RFC 5424 header without structured data and MSG
//! `@cee:{…}`, the cookie rsyslog's mmjsonparse and syslog-ng look for. For
//! SIEMs (Wazuh, for one) that drop RFC 5424 structured data.

use serde::Serialize;

use super::format::Origin;
use super::rfc5424;
use crate::records::audit_chain::{hex, Sealed};
use crate::records::AuditEvent;

/// What precedes the JSON object in MSG.
pub(crate) const CEE_COOKIE: &str = "@cee:";

/// The JSON object. Field names are stable: SIEM rules depend on them.
/// `audit export` writes the same object, one per line.
#[derive(Serialize)]
pub(crate) struct Object<'a> {
    /// The sealed fields, flattened (`seq`, `ts`, `kind`, …, `message`).
    #[serde(flatten)]
    sealed: &'a Sealed,
    /// CEE's own name for the human-readable text, for tools that know
    /// only that one.
    msg: &'a str,
    /// Syslog severity name.
    severity: &'static str,
    /// The previous event's hash (hex), absent for unchained events.
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<String>,
    /// This event's hash (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    /// Which software wrote the line, as RFC 5424's origin element says.
    software: &'static str,
    /// Its version.
    #[serde(rename = "swVersion")]
    sw_version: &'static str,
    /// The enterprise number the RFC 5424 format would use (absent in
    /// exports, which are not tied to one collector's configuration).
    #[serde(rename = "enterpriseId", skip_serializing_if = "Option::is_none")]
    enterprise: Option<u32>,
}

impl<'a> Object<'a> {
    /// The object for `event`, whose sealed fields are `sealed`.
    pub(crate) fn new(event: &AuditEvent, sealed: &'a Sealed, enterprise: Option<u32>) -> Self {
        let link = event.link;
        Object {
            sealed,
            msg: &sealed.message,
            severity: event.kind.severity().name(),
            prev: link.map(|l| hex(&l.prev)),
            hash: link.map(|l| hex(&l.hash)),
            software: "approvald",
            sw_version: env!("CARGO_PKG_VERSION"),
            enterprise,
        }
    }

    /// One line of JSON: serde_json escapes every control character, and
    /// a struct of strings and numbers always serialises.
    pub(crate) fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats one event as a CEE JSON line.
pub(crate) fn format(event: &AuditEvent, origin: &Origin, procid: u32) -> String {
    let sealed = Sealed::of(event, event.link.map_or(0, |l| l.seq));
    let mut out = rfc5424::header(event, origin, procid, &sealed.ts);
    out.push_str(" - ");
    out.push_str(CEE_COOKIE);
    out.push_str(&Object::new(event, &sealed, Some(origin.enterprise)).to_line());
    out
}
