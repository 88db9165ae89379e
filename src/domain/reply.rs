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
mod grammar;
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
/// gateway banners are ignored. The decision is read from the first remaining line
/// only, by the allow-list grammar of [`grammar`]: optional assent or greeting, the
/// decision word, an optional window, an optional comment. Then:
/// - a first line that is not a decision is no decision, whatever follows:
///   [`ReplyRefusal::NotAVerb`] quoting it, [`ReplyRefusal::NoVerb`] when it is long
///   prose, [`ReplyRefusal::Empty`] when the approver typed nothing,
///   [`ReplyRefusal::WordBeforeVerb`] when a word off the lead-in allow-list stands
///   before the decision word, [`ReplyRefusal::NegatedVerb`] when it negates one;
/// - a question mark on an APPROVE line, or before or right after a DISAPPROVE:
///   [`ReplyRefusal::Question`];
/// - after APPROVE and its window, or at the start of any later line, words that
///   negate, defer, condition or take it back: [`ReplyRefusal::QualifiedVerb`]; words
///   that announce a window in a form not read: [`ReplyRefusal::BadWindow`];
/// - a later line with the other decision, both decisions, or a negated one:
///   [`ReplyRefusal::TwoVerbs`] or [`ReplyRefusal::NegatedVerb`] — a later line never
///   decides, but it can take a decision back.
pub(crate) fn parse_reply(text: &str) -> Result<ReplyDecision, ReplyRefusal> {
    let text = normalize::normalize(text);
    let lines = newtext::new_lines(&text);
    let meaningful = noise::meaningful_lines(&lines);
    let Some(&first) = meaningful.first() else {
        return Err(ReplyRefusal::Empty);
    };
    let line = lines.get(first).map(|l| l.text).unwrap_or_default();
    let (verb, end) = grammar::decision_of(line)?;

    let rest = line.get(end..).unwrap_or_default();
    let (window, consumed) = match verb {
        Verb::Approve => window_change::parse_window(rest)?,
        Verb::Disapprove | Verb::Revoke => (None, 0),
    };
    for &index in meaningful.iter().skip(1) {
        let Some(later) = lines.get(index) else {
            continue;
        };
        match decision_line::classify(later.text, false) {
            decision_line::LineVerdict::Nothing => {}
            decision_line::LineVerdict::Both => return Err(ReplyRefusal::TwoVerbs),
            decision_line::LineVerdict::Negated => return Err(ReplyRefusal::NegatedVerb),
            decision_line::LineVerdict::Verb { verb: other, .. } if other != verb => {
                return Err(ReplyRefusal::TwoVerbs)
            }
            // The same decision again must not grant another window.
            decision_line::LineVerdict::Verb { end: later_end, .. } => {
                if verb == Verb::Approve {
                    let again = later.text.get(later_end..).unwrap_or_default();
                    let (other, _) = window_change::parse_window(again)?;
                    if other != window {
                        return Err(ReplyRefusal::BadWindow {
                            why: "the reply says APPROVE twice with different windows: reply with one APPROVE line".to_owned(),
                        });
                    }
                }
            }
        }
    }

    match verb {
        Verb::Approve => {
            // What follows the word and its window, then every later line
            // the approver typed up to a valediction (a signature follows
            // it): none may open by taking the approval back.
            let after = rest.get(consumed..).unwrap_or_default();
            let later_lines = meaningful
                .iter()
                .skip(1)
                .filter_map(|&index| lines.get(index).map(|l| l.text))
                .take_while(|text| !noise::is_valediction(text));
            if let Some(refusal) = std::iter::once(after)
                .chain(later_lines)
                .find_map(grammar::refusal_after)
            {
                return Err(refusal);
            }
            Ok(ReplyDecision {
                verb,
                comment: comment::collect(&lines, first, end + consumed),
                window,
            })
        }
        // A disapproval's comment may well negate ("not during the freeze"):
        // refusing it would leave the request open for others to approve.
        Verb::Disapprove | Verb::Revoke => Ok(ReplyDecision {
            verb,
            comment: comment::collect(&lines, first, end),
            window: None,
        }),
    }
}
