//! Reading a length: `2h`, `90m`, `1h30m`, `for two hours`.

use super::*;

/// Minutes per unit, for the units a duration may use.
pub(super) fn unit_minutes(unit: &str) -> Option<i64> {
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
pub(super) fn duration(s: &str) -> Result<Option<(Duration, usize)>, String> {
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
pub(super) fn read_unit(s: &str, i: usize, bare_minutes: bool) -> (Option<i64>, usize) {
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
