//! ArcSight Common Event Format lines: an RFC 5424 header without
//! structured data and MSG `CEF:0|approvald|approvald|version|kind|name|
//! severity|extension`.

use super::format::Origin;
use super::rfc5424;
use crate::records::audit_chain::{hex, Sealed};
use crate::records::{AuditEvent, Severity};

/// Longest CEF Name: the message, cut (the whole text is in `msg=`).
const NAME_MAX: usize = 512;

/// Formats one event as a CEF line.
pub(crate) fn format(event: &AuditEvent, origin: &Origin, procid: u32) -> String {
    let link = event.link;
    let sealed = Sealed::of(event, link.map_or(0, |l| l.seq));
    let mut out = rfc5424::header(event, origin, procid, &sealed.ts);
    out.push_str(" - CEF:0|approvald|approvald|");
    out.push_str(&header_value(env!("CARGO_PKG_VERSION")));
    out.push('|');
    out.push_str(&header_value(&sealed.kind));
    out.push('|');
    let (name, _) = crate::records::audit_chain::cap_bytes(&sealed.message, NAME_MAX);
    out.push_str(&header_value(if name.is_empty() {
        &sealed.kind
    } else {
        name
    }));
    out.push('|');
    out.push_str(&cef_severity(event.kind.severity()).to_string());
    out.push('|');
    let level = sealed.level.map(|l| l.to_string());
    let seq = link.map(|l| l.seq.to_string());
    let prev = link.map(|l| hex(&l.prev));
    let hash = link.map(|l| hex(&l.hash));
    let rt = event.at.timestamp_millis().to_string();
    let pid = procid.to_string();
    let ext: [(&str, Option<&str>); 21] = [
        ("rt", Some(rt.as_str())),
        ("dvchost", Some(origin.host.as_str())),
        ("dvcpid", Some(pid.as_str())),
        ("externalId", seq.as_deref()),
        ("cn1Label", seq.as_ref().map(|_| "sequenceId")),
        ("cn1", seq.as_deref()),
        ("suser", sealed.actor.as_deref()),
        ("act", sealed.action.as_deref()),
        ("outcome", Some(sealed.outcome.as_str())),
        ("reason", sealed.reason.as_deref()),
        ("cs1Label", sealed.request.as_ref().map(|_| "request")),
        ("cs1", sealed.request.as_deref()),
        ("cs2Label", sealed.resource.as_ref().map(|_| "resource")),
        ("cs2", sealed.resource.as_deref()),
        ("cn2Label", level.as_ref().map(|_| "level")),
        ("cn2", level.as_deref()),
        ("cs5Label", prev.as_ref().map(|_| "chainPrev")),
        ("cs5", prev.as_deref()),
        ("cs6Label", hash.as_ref().map(|_| "chainHash")),
        ("cs6", hash.as_deref()),
        ("msg", Some(sealed.message.as_str())),
    ];
    let mut first = true;
    for (key, value) in ext {
        let Some(value) = value else { continue };
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(key);
        out.push('=');
        out.push_str(&extension_value(value));
    }
    out
}

/// CEF severity 0–10 from the syslog severity: 10 is the most urgent.
fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Emergency => 10,
        Severity::Alert => 9,
        Severity::Critical => 8,
        Severity::Error => 7,
        Severity::Warning => 5,
        Severity::Notice => 3,
        Severity::Informational => 1,
        Severity::Debug => 0,
    }
}

/// Header fields escape `\` and `|`.
fn header_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Extension values escape `\` and `=`; sealed values hold no line breaks.
fn extension_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
