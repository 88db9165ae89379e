//! Reads approvald's own lines back from a collector's file: RFC 5424 with
//! approvald's structured data, or CEE JSON. What `audit verify` checks.
//!
//! The parser is strict where the chain depends on it (escaping, the
//! element and its parameters) and lenient where collectors differ: a
//! line may carry a prefix before `<PRI>` (a file format's own time stamp),
//! PRI may be missing, and the time stamp may be re-rendered with an
//! offset instead of `Z`.

use chrono::DateTime;

use super::json::CEE_COOKIE;
use super::rfc5424::BOM;
use crate::records::audit_chain::{timestamp, unhex, Link, Sealed};

/// One chained event read from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadBack {
    /// Its number and hashes, as the line claims them.
    pub(crate) link: Link,
    /// Its fields, as the line shows them.
    pub(crate) sealed: Sealed,
}

/// What one line of a file is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// One of ours, chained.
    Event(Box<ReadBack>),
    /// Not one of ours (another program's line, a blank line).
    Foreign,
    /// One of ours, but unreadable: damaged or cut.
    Damaged(String),
}

/// Reads one line of a collector's file or of `audit export`: approvald's
/// element is recognised whatever enterprise number it was written with.
///
/// Where a line is one of ours is decided by its structure, never by
/// searching its text: a value may contain `@cee:` or `[approvald@`.
pub(crate) fn read_line(line: &str) -> LineKind {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.starts_with('{') {
        return json_line(line);
    }
    match parse(line) {
        Ok(parsed) => {
            let ours = parsed
                .elements
                .iter()
                .find(|(id, _)| id.starts_with("approvald@"))
                .map(|(id, _)| id.clone());
            match ours {
                Some(sd_id) => match rfc5424_event(parsed, &sd_id) {
                    Ok(e) => LineKind::Event(Box::new(e)),
                    Err(why) => LineKind::Damaged(why),
                },
                None if parsed.elements.is_empty() => match parsed.msg.strip_prefix(CEE_COOKIE) {
                    Some(json) => json_line(json),
                    None => LineKind::Foreign,
                },
                None => LineKind::Foreign,
            }
        }
        // Not RFC 5424 from the start: a collector's own file format
        // ("Dec  5 14:25:07 host approvald[7]: @cee:{…}"), where the first
        // cookie follows the collector's own header.
        Err(why) => match line.find(CEE_COOKIE) {
            Some(at) => json_line(line.get(at + CEE_COOKIE.len()..).unwrap_or("")),
            None if line.contains("[approvald@") => LineKind::Damaged(why),
            None => LineKind::Foreign,
        },
    }
}

fn json_line(json: &str) -> LineKind {
    match json_event(json) {
        Ok(Some(e)) => LineKind::Event(Box::new(e)),
        Ok(None) => LineKind::Foreign,
        Err(why) => LineKind::Damaged(why),
    }
}

/// A CEE JSON object of ours (`software` approvald, with a hash).
fn json_event(json: &str) -> Result<Option<ReadBack>, String> {
    #[derive(serde::Deserialize)]
    struct Object {
        #[serde(flatten)]
        sealed: Sealed,
        software: Option<String>,
        prev: Option<String>,
        hash: Option<String>,
    }
    let o: Object = serde_json::from_str(json).map_err(|e| format!("JSON: {e}"))?;
    if o.software.as_deref() != Some("approvald") {
        return Ok(None);
    }
    let link = link_of(o.sealed.seq, o.prev.as_deref(), o.hash.as_deref())?;
    Ok(Some(ReadBack {
        link,
        sealed: o.sealed,
    }))
}

fn link_of(seq: u64, prev: Option<&str>, hash: Option<&str>) -> Result<Link, String> {
    let (Some(prev), Some(hash)) = (prev.and_then(unhex), hash.and_then(unhex)) else {
        return Err(format!("event {seq} carries no valid chain hashes"));
    };
    if seq == 0 {
        return Err("sequence number 0".into());
    }
    Ok(Link { seq, prev, hash })
}

/// An RFC 5424 line with our element.
fn rfc5424_event(parsed: Parsed, sd_id: &str) -> Result<ReadBack, String> {
    let ours = parsed
        .elements
        .iter()
        .find(|(id, _)| id == sd_id)
        .map(|(_, params)| params)
        .ok_or("no approvald element")?;
    let get = |name: &str| ours.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let seq: u64 = get("eventid")
        .ok_or("no eventid")?
        .parse()
        .map_err(|_| "eventid is not a number")?;
    let link = link_of(seq, get("prev").as_deref(), get("hash").as_deref())?;
    let level = match get("level") {
        None => None,
        Some(l) => Some(l.parse::<u8>().map_err(|_| "level is not a number")?),
    };
    let ts = if parsed.timestamp == "-" {
        "-".to_string()
    } else {
        // Collectors may write the instant back with an offset: compare
        // instants, not spellings.
        let at = DateTime::parse_from_rfc3339(&parsed.timestamp)
            .map_err(|e| format!("time stamp {:?}: {e}", parsed.timestamp))?;
        timestamp(at.to_utc())
    };
    Ok(ReadBack {
        link,
        sealed: Sealed {
            seq,
            ts,
            kind: get("kind").ok_or("no kind")?,
            outcome: get("outcome").ok_or("no outcome")?,
            request: get("request"),
            actor: get("actor"),
            action: get("action"),
            resource: get("resource"),
            level,
            reason: get("reason"),
            message: parsed.msg,
        },
    })
}

/// The parts of an RFC 5424 line.
#[derive(Debug)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "the header fields are checked by the formatters' tests"
    )
)]
pub(crate) struct Parsed {
    /// PRI, when the line kept it.
    pub(crate) pri: Option<u16>,
    /// TIMESTAMP as written.
    pub(crate) timestamp: String,
    /// HOSTNAME.
    pub(crate) host: String,
    /// APP-NAME.
    pub(crate) app: String,
    /// PROCID.
    pub(crate) procid: String,
    /// MSGID.
    pub(crate) msgid: String,
    /// Every SD element: its id and its parameters, unescaped.
    pub(crate) elements: Vec<(String, Vec<(String, String)>)>,
    /// MSG without the BOM.
    pub(crate) msg: String,
}

impl Parsed {
    /// Parameter `name` of element `id`.
    #[cfg(test)]
    pub(crate) fn param(&self, id: &str, name: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|(i, _)| i == id)
            .and_then(|(_, ps)| ps.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v.as_str())
    }
}

fn printusascii(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(format!("bad header field {s:?}"));
    }
    Ok(())
}

/// Parses an RFC 5424 line strictly from `<PRI>1` (or `1 `) on: every
/// value quoted, `"`, `\` and `]` only escaped.
pub(crate) fn parse(line: &str) -> Result<Parsed, String> {
    if line.contains(['\n', '\r']) {
        return Err("line break in message".into());
    }
    // A collector's file format may put its own time stamp and host before
    // the message; PRI, when kept, starts the message itself.
    let pri_at = if line.starts_with("1 ") {
        None
    } else {
        line.char_indices()
            .take_while(|(i, _)| *i < 128)
            .find(|(_, c)| *c == '<')
            .map(|(i, _)| i)
    };
    let (pri, rest) = match pri_at {
        Some(at) => {
            let after = line.get(at + 1..).unwrap_or("");
            let (digits, rest) = after.split_once('>').ok_or("bad PRI")?;
            if digits.is_empty()
                || digits.len() > 3
                || (digits.len() > 1 && digits.starts_with('0'))
            {
                return Err("bad PRI digits".into());
            }
            let pri: u16 = digits.parse().map_err(|_| "bad PRI")?;
            if pri > 191 {
                return Err("PRI out of range".into());
            }
            (Some(pri), rest)
        }
        None => (None, line),
    };
    let rest = rest.strip_prefix("1 ").ok_or("not RFC 5424 (VERSION 1)")?;
    let mut parts = rest.splitn(6, ' ');
    let mut next = || parts.next().ok_or("missing header field".to_string());
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
    let mut elements = Vec::new();
    if chars.peek() == Some(&'-') {
        chars.next();
    } else {
        while chars.peek() == Some(&'[') {
            chars.next();
            elements.push(element(&mut chars)?);
        }
        if elements.is_empty() {
            return Err("no structured data".into());
        }
    }
    let msg = match chars.next() {
        None => String::new(),
        Some(' ') => {
            let m: String = chars.collect();
            m.strip_prefix(BOM).map(str::to_string).unwrap_or(m)
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
        elements,
        msg,
    })
}

/// One SD element after its `[`, up to and including its `]`.
fn element(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(String, Vec<(String, String)>), String> {
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
    if sd_id.is_empty() || sd_id.len() > 32 {
        return Err(format!("bad SD-ID {sd_id:?}"));
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
                Some(c) if c.is_ascii_graphic() && !matches!(c, '"' | ']' | ' ') => name.push(c),
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
    Ok((sd_id, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::format::{line, Format, Origin};
    use crate::audit::rfc5424::Facility;
    use crate::audit::verify::Verifier;
    use crate::records::audit_chain::link;
    use crate::records::{AuditEvent, EventKind};
    use chrono::{TimeZone, Utc};

    /// A chained run of hostile-looking events.
    fn events() -> Vec<AuditEvent> {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 5, 14, 25, 7)
            .single()
            .unwrap_or_else(|| panic!("instant"));
        let raw = [
            AuditEvent::new(at, EventKind::DaemonStarted, "ok", "approvald started"),
            AuditEvent::new(
                at,
                EventKind::DecisionAccepted,
                "accepted",
                "approved \"x\" [y] \\ z",
            )
            .with_request("AR-1")
            .with_actor("bob@example.test")
            .with_level(1)
            .with_reason("fine ] \" \\ @cee:{\"software\":\"approvald\"}"),
            AuditEvent::new(at, EventKind::ReplyRefused, "refused", "line\nbreak  \t")
                .with_actor("ré@例え.jp")
                .with_reason("x".repeat(2000)),
        ];
        let mut head = None;
        raw.into_iter()
            .map(|e| {
                let l = link(&e, head);
                head = Some((l.seq, l.hash));
                AuditEvent { link: Some(l), ..e }
            })
            .collect()
    }

    fn origin(format: Format) -> Origin {
        Origin {
            host: "host".into(),
            app: "approvald".into(),
            facility: Facility::Authpriv,
            enterprise: 32473,
            format,
        }
    }

    fn verify(lines: &[String]) -> Verifier {
        let mut v = Verifier::default();
        for (i, l) in lines.iter().enumerate() {
            match read_line(l) {
                LineKind::Event(e) => v.feed(e.link, &e.sealed),
                LineKind::Foreign => panic!("line {i} not recognised: {l}"),
                LineKind::Damaged(why) => panic!("line {i} damaged ({why}): {l}"),
            }
        }
        v
    }

    #[test]
    fn lines_of_both_verifiable_formats_read_back_intact() {
        for format in [Format::Rfc5424, Format::Json] {
            let lines: Vec<String> = events()
                .iter()
                .map(|e| line(e, &origin(format), 7))
                .collect();
            let v = verify(&lines);
            assert_eq!((v.events, v.findings.clone()), (3, vec![]), "{format}");
        }
    }

    #[test]
    fn collector_rewrites_that_are_not_tampering() {
        let lines: Vec<String> = events()
            .iter()
            .map(|e| line(e, &origin(Format::Rfc5424), 7))
            .collect();
        type Rewrite = fn(&str) -> String;
        let rewrites: [(&str, Rewrite); 4] = [
            ("file prefix before PRI", |l| {
                format!("Dec  5 14:25:07 relay {l}")
            }),
            ("PRI dropped", |l| {
                l.get(l.find('>').map_or(0, |i| i + 1)..)
                    .unwrap_or("")
                    .to_string()
            }),
            ("offset instead of Z", |l| {
                l.replace(".000000Z", ".000000+00:00")
            }),
            ("another host name", |l| {
                l.replacen(" host ", " relay.example ", 1)
            }),
        ];
        for (name, rewrite) in rewrites {
            let v = verify(&lines.iter().map(|l| rewrite(l)).collect::<Vec<_>>());
            assert_eq!(v.findings, vec![], "{name}");
        }
    }

    #[test]
    fn an_edited_line_is_found_altered() {
        let mut lines: Vec<String> = events()
            .iter()
            .map(|e| line(e, &origin(Format::Rfc5424), 7))
            .collect();
        lines[1] = lines[1].replace("bob@example.test", "eve@example.test");
        let v = verify(&lines);
        assert_eq!(
            v.findings,
            vec![crate::audit::verify::Finding::Altered { seq: 2 }]
        );
    }

    #[test]
    fn other_programs_lines_are_foreign_and_cut_lines_damaged() {
        let l = line(&events()[1], &origin(Format::Rfc5424), 7);
        let cases = [
            ("<13>1 2026-12-05T00:00:00Z h sshd 1 - - hello", "foreign"),
            ("", "foreign"),
            ("{\"software\":\"other\",\"seq\":1}", "damaged"),
            (&l[..l.len() / 2], "damaged"),
        ];
        for (input, want) in cases {
            let got = match read_line(input) {
                LineKind::Event(_) => "event",
                LineKind::Foreign => "foreign",
                LineKind::Damaged(_) => "damaged",
            };
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn cef_lines_carry_the_chain_and_escape_their_separators() {
        let e = &events()[1];
        let l = line(e, &origin(Format::Cef), 7);
        let cef = l
            .split_once(" - CEF:0|")
            .map(|(_, c)| c)
            .unwrap_or_default();
        let header: Vec<&str> = cef.splitn(6, '|').collect();
        assert_eq!(header.first().copied(), Some("approvald"));
        assert_eq!(header.get(3).copied(), Some("decision-accepted"));
        let ext = header.get(5).copied().unwrap_or_default();
        assert!(ext.contains("cn1=2 "), "{ext}");
        assert!(ext.contains("cs6Label=chainHash cs6="), "{ext}");
        assert!(ext.contains("suser=bob@example.test"), "{ext}");
        assert!(ext.contains(r#"msg=approved "x" [y] \\ z"#), "{ext}");
        let e = AuditEvent::new(e.at, EventKind::Mailed, "a=b", "p|q").with_reason("k=v\\");
        let l = line(&e, &origin(Format::Cef), 7);
        assert!(l.contains(r"|p\|q|"), "{l}");
        assert!(l.contains(r"outcome=a\=b reason=k\=v\\ msg=p|q"), "{l}");
        assert!(!l.contains('\n'));
    }
}
