//! The line formats a collector can be fed: RFC 5424 structured data (the
//! default), CEE JSON for SIEMs that cannot read structured data, and CEF
//! for ArcSight-style consumers. Every format carries the same sealed
//! fields, sequence number and chain hashes (see `records::audit_chain`).

use std::fmt;
use std::str::FromStr;

use super::rfc5424::{self, Facility};
use crate::records::AuditEvent;

/// The private enterprise number RFC 5612 reserves for documentation: the
/// default until an operator configures their organisation's own.
pub(crate) const DOCUMENTATION_ENTERPRISE: u32 = 32473;

/// Which line format audit events are shipped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// RFC 5424 with approvald's parameters as structured data.
    #[default]
    Rfc5424,
    /// RFC 5424 header, MSG `@cee:{json}` (rsyslog mmjsonparse, syslog-ng).
    Json,
    /// RFC 5424 header, MSG an ArcSight Common Event Format record.
    Cef,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rfc5424" => Ok(Format::Rfc5424),
            "json" => Ok(Format::Json),
            "cef" => Ok(Format::Cef),
            other => Err(format!(
                "{other:?} is not one of \"rfc5424\", \"json\", \"cef\""
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Rfc5424 => "rfc5424",
            Format::Json => "json",
            Format::Cef => "cef",
        })
    }
}

/// Identifies this process in every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// HOSTNAME.
    pub(crate) host: String,
    /// APP-NAME.
    pub(crate) app: String,
    /// The facility of PRI.
    pub(crate) facility: Facility,
    /// The private enterprise number of approvald's SD-ID
    /// (`approvald@<number>`), configurable because a SIEM may only accept
    /// the operator's registered number.
    pub(crate) enterprise: u32,
    /// Which format lines are written in.
    pub(crate) format: Format,
}

impl Origin {
    /// approvald's own structured-data id.
    pub(crate) fn sd_id(&self) -> String {
        format!("approvald@{}", self.enterprise)
    }
}

/// One event as one line in the configured format (no trailing newline).
pub(crate) fn line(event: &AuditEvent, origin: &Origin, procid: u32) -> String {
    match origin.format {
        Format::Rfc5424 => rfc5424::format(event, origin, procid),
        Format::Json => super::json::format(event, origin, procid),
        Format::Cef => super::cef::format(event, origin, procid),
    }
}
