//! Reading an end time: `until 18:00`, `until 2026-11-22 18:00`, with an
//! optional zone (`UTC`, `+01:00`).

use super::*;

/// Reads what follows "until" (starting at byte `from` of `rest`): a time, or a date
/// and a time, each optionally with UTC or an offset. Returns the change and where it
/// ends in `rest`.
pub(super) fn parse_until(rest: &str, from: usize) -> Result<(WindowChange, usize), ReplyRefusal> {
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
pub(super) const ADD_TIME: &str = "add a time, like APPROVE until 2026-11-22 18:00";

/// The refusal for a time zone that is not UTC or a numeric offset.
pub(super) fn zone_refusal(shown: &str) -> ReplyRefusal {
    bad(
        shown,
        "name the zone as UTC or an offset like +01:00, or leave it out to use the approvals' time zone",
    )
}

/// A zone written after a time.
pub(super) enum Zone {
    /// UTC or a numeric offset: unambiguous, applied as written.
    Offset(FixedOffset),
    /// A zone name such as CET or EST: ambiguous over daylight saving, refused.
    Unknown,
}

/// The zone a word names, if it names one: "utc", "gmt", "z", "+01:00", "-0300",
/// "utc+1"; other known abbreviations are `Unknown`.
pub(super) fn zone_of(word: &str) -> Option<Zone> {
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
pub(super) fn offset(text: &str) -> Option<FixedOffset> {
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
pub(super) fn split_glued_zone(word: &str) -> (&str, Option<Zone>) {
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
pub(super) fn date_prefix(word: &str) -> Option<(Option<NaiveDate>, Option<&str>)> {
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
pub(super) fn read_time(word: &str, next: Option<&str>) -> Option<(NaiveTime, bool)> {
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
