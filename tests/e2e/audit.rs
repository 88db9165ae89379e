//! The audit trail against a real syslog server (rsyslogd): every line is
//! valid RFC 5424 to rsyslog's own parser, and the durable spool delivers
//! every event once the server is reachable again, whether it was down
//! for a moment or across a restart of the daemon.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

use crate::flow::{group, start_with, People, Setup, WAIT};
use crate::support::daemon_config::Level;
use crate::support::mailbox::Mailbox;
use crate::support::rsyslog::{self, Proto, Rsyslog};
use crate::support::stack::skip_without_stack;

/// How long events may take to arrive once the server is back: the
/// shipper's back-off grows up to 60 s, so this covers one full wait.
const DRAIN: Duration = Duration::from_secs(90);

/// The structured-data id of every audit line.
const SD_ID: &str = "approvald@32473";

/// Parameter names in the order the daemon writes them; each is optional.
const PARAM_ORDER: [&str; 11] = [
    "eventid", "request", "actor", "action", "resource", "level", "outcome", "reason", "kind",
    "prev", "hash",
];

/// `authpriv`, the daemon's facility.
const FACILITY: u16 = 10;

/// The severity of each MSGID these tests see (RFC 5424 §6.2.1):
/// notice 5, informational 6.
const SEVERITIES: [(&str, u16); 7] = [
    ("daemon-started", 5),
    ("daemon-stopped", 5),
    ("submitted", 5),
    ("decision-accepted", 5),
    ("approved", 5),
    ("level-advanced", 5),
    ("mailed", 6),
];

/// One audit line, parsed strictly by the grammar of RFC 5424 §6.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// `<PRI>`: facility × 8 + severity.
    pri: u16,
    timestamp: DateTime<FixedOffset>,
    host: String,
    app: String,
    procid: String,
    msgid: String,
    /// The structured data exactly as written, to compare with rsyslog's.
    sd_text: String,
    /// Every SD element's id, in order.
    sd_ids: Vec<String>,
    /// The other elements' parameters (meta, origin), unescaped.
    others: Vec<(String, Vec<(String, String)>)>,
    /// approvald's own element's parameters, unescaped, in order.
    params: Vec<(String, String)>,
    /// MSG without its BOM.
    msg: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter `name` of element `id` (not approvald's own).
    fn other(&self, id: &str, name: &str) -> Option<&str> {
        self.others
            .iter()
            .find(|(i, _)| i == id)
            .and_then(|(_, ps)| ps.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v.as_str())
    }

    fn request(&self) -> Option<&str> {
        self.param("request")
    }

    fn eventid(&self) -> u64 {
        self.param("eventid")
            .unwrap_or_else(|| panic!("no eventid: {self:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("eventid not a number ({e}): {self:?}"))
    }
}

/// Parses `SYSLOG-MSG` with a version-1 header, SD-ELEMENTs and a UTF-8
/// MSG starting with the BOM; anything else is an error naming the
/// part that is wrong.
fn parse(line: &str) -> Result<Line, String> {
    let rest = line.strip_prefix('<').ok_or("no '<' before PRI")?;
    let (pri, rest) = rest.split_once('>').ok_or("no '>' after PRI")?;
    if pri.is_empty()
        || pri.len() > 3
        || !pri.bytes().all(|b| b.is_ascii_digit())
        || (pri.len() > 1 && pri.starts_with('0'))
    {
        return Err(format!("bad PRI {pri:?}"));
    }
    let pri: u16 = pri.parse().map_err(|e| format!("PRI: {e}"))?;
    if pri > 191 {
        return Err(format!("PRI {pri} out of range"));
    }
    let rest = rest.strip_prefix("1 ").ok_or("VERSION is not 1")?;
    let mut fields = rest.splitn(6, ' ');
    let mut field = |name: &str, max: usize| -> Result<String, String> {
        let value = fields.next().ok_or(format!("no {name}"))?;
        if value.is_empty() || value.len() > max || !value.bytes().all(|b| (33..=126).contains(&b))
        {
            return Err(format!("bad {name} {value:?}"));
        }
        Ok(value.to_owned())
    };
    let timestamp = field("TIMESTAMP", 32)?;
    let host = field("HOSTNAME", 255)?;
    let app = field("APP-NAME", 48)?;
    let procid = field("PROCID", 128)?;
    let msgid = field("MSGID", 32)?;
    let rest = fields.next().ok_or("no STRUCTURED-DATA")?;
    // RFC 3339 with the restrictions of RFC 5424 §6.2.3: upper-case T and
    // Z, at most six fraction digits.
    let fraction_digits = timestamp.split_once('.').map_or(0, |(_, f)| {
        f.chars().take_while(char::is_ascii_digit).count()
    });
    if timestamp.contains(['t', 'z']) || fraction_digits > 6 {
        return Err(format!("bad TIMESTAMP {timestamp:?}"));
    }
    let timestamp = DateTime::parse_from_rfc3339(&timestamp)
        .map_err(|e| format!("TIMESTAMP {timestamp:?}: {e}"))?;

    let mut after = rest;
    let mut sd_ids = Vec::new();
    let mut others = Vec::new();
    let mut params = Vec::new();
    while after.starts_with('[') {
        let (id, ps, next) = parse_sd_element(after)?;
        after = next;
        if sd_ids.contains(&id) {
            return Err(format!("SD-ID {id} twice"));
        }
        sd_ids.push(id.clone());
        if id == SD_ID {
            params = ps;
        } else {
            others.push((id, ps));
        }
    }
    if sd_ids.is_empty() {
        return Err("no SD-ELEMENT".into());
    }
    let sd_text = rest[..rest.len() - after.len()].to_owned();
    let msg = after
        .strip_prefix(' ')
        .ok_or("no SP before MSG")?
        .strip_prefix('\u{feff}')
        .ok_or("MSG without BOM")?
        .to_owned();
    if msg.chars().any(char::is_control) {
        return Err(format!("control character in MSG {msg:?}"));
    }
    Ok(Line {
        pri,
        timestamp,
        host,
        app,
        procid,
        msgid,
        sd_text,
        sd_ids,
        others,
        params,
        msg,
    })
}

/// `[SD-ID *(SP SD-PARAM)]`; returns the id, the unescaped parameters and
/// what follows the closing bracket.
#[expect(
    clippy::type_complexity,
    reason = "one parse step: the id, its parameters and the rest"
)]
fn parse_sd_element(s: &str) -> Result<(String, Vec<(String, String)>, &str), String> {
    let mut rest = s.strip_prefix('[').ok_or("no SD-ELEMENT")?;
    let sd_name = |rest: &str| -> (String, usize) {
        let name: String = rest
            .chars()
            .take_while(|c| matches!(c, '!'..='~') && !matches!(c, '=' | ']' | '"'))
            .collect();
        let len = name.len();
        (name, len)
    };
    let (id, len) = sd_name(rest);
    if id.is_empty() || id.len() > 32 {
        return Err(format!("bad SD-ID {id:?}"));
    }
    rest = &rest[len..];
    let mut params = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            return Ok((id, params, after));
        }
        rest = rest
            .strip_prefix(' ')
            .ok_or(format!("junk in SD: {rest:?}"))?;
        let (name, len) = sd_name(rest);
        if name.is_empty() || name.len() > 32 {
            return Err(format!("bad PARAM-NAME {name:?}"));
        }
        rest = rest[len..]
            .strip_prefix("=\"")
            .ok_or(format!("no =\" after {name}"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of {name}")),
                Some((i, '"')) => break i,
                Some((_, ']')) => return Err(format!("unescaped ] in value of {name}")),
                Some((_, '\\')) => match chars.next() {
                    Some((_, c @ ('"' | '\\' | ']'))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value of {name}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        params.push((name, value));
        rest = &rest[end + 1..];
    }
}

/// The machine's host name as the daemon puts it into HOSTNAME.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// Parses every received line, failing the test on the first that is not
/// valid RFC 5424 or not shaped like an approvald audit line.
fn parse_all(lines: &[String]) -> Vec<Line> {
    lines
        .iter()
        .map(|l| {
            let line = parse(l).unwrap_or_else(|e| panic!("not RFC 5424 ({e}): {l}"));
            check_shape(&line, l);
            line
        })
        .collect()
}

/// What holds for every audit line whatever its kind.
fn check_shape(line: &Line, raw: &str) {
    assert_eq!(
        raw.matches(SD_ID).count(),
        1,
        "two messages merged into one: {raw}"
    );
    assert_eq!(line.app, "approvald", "{raw}");
    assert_eq!(line.sd_ids, ["meta", "origin", SD_ID], "{raw}");
    assert_eq!(
        line.other("meta", "sequenceId"),
        line.param("eventid"),
        "{raw}"
    );
    assert_eq!(line.other("origin", "software"), Some("approvald"), "{raw}");
    assert!(line.param("hash").is_some_and(|h| h.len() == 64), "{raw}");
    assert_eq!(line.host, hostname(), "{raw}");
    let names: Vec<&str> = line.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = PARAM_ORDER.iter().filter(|p| names.contains(p));
    assert!(
        names.iter().all(|n| expected.next() == Some(n)),
        "parameters {names:?} are not a duplicate-free subsequence of {PARAM_ORDER:?}: {raw}"
    );
    assert_eq!(line.param("kind"), Some(line.msgid.as_str()), "{raw}");
    let severity = SEVERITIES
        .iter()
        .find(|(m, _)| *m == line.msgid)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("unexpected MSGID {}: {raw}", line.msgid));
    assert_eq!(line.pri, FACILITY * 8 + severity, "{raw}");
    assert!(line.param("outcome").is_some(), "{raw}");
    line.eventid();
}

/// rsyslog's own parser must agree with ours on every line: same PRI,
/// version 1 (it falls back to 0 for what is not RFC 5424), same header
/// fields, same structured data and MSG. Both files are written by one
/// ruleset, message by message, so they are in the same order.
fn check_rsyslog_agrees(server: &Rsyslog, lines: &[Line]) {
    let parsed = server.parsed();
    assert_eq!(
        parsed.len(),
        lines.len(),
        "rsyslog parsed a different number of messages than it received: {parsed:#?}"
    );
    for (theirs, ours) in parsed.iter().zip(lines) {
        let want = [
            ("pri", ours.pri.to_string()),
            ("version", "1".to_owned()),
            ("hostname", ours.host.clone()),
            ("app", ours.app.clone()),
            ("procid", ours.procid.clone()),
            ("msgid", ours.msgid.clone()),
            ("sd", ours.sd_text.clone()),
            ("msg", format!("\u{feff}{}", ours.msg)),
        ];
        for (field, value) in want {
            assert_eq!(theirs[field], value.as_str(), "{field} of {theirs:#}");
        }
        let ts = DateTime::parse_from_rfc3339(theirs["timestamp"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("rsyslog timestamp ({e}): {theirs:#}"));
        assert_eq!(ts, ours.timestamp, "{theirs:#}");
    }
}

/// Lines of MSGID `msgid` about request `id`.
fn of<'a>(lines: &'a [Line], msgid: &str, id: &str) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|l| l.msgid == msgid && l.request() == Some(id))
        .collect()
}

/// Lines of MSGID `msgid` about no request (the daemon's own events).
fn daemon_events<'a>(lines: &'a [Line], msgid: &str) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|l| l.msgid == msgid && l.request().is_none())
        .collect()
}

/// Received lines of MSGID `msgid` about request `id`, without parsing.
fn count_raw(lines: &[String], msgid: &str, id: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!(" {msgid} ")) && l.contains(&format!("request=\"{id}\"")))
        .count()
}

/// Fails the test when an event arrived twice: the spool removes an event
/// once the transport took it, so nothing is sent again.
fn assert_each_event_once(lines: &[Line]) {
    let mut seen: HashMap<u64, &Line> = HashMap::new();
    for line in lines {
        if let Some(first) = seen.insert(line.eventid(), line) {
            panic!(
                "eventid {} arrived twice:\n{first:?}\n{line:?}",
                line.eventid()
            );
        }
    }
}

/// How many mails about request `id` reached `people`: each one was
/// handed to SMTP, so each has its `mailed` event.
async fn mails_about(s: &Setup, people: &[&str], id: &str) -> usize {
    let tag = format!("[{id}]");
    let mut n = 0;
    for who in people {
        n += Mailbox::new(s.stack, who)
            .fetch_all("INBOX")
            .await
            .iter()
            .filter(|m| m.subject().starts_with(&tag))
            .count();
    }
    n
}

/// Submits a request for `p.dave`, lets `p.alice` approve it, and waits
/// until every mail about it (request, receipt, outcome) was delivered, so
/// that all its audit events have been recorded. Returns the request id
/// and how many mails were sent about it.
pub(crate) async fn approved_request(s: &Setup, p: &People) -> (String, usize) {
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
    let outcome = format!("[{id}] Approved");
    Mailbox::new(s.stack, &p.dave)
        .wait_for("INBOX", |m| m.subject().starts_with(&outcome), WAIT)
        .await;
    let mails = mails_about(s, &[&p.alice, &p.dave], &id).await;
    (id, mails)
}

/// Waits until every event of the approved request `id` has arrived:
/// submitted, decision-accepted, approved, and one `mailed` per mail.
pub(crate) async fn wait_for_request_events(server: &Rsyslog, id: &str, mails: usize) -> Vec<Line> {
    let lines = server
        .wait_until(
            &format!("every event of {id}"),
            |lines| {
                ["submitted", "decision-accepted", "approved"]
                    .iter()
                    .all(|k| count_raw(lines, k, id) >= 1)
                    && count_raw(lines, "mailed", id) >= mails
            },
            DRAIN,
        )
        .await;
    let lines = parse_all(&lines);
    for kind in ["submitted", "decision-accepted", "approved"] {
        assert_eq!(of(&lines, kind, id).len(), 1, "{kind} of {id}: {lines:#?}");
    }
    assert_eq!(
        of(&lines, "mailed", id).len(),
        mails,
        "one mailed event per mail about {id}: {lines:#?}"
    );
    lines
}

/// What one audit line of a request must say.
struct Expected<'a> {
    /// Its MSGID.
    kind: &'static str,
    /// Parameters besides the ones every line of the request has.
    params: Vec<(&'static str, &'a str)>,
    /// A parameter this kind has no value for.
    absent: Option<&'static str>,
    /// MSG after the BOM.
    msg: &'static str,
}

async fn lines_reach_rsyslog_as_valid_rfc5424(proto: Proto, test: &str) {
    let server = Rsyslog::start(proto, Rsyslog::free_port()).await;
    let p = People::new(test);
    let before = Utc::now();
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = server.url();
    })
    .await;
    let (id, mails) = approved_request(&s, &p).await;
    let lines = wait_for_request_events(&server, &id, mails).await;
    let after = Utc::now();

    let pid = s.daemon.pid().unwrap().to_string();
    for line in &lines {
        assert_eq!(line.procid, pid, "{line:?}");
        let at = line.timestamp.with_timezone(&Utc);
        assert!(
            at >= before - chrono::Duration::seconds(5) && at <= after,
            "event time {at} outside the test ({before} to {after}): {line:?}"
        );
    }
    assert_eq!(daemon_events(&lines, "daemon-started").len(), 1);
    assert_each_event_once(&lines);

    // The three events of the decision, parameter by parameter.
    let common = [
        ("request", id.as_str()),
        ("action", "certificate.sign"),
        ("resource", "web-01.example.test"),
        ("level", "1"),
    ];
    let cases = [
        Expected {
            kind: "submitted",
            params: vec![("actor", &p.dave), ("outcome", "pending")],
            absent: None,
            msg: "request submitted",
        },
        Expected {
            kind: "decision-accepted",
            params: vec![("actor", &p.alice), ("outcome", "accepted")],
            absent: None,
            msg: "decision accepted",
        },
        Expected {
            kind: "approved",
            params: vec![("outcome", "approved")],
            absent: Some("actor"),
            msg: "request approved",
        },
    ];
    for want in cases {
        let kind = want.kind;
        let line = of(&lines, kind, &id)[0];
        for (name, value) in common.iter().chain(&want.params) {
            assert_eq!(line.param(name), Some(*value), "{name} of {kind}: {line:?}");
        }
        if let Some(absent) = want.absent {
            assert_eq!(line.param(absent), None, "{kind}: {line:?}");
        }
        assert_eq!(line.msg, want.msg, "{kind}: {line:?}");
    }
    for line in of(&lines, "mailed", &id) {
        assert_eq!(line.param("outcome"), Some("sent"), "{line:?}");
    }
    check_rsyslog_agrees(&server, &lines);
}

/// Octet-counted frames over one TCP connection: a wrong count would split
/// a line or merge two, which both parsers would see.
#[tokio::test(flavor = "multi_thread")]
async fn audit_lines_reach_rsyslog_over_tcp_as_valid_rfc5424() {
    if skip_without_stack() {
        return;
    }
    lines_reach_rsyslog_as_valid_rfc5424(Proto::Tcp, "audit_tcp").await;
}

/// One datagram per line.
#[tokio::test(flavor = "multi_thread")]
async fn audit_lines_reach_rsyslog_over_udp_as_valid_rfc5424() {
    if skip_without_stack() {
        return;
    }
    lines_reach_rsyslog_as_valid_rfc5424(Proto::Udp, "audit_udp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_events_survive_a_syslog_outage() {
    if skip_without_stack() {
        return;
    }
    let port = Rsyslog::free_port();
    let p = People::new("audit_outage");
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = rsyslog::url(Proto::Tcp, port);
    })
    .await;
    // Nothing listens: every event of this request waits in the spool.
    let (first, first_mails) = approved_request(&s, &p).await;

    let mut server = Rsyslog::start(Proto::Tcp, port).await;
    let lines = wait_for_request_events(&server, &first, first_mails).await;
    assert_eq!(
        daemon_events(&lines, "daemon-started").len(),
        1,
        "{lines:#?}"
    );
    assert_each_event_once(&lines);
    check_rsyslog_agrees(&server, &lines);

    // A second outage, this time of a server the daemon was connected to.
    server.stop().await;
    let (second, second_mails) = approved_request(&s, &p).await;
    server.restart().await;
    let lines = wait_for_request_events(&server, &second, second_mails).await;
    let again = of(&lines, "submitted", &first).len();
    assert_eq!(again, 1, "the first request's events came again");
    assert_eq!(daemon_events(&lines, "daemon-started").len(), 1);
    assert_each_event_once(&lines);
    check_rsyslog_agrees(&server, &lines);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_events_survive_a_daemon_restart_while_syslog_is_down() {
    if skip_without_stack() {
        return;
    }
    let port = Rsyslog::free_port();
    let p = People::new("audit_restart");
    let mut s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = rsyslog::url(Proto::Tcp, port);
    })
    .await;
    let id = s.submit(&p.dave).await;
    s.approval_mail(&p.alice, &id).await;
    let receipt = format!("[{id}] Request received");
    Mailbox::new(s.stack, &p.dave)
        .wait_for("INBOX", |m| m.subject().starts_with(&receipt), WAIT)
        .await;
    let mails = mails_about(&s, &[&p.alice, &p.dave], &id).await;

    let status = s.daemon.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    s.daemon.restart().await;

    let server = Rsyslog::start(Proto::Tcp, port).await;
    let lines = server
        .wait_until(
            "the events from before and after the restart",
            |lines| {
                let kind = |k: &str| {
                    let k = format!(" {k} ");
                    lines.iter().filter(|l| l.contains(&k)).count()
                };
                kind("daemon-started") >= 2
                    && kind("daemon-stopped") >= 1
                    && count_raw(lines, "submitted", &id) >= 1
                    && count_raw(lines, "mailed", &id) >= mails
            },
            DRAIN,
        )
        .await;
    let lines = parse_all(&lines);
    assert_eq!(daemon_events(&lines, "daemon-started").len(), 2);
    assert_eq!(daemon_events(&lines, "daemon-stopped").len(), 1);
    assert_eq!(of(&lines, "submitted", &id).len(), 1);
    assert_eq!(of(&lines, "mailed", &id).len(), mails);
    assert_each_event_once(&lines);
    check_rsyslog_agrees(&server, &lines);

    // The stop record follows what happened before it.
    let stopped = daemon_events(&lines, "daemon-stopped")[0];
    let submitted = of(&lines, "submitted", &id)[0];
    assert!(
        submitted.eventid() < stopped.eventid() && submitted.timestamp <= stopped.timestamp,
        "submitted before the stop: {submitted:?} {stopped:?}"
    );
    assert_eq!(s.get(&id).await["status"], "pending");
}

/// The checks above are only worth something if the parser refuses what
/// a framing or formatting error produces.
#[test]
fn rfc5424_parser_refuses_split_merged_and_malformed_lines() {
    let good = "<85>1 2026-01-02T03:04:05.123456Z vm approvald 42 submitted \
                [approvald@32473 eventid=\"3\" request=\"AR-1\" reason=\"a \\\"q\\\" \\] b\" kind=\"submitted\"] \
                \u{feff}request submitted";
    let line = parse(good).unwrap();
    assert_eq!(line.pri, 85);
    assert_eq!(line.msgid, "submitted");
    assert_eq!(line.param("reason"), Some("a \"q\" ] b"));
    assert_eq!(line.msg, "request submitted");
    assert_eq!(line.eventid(), 3);

    let split_at = good.find("request=").unwrap();
    let bad = [
        ("cut inside the SD", good[..split_at].to_owned()),
        ("the rest of a cut line", good[split_at..].to_owned()),
        ("version 0", good.replacen(">1 ", ">0 ", 1)),
        (
            "BSD header",
            "<85>Jan  2 03:04:05 vm approvald[42]: hi".to_owned(),
        ),
        ("PRI too large", good.replacen("<85>", "<192>", 1)),
        (
            "seven fraction digits",
            good.replacen(".123456Z", ".1234567Z", 1),
        ),
        ("lower-case z", good.replacen("456Z", "456z", 1)),
        ("no BOM", good.replacen('\u{feff}', "", 1)),
        (
            "the same SD element twice",
            good.replacen("] \u{feff}", "][approvald@32473 a=\"b\"] \u{feff}", 1),
        ),
        ("unescaped ]", good.replacen("\\]", "]", 1)),
        (
            "unterminated value",
            good.replacen("\"submitted\"]", "\"submitted]", 1),
        ),
        ("line break in MSG", format!("{good}\n<85>1 -")),
    ];
    for (name, line) in bad {
        assert!(parse(&line).is_err(), "{name} accepted: {line}");
    }
}
