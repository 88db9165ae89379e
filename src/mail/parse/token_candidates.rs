//! Finding reply tokens in a message.
//!
//! approvald writes each approval mail with a token in three places (see
//! [`crate::domain::wire`]): the reply address (`approvals+TOKEN@domain`), a
//! Subject tag (`[ref:TOKEN]`) and a footer line (`Approval token: TOKEN`).
//! Mail clients damage each of them in their own way, so every place is
//! searched and every syntactically valid token becomes a candidate; the
//! caller verifies them (HMAC) in order. Nothing here decides that a token is
//! genuine.

use super::inbox::InboxAddress;
use crate::domain::token::TOKEN_TEXT_LEN;
use crate::domain::wire::{PLUS_DELIMITER, SUBJECT_TAG_CLOSE, SUBJECT_TAG_OPEN, TOKEN_LABEL};

/// Length of a token: 32 bytes in unpadded RFC 4648 base32.
pub(crate) const TOKEN_LEN: usize = TOKEN_TEXT_LEN;

/// Upper bound on candidates kept per message, so a message stuffed with
/// footers cannot make the caller verify thousands of tokens.
pub(crate) const MAX_CANDIDATES: usize = 16;

/// A wrapped footer token may continue over this many further lines.
const MAX_CONTINUATION_LINES: usize = 2;

fn is_base32(c: char) -> bool {
    matches!(c, 'a'..='z' | 'A'..='Z' | '2'..='7')
}

/// Characters some clients insert into long words to allow line breaks;
/// they are invisible, so they are not part of what the approver sees.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// The token in canonical (lowercase) form, if `s` is exactly one token.
pub(crate) fn normalise_token(s: &str) -> Option<String> {
    if s.len() == TOKEN_LEN && s.chars().all(is_base32) {
        Some(s.to_ascii_lowercase())
    } else {
        None
    }
}

/// Candidates in priority order, without duplicates, at most
/// `MAX_CANDIDATES`.
#[derive(Default)]
pub(crate) struct Candidates {
    list: Vec<String>,
}

impl Candidates {
    /// Adds `raw` if it is a valid token not seen before.
    pub(crate) fn offer(&mut self, raw: &str) {
        if self.list.len() >= MAX_CANDIDATES {
            return;
        }
        if let Some(token) = normalise_token(raw) {
            if !self.list.contains(&token) {
                self.list.push(token);
            }
        }
    }

    /// Offers every candidate of `other`, in its order. `other` holds the
    /// first [`MAX_CANDIDATES`] distinct tokens of a sequence, so this
    /// gives the same list as offering the whole sequence one by one: of
    /// the tokens not already here, the first ones in order are kept until
    /// the list is full, and `other` has at most as many tokens that are
    /// already here as this list holds, so it never runs short.
    pub(crate) fn offer_all(&mut self, other: &Candidates) {
        for token in &other.list {
            self.offer(token);
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.list.len() >= MAX_CANDIDATES
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        self.list
    }
}

/// The token of a plus-address of the inbox (`LOCAL+TOKEN@DOMAIN`), with
/// local part and domain compared case-insensitively. `address` is a bare
/// addr-spec, possibly with surrounding `<>` or whitespace.
pub(crate) fn plus_address_detail<'a>(address: &'a str, inbox: &InboxAddress) -> Option<&'a str> {
    let address = address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (local, domain) = address.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    if !domain.eq_ignore_ascii_case(inbox.domain()) {
        return None;
    }
    let (base, detail) = local.split_once(PLUS_DELIMITER)?;
    if base.eq_ignore_ascii_case(inbox.local()) {
        Some(detail)
    } else {
        None
    }
}

/// Offers the plus-address token of every address-like word in a raw
/// header value (`Delivered-To`, `X-Original-To`, `Envelope-To`), which
/// may hold several addresses, angle brackets or comments.
pub(crate) fn offer_plus_addresses_in(value: &str, inbox: &InboxAddress, out: &mut Candidates) {
    let words = value
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"'));
    for word in words.filter(|w| w.contains('@')) {
        if let Some(detail) = plus_address_detail(word, inbox) {
            out.offer(detail);
        }
    }
}

/// Offers every `[ref:TOKEN]` tag of a Subject. Whatever prefixes clients
/// and gateways added (`Re:`, `AW:`, `[EXT]` ...) does not matter because
/// the tag is searched anywhere; spaces inside the brackets (left by header
/// unfolding) are tolerated.
pub(crate) fn offer_subject_tags(subject: &str, out: &mut Candidates) {
    let mut from = 0;
    while let Some(pos) = find_ignore_ascii_case(subject, from, SUBJECT_TAG_OPEN) {
        let start = pos + SUBJECT_TAG_OPEN.len();
        let rest = subject.get(start..).unwrap_or("");
        // A tag is short; do not scan the rest of a hostile Subject.
        let end = rest
            .char_indices()
            .take(TOKEN_LEN + 16)
            .find(|&(_, c)| c == SUBJECT_TAG_CLOSE)
            .map(|(i, _)| i);
        if let Some(end) = end {
            out.offer(rest.get(..end).unwrap_or("").trim());
        }
        from = start;
    }
}

/// The Subject with the content of every `[ref:...]` tag replaced, so the
/// Subject can be logged without the token it carries.
pub(crate) fn redact_subject_tags(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(pos) = find_ignore_ascii_case(subject, from, SUBJECT_TAG_OPEN) {
        let start = pos + SUBJECT_TAG_OPEN.len();
        let Some(len) = subject
            .get(start..)
            .and_then(|rest| rest.find(SUBJECT_TAG_CLOSE))
        else {
            break;
        };
        out.push_str(subject.get(copied..start).unwrap_or(""));
        out.push_str("redacted");
        copied = start + len;
        from = copied;
    }
    out.push_str(subject.get(copied..).unwrap_or(""));
    out
}

/// Removes the quote markers (`>` at any depth, with or without spaces)
/// and indentation a client put before a line.
fn unquote(line: &str) -> &str {
    line.trim_start_matches(|c: char| c == '>' || c.is_whitespace() || is_invisible(c))
}

/// Byte index of the first ASCII-case-insensitive occurrence of `needle` in
/// `haystack` at or after byte `from`.
fn find_ignore_ascii_case(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    let Some(&first) = needle.first() else {
        return Some(from).filter(|&i| i <= haystack.len());
    };
    let hay = haystack.as_bytes().get(from..)?;
    // Candidates start with the first byte in either case; only there is
    // the whole needle compared.
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut i = 0;
    while let Some(p) = hay
        .get(i..)
        .and_then(|rest| memchr::memchr2(lower, upper, rest))
    {
        let at = i + p;
        if hay
            .get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(from + at);
        }
        i = at + 1;
    }
    None
}

/// [`find_ignore_ascii_case`] as a window-by-window scan: the reference
/// its first-byte search is tested against.
#[cfg(test)]
fn find_ignore_ascii_case_by_windows(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(from).filter(|&i| i <= haystack.len());
    }
    haystack
        .as_bytes()
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|i| from + i)
}

/// Length of the white space `s` starts with.
fn leading_space(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// Byte index just after the footer label (`Approval token:`) in `line`
/// (case-insensitive, any run of spaces between the words, spaces before the
/// colon allowed).
fn after_label(line: &str) -> Option<usize> {
    let mut words = TOKEN_LABEL.split_whitespace();
    let first = words.next()?;
    let mut from = 0;
    while let Some(pos) = find_ignore_ascii_case(line, from, first) {
        if let Some(end) = label_rest(line, pos + first.len(), words.clone()) {
            return Some(end);
        }
        from = pos + 1;
    }
    None
}

/// Byte index just after the colon when the label's further `words`, each
/// after at least one space, and then the colon follow byte `i` of `line`.
fn label_rest<'w>(line: &str, mut i: usize, words: impl Iterator<Item = &'w str>) -> Option<usize> {
    for word in words {
        let spaces = leading_space(line.get(i..)?);
        if spaces == 0 {
            return None;
        }
        i += spaces;
        let next = line.get(i..)?.as_bytes().get(..word.len())?;
        if !next.eq_ignore_ascii_case(word.as_bytes()) {
            return None;
        }
        i += word.len();
    }
    i += leading_space(line.get(i..)?);
    line.get(i..)?.starts_with(':').then_some(i + 1)
}

/// What follows the label on a line: the token characters, and whether the
/// line ends right after them (so the token may continue on the next line).
/// `None` when the token run is glued to other word characters, which means
/// it is not a token.
fn token_run(rest: &str) -> Option<(String, bool)> {
    let mut run = String::new();
    let mut chars = rest
        .trim_start_matches(|c: char| c.is_whitespace() || is_invisible(c))
        .chars()
        .peekable();
    while let Some(&c) = chars.peek() {
        if is_base32(c) {
            run.push(c);
        } else if !is_invisible(c) {
            break;
        }
        chars.next();
        if run.len() > TOKEN_LEN {
            return None;
        }
    }
    match chars.peek() {
        None => Some((run, true)),
        Some(&c) if c.is_alphanumeric() || c == '_' => None,
        Some(_) => {
            let tail: String = chars.collect();
            let at_end = tail.trim().is_empty();
            Some((run, at_end))
        }
    }
}

/// A continuation line of a wrapped token: only token characters once quote
/// markers and indentation are removed.
fn continuation(line: &str) -> Option<String> {
    let body = unquote(line).trim_end();
    if body.is_empty() {
        return None;
    }
    let mut part = String::new();
    for c in body.chars() {
        if is_base32(c) {
            part.push(c);
        } else if !is_invisible(c) {
            return None;
        }
        if part.len() > TOKEN_LEN {
            return None;
        }
    }
    Some(part)
}

/// Offers every `Approval token: TOKEN` footer found in `text`, including
/// quoted ones (`>` at any depth) and tokens a client wrapped over up to
/// three lines.
pub(crate) fn offer_footer_tokens(text: &str, out: &mut Candidates) {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if out.is_full() {
            return;
        }
        let body = unquote(line);
        let Some(after) = after_label(body) else {
            continue;
        };
        let Some((mut token, mut open)) = token_run(body.get(after..).unwrap_or("")) else {
            continue;
        };
        let mut lookahead = lines.clone();
        let mut used = 0;
        while open && token.len() < TOKEN_LEN && used < MAX_CONTINUATION_LINES {
            let Some(next) = lookahead.next().and_then(continuation) else {
                break;
            };
            if token.len() + next.len() > TOKEN_LEN {
                break;
            }
            token.push_str(&next);
            used += 1;
            open = token.len() < TOKEN_LEN;
        }
        if token.len() == TOKEN_LEN {
            out.offer(&token);
            for _ in 0..used {
                lines.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "nb2hi4dthixs6zdjmzrwk3tdmvzs4y3pnuxxa5dsovzxi2lpn5xw";
    const U: &str = "mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dzpiytgnbvgy3t";

    fn footer(text: &str) -> Vec<String> {
        let mut c = Candidates::default();
        offer_footer_tokens(text, &mut c);
        c.into_vec()
    }

    #[test]
    fn token_syntax() {
        assert_eq!(T.len(), TOKEN_LEN);
        assert_eq!(normalise_token(T).as_deref(), Some(T));
        assert_eq!(normalise_token(&T.to_ascii_uppercase()).as_deref(), Some(T));
        let cases = [
            "",
            &T[1..],
            &format!("{T}a"),
            &T.replace('2', "0"),
            &T.replace('2', "1"),
            &T.replace('2', "8"),
            &T.replace('2', "9"),
            &T.replace('a', "="),
            &T.replace('a', "é"),
        ];
        for bad in cases {
            assert_eq!(normalise_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn footer_variants() {
        let half = |s: &str| (s[..30].to_string(), s[30..].to_string());
        let (a, b) = half(T);
        let cases: Vec<(String, Vec<&str>)> = vec![
            (format!("Approval token: {T}"), vec![T]),
            (format!("approval TOKEN:{T}"), vec![T]),
            (format!("Approval  token :  {}", T.to_uppercase()), vec![T]),
            (format!("> > > Approval token: {T}"), vec![T]),
            (format!(">>Approval token: {T}."), vec![T]),
            (format!("Approval token: {T}\n> more text"), vec![T]),
            (format!("> Approval token:\n> {T}"), vec![T]),
            (format!("> Approval token: {a}\n> {b}"), vec![T]),
            (format!("> Approval token: {a}\n>     {b}\n> next"), vec![T]),
            (format!("Approval token: {a}\n   {b}"), vec![T]),
            (
                format!(
                    "> Approval token: {}\n> {}\n> {}",
                    &T[..20],
                    &T[20..40],
                    &T[40..]
                ),
                vec![T],
            ),
            (
                format!("Approval token: {}\u{200B}{}", &T[..26], &T[26..]),
                vec![T],
            ),
            (
                format!("Approval token: {T}\nApproval token: {U}"),
                vec![T, U],
            ),
            (
                format!("Approval token: {T}\n> Approval token: {T}"),
                vec![T],
            ),
            // Not tokens.
            (format!("Approval token: {T}0"), vec![]),
            (format!("Approval token: {T}a"), vec![]),
            (format!("Approval token: {a}"), vec![]),
            (format!("Approval token: {a}\n\n{b}"), vec![]),
            (format!("Approval token: {a}\n> {b} thanks"), vec![]),
            (format!("Approval token: {a}\n> {T}"), vec![]),
            (format!("Approvaltoken: {T}"), vec![]),
            (format!("Approval token {T}"), vec![]),
            (format!("Approval token: x{T}"), vec![]),
            (
                format!(
                    "Approval token: {}\n{}\n{}\n{}",
                    &T[..13],
                    &T[13..26],
                    &T[26..39],
                    &T[39..]
                ),
                vec![],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(footer(&text), want, "text {text:?}");
        }
    }

    #[test]
    fn first_byte_search_matches_window_scan() {
        let haystacks = [
            "",
            "a",
            "Approval token:",
            "xx APPROVAL TOKEN: yy approval",
            "aaaaaapproval",
            "ApProVaL",
            "appro",
            "caf\u{e9} approval \u{e9}APPROVAL",
            "\u{c5}pproval \u{e5}pproval approval",
            "[ref:[REF:[Ref:x]",
            "\u{212a}elvin kelvin",
        ];
        let needles = ["approval", "a", "[ref:", "kelvin", "l", ""];
        for hay in haystacks {
            for needle in needles {
                for from in 0..=hay.len() + 1 {
                    assert_eq!(
                        find_ignore_ascii_case(hay, from, needle),
                        find_ignore_ascii_case_by_windows(hay, from, needle),
                        "{hay:?} {from} {needle:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn offer_all_equals_offering_one_by_one() {
        let token = |i: usize| {
            let mut t = T.to_string().into_bytes();
            if let Some(b) = t.get_mut(0) {
                *b = b'a' + u8::try_from(i % 26).unwrap();
            }
            if let Some(b) = t.get_mut(1) {
                *b = b'a' + u8::try_from(i / 26).unwrap();
            }
            String::from_utf8(t).unwrap()
        };
        // Prefilled lists of 0, 1, 5 and 16 tokens, then sequences with
        // repeats, overlaps with the prefix, and more than fit.
        let prefixes: Vec<Vec<String>> = vec![
            vec![],
            vec![token(3)],
            (0..5).map(token).collect(),
            (0..16).map(token).collect(),
        ];
        let sequences: Vec<Vec<String>> = vec![
            vec![],
            vec![token(3), token(3), token(40)],
            (0..40).map(token).collect(),
            (0..40).rev().map(token).collect(),
            (0..60).map(|i| token(i % 7)).collect(),
            (0..60).map(|i| token((i * 7) % 31)).collect(),
            vec![T.to_uppercase(), T.to_string(), U.to_string()],
        ];
        for prefix in &prefixes {
            for sequence in &sequences {
                let mut one_by_one = Candidates::default();
                let mut merged = Candidates::default();
                for t in prefix {
                    one_by_one.offer(t);
                    merged.offer(t);
                }
                let mut body = Candidates::default();
                for t in sequence {
                    one_by_one.offer(t);
                    body.offer(t);
                }
                merged.offer_all(&body);
                assert_eq!(
                    merged.into_vec(),
                    one_by_one.into_vec(),
                    "{prefix:?} {sequence:?}"
                );
            }
        }
    }

    #[test]
    fn regression_complete_token_does_not_swallow_next_line() {
        assert_eq!(footer(&format!("> Approval token: {T}\n> abcdef")), vec![T]);
    }

    #[test]
    fn subject_tags() {
        let cases: Vec<(String, Vec<&str>)> = vec![
            (format!("Approval needed [ref:{T}]"), vec![T]),
            (
                format!("[EXT] RE: AW: Approval needed [REF:{}]", T.to_uppercase()),
                vec![T],
            ),
            (format!("Re: x [ref: {T} ]"), vec![T]),
            (format!("Fwd: [ref:{T}] [ref:{U}]"), vec![T, U]),
            (format!("x [ref:{T}"), vec![]),
            (format!("x [ref:{T}x]"), vec![]),
            ("[ref:".repeat(1000), vec![]),
            ("Sem token".to_string(), vec![]),
        ];
        for (subject, want) in cases {
            let mut c = Candidates::default();
            offer_subject_tags(&subject, &mut c);
            assert_eq!(c.into_vec(), want, "subject {subject:?}");
        }
    }

    #[test]
    fn subject_tags_are_redacted_for_logs() {
        let cases = [
            (
                format!("Re: x [ref:{T}]"),
                "Re: x [ref:redacted]".to_string(),
            ),
            (
                format!("[REF:{T}] [ref:{U}] y"),
                "[REF:redacted] [ref:redacted] y".into(),
            ),
            (format!("x [ref:{T}"), format!("x [ref:{T}")),
            ("Sem tag é".into(), "Sem tag é".into()),
        ];
        for (subject, want) in cases {
            assert_eq!(redact_subject_tags(&subject), want);
        }
    }

    #[test]
    fn plus_addresses() {
        let inbox = InboxAddress::new("approvals@example.test").unwrap();
        let cases: Vec<(String, Option<&str>)> = vec![
            (format!("approvals+{T}@example.test"), Some(T)),
            (format!("<APPROVALS+{T}@Example.TEST>"), Some(T)),
            (format!("approvals+{T}@example.test."), Some(T)),
            ("approvals@example.test".into(), None),
            (format!("other+{T}@example.test"), None),
            (format!("approvals+{T}@example.org"), None),
            (format!("approvals+{T}@sub.example.test"), None),
            (format!("xapprovals+{T}@example.test"), None),
            ("no at sign".into(), None),
        ];
        for (address, want) in cases {
            assert_eq!(plus_address_detail(&address, &inbox), want, "{address}");
        }
        let mut c = Candidates::default();
        offer_plus_addresses_in(
            &format!("\"x\" <approvals+{T}@example.test>, approvals+{U}@EXAMPLE.test (comment)"),
            &inbox,
            &mut c,
        );
        assert_eq!(c.into_vec(), vec![T, U]);
    }

    #[test]
    fn candidates_are_capped_and_deduplicated() {
        let mut c = Candidates::default();
        for i in 0..100u8 {
            let mut t = T.to_string().into_bytes();
            if let Some(b) = t.get_mut(0) {
                *b = b'a' + (i % 26);
            }
            if let Some(b) = t.get_mut(1) {
                *b = b'a' + (i / 26);
            }
            c.offer(&String::from_utf8(t).unwrap());
            c.offer(T);
        }
        let v = c.into_vec();
        assert_eq!(v.len(), MAX_CANDIDATES);
        let mut dedup = v.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), v.len());
    }
}
