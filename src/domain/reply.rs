//! Reading an approver's decision out of the plain text of a reply mail.
//!
//! Approvers answer from every mail client there is, top-posting, bottom-posting or
//! interleaving, under banners their gateways insert and above signatures their phones
//! append. The parser finds the text the approver actually typed, reads one explicit
//! English decision word from it and refuses everything else with a sentence that tells
//! the approver how to answer. An approval is only ever returned when the approver said
//! APPROVE unambiguously; every doubt becomes a refusal.
//!
//! The work is pure and linear in the size of the input: no I/O, no clock, no panics.

mod comment;
mod decision_line;
mod narrow;
mod newtext;
mod noise;
mod normalize;
mod quote;
mod refusal;
mod signature;
mod window_change;
mod words;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::fmt;

pub(crate) use super::verb::Verb;
pub(crate) use narrow::narrow_window;
pub(crate) use refusal::ReplyRefusal;

/// What an approver said in a reply, once quoting, signatures and noise are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplyDecision {
    /// The decision itself: the only part that changes the request's state.
    pub(crate) verb: Verb,
    /// The approver's own words after the verb, kept for the audit log and the
    /// requester's notification; empty when the approver wrote only the verb.
    pub(crate) comment: String,
    /// A narrower window the approver granted (`APPROVE 2h`); `None` means the
    /// requested window as it is. Only ever set together with [`Verb::Approve`].
    pub(crate) window: Option<WindowChange>,
}

/// How an approver narrowed the requested window, as written on the verb line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowChange {
    /// `APPROVE 2h`, `APPROVE for 90m`, `APPROVE 1h30m`: a length counted from the
    /// moment the window starts.
    For(chrono::Duration),
    /// `APPROVE until 18:00`: a wall-clock time in the approvals' time zone, the next
    /// occurrence at or after the window starts.
    UntilTime(chrono::NaiveTime),
    /// `APPROVE until 2026-11-22 18:00`: a date and time in the approvals' time zone.
    UntilDateTime(chrono::NaiveDateTime),
    /// `APPROVE until 18:00 UTC`, `APPROVE until 18:00+01:00`: a wall-clock time at the
    /// offset the approver named, since the request mail tells approvers times are UTC.
    UntilTimeAt(chrono::NaiveTime, chrono::FixedOffset),
    /// `APPROVE until 2026-11-22 18:00 UTC`, `until 2026-11-22T18:00Z`: a date and time
    /// at the offset the approver named.
    UntilDateTimeAt(chrono::NaiveDateTime, chrono::FixedOffset),
}

impl fmt::Display for WindowChange {
    /// The approver's notation (`2h`, `until 18:00`), so messages quote the window in
    /// the form the approver can type back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowChange::For(d) => f.write_str(&narrow::format_duration(*d)),
            WindowChange::UntilTime(t) => write!(f, "until {}", t.format("%H:%M")),
            WindowChange::UntilDateTime(dt) => write!(f, "until {}", dt.format("%Y-%m-%d %H:%M")),
            WindowChange::UntilTimeAt(t, offset) => {
                write!(
                    f,
                    "until {} {}",
                    t.format("%H:%M"),
                    narrow::show_offset(*offset)
                )
            }
            WindowChange::UntilDateTimeAt(dt, offset) => {
                let offset = narrow::show_offset(*offset);
                write!(f, "until {} {offset}", dt.format("%Y-%m-%d %H:%M"))
            }
        }
    }
}

/// Reads the approver's decision from the decoded plain text of a reply mail.
///
/// Quoted originals, quote headers of every common client, signatures, greetings and
/// gateway banners are ignored. Every remaining line is read; a line carries a decision
/// when APPROVE/APPROVED or DISAPPROVE/DISAPPROVED/REJECT/REJECTED/DENY/DENIED comes
/// within a short lead-in at its start. Then:
/// - lines with different decisions, or both on one line: [`ReplyRefusal::TwoVerbs`];
/// - a negated decision word next to an approval, or alone: [`ReplyRefusal::NegatedVerb`];
/// - otherwise the first decision line decides and carries the window and the comment
///   (several APPROVE lines must agree on the window);
/// - no decision at all: [`ReplyRefusal::NotAVerb`] quoting the first line the approver
///   typed, [`ReplyRefusal::NoVerb`] when that line is long prose, or
///   [`ReplyRefusal::Empty`] when the approver typed nothing.
pub(crate) fn parse_reply(text: &str) -> Result<ReplyDecision, ReplyRefusal> {
    let text = normalize::normalize(text);
    let lines = newtext::new_lines(&text);
    let meaningful = noise::meaningful_lines(&lines);
    let Some(&first) = meaningful.first() else {
        return Err(ReplyRefusal::Empty);
    };

    let mut approve_lines = Vec::new();
    let mut disapprove_lines = Vec::new();
    let mut negated = false;
    for (n, &index) in meaningful.iter().enumerate() {
        let Some(line) = lines.get(index) else {
            continue;
        };
        match decision_line::classify(line.text, n == 0) {
            decision_line::LineVerdict::Nothing => {}
            decision_line::LineVerdict::Both => return Err(ReplyRefusal::TwoVerbs),
            decision_line::LineVerdict::Negated => negated = true,
            decision_line::LineVerdict::Verb {
                verb: Verb::Approve,
                end,
            } => approve_lines.push((index, end)),
            decision_line::LineVerdict::Verb {
                verb: Verb::Disapprove,
                end,
            } => disapprove_lines.push((index, end)),
        }
    }

    if !approve_lines.is_empty() && !disapprove_lines.is_empty() {
        return Err(ReplyRefusal::TwoVerbs);
    }
    if !approve_lines.is_empty() {
        if negated {
            return Err(ReplyRefusal::NegatedVerb);
        }
        return approve(&lines, &approve_lines);
    }
    if let Some(&(index, end)) = disapprove_lines.first() {
        let comment = comment::collect(&lines, index, end);
        return Ok(ReplyDecision {
            verb: Verb::Disapprove,
            comment,
            window: None,
        });
    }
    if negated {
        return Err(ReplyRefusal::NegatedVerb);
    }
    let said = lines.get(first).map(|l| l.text).unwrap_or_default();
    Err(refusal::not_a_verb(said))
}

/// Builds the approval from the first APPROVE line, refusing when several APPROVE
/// lines disagree about the window: granting the wider one would overrule the approver.
fn approve(
    lines: &[newtext::NewLine<'_>],
    approve_lines: &[(usize, usize)],
) -> Result<ReplyDecision, ReplyRefusal> {
    let mut chosen: Option<(usize, usize, Option<WindowChange>)> = None;
    for &(index, end) in approve_lines {
        let rest = lines
            .get(index)
            .and_then(|l| l.text.get(end..))
            .unwrap_or_default();
        let (window, consumed) = window_change::parse_window(rest)?;
        match &chosen {
            None => chosen = Some((index, end + consumed, window)),
            Some((_, _, first_window)) if *first_window != window => {
                return Err(ReplyRefusal::BadWindow {
                    why: "the reply says APPROVE twice with different windows: reply with one APPROVE line".to_owned(),
                });
            }
            Some(_) => {}
        }
    }
    let Some((index, comment_start, window)) = chosen else {
        return Err(ReplyRefusal::NoVerb);
    };
    let comment = comment::collect(lines, index, comment_start);
    Ok(ReplyDecision {
        verb: Verb::Approve,
        comment,
        window,
    })
}
