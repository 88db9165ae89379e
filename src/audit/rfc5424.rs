//! Formats audit events as RFC 5424 syslog messages.
//!
//! Every text field of an event may come from hostile mail (addresses,
//! comments), so everything is sanitised here: header fields are reduced to
//! printable ASCII, structured-data values are escaped and stripped of
//! control characters, and the free-text message loses its line breaks so
//! one event is always exactly one line.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Timelike};

use crate::records::AuditEvent;

/// Structured-data id for our parameters. 32473 is the private enterprise
/// number RFC 5612 reserves for documentation; replace it if the product
/// gets its own number.
pub(crate) const SD_ID: &str = "approvald@32473";

/// RFC 5424 field limits (section 6).
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;

/// Caps on structured-data values, in bytes before escaping. Chosen so
/// that even a worst-case event (every value at its cap, every byte
/// escaped) keeps its header and structured data within the 8 KiB a UDP
/// datagram is truncated to: truncation then only ever shortens MSG.
const SD_VALUE_MAX: usize = 256;
/// The reason may carry an approver's comment, so it gets more room.
const SD_REASON_MAX: usize = 1024;

/// Marks a value that was cut to its cap.
const ELLIPSIS: char = '…';

/// The byte-order mark RFC 5424 §6.4 puts before a UTF-8 MSG.
const BOM: char = '\u{feff}';

/// Syslog facilities (RFC 5424 §6.2.1) that make sense for a daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Facility {
    /// Kernel messages (0).
    Kern,
    /// User-level messages (1).
    User,
    /// Mail system (2).
    Mail,
    /// System daemons (3).
    Daemon,
    /// Security/authorization messages (4).
    Auth,
    /// Messages generated internally by syslogd (5).
    Syslog,
    /// Line printer subsystem (6).
    Lpr,
    /// Network news subsystem (7).
    News,
    /// UUCP subsystem (8).
    Uucp,
    /// Clock daemon (9).
    Cron,
    /// Private security/authorization messages (10): the default, because
    /// approval trails belong with other access-control logs and are not
    /// world-readable on most systems.
    #[default]
    Authpriv,
    /// FTP daemon (11).
    Ftp,
    /// Local use 0 (16).
    Local0,
    /// Local use 1 (17).
    Local1,
    /// Local use 2 (18).
    Local2,
    /// Local use 3 (19).
    Local3,
    /// Local use 4 (20).
    Local4,
    /// Local use 5 (21).
    Local5,
    /// Local use 6 (22).
    Local6,
    /// Local use 7 (23).
    Local7,
}

/// Facility names in configuration order, with their codes.
const FACILITIES: [(&str, Facility, u8); 20] = [
    ("kern", Facility::Kern, 0),
    ("user", Facility::User, 1),
    ("mail", Facility::Mail, 2),
    ("daemon", Facility::Daemon, 3),
    ("auth", Facility::Auth, 4),
    ("syslog", Facility::Syslog, 5),
    ("lpr", Facility::Lpr, 6),
    ("news", Facility::News, 7),
    ("uucp", Facility::Uucp, 8),
    ("cron", Facility::Cron, 9),
    ("authpriv", Facility::Authpriv, 10),
    ("ftp", Facility::Ftp, 11),
    ("local0", Facility::Local0, 16),
    ("local1", Facility::Local1, 17),
    ("local2", Facility::Local2, 18),
    ("local3", Facility::Local3, 19),
    ("local4", Facility::Local4, 20),
    ("local5", Facility::Local5, 21),
    ("local6", Facility::Local6, 22),
    ("local7", Facility::Local7, 23),
];

impl Facility {
    /// The numeric code that goes into PRI.
    pub(crate) fn code(self) -> u8 {
        FACILITIES
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or(10, |(_, _, code)| *code)
    }

    /// The configuration name ("authpriv", "local0", …).
    pub(crate) fn name(self) -> &'static str {
        FACILITIES
            .iter()
            .find(|(_, f, _)| *f == self)
            .map_or("authpriv", |(name, _, _)| name)
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A facility name that is not one of [`Facility`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown syslog facility {0:?} (expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0..local7)")]
pub(crate) struct UnknownFacility(
    /// The rejected name, echoed so the config error points at it.
    pub(crate) String,
);

impl FromStr for Facility {
    type Err = UnknownFacility;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        FACILITIES
            .iter()
            .find(|(name, _, _)| *name == lower)
            .map(|(_, f, _)| *f)
            .ok_or_else(|| UnknownFacility(s.to_string()))
    }
}

/// This machine's host name for the HOSTNAME field (sanitised later by
/// [`format`]).
pub(crate) fn local_hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Formats one event as an RFC 5424 message, without trailing newline
/// (the transport frames it).
pub(crate) fn format(
    event: &AuditEvent,
    host: &str,
    app: &str,
    procid: u32,
    facility: Facility,
) -> String {
    let pri = u16::from(facility.code()) * 8 + u16::from(event.kind.severity().code());
    let mut out = String::with_capacity(256 + event.message.len());
    out.push('<');
    out.push_str(&pri.to_string());
    out.push_str(">1 ");
    out.push_str(&timestamp(event.at));
    for (field, max) in [(host, HOSTNAME_MAX), (app, APP_NAME_MAX)] {
        out.push(' ');
        out.push_str(&header_field(field, max));
    }
    out.push(' ');
    out.push_str(&procid.to_string());
    out.push(' ');
    out.push_str(&header_field(event.kind.msgid(), MSGID_MAX));
    out.push_str(" [");
    out.push_str(SD_ID);
    let level = event.level.map(|l| l.to_string());
    let id = event.id.map(|i| i.to_string());
    let params: [(&str, Option<&str>, usize); 9] = [
        ("eventid", id.as_deref(), SD_VALUE_MAX),
        ("request", event.request.as_deref(), SD_VALUE_MAX),
        ("actor", event.actor.as_deref(), SD_VALUE_MAX),
        ("action", event.action.as_deref(), SD_VALUE_MAX),
        ("resource", event.resource.as_deref(), SD_VALUE_MAX),
        ("level", level.as_deref(), SD_VALUE_MAX),
        ("outcome", Some(event.outcome.as_str()), SD_VALUE_MAX),
        ("reason", event.reason.as_deref(), SD_REASON_MAX),
        ("kind", Some(event.kind.msgid()), SD_VALUE_MAX),
    ];
    for (name, value, max) in params {
        if let Some(value) = value {
            push_param(&mut out, name, value, max);
        }
    }
    out.push_str("] ");
    out.push(BOM);
    out.extend(event.message.chars().map(flatten_control));
    out
}

/// RFC 3339 with microseconds and `Z`, or NILVALUE for instants RFC 5424
/// cannot express (years outside 0000-9999).
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    if !(0..=9999).contains(&at.year()) {
        return "-".to_string();
    }
    // chrono encodes a leap second as nanoseconds >= 1e9, which would print
    // as ":60"; RFC 5424 forbids leap seconds, so stay in second 59.
    let at = if at.nanosecond() >= 1_000_000_000 {
        at.with_nanosecond(999_999_999).unwrap_or(at)
    } else {
        at
    };
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reduces a header field to PRINTUSASCII within `max` bytes, NILVALUE if
/// nothing is left. Other characters become `_` rather than vanishing, so
/// distinct names stay distinguishable.
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if matches!(c, '!'..='~') { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_string()
    } else {
        cleaned
    }
}

/// Appends ` name="value"`, escaped per RFC 5424 §6.3.3 and capped.
fn push_param(out: &mut String, name: &str, value: &str, max: usize) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    let (kept, cut) = cap_bytes(value, max);
    for c in kept.chars().map(flatten_control) {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    if cut {
        out.push(ELLIPSIS);
    }
    out.push('"');
}

/// The longest prefix of `s` of at most `max` bytes ending on a char
/// boundary, and whether anything was cut.
pub(crate) fn cap_bytes(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or(""), true)
}

/// Line breaks and other control characters would let hostile text start
/// a forged log line; replace them with a space.
fn flatten_control(c: char) -> char {
    if c.is_control() {
        ' '
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{EventKind, Severity};
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    /// A strictly parsed RFC 5424 line.
    #[derive(Debug)]
    struct Parsed {
        pri: u16,
        timestamp: String,
        host: String,
        app: String,
        procid: String,
        msgid: String,
        sd_id: String,
        params: Vec<(String, String)>,
        msg: String,
    }

    impl Parsed {
        fn param(&self, name: &str) -> Option<&str> {
            self.params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn printusascii(s: &str, max: usize) -> Result<(), String> {
        if s.is_empty() || s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(format!("bad header field {s:?}"));
        }
        Ok(())
    }

    /// A deliberately strict parser: one SD element, every value quoted,
    /// `"`, `\` and `]` only appear escaped, MSG must start with the BOM.
    fn parse(line: &str) -> Result<Parsed, String> {
        if line.contains(['\n', '\r']) {
            return Err("line break in message".into());
        }
        let mut parts = line.splitn(7, ' ');
        let mut next = || parts.next().ok_or("missing header field".to_string());
        let pri_ver = next()?;
        let pri = pri_ver
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix(">1"))
            .ok_or("bad PRI/VERSION")?;
        if pri.len() > 3 || (pri.len() > 1 && pri.starts_with('0')) {
            return Err("bad PRI digits".into());
        }
        let pri: u16 = pri.parse().map_err(|_| "bad PRI")?;
        if pri > 191 {
            return Err("PRI out of range".into());
        }
        let timestamp = next()?.to_string();
        let host = next()?.to_string();
        let app = next()?.to_string();
        let procid = next()?.to_string();
        let msgid = next()?.to_string();
        printusascii(&timestamp, 64)?;
        printusascii(&host, 255)?;
        printusascii(&app, 48)?;
        printusascii(&procid, 128)?;
        printusascii(&msgid, 32)?;
        let rest = next()?;
        let mut chars = rest.chars().peekable();
        if chars.next() != Some('[') {
            return Err("no structured data".into());
        }
        let mut sd_id = String::new();
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == ']' {
                break;
            }
            if matches!(c, '=' | '"') || !c.is_ascii_graphic() {
                return Err(format!("bad SD-ID char {c:?}"));
            }
            sd_id.push(c);
            chars.next();
        }
        let mut params = Vec::new();
        loop {
            match chars.next() {
                Some(']') => break,
                Some(' ') => {}
                other => return Err(format!("expected SP or ] got {other:?}")),
            }
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some('=') => break,
                    Some(c) if c.is_ascii_graphic() && !matches!(c, '"' | ']' | ' ') => {
                        name.push(c)
                    }
                    other => return Err(format!("bad PARAM-NAME char {other:?}")),
                }
            }
            if name.is_empty() || name.len() > 32 || chars.next() != Some('"') {
                return Err(format!("bad param {name:?}"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | ']')) => value.push(c),
                        Some(c) => {
                            value.push('\\');
                            value.push(c)
                        }
                        None => return Err("dangling escape".into()),
                    },
                    Some(']') => return Err("unescaped ] in PARAM-VALUE".into()),
                    Some(c) => value.push(c),
                    None => return Err("unterminated PARAM-VALUE".into()),
                }
            }
            params.push((name, value));
        }
        let msg = match chars.next() {
            None => String::new(),
            Some(' ') => {
                let m: String = chars.collect();
                m.strip_prefix(BOM).ok_or("MSG without BOM")?.to_string()
            }
            Some(c) => return Err(format!("junk after SD: {c:?}")),
        };
        Ok(Parsed {
            pri,
            timestamp,
            host,
            app,
            procid,
            msgid,
            sd_id,
            params,
            msg,
        })
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 5, 7).unwrap()
            + chrono::Duration::nanoseconds(123_456_789)
    }

    fn full_event() -> AuditEvent {
        AuditEvent::new(
            t0(),
            EventKind::DecisionAccepted,
            "accepted",
            "Alice approved AR-42",
        )
        .with_request("AR-42")
        .with_actor("alice@example.com")
        .with_action("ssh")
        .with_resource("db-prod-1")
        .with_level(2)
        .with_reason("looks \"fine\" [ok] \\o/")
    }

    #[test]
    fn full_event_parses_back_field_by_field() {
        let line = format(
            &full_event(),
            "mail.example.com",
            "approvald",
            4242,
            Facility::Authpriv,
        );
        let p = parse(&line).unwrap();
        assert_eq!(p.pri, 10 * 8 + 5);
        assert_eq!(p.timestamp, "2026-11-21T10:05:07.123456Z");
        assert_eq!(p.host, "mail.example.com");
        assert_eq!(p.app, "approvald");
        assert_eq!(p.procid, "4242");
        assert_eq!(p.msgid, "decision-accepted");
        assert_eq!(p.sd_id, "approvald@32473");
        let names: Vec<&str> = p.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["request", "actor", "action", "resource", "level", "outcome", "reason", "kind"]
        );
        let expected = [
            ("request", "AR-42"),
            ("actor", "alice@example.com"),
            ("action", "ssh"),
            ("resource", "db-prod-1"),
            ("level", "2"),
            ("outcome", "accepted"),
            ("reason", "looks \"fine\" [ok] \\o/"),
            ("kind", "decision-accepted"),
        ];
        for (name, value) in expected {
            assert_eq!(p.param(name), Some(value), "{name}");
        }
        assert_eq!(p.msg, "Alice approved AR-42");
        assert!(line.contains("] \u{feff}Alice"), "BOM right before MSG");
        assert!(!line.ends_with('\n'));
    }

    #[test]
    fn exact_line_for_a_minimal_event() {
        let e = AuditEvent::new(t0(), EventKind::DaemonStarted, "started", "up");
        let line = format(&e, "h", "approvald", 1, Facility::Daemon);
        assert_eq!(
            line,
            "<29>1 2026-11-21T10:05:07.123456Z h approvald 1 daemon-started \
             [approvald@32473 outcome=\"started\" kind=\"daemon-started\"] \u{feff}up"
        );
    }

    #[test]
    fn absent_fields_are_omitted() {
        let e = AuditEvent::new(t0(), EventKind::Mailed, "sent", "");
        let p = parse(&format(&e, "h", "a", 1, Facility::Authpriv)).unwrap();
        let names: Vec<&str> = p.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["outcome", "kind"]);
    }

    #[test]
    fn pri_combines_facility_and_severity() {
        let cases = [
            (EventKind::MailFailed, Facility::Authpriv, 83),
            (EventKind::ReplyRefused, Facility::Authpriv, 84),
            (EventKind::Mailed, Facility::Authpriv, 86),
            (EventKind::Approved, Facility::Kern, 5),
            (EventKind::Approved, Facility::Local7, 23 * 8 + 5),
            (EventKind::SelfApprovalRefused, Facility::Auth, 36),
        ];
        for (kind, facility, pri) in cases {
            let e = AuditEvent::new(t0(), kind, "x", "y");
            assert_eq!(
                parse(&format(&e, "h", "a", 1, facility)).unwrap().pri,
                pri,
                "{kind:?}"
            );
        }
        assert_eq!(EventKind::MailFailed.severity(), Severity::Error);
    }

    #[test]
    fn header_fields_are_sanitised_and_capped() {
        let long = "h".repeat(300);
        let cases = [
            ("", "-"),
            ("host name\n", "host_name_"),
            ("münchen", "m_nchen"),
            (long.as_str(), &long[..255]),
        ];
        for (host, want) in cases {
            let p = parse(&format(&full_event(), host, "app", 1, Facility::Authpriv)).unwrap();
            assert_eq!(p.host, want, "{host:?}");
        }
        let p = parse(&format(
            &full_event(),
            "h",
            &"a".repeat(60),
            1,
            Facility::Authpriv,
        ))
        .unwrap();
        assert_eq!(p.app.len(), 48);
        let p = parse(&format(&full_event(), "h", "", 1, Facility::Authpriv)).unwrap();
        assert_eq!(p.app, "-");
    }

    #[test]
    fn log_injection_via_newline_in_message_is_flattened() {
        let mut e = full_event();
        e.message = "ok\n<13>1 2026-01-01T00:00:00Z evil x - - - forged\r\n".into();
        e.reason = Some("a\nb".into());
        let line = format(&e, "h", "a", 1, Facility::Authpriv);
        assert!(!line.contains(['\n', '\r']));
        let p = parse(&line).unwrap();
        assert!(p.msg.starts_with("ok <13>1"));
        assert_eq!(p.param("reason"), Some("a b"));
    }

    #[test]
    fn timestamp_edge_cases() {
        let leap = Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::nanoseconds(999_999_999);
        let leap = leap.with_nanosecond(1_500_000_000).unwrap();
        let cases = [
            (
                Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
                "2026-01-02T03:04:05.000000Z",
            ),
            (leap, "2016-12-31T23:59:59.999999Z"),
            (DateTime::<Utc>::MAX_UTC, "-"),
        ];
        for (at, want) in cases {
            assert_eq!(timestamp(at), want);
        }
    }

    #[test]
    fn regression_worst_case_event_keeps_sd_within_udp_limit() {
        let quotes = "\"".repeat(5000);
        // Quotes double when escaped: the worst bytes-per-input ratio.
        let e = AuditEvent::new(
            t0(),
            EventKind::SelfApprovalRefused,
            quotes.clone(),
            "m".repeat(9000),
        )
        .with_request(quotes.clone())
        .with_actor(quotes.clone())
        .with_action(quotes.clone())
        .with_resource(quotes.clone())
        .with_level(255)
        .with_reason(quotes.clone());
        let line = format(
            &e,
            &"h".repeat(400),
            &"a".repeat(100),
            u32::MAX,
            Facility::Local7,
        );
        let sd_end = line.find("] \u{feff}").unwrap();
        // Header and SD (plus " " and the BOM) fit in one 8 KiB datagram.
        assert!(sd_end + 5 <= 8 * 1024, "SD ends at {sd_end}");
        let p = parse(&line).unwrap();
        assert_eq!(
            p.param("reason").unwrap().len(),
            SD_REASON_MAX + ELLIPSIS.len_utf8()
        );
        assert_eq!(
            p.param("actor").unwrap().len(),
            SD_VALUE_MAX + ELLIPSIS.len_utf8()
        );
    }

    #[test]
    fn cap_bytes_respects_char_boundaries() {
        let cases = [
            ("abc", 5, "abc", false),
            ("abc", 3, "abc", false),
            ("abcd", 3, "abc", true),
            ("aé", 2, "a", true),
            ("🦀🦀", 7, "🦀", true),
            ("", 0, "", false),
        ];
        for (s, max, want, cut) in cases {
            assert_eq!(cap_bytes(s, max), (want, cut), "{s:?} {max}");
        }
    }

    #[test]
    fn facility_names_parse_and_roundtrip() {
        for (name, facility, code) in FACILITIES {
            assert_eq!(name.parse::<Facility>(), Ok(facility));
            assert_eq!(facility.code(), code);
            assert_eq!(facility.to_string(), name);
        }
        assert_eq!("AuthPriv".parse::<Facility>(), Ok(Facility::Authpriv));
        assert_eq!(Facility::default(), Facility::Authpriv);
        assert!("local8".parse::<Facility>().is_err());
        let f: Facility = serde_json::from_str("\"local3\"").unwrap();
        assert_eq!(f, Facility::Local3);
    }

    fn sanitized(s: &str, max: usize) -> String {
        let (kept, cut) = cap_bytes(s, max);
        let mut out: String = kept.chars().map(flatten_control).collect();
        if cut {
            out.push(ELLIPSIS);
        }
        out
    }

    proptest! {
        #[test]
        fn prop_arbitrary_text_never_breaks_structure(
            request in proptest::option::of(any::<String>()),
            actor in proptest::option::of(any::<String>()),
            reason in proptest::option::of(".{0,1200}"),
            outcome in any::<String>(),
            message in any::<String>(),
            host in any::<String>(),
            app in any::<String>(),
            level in proptest::option::of(any::<u8>()),
            kind in proptest::sample::select(EventKind::ALL.to_vec()),
        ) {
            let mut e = AuditEvent::new(t0(), kind, outcome.clone(), message.clone());
            e.request = request.clone();
            e.actor = actor.clone();
            e.reason = reason.clone();
            e.level = level;
            let line = format(&e, &host, &app, 7, Facility::Authpriv);
            let p = parse(&line).map_err(|err| TestCaseError::fail(format!("{err}: {line:?}")))?;
            prop_assert_eq!(p.msgid.as_str(), kind.msgid());
            let got = |name: &str| p.param(name).map(str::to_string);
            prop_assert_eq!(got("request"), request.as_deref().map(|s| sanitized(s, SD_VALUE_MAX)));
            prop_assert_eq!(got("actor"), actor.as_deref().map(|s| sanitized(s, SD_VALUE_MAX)));
            prop_assert_eq!(got("reason"), reason.as_deref().map(|s| sanitized(s, SD_REASON_MAX)));
            prop_assert_eq!(got("outcome"), Some(sanitized(&outcome, SD_VALUE_MAX)));
            prop_assert_eq!(got("level"), level.map(|l| l.to_string()));
            prop_assert_eq!(got("kind"), Some(kind.msgid().to_string()));
            let flat: String = message.chars().map(flatten_control).collect();
            prop_assert_eq!(p.msg, flat);
        }
    }
}
