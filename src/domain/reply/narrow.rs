//! Applying an approver's window change to the requested window. An approver may only
//! shorten what was requested, never extend it: a longer window would grant access
//! nobody asked the other approvers about.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::{ReplyRefusal, WindowChange};

/// `2h`, `1h30m`, `45m`: how windows are written back to approvers, in the notation
/// they type. Negative lengths show as `0m`.
pub(crate) fn format_duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (hours, rest) = (minutes / 60, minutes % 60);
    match (hours, rest) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// A time in the approvals' zone, as the messages show it.
fn show(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M %:z")
        .to_string()
}

/// The first instant at or after `start` whose wall-clock time in `offset` is `t`.
fn next_occurrence(
    start: DateTime<Utc>,
    t: NaiveTime,
    offset: FixedOffset,
) -> Option<DateTime<Utc>> {
    let local_start = start.with_timezone(&offset).naive_local();
    let today = local_start.date().and_time(t);
    let next = if today < local_start {
        today.checked_add_signed(Duration::days(1))
    } else {
        Some(today)
    };
    next.and_then(|n| at(n, offset))
}

/// `UTC` for a zero offset, `+01:00` otherwise: how a named offset is written back.
pub(crate) fn show_offset(offset: FixedOffset) -> String {
    if offset.local_minus_utc() == 0 {
        "UTC".to_owned()
    } else {
        offset.to_string()
    }
}

/// A local date and time in `offset` as a UTC instant.
fn at(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The window granted when an approver writes `change` for a request of `requested`
/// (start, end), at time `now`, with wall-clock times read in `offset`.
///
/// The window starts at the later of the requested start and now. `For(d)` ends `d`
/// after that; `UntilTime(t)` at the next `t` at or after the start; `UntilDateTime`
/// at that local date and time. A window that would end after the requested end, or
/// not after its start, is refused with a sentence saying why.
pub(crate) fn narrow_window(
    change: &WindowChange,
    requested: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ReplyRefusal> {
    let (requested_start, requested_end) = requested;
    let start = requested_start.max(now);
    let refuse = |why: String| ReplyRefusal::BadWindow { why };
    if start >= requested_end {
        return Err(refuse(format!(
            "the requested window already ended at {}: APPROVE {change} cannot apply to it",
            show(requested_end, offset)
        )));
    }
    let end = match change {
        WindowChange::For(d) => start.checked_add_signed(*d),
        WindowChange::UntilTime(t) => next_occurrence(start, *t, offset),
        WindowChange::UntilTimeAt(t, named) => next_occurrence(start, *t, *named),
        WindowChange::UntilDateTime(dt) => at(*dt, offset),
        WindowChange::UntilDateTimeAt(dt, named) => at(*dt, *named),
    };
    let Some(end) = end else {
        return Err(refuse(format!(
            "APPROVE {change} is outside the calendar: write a window inside the requested one"
        )));
    };
    if end > requested_end {
        return Err(refuse(format!(
            "APPROVE {change} is wider than the requested window ({}, ends {}): write a shorter window or plain APPROVE",
            format_duration(requested_end - requested_start),
            show(requested_end, offset)
        )));
    }
    if end <= start {
        return Err(refuse(format!(
            "APPROVE {change} ends before the window starts ({}): write a later end or plain APPROVE",
            show(start, offset)
        )));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::super::{ReplyRefusal, WindowChange};
    use super::{format_duration, narrow_window};
    use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    fn plus_one() -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }

    /// Requested 09:00–17:00 UTC (10:00–18:00 at +01:00), approved at 10:00 UTC.
    fn narrow(change: WindowChange) -> Result<(DateTime<Utc>, DateTime<Utc>), ReplyRefusal> {
        narrow_window(&change, (utc(9, 0), utc(17, 0)), utc(10, 0), plus_one())
    }

    fn hours(h: i64) -> WindowChange {
        WindowChange::For(Duration::hours(h))
    }

    #[test]
    fn duration_counts_from_now_when_the_window_already_started() {
        assert_eq!(narrow(hours(2)), Ok((utc(10, 0), utc(12, 0))));
    }

    #[test]
    fn duration_counts_from_the_requested_start_when_it_is_later() {
        let got = narrow_window(&hours(2), (utc(12, 0), utc(17, 0)), utc(10, 0), plus_one());
        assert_eq!(got, Ok((utc(12, 0), utc(14, 0))));
    }

    #[test]
    fn wider_than_requested_is_refused_with_the_requested_length_and_end() {
        let Err(ReplyRefusal::BadWindow { why }) = narrow(hours(10)) else {
            unreachable!("a 10h window inside an 8h request must be refused");
        };
        assert_eq!(
            why,
            "APPROVE 10h is wider than the requested window (8h, ends 2026-11-21 18:00 +01:00): write a shorter window or plain APPROVE"
        );
    }

    #[test]
    fn until_time_is_read_in_the_approvals_time_zone() {
        let t = NaiveTime::from_hms_opt(15, 0, 0).unwrap_or_default();
        assert_eq!(
            narrow(WindowChange::UntilTime(t)),
            Ok((utc(10, 0), utc(14, 0)))
        );
    }

    #[test]
    fn until_time_already_past_today_means_tomorrow_and_is_then_too_wide() {
        let t = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
        assert!(matches!(
            narrow(WindowChange::UntilTime(t)),
            Err(ReplyRefusal::BadWindow { .. })
        ));
    }

    #[test]
    fn until_date_time_inside_the_window() {
        let dt = NaiveDate::from_ymd_opt(2026, 11, 21)
            .and_then(|d| d.and_hms_opt(17, 30, 0))
            .unwrap_or_default();
        assert_eq!(
            narrow(WindowChange::UntilDateTime(dt)),
            Ok((utc(10, 0), utc(16, 30)))
        );
    }

    #[test]
    fn until_time_at_a_named_offset_ignores_the_approvals_zone() {
        let t = NaiveTime::from_hms_opt(15, 0, 0).unwrap_or_default();
        let zero = FixedOffset::east_opt(0).unwrap();
        assert_eq!(
            narrow(WindowChange::UntilTimeAt(t, zero)),
            Ok((utc(10, 0), utc(15, 0)))
        );
    }

    #[test]
    fn until_date_time_in_the_past_is_refused() {
        let dt = NaiveDate::from_ymd_opt(2026, 11, 21)
            .and_then(|d| d.and_hms_opt(10, 30, 0))
            .unwrap_or_default();
        let Err(ReplyRefusal::BadWindow { why }) = narrow(WindowChange::UntilDateTime(dt)) else {
            unreachable!("an end before now must be refused");
        };
        assert!(why.contains("ends before the window starts"), "{why}");
    }

    #[test]
    fn window_that_already_ended_is_refused() {
        let got = narrow_window(&hours(1), (utc(6, 0), utc(8, 0)), utc(10, 0), plus_one());
        assert!(matches!(got, Err(ReplyRefusal::BadWindow { .. })));
    }

    #[test]
    fn durations_are_written_as_approvers_type_them() {
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
        assert_eq!(format_duration(Duration::minutes(45)), "45m");
        assert_eq!(format_duration(Duration::hours(8)), "8h");
    }
}
