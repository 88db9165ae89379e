//! Answers as text for people: one line per request in lists, a summary for
//! one request, pretty JSON on request; nothing from the daemon reaches the
//! terminal unfiltered.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::{Failure, EXIT_API_ERROR};
use crate::api::views::{RequestView, WindowView};

pub(super) fn request_view(answer: Value) -> Result<RequestView, Failure> {
    serde_json::from_value(answer)
        .map_err(|e| Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}")))
}

pub(super) fn pretty(v: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::new(EXIT_API_ERROR, e))
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn window(w: &WindowView) -> String {
    format!("{} to {}", time(&w.start), time(&w.end))
}

/// One line of `request list`.
pub(super) fn line(r: &RequestView) -> String {
    format!(
        "{}  {}  {}/{}  {}  {}  {}  {}\n",
        clean(&r.id),
        clean(&r.status),
        r.level,
        r.levels,
        clean(&r.requester),
        clean(&r.action),
        clean(&r.resource),
        window(&r.window),
    )
}

/// The human summary of `request show`.
pub(super) fn summary(r: &RequestView) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "{}  {}  level {}/{}",
        clean(&r.id),
        clean(&r.status),
        r.level,
        r.levels
    )
    .ok();
    let mut field = |name: &str, value: String| {
        writeln!(s, "  {:<15} {}", format!("{name}:"), value).ok();
    };
    field("requester", clean(&r.requester));
    field("action", clean(&r.action));
    field("resource", clean(&r.resource));
    field("reason", clean(&r.reason));
    field("governance", clean(&r.governance_code));
    field("group", clean(&r.group));
    field("justification", clean(&r.justification));
    field("window", window(&r.window));
    if r.granted_window != r.window {
        field("granted", window(&r.granted_window));
    }
    field("created", time(&r.created_at));
    field("deadline", time(&r.deadline));
    if let Some(closed) = &r.closed_at {
        field("closed", time(closed));
    }
    if r.decisions.is_empty() {
        field("decisions", "none".to_owned());
    } else {
        field("decisions", String::new());
    }
    for d in &r.decisions {
        write!(
            s,
            "    level {}  {:<10}  {}  {}  via {}",
            d.level,
            clean(&d.verb),
            clean(&d.approver),
            time(&d.at),
            clean(&d.channel)
        )
        .ok();
        if let Some(w) = &d.window {
            write!(s, "  window {}", window(w)).ok();
        }
        if !d.comment.is_empty() {
            write!(s, "  \"{}\"", clean(&d.comment)).ok();
        }
        s.push('\n');
    }
    s
}

/// Makes text from the daemon safe to print on a terminal: control
/// characters (which could move the cursor or rewrite earlier lines, and
/// comments come from mail anyone can send) and bidirectional overrides are
/// shown escaped.
pub(super) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_terminal_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that act on a terminal instead of showing: controls, and
/// the overrides that reverse the order in which text is displayed.
pub(super) fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
