//! The approver's comment: the rest of the decision line and the lines typed under it.

use super::newtext::NewLine;
use super::noise;

/// Longest comment kept, in characters: enough for any real justification, bounded so
/// one reply cannot flood the audit log or the requester's notification.
const MAX_COMMENT_CHARS: usize = 2000;

/// Characters trimmed from the start of the comment ("APPROVE - fine", "DENY: freeze").
fn is_lead_punct(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':' | ',' | ';' | '.' | '!' | '|')
}

/// The comment for the decision on `lines[index]`, starting at byte `start` of that
/// line: the rest of the line, then the following lines of the same stretch of new
/// text up to a valediction. Labels and image placeholders are left out, runs of blank
/// lines become one.
pub(super) fn collect(lines: &[NewLine<'_>], index: usize, start: usize) -> String {
    let Some(line) = lines.get(index) else {
        return String::new();
    };
    let rest = line.text.get(start..).unwrap_or_default();
    let mut parts: Vec<&str> = Vec::new();
    let first = rest.trim_start_matches(is_lead_punct).trim_end();
    if !first.is_empty() {
        parts.push(first);
    }
    let mut length = first.len();
    for next in lines.iter().skip(index + 1) {
        if next.stretch != line.stretch
            || noise::is_valediction(next.text)
            || length > MAX_COMMENT_CHARS * 4
        {
            break;
        }
        if noise::is_label(next.text) || noise::is_placeholder(next.text) {
            continue;
        }
        if next.text.is_empty() && parts.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        length += next.text.len() + 1;
        parts.push(next.text);
    }
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    drop_signature(&mut parts, usize::from(!first.is_empty()));
    bounded(&parts.join("\n"))
}

/// Most lines of a signature paragraph (name, title, company, phone, address).
const MAX_SIGNATURE_LINES: usize = 5;

/// Removes a signature typed without valediction under the answer: a last paragraph
/// that opens with a bare name ("Alice Example" / "Platform Lead" / "Example Corp").
/// `keep` leading parts (the rest of the verb line) are never removed.
fn drop_signature(parts: &mut Vec<&str>, keep: usize) {
    let start = parts
        .iter()
        .rposition(|p| p.is_empty())
        .map_or(0, |blank| blank + 1)
        .max(keep);
    let opens_with_name = parts.get(start).is_some_and(|p| noise::is_bare_name(p));
    if opens_with_name && parts.len() - start <= MAX_SIGNATURE_LINES {
        parts.truncate(start);
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
    }
}

/// `text` cut to [`MAX_COMMENT_CHARS`] characters, marked with an ellipsis when cut.
fn bounded(text: &str) -> String {
    if text.chars().nth(MAX_COMMENT_CHARS).is_none() {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_COMMENT_CHARS).collect();
    out.push('…');
    out
}
