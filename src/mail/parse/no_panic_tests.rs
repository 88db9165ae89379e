//! Property tests: no input, however hostile, makes the parser panic or
//! break the guarantees callers rely on.

use proptest::prelude::*;

use super::auth_results::AuthResults;
use super::fixture_tests::{fixture, inbox, FIXTURES};
use super::html::html_to_text;
use super::token_candidates::{offer_footer_tokens, Candidates, MAX_CANDIDATES, TOKEN_LEN};
use super::*;
use crate::domain::wire::{SUBJECT_TAG_OPEN, TOKEN_LINE_PREFIX};

/// Checks what every caller relies on, whatever the input was.
fn assert_invariants(mail: &InboundMail) {
    assert!(mail.token_candidates.len() <= MAX_CANDIDATES);
    for (i, token) in mail.token_candidates.iter().enumerate() {
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        assert!(!mail.token_candidates[..i].contains(token), "duplicate");
    }
    if let Some(from) = &mail.from {
        assert_eq!(from.matches('@').count(), 1, "{from}");
        assert!(!from.chars().any(|c| c.is_whitespace() || c.is_control()));
        assert_eq!(from, &from.to_lowercase());
    }
    if let Ok(text) = &mail.text {
        assert!(!text.contains('\r'));
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 0usize..200).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                Just(b"\r\n\r\n".to_vec()),
                Just(b"\r\n--".to_vec()),
                Just(b"=\r\n".to_vec()),
                Just(b"<blockquote>".to_vec()),
                Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
                Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
                Just(b"=?utf-8?B?".to_vec()),
                Just(TOKEN_LINE_PREFIX.as_bytes().to_vec()),
                Just(SUBJECT_TAG_OPEN.as_bytes().to_vec()),
            ]
        )
            .prop_map(|(p, bytes)| Mutation::Insert(p, bytes)),
        (any::<usize>(), 0usize..400).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut raw: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = raw.len().max(1);
        match m {
            Mutation::Flip(p, b) => {
                if let Some(byte) = raw.get_mut(p % len) {
                    *byte ^= b;
                }
            }
            Mutation::Delete(p, n) => {
                let start = (p % len).min(raw.len());
                let end = (start + n).min(raw.len());
                raw.drain(start..end);
            }
            Mutation::Insert(p, bytes) => {
                let at = (p % len).min(raw.len());
                raw.splice(at..at, bytes.iter().copied());
            }
            Mutation::Duplicate(p, n) => {
                let start = (p % len).min(raw.len());
                let end = (start + n).min(raw.len());
                let copy = raw[start..end].to_vec();
                raw.splice(end..end, copy);
            }
            Mutation::Truncate(p) => raw.truncate(p % len),
        }
    }
    raw
}

/// Pieces of markup that exercise the converter's states.
fn html_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<blockquote>"),
        Just("</blockquote>"),
        Just("<blockquote type=\"cite\">"),
        Just("<div class=\"gmail_quote\">"),
        Just("<div id=\"divRplyFwdMsg\">"),
        Just("<div class='yahoo_quoted'>"),
        Just("<div style=\"display:none\">"),
        Just("</div>"),
        Just("<div>"),
        Just("<p>"),
        Just("</p>"),
        Just("<br>"),
        Just("<hr>"),
        Just("<pre>"),
        Just("</pre>"),
        Just("<head>"),
        Just("</head>"),
        Just("<body>"),
        Just("<script>"),
        Just("</script>"),
        Just("<style>"),
        Just("<!--"),
        Just("-->"),
        Just("<!DOCTYPE html>"),
        Just("<a href=\"x>y\">"),
        Just("<td>"),
        Just("<li>"),
        Just("<"),
        Just(">"),
        Just("&"),
        Just("&amp;"),
        Just("&#x"),
        Just("&#12345678901;"),
        Just("&nbsp;"),
        Just("\n"),
        Just(" "),
        Just("text"),
        Just("é"),
        Just("\u{200B}"),
        Just(TOKEN_LINE_PREFIX),
    ];
    proptest::collection::vec(piece, 0..200).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(mail) = parse_inbound(&raw, &inbox(), 1 << 20) {
            assert_invariants(&mail);
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        limit in 0usize..8192,
    ) {
        let mut raw = b"From: a@corp.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        raw.extend_from_slice(&body);
        if let Ok(mail) = parse_inbound(&raw, &inbox(), limit) {
            assert_invariants(&mail);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in 0..FIXTURES.len(),
        mutations in proptest::collection::vec(mutation(), 1..8),
        small_limit in any::<bool>(),
    ) {
        let raw = apply(fixture(FIXTURES[index]), &mutations);
        let limit = if small_limit { raw.len() / 2 } else { 1 << 20 };
        if let Ok(mail) = parse_inbound(&raw, &inbox(), limit) {
            assert_invariants(&mail);
        }
    }

    #[test]
    fn html_converter_never_panics(html in html_soup()) {
        let text = html_to_text(&html);
        prop_assert!(!text.contains('\r'));
        for line in text.lines() {
            prop_assert!(!line.starts_with(&"> ".repeat(11)), "prefix is capped: {line:?}");
            prop_assert_eq!(line, line.trim_end());
        }
    }

    #[test]
    fn html_converter_accepts_any_string(html in any::<String>()) {
        let _ = html_to_text(&html);
    }

    #[test]
    fn footer_search_never_panics(text in any::<String>()) {
        let mut candidates = Candidates::default();
        offer_footer_tokens(&text, &mut candidates);
        prop_assert!(candidates.into_vec().iter().all(|t| t.len() == TOKEN_LEN));
    }

    #[test]
    fn authentication_results_never_panic(value in any::<String>()) {
        let parsed = AuthResults::parse(&value);
        let _ = parsed.authenticates("example.com");
    }
}

#[test]
fn converter_is_linear_on_pathological_markup() {
    // Quadratic behaviour would take minutes on these; linear takes
    // milliseconds.
    let inputs = [
        "<div>".repeat(200_000),
        format!("{}{}", "<div>".repeat(100_000), "</span>".repeat(100_000)),
        "<!--".repeat(200_000),
        "<a b=\"".repeat(200_000),
        "&#x".repeat(200_000),
        format!("<script>{}", "</scrip".repeat(100_000)),
    ];
    let start = std::time::Instant::now();
    for input in &inputs {
        let _ = html_to_text(input);
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
}

/// Found by fuzzing: mail-parser 0.11.9 hits a `debug_assert!` ("Invalid part
/// ID, could not find multipart") on a boundary glued to a nested
/// message/rfc822 header. The panic must cost the message, not the daemon.
#[test]
fn boundary_glued_to_nested_rfc822_is_refused_not_a_crash() {
    let raw = b"Content-Type:multipart/\n\tboundary=b\n\n--bContent-Type:message/rfc822\n\nContent-Type:message/rfc822\n\n\n--b--";
    let parsed = parse_inbound(raw, &inbox(), 1 << 20);
    if cfg!(debug_assertions) {
        assert!(
            matches!(parsed, Err(ParseError::Malformed(_))),
            "{parsed:?}"
        );
    }
    let headers_only = parse_inbound(raw, &inbox(), 64);
    assert!(headers_only.is_ok(), "{headers_only:?}");
}
