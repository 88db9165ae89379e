//! The MIME parser approvald runs skips the header fields it does not read
//! (`MIME_PARSER`). Skipping a field must not move where any field ends:
//! the fields approvald reads by their offsets, the MIME structure and the
//! decoded bodies must be exactly what mail-parser's full default parsing
//! gives, for every fixture and for hostile header sections.

use mail_parser::{Message, MessageParser, MimeHeaders};
use proptest::prelude::*;

use super::fixture_tests::{fixture, FIXTURES};
use super::MIME_PARSER;

/// Where every field of every part begins and ends, each part's body, and
/// the fields approvald reads through the parser.
fn layout(m: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in m.parts.iter().enumerate() {
        for h in &part.headers {
            out.push(format!(
                "part {i} {} {}..{}..{}",
                h.name.as_str().to_ascii_lowercase(),
                h.offset_field,
                h.offset_start,
                h.offset_end
            ));
        }
        out.push(format!(
            "part {i} body {}..{} {:?} {:?} {:?}",
            part.offset_body,
            part.offset_end,
            part.text_contents(),
            part.content_type().map(|c| (c.ctype(), c.subtype())),
            part.is_encoding_problem
        ));
    }
    out.push(format!(
        "subject {:?} from {:?} message-id {:?} text {:?} html {:?}",
        m.subject(),
        m.from().and_then(|a| a.first()).and_then(|a| a.address()),
        m.message_id(),
        m.text_body,
        m.html_body
    ));
    out
}

fn same_layout(raw: &[u8]) -> Result<(), TestCaseError> {
    let full = MessageParser::default().parse(raw);
    let ours = MIME_PARSER.parse(raw);
    prop_assert_eq!(full.is_some(), ours.is_some());
    if let (Some(full), Some(ours)) = (full, ours) {
        prop_assert_eq!(layout(&full), layout(&ours));
    }
    let full = MessageParser::default().parse_headers(raw);
    let ours = MIME_PARSER.parse_headers(raw);
    prop_assert_eq!(full.is_some(), ours.is_some());
    if let (Some(full), Some(ours)) = (full, ours) {
        prop_assert_eq!(layout(&full), layout(&ours));
    }
    Ok(())
}

#[test]
fn every_fixture_has_the_same_layout_under_both_parsers() {
    for name in FIXTURES {
        if let Err(e) = same_layout(&fixture(name)) {
            panic!("{name}: {e}");
        }
    }
}

/// A header value as hostile senders write them: quotes, comments and
/// angle brackets left open, encoded words, and every kind of line break
/// and folding.
fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[ -~]{0,12}",
            Just("\"".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("<".to_string()),
            Just(">".to_string()),
            Just("\\".to_string()),
            Just(",".to_string()),
            Just(";".to_string()),
            Just("=?utf-8?q?a=3Db?=".to_string()),
            Just("=?utf-8?b?QVBQUk9WRQ==?=".to_string()),
            Just("\r\n ".to_string()),
            Just("\r\n\t".to_string()),
            Just("\n ".to_string()),
            Just("\r".to_string()),
            Just("\n".to_string()),
            Just("\u{e9}".to_string()),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("To"),
        Just("Cc"),
        Just("From"),
        Just("Subject"),
        Just("Message-ID"),
        Just("Received"),
        Just("Delivered-To"),
        Just("X-Original-To"),
        Just("Auto-Submitted"),
        Just("Authentication-Results"),
        Just("DKIM-Signature"),
        Just("Date"),
        Just("References"),
        Just("In-Reply-To"),
        Just("List-Id"),
        Just("List-Unsubscribe"),
        Just("Return-Path"),
        Just("Content-Type"),
        Just("Content-Transfer-Encoding"),
        Just("Keywords"),
        Just("X-Mailer"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the header section holds, both parsers cut it into the
    /// same fields and the body into the same parts.
    #[test]
    fn hostile_header_sections_have_the_same_layout(
        fields in proptest::collection::vec((name(), value()), 1..12),
        body in prop_oneof![
            Just("APPROVE\r\n".to_string()),
            Just("--b\r\nContent-Type: text/plain\r\n\r\nAPPROVE\r\n--b--\r\n".to_string()),
            "[ -~\r\n]{0,40}",
        ],
    ) {
        let mut raw = String::new();
        for (n, v) in &fields {
            raw.push_str(n);
            raw.push_str(": ");
            raw.push_str(v);
            raw.push_str("\r\n");
        }
        raw.push_str("\r\n");
        raw.push_str(&body);
        same_layout(raw.as_bytes())?;
    }
}
