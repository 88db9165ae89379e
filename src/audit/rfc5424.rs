//! Formats audit events as RFC 5424 syslog messages.
//!
//! Every text field of an event may come from hostile mail (addresses,
//! comments), so everything is sanitised here: header fields are reduced to
//! printable ASCII, structured-data values are escaped and stripped of
//! control characters, and the free-text message loses its line breaks so
//! one event is always exactly one line.

use std::fmt;
use std::str::FromStr;

use super::format::Origin;
use crate::records::audit_chain::{hex, Sealed};
use crate::records::AuditEvent;

/// RFC 5424 field limits (section 6).
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;

/// The largest value RFC 5424's `meta sequenceId` may take (§7.3.1); it
/// then starts again at 1. Our own element carries the full number.
const SEQUENCE_ID_MAX: u64 = 2_147_483_647;

/// The byte-order mark RFC 5424 §6.4 puts before a UTF-8 MSG.
pub(crate) const BOM: char = '\u{feff}';

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
pub(crate) fn format(event: &AuditEvent, origin: &Origin, procid: u32) -> String {
    let link = event.link;
    let sealed = Sealed::of(event, link.map_or(0, |l| l.seq));
    let mut out = header(event, origin, procid, &sealed.ts);
    if let Some(l) = link {
        out.push_str(" [meta sequenceId=\"");
        out.push_str(&((l.seq.saturating_sub(1)) % SEQUENCE_ID_MAX + 1).to_string());
        out.push_str("\"]");
    } else {
        out.push(' ');
    }
    out.push_str("[origin software=\"approvald\" swVersion=\"");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("\" enterpriseId=\"");
    out.push_str(&origin.enterprise.to_string());
    out.push_str("\"][");
    out.push_str(&origin.sd_id());
    let level = sealed.level.map(|l| l.to_string());
    let seq = link.map(|l| l.seq.to_string());
    let prev = link.map(|l| hex(&l.prev));
    let hash = link.map(|l| hex(&l.hash));
    let params: [(&str, Option<&str>); 11] = [
        ("eventid", seq.as_deref()),
        ("request", sealed.request.as_deref()),
        ("actor", sealed.actor.as_deref()),
        ("action", sealed.action.as_deref()),
        ("resource", sealed.resource.as_deref()),
        ("level", level.as_deref()),
        ("outcome", Some(sealed.outcome.as_str())),
        ("reason", sealed.reason.as_deref()),
        ("kind", Some(sealed.kind.as_str())),
        ("prev", prev.as_deref()),
        ("hash", hash.as_deref()),
    ];
    for (name, value) in params {
        if let Some(value) = value {
            push_param(&mut out, name, value);
        }
    }
    out.push_str("] ");
    out.push(BOM);
    out.push_str(&sealed.message);
    out
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`, shared by every
/// format: the collector's syslog parser always sees RFC 5424.
pub(crate) fn header(event: &AuditEvent, origin: &Origin, procid: u32, ts: &str) -> String {
    let pri = u16::from(origin.facility.code()) * 8 + u16::from(event.kind.severity().code());
    let mut out = String::with_capacity(512 + event.message.len());
    out.push('<');
    out.push_str(&pri.to_string());
    out.push_str(">1 ");
    out.push_str(ts);
    for (field, max) in [
        (origin.host.as_str(), HOSTNAME_MAX),
        (origin.app.as_str(), APP_NAME_MAX),
    ] {
        out.push(' ');
        out.push_str(&header_field(field, max));
    }
    out.push(' ');
    out.push_str(&procid.to_string());
    out.push(' ');
    out.push_str(&header_field(event.kind.msgid(), MSGID_MAX));
    out
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

/// Appends ` name="value"`, escaped per RFC 5424 §6.3.3. The value is
/// already sealed: capped, without control characters.
fn push_param(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{EventKind, Severity};
    use chrono::{DateTime, TimeZone, Timelike, Utc};
    use proptest::prelude::*;

    use crate::audit::format::{Format, DOCUMENTATION_ENTERPRISE};
    use crate::audit::read_back::{parse, Parsed};
    use crate::records::audit_chain::{cap_bytes, flatten_control, REASON_MAX, VALUE_MAX};

    const ELLIPSIS: char = '…';
    const OURS: &str = "approvald@32473";

    fn origin(host: &str, app: &str, facility: Facility) -> Origin {
        Origin {
            host: host.into(),
            app: app.into(),
            facility,
            enterprise: DOCUMENTATION_ENTERPRISE,
            format: Format::Rfc5424,
        }
    }

    /// The old call shape, so each test says only what it varies.
    fn line(e: &AuditEvent, host: &str, app: &str, procid: u32, facility: Facility) -> String {
        format(e, &origin(host, app, facility), procid)
    }

    fn ours(p: &Parsed) -> Vec<(String, String)> {
        p.elements
            .iter()
            .find(|(id, _)| id == OURS)
            .map(|(_, ps)| ps.clone())
            .unwrap_or_default()
    }

    fn param<'a>(p: &'a Parsed, name: &str) -> Option<&'a str> {
        p.param(OURS, name)
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
        let line = line(
            &full_event(),
            "mail.example.com",
            "approvald",
            4242,
            Facility::Authpriv,
        );
        let p = parse(&line).unwrap();
        assert_eq!(p.pri, Some(10 * 8 + 5));
        assert_eq!(p.timestamp, "2026-11-21T10:05:07.123456Z");
        assert_eq!(p.host, "mail.example.com");
        assert_eq!(p.app, "approvald");
        assert_eq!(p.procid, "4242");
        assert_eq!(p.msgid, "decision-accepted");
        let ids: Vec<&str> = p.elements.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            ["origin", OURS],
            "no meta element for an unnumbered event"
        );
        assert_eq!(p.param("origin", "software"), Some("approvald"));
        assert_eq!(p.param("origin", "enterpriseId"), Some("32473"));
        let params = ours(&p);
        let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
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
            assert_eq!(param(&p, name), Some(value), "{name}");
        }
        assert_eq!(p.msg, "Alice approved AR-42");
        assert!(line.contains("] \u{feff}Alice"), "BOM right before MSG");
        assert!(!line.ends_with('\n'));
    }

    #[test]
    fn exact_line_for_a_minimal_event() {
        let e = AuditEvent::new(t0(), EventKind::DaemonStarted, "started", "up");
        let line = line(&e, "h", "approvald", 1, Facility::Daemon);
        assert_eq!(
            line,
            concat!(
                "<29>1 2026-11-21T10:05:07.123456Z h approvald 1 daemon-started ",
                "[origin software=\"approvald\" swVersion=\"",
                env!("CARGO_PKG_VERSION"),
                "\" enterpriseId=\"32473\"]",
                "[approvald@32473 outcome=\"started\" kind=\"daemon-started\"] \u{feff}up"
            )
        );
    }

    #[test]
    fn a_chained_event_carries_its_number_and_hashes() {
        let e = AuditEvent::new(t0(), EventKind::DaemonStarted, "started", "up");
        let link = crate::records::audit_chain::link(&e, Some((41, [0xab; 32])));
        let e = AuditEvent {
            link: Some(link),
            ..e
        };
        let mut o = origin("h", "approvald", Facility::Daemon);
        o.enterprise = 99999;
        let p = parse(&format(&e, &o, 1)).unwrap();
        let ids: Vec<&str> = p.elements.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["meta", "origin", "approvald@99999"]);
        assert_eq!(p.param("meta", "sequenceId"), Some("42"));
        assert_eq!(p.param("approvald@99999", "eventid"), Some("42"));
        assert_eq!(
            p.param("approvald@99999", "prev"),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            p.param("approvald@99999", "hash"),
            Some(hex(&link.hash).as_str())
        );
    }

    #[test]
    fn sequence_id_wraps_as_rfc5424_requires() {
        let cases = [
            (1, "1"),
            (2_147_483_647, "2147483647"),
            (2_147_483_648, "1"),
        ];
        for (seq, want) in cases {
            let e = AuditEvent::new(t0(), EventKind::Mailed, "sent", "m");
            let e = AuditEvent {
                link: Some(crate::records::audit_chain::link(
                    &e,
                    Some((seq - 1, [0; 32])),
                )),
                ..e
            };
            let p = parse(&format(&e, &origin("h", "a", Facility::Daemon), 1)).unwrap();
            assert_eq!(p.param("meta", "sequenceId"), Some(want), "{seq}");
            assert_eq!(param(&p, "eventid"), Some(seq.to_string().as_str()));
        }
    }

    #[test]
    fn absent_fields_are_omitted() {
        let e = AuditEvent::new(t0(), EventKind::Mailed, "sent", "");
        let p = parse(&line(&e, "h", "a", 1, Facility::Authpriv)).unwrap();
        let params = ours(&p);
        let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
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
                parse(&line(&e, "h", "a", 1, facility)).unwrap().pri,
                Some(pri),
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
            let p = parse(&line(&full_event(), host, "app", 1, Facility::Authpriv)).unwrap();
            assert_eq!(p.host, want, "{host:?}");
        }
        let p = parse(&line(
            &full_event(),
            "h",
            &"a".repeat(60),
            1,
            Facility::Authpriv,
        ))
        .unwrap();
        assert_eq!(p.app.len(), 48);
        let p = parse(&line(&full_event(), "h", "", 1, Facility::Authpriv)).unwrap();
        assert_eq!(p.app, "-");
    }

    #[test]
    fn log_injection_via_newline_in_message_is_flattened() {
        let mut e = full_event();
        e.message = "ok\n<13>1 2026-01-01T00:00:00Z evil x - - - forged\r\n".into();
        e.reason = Some("a\nb".into());
        let line = line(&e, "h", "a", 1, Facility::Authpriv);
        assert!(!line.contains(['\n', '\r']));
        let p = parse(&line).unwrap();
        assert!(p.msg.starts_with("ok <13>1"));
        assert_eq!(param(&p, "reason"), Some("a b"));
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
            assert_eq!(crate::records::audit_chain::timestamp(at), want);
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
        let line = line(
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
            param(&p, "reason").unwrap().len(),
            REASON_MAX + ELLIPSIS.len_utf8()
        );
        assert_eq!(
            param(&p, "actor").unwrap().len(),
            VALUE_MAX + ELLIPSIS.len_utf8()
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
            let line = line(&e, &host, &app, 7, Facility::Authpriv);
            let p = parse(&line).map_err(|err| TestCaseError::fail(format!("{err}: {line:?}")))?;
            prop_assert_eq!(p.msgid.as_str(), kind.msgid());
            let got = |name: &str| param(&p, name).map(str::to_string);
            prop_assert_eq!(got("request"), request.as_deref().map(|s| sanitized(s, VALUE_MAX)));
            prop_assert_eq!(got("actor"), actor.as_deref().map(|s| sanitized(s, VALUE_MAX)));
            prop_assert_eq!(got("reason"), reason.as_deref().map(|s| sanitized(s, REASON_MAX)));
            prop_assert_eq!(got("outcome"), Some(sanitized(&outcome, VALUE_MAX)));
            prop_assert_eq!(got("level"), level.map(|l| l.to_string()));
            prop_assert_eq!(got("kind"), Some(kind.msgid().to_string()));
            let flat: String = message.chars().map(flatten_control).collect();
            prop_assert_eq!(p.msg.as_str(), flat.trim_end());
        }
    }
}
