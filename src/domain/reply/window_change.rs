//! Reading a window change written after APPROVE: `2h`, `for 90m`, `1h30m`,
//! `until 18:00`, `until 2026-11-22 18:00`.
//!
//! A window the approver clearly meant but that cannot be read is refused rather than
//! ignored: ignoring it would grant the whole requested window, wider than intended.

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

/// Minutes per unit, for the units a duration may use.
fn unit_minutes(unit: &str) -> Option<i64> {
    match unit {
        "m" | "min" | "mins" | "minute" | "minutes" => Some(1),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(60),
        "d" | "day" | "days" => Some(24 * 60),
        "w" | "wk" | "wks" | "week" | "weeks" => Some(7 * 24 * 60),
        _ => None,
    }
}

/// Reads `2h`, `90m`, `1h30m`, `1h 30m`, `1h30`, `2 hours` at the start of `s`.
/// `Ok(None)` when `s` does not start with a duration at all (`2 people`); `Err` with
/// advice when it starts like one but is malformed.
fn duration(s: &str) -> Result<Option<(Duration, usize)>, String> {
    let bytes = s.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let mut end = 0;
    let mut total: i64 = 0;
    let mut last_unit: Option<i64> = None;
    loop {
        let mut i = end;
        if last_unit.is_some() {
            while at(i) == Some(b' ') {
                i += 1;
            }
            // "2 hours and 30 minutes"
            let and_digit = s.get(i..).is_some_and(|t| {
                t.strip_prefix("and ")
                    .is_some_and(|t| t.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            });
            if and_digit {
                i += 4;
                while at(i) == Some(b' ') {
                    i += 1;
                }
            }
        }
        let glued = i == end;
        let digits_start = i;
        while at(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        if i == digits_start {
            break;
        }
        if i - digits_start > 6 {
            return Err(format!("the number is too large; {FORMS}"));
        }
        let number: i64 = s
            .get(digits_start..i)
            .and_then(|d| d.parse().ok())
            .unwrap_or_default();
        if matches!(at(i), Some(b'.' | b',')) && at(i + 1).is_some_and(|b| b.is_ascii_digit()) {
            return Err("write whole hours and minutes, like APPROVE 1h30m".to_owned());
        }
        let (unit, unit_end) = read_unit(s, i, glued && last_unit == Some(60));
        let Some(minutes) = unit else {
            if last_unit.is_none() {
                return Ok(None);
            }
            return Err(FORMS.to_owned());
        };
        if last_unit.is_some_and(|last| minutes >= last) {
            return Err(format!("name each unit once, largest first; {FORMS}"));
        }
        total = number
            .checked_mul(minutes)
            .and_then(|m| total.checked_add(m))
            .unwrap_or(i64::MAX);
        last_unit = Some(minutes);
        end = unit_end;
    }
    if last_unit.is_none() {
        return Ok(None);
    }
    if s.get(end..)
        .is_some_and(|tail| tail.starts_with(|c: char| c.is_alphanumeric() || c == ':'))
    {
        return Err(FORMS.to_owned());
    }
    if total <= 0 {
        return Err(
            "an empty window grants nothing: write a length like APPROVE 2h, or DISAPPROVE"
                .to_owned(),
        );
    }
    if total > MAX_MINUTES {
        return Err("a window can last a year at most".to_owned());
    }
    Ok(Duration::try_minutes(total).map(|d| (d, end)))
}

/// The unit after a number ending at byte `i`: letters right after it or after one
/// space. With `bare_minutes` a number without unit counts as minutes: the caller sets
/// it for a number glued to hours (`1h30`), not for `2h 3 people`. Returns the unit's
/// minutes and where it ends.
fn read_unit(s: &str, i: usize, bare_minutes: bool) -> (Option<i64>, usize) {
    let letters_end = |from: usize| {
        let tail = s.get(from..).unwrap_or_default();
        from + tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len())
    };
    let attached_end = letters_end(i);
    if attached_end > i {
        let unit = s
            .get(i..attached_end)
            .unwrap_or_default()
            .to_ascii_lowercase();
        return (unit_minutes(&unit), attached_end);
    }
    if s.get(i..).is_some_and(|t| t.starts_with(' ')) {
        let spaced_end = letters_end(i + 1);
        let unit = s
            .get(i + 1..spaced_end)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(minutes) = unit_minutes(&unit) {
            return (Some(minutes), spaced_end);
        }
    }
    if bare_minutes {
        return (Some(1), i);
    }
    (None, i)
}

/// Reads what follows "until" (starting at byte `from` of `rest`): a time, or a date
/// and a time, each optionally with UTC or an offset. Returns the change and where it
/// ends in `rest`.
fn parse_until(rest: &str, from: usize) -> Result<(WindowChange, usize), ReplyRefusal> {
    let shown = |upto: usize| format!("until{}", rest.get(from..upto).unwrap_or_default());
    let Some(first) = token(rest, from) else {
        return Err(bad("until", FORMS));
    };
    let first_word = word_at(rest, Some(first));
    let (date, time_span) = match date_prefix(&first_word) {
        Some((date, time_part)) => {
            let date = date.ok_or_else(|| bad(&shown(first.1), "that date does not exist"))?;
            let span = match time_part {
                Some(_) => first,
                None => token(rest, first.1).ok_or_else(|| bad(&shown(first.1), ADD_TIME))?,
            };
            (Some(date), span)
        }
        None if first_word.contains('/') || first_word.matches('.').count() >= 2 => {
            return Err(bad(
                &shown(first.1),
                "write the date as year-month-day, like APPROVE until 2026-11-22 18:00",
            ));
        }
        None => (None, first),
    };
    let time_word = word_at(rest, Some(time_span));
    let time_text = match date_prefix(&time_word) {
        Some((_, Some(t))) => t,
        _ => time_word.as_str(),
    };
    let (core, mut zone) = split_glued_zone(time_text);
    let next = token(rest, time_span.1);
    let (time, mut end) = match read_time(core, Some(&word_at(rest, next))) {
        Some((t, true)) => (t, next.map_or(time_span.1, |n| n.1)),
        Some((t, false)) => (t, time_span.1),
        None if matches!(zone, Some(Zone::Unknown)) => {
            return Err(zone_refusal(&shown(time_span.1)))
        }
        None if date.is_some() => return Err(bad(&shown(time_span.1), ADD_TIME)),
        None => return Err(bad(&shown(time_span.1), FORMS)),
    };
    if zone.is_none() {
        let after = token(rest, end);
        if let Some(z) = zone_of(&word_at(rest, after)) {
            zone = Some(z);
            end = after.map_or(end, |a| a.1);
        }
    }
    let offset = match zone {
        Some(Zone::Unknown) => return Err(zone_refusal(&shown(end))),
        Some(Zone::Offset(offset)) => Some(offset),
        None => None,
    };
    let change = match (date, offset) {
        (Some(d), None) => WindowChange::UntilDateTime(NaiveDateTime::new(d, time)),
        (Some(d), Some(o)) => WindowChange::UntilDateTimeAt(NaiveDateTime::new(d, time), o),
        (None, None) => WindowChange::UntilTime(time),
        (None, Some(o)) => WindowChange::UntilTimeAt(time, o),
    };
    if date.is_none() {
        let mut probe = end;
        for _ in 0..3 {
            let Some(span) = token(rest, probe) else {
                break;
            };
            if DAY_WORDS.contains(&word_at(rest, Some(span)).as_str()) {
                return Err(bad(
                    &shown(span.1),
                    "name the day as a date, like APPROVE until 2026-11-22 18:00",
                ));
            }
            probe = span.1;
        }
    }
    Ok((change, end))
}

/// Advice for a date without a time.
const ADD_TIME: &str = "add a time, like APPROVE until 2026-11-22 18:00";

/// The refusal for a time zone that is not UTC or a numeric offset.
fn zone_refusal(shown: &str) -> ReplyRefusal {
    bad(
        shown,
        "name the zone as UTC or an offset like +01:00, or leave it out to use the approvals' time zone",
    )
}

/// A zone written after a time.
enum Zone {
    /// UTC or a numeric offset: unambiguous, applied as written.
    Offset(FixedOffset),
    /// A zone name such as CET or EST: ambiguous over daylight saving, refused.
    Unknown,
}

/// The zone a word names, if it names one: "utc", "gmt", "z", "+01:00", "-0300",
/// "utc+1"; other known abbreviations are `Unknown`.
fn zone_of(word: &str) -> Option<Zone> {
    let word = word.trim_matches(|c| c == '(' || c == ')');
    let as_offset = |s: &str| Some(offset(s).map_or(Zone::Unknown, Zone::Offset));
    if let Some(rest) = word
        .strip_prefix("utc")
        .or_else(|| word.strip_prefix("gmt"))
    {
        return if rest.is_empty() {
            Some(Zone::Offset(FixedOffset::east_opt(0)?))
        } else {
            as_offset(rest)
        };
    }
    if word == "z" {
        return Some(Zone::Offset(FixedOffset::east_opt(0)?));
    }
    let signed =
        word.starts_with(['+', '-']) && word.chars().nth(1).is_some_and(|c| c.is_ascii_digit());
    if signed {
        return as_offset(word);
    }
    ZONES.contains(&word).then_some(Zone::Unknown)
}

/// `+01:00`, `+0100`, `+01`, `-3` as an offset of at most 14 hours.
fn offset(text: &str) -> Option<FixedOffset> {
    let sign = match text.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let body = text.get(1..)?;
    let (hours, minutes) = match body.split_once(':') {
        Some((h, m)) => (h, m),
        None if body.len() == 4 => (body.get(..2)?, body.get(2..)?),
        None => (body, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 14 || minutes >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Splits a zone glued to a time: "18:00z", "18:00utc", "18:00+01:00".
fn split_glued_zone(word: &str) -> (&str, Option<Zone>) {
    if let Some(pos) = word.find(['+', '-']) {
        let (core, zone) = word.split_at_checked(pos).unwrap_or((word, ""));
        return (core, Some(zone_of(zone).unwrap_or(Zone::Unknown)));
    }
    for suffix in ["utc", "gmt", "z"] {
        if let Some(core) = word.strip_suffix(suffix) {
            if core.ends_with(|c: char| c.is_ascii_digit()) {
                return (core, zone_of(suffix));
            }
        }
    }
    (word, None)
}

/// `2026-11-22` or `2026-11-22T18:00`: the date (`None` when it does not exist) and
/// the time part after `T`, if any. `None` when the word is not shaped like a date.
fn date_prefix(word: &str) -> Option<(Option<NaiveDate>, Option<&str>)> {
    let (date_part, time_part) = match word.split_once('t') {
        Some((d, t)) => (d, Some(t)),
        None => (word, None),
    };
    let mut parts = date_part.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let shaped = parts.next().is_none()
        && y.len() == 4
        && (1..=2).contains(&m.len())
        && (1..=2).contains(&d.len())
        && [y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !shaped {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    Some((date, time_part))
}

/// Reads a time of day: `18:00`, `18:00:00`, `6pm`, `6:30 pm`, `18h`, `18h30`.
/// `next` is the following word, consumed when it is `am`/`pm`; the flag says so.
fn read_time(word: &str, next: Option<&str>) -> Option<(NaiveTime, bool)> {
    let meridiem = |s: &str| match s.trim_end_matches('.') {
        "am" | "a.m" => Some(false),
        "pm" | "p.m" => Some(true),
        _ => None,
    };
    let (core, pm, used_next) = if let Some(core) = word
        .strip_suffix("am")
        .or_else(|| word.strip_suffix("a.m."))
    {
        (core, Some(false), false)
    } else if let Some(core) = word
        .strip_suffix("pm")
        .or_else(|| word.strip_suffix("p.m."))
    {
        (core, Some(true), false)
    } else if let Some(pm) = next.and_then(meridiem) {
        (word, Some(pm), true)
    } else {
        (word, None, false)
    };
    let numbers: Vec<&str> = core.split([':', 'h']).collect();
    if numbers
        .iter()
        .any(|n| n.len() > 2 || !n.bytes().all(|b| b.is_ascii_digit()))
        || numbers.len() > 3
    {
        return None;
    }
    let number = |i: usize| -> Option<u32> {
        match numbers.get(i) {
            None | Some(&"") => Some(0),
            Some(n) => n.parse().ok(),
        }
    };
    let hour_text = numbers.first().copied().unwrap_or_default();
    let is_h_form = core.contains('h');
    if hour_text.is_empty()
        || (numbers.len() == 1 && pm.is_none())
        || (is_h_form && core.contains(':'))
    {
        return None;
    }
    if numbers.len() >= 2 && !is_h_form && numbers.iter().skip(1).any(|n| n.len() != 2) {
        return None;
    }
    let (mut hour, minute, second) = (number(0)?, number(1)?, number(2)?);
    match pm {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = hour % 12 + if pm { 12 } else { 0 };
        }
        None if hour > 23 => return None,
        None => {}
    }
    NaiveTime::from_hms_opt(hour, minute, second).map(|t| (t, used_next))
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
