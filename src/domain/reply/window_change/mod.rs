//! Reading a window change written after APPROVE: `2h`, `for 90m`, `1h30m`,
//! `until 18:00`, `until 2026-11-22 18:00`.
//!
//! A window the approver clearly meant but that cannot be read is refused rather than
//! ignored: ignoring it would grant the whole requested window, wider than intended.
//!
//! `duration` reads lengths (`2h`, `1h30m`, `for 90m`), `until` reads end
//! times (`until 18:00`, `until 2026-11-22 18:00 UTC`).

mod duration;
mod until;

use duration::duration;
use until::{parse_until, read_time};

use chrono::{Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

use super::refusal::{shorten, ReplyRefusal};
use super::WindowChange;

/// The accepted forms, quoted in every window refusal.
const FORMS: &str = "write APPROVE 2h, APPROVE 90m, APPROVE 1h30m, APPROVE until 18:00 or APPROVE until 2026-11-22 18:00";

/// Longest window accepted while reading, in minutes (a year): far beyond any request,
/// small enough that no date arithmetic can overflow.
const MAX_MINUTES: i64 = 366 * 24 * 60;

/// Words introducing an end time.
const UNTIL: &[&str] = &["until", "till", "til", "untill"];

/// Words that may stand between the verb and a duration ("for the next 2h").
const FILLERS: &[&str] = &[
    "for", "only", "just", "max", "maximum", "at", "most", "up", "to", "the", "next", "another",
    "of",
];

/// Spelled-out amounts that announce a window the parser does not read.
const NUMBER_WORDS: &[&str] = &[
    "a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "half", "couple",
];

/// Units that follow spelled-out amounts ("two hours").
const UNIT_WORDS: &[&str] = &[
    "minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "day", "days", "week",
    "weeks",
];

/// Time-zone names refused after a time: they shift with daylight saving, so the offset
/// they mean on a given day would be a guess.
const ZONES: &[&str] = &[
    "cet", "cest", "wet", "west", "eet", "eest", "bst", "ist", "est", "edt", "cst", "cdt", "mst",
    "mdt", "pst", "pdt", "brt", "brst", "art", "clt", "cot", "pet", "mez", "mesz", "hec", "heure",
    "local",
];

/// Words after an end time that name another day than the next occurrence.
const DAY_WORDS: &[&str] = &[
    "tomorrow",
    "tmrw",
    "tmr",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "next",
    "amanhã",
    "morgen",
    "demain",
    "mañana",
];

/// Punctuation allowed between the verb and the window ("APPROVE: 2h").
fn is_separator(c: char) -> bool {
    matches!(c, ':' | ',' | ';' | '-' | '–' | '—' | '.' | '!')
}

/// The next whitespace-separated token at or after byte `from`: (start, end).
fn token(s: &str, from: usize) -> Option<(usize, usize)> {
    let rest = s.get(from..)?;
    let start = from + (rest.len() - rest.trim_start().len());
    let tail = s.get(start..)?;
    if tail.is_empty() {
        return None;
    }
    let len = tail.find(char::is_whitespace).unwrap_or(tail.len());
    Some((start, start + len))
}

/// The token's text lower-cased, without trailing sentence punctuation.
fn word_at(s: &str, span: Option<(usize, usize)>) -> String {
    span.and_then(|(a, b)| s.get(a..b))
        .unwrap_or_default()
        .trim_end_matches(['.', ',', ';', '!', ')'])
        .trim_start_matches('(')
        .to_lowercase()
}

/// A refusal quoting what the approver wrote.
fn bad(shown: &str, advice: &str) -> ReplyRefusal {
    ReplyRefusal::BadWindow {
        why: format!(
            "\"{}\" is not a valid window: {advice}",
            shorten(shown.trim())
        ),
    }
}

/// Reads a window at the start of `rest` (the text after APPROVE). Returns the window,
/// if any, and how many bytes of `rest` it took; the comment starts there.
pub(super) fn parse_window(rest: &str) -> Result<(Option<WindowChange>, usize), ReplyRefusal> {
    let trimmed = rest.trim_start();
    let after_sep = trimmed.trim_start_matches(|c: char| is_separator(c) || c.is_whitespace());
    let had_separator = after_sep.len() < trimmed.len() && trimmed.starts_with(is_separator);
    let mut pos = rest.len() - after_sep.len();
    let mut had_filler = false;
    for _ in 0..6 {
        let span = token(rest, pos);
        let word = word_at(rest, span);
        let Some((_, end)) = span else {
            return Ok((None, 0));
        };
        if UNTIL.contains(&word.as_str()) {
            let (change, used) = parse_until(rest, end)?;
            refuse_second_window(rest, used)?;
            return Ok((Some(change), used));
        }
        if !FILLERS.contains(&word.as_str()) {
            break;
        }
        had_filler = true;
        pos = end;
    }
    let Some((start, end)) = token(rest, pos) else {
        return Ok((None, 0));
    };
    let from_here = rest.get(start..).unwrap_or_default();
    if from_here.starts_with(|c: char| c.is_ascii_digit()) {
        let shown = rest
            .get(start..token(rest, end).map_or(end, |t| t.1))
            .unwrap_or_default();
        return match duration(from_here) {
            Ok(Some((d, used))) => {
                let used = start + used;
                refuse_second_window(rest, used)?;
                Ok((Some(WindowChange::For(d)), used))
            }
            Ok(None) if had_separator && !had_filler => no_window(rest),
            Ok(None) => Err(bad(shown, FORMS)),
            Err(advice) => Err(bad(shown, &advice)),
        };
    }
    let amount = word_at(rest, Some((start, end)));
    let unit = word_at(rest, token(rest, end));
    if NUMBER_WORDS.contains(&amount.as_str()) && UNIT_WORDS.contains(&unit.as_str()) {
        let shown = token(rest, end)
            .and_then(|(_, e)| rest.get(start..e))
            .unwrap_or_default();
        return Err(bad(
            shown,
            "write the window in digits, like APPROVE 2h or APPROVE 90m",
        ));
    }
    no_window(rest)
}

/// Most words of the verb line searched for a misplaced window.
const MAX_WORDS_SEARCHED: usize = 40;

/// No window right after the verb: the rest of the line is a comment, unless it
/// mentions a window somewhere ("APPROVE a 2h window", "APPROVE but only till 6pm").
/// Reading such a line as a plain APPROVE would grant the whole requested window,
/// wider than the approver meant, so it is refused.
fn no_window(rest: &str) -> Result<(Option<WindowChange>, usize), ReplyRefusal> {
    if mentions_window(rest) {
        return Err(bad(
            &format!("APPROVE{rest}"),
            "write the window right after APPROVE, like APPROVE 2h or APPROVE until 18:00, or reply plain APPROVE for the requested window",
        ));
    }
    Ok((None, 0))
}

/// A window followed by another one on the same line ("APPROVE 2h until 18:00").
fn refuse_second_window(rest: &str, used: usize) -> Result<(), ReplyRefusal> {
    let tail = rest.get(used..).unwrap_or_default();
    if mentions_window(tail) {
        return Err(bad(
            &format!("APPROVE{rest}"),
            "give one window, like APPROVE 2h or APPROVE until 18:00",
        ));
    }
    Ok(())
}

/// Whether the text mentions a length or an end time anywhere: "until"/"till", a
/// duration ("2h", "2 hours", "an hour"), or a clock time ("18:00", "6pm").
fn mentions_window(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .take(MAX_WORDS_SEARCHED)
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != ':')
                .to_lowercase()
        })
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        let next = words.get(i + 1).map(String::as_str).unwrap_or_default();
        let numeric = w.starts_with(|c: char| c.is_ascii_digit());
        let timed = numeric
            && match duration(w) {
                Ok(Some(_)) => true,
                // "1.5h", "0h": meant as a window even though it is not a valid one.
                Err(_) => w.ends_with(|c: char| c.is_ascii_alphabetic()),
                Ok(None) => read_time(w, Some(next)).is_some(),
            };
        let spelled = (numeric || NUMBER_WORDS.contains(&w.as_str())) && UNIT_WORDS.contains(&next);
        UNTIL.contains(&w.as_str()) || timed || spelled
    })
}

#[cfg(test)]
mod tests {
    use super::super::WindowChange;
    use super::{duration, parse_window, read_time};
    use chrono::{Duration, NaiveTime};

    fn minutes(s: &str) -> Option<i64> {
        duration(s).ok().flatten().map(|(d, _)| d.num_minutes())
    }

    #[test]
    fn durations() {
        assert_eq!(minutes("2h"), Some(120));
        assert_eq!(minutes("90m"), Some(90));
        assert_eq!(minutes("1h30m"), Some(90));
        assert_eq!(minutes("1h 30m"), Some(90));
        assert_eq!(minutes("1h30"), Some(90));
        assert!(duration("2h 3 people").is_err());
        assert_eq!(minutes("2 hours and 30 minutes"), Some(150));
        assert_eq!(minutes("2 hours please"), Some(120));
        assert_eq!(minutes("1d"), Some(1440));
        assert_eq!(minutes("2 people"), None);
        assert!(duration("1.5h").is_err());
        assert!(duration("0h").is_err());
        assert!(duration("30m2h").is_err());
        assert!(duration("9999999h").is_err());
    }

    #[test]
    fn times() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(read_time("18:00", None).map(|x| x.0), t(18, 0));
        assert_eq!(read_time("6pm", None).map(|x| x.0), t(18, 0));
        assert_eq!(read_time("6:30", Some("pm")).map(|x| x.0), t(18, 30));
        assert_eq!(read_time("12am", None).map(|x| x.0), t(0, 0));
        assert_eq!(read_time("18h30", None).map(|x| x.0), t(18, 30));
        assert_eq!(read_time("25:00", None), None);
        assert_eq!(read_time("18", None), None);
        assert_eq!(read_time("18:5", None), None);
    }

    #[test]
    fn window_after_separator_that_is_not_a_duration_is_a_comment() {
        assert_eq!(parse_window(": 2 people reviewed it"), Ok((None, 0)));
    }

    #[test]
    fn window_with_fillers() {
        let two_hours = Duration::try_hours(2).map(WindowChange::For);
        assert_eq!(
            parse_window(" for the next 2h").ok().and_then(|w| w.0),
            two_hours
        );
        assert_eq!(parse_window(" - 2h").ok().and_then(|w| w.0), two_hours);
    }
}
