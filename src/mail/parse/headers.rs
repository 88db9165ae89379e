//! The top-level header fields of a message as unfolded raw text.
//!
//! Headers such as `Auto-Submitted`, `Delivered-To` or
//! `Authentication-Results` are read as the sender's server wrote them,
//! without RFC 2047 decoding, because their syntax is machine-made.

use mail_parser::Message;

/// Upper bound on the header section read from an oversized message: it
/// is searched for its end (the first empty line) only this far, so a
/// message without one cannot make the daemon scan it all.
pub(crate) const MAX_HEADER_SECTION: usize = 256 * 1024;

/// The header fields the daemon reads; only these are kept. A message
/// carries dozens of others (`Received`, DKIM and ARC signatures, client
/// headers) that nothing reads: copying and unfolding them all was a tenth
/// of parsing a message.
const READ: [&str; 13] = [
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "to",
    "cc",
    "authentication-results",
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "return-path",
    "precedence",
    "list-id",
    "list-unsubscribe",
];

/// The read header fields in message order (topmost first), names lowercased.
#[derive(Debug, Default)]
pub(crate) struct RawHeaders {
    /// `(lowercase name, unfolded and trimmed value)` of the fields in
    /// [`READ`].
    fields: Vec<(String, String)>,
    /// How many fields the message has in all.
    count: usize,
}

impl RawHeaders {
    /// The top-level header fields of a parsed message.
    pub(crate) fn from_message(message: &Message<'_>) -> Self {
        let Some(root) = message.parts.first() else {
            return RawHeaders::default();
        };
        let raw = message.raw_message.as_ref();
        let fields = root
            .headers
            .iter()
            .filter(|header| is_read(header.name.as_str()))
            .map(|header| {
                let start = header.offset_start as usize;
                let end = header.offset_end as usize;
                let value = raw.get(start..end).unwrap_or_default();
                (
                    header.name.as_str().to_ascii_lowercase(),
                    unfold_bytes(value),
                )
            })
            .collect();
        RawHeaders {
            fields,
            count: root.headers.len(),
        }
    }

    /// Builds headers from name/value pairs; for tests of the consumers.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        RawHeaders {
            fields: pairs
                .iter()
                .filter(|(n, _)| is_read(n))
                .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
                .collect(),
            count: pairs.len(),
        }
    }

    /// Values of every field called `name` (case-insensitive), topmost first.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        debug_assert!(is_read(name), "{name} is not kept: add it to READ");
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the message has no header field at all (then it is not mail).
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a field called `name` is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.all(name).next().is_some()
    }
}

fn is_read(name: &str) -> bool {
    READ.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Joins folded lines and trims: `a\r\n b` becomes `a  b`. The reference
/// form of [`unfold_bytes`].
#[cfg(test)]
fn unfold(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// [`unfold`] of the value's bytes read as lossy UTF-8, in one copy: line
/// breaks are ASCII, so replacing them before or after the lossy decoding
/// gives the same text (an invalid sequence ends at a line break or a space
/// alike).
fn unfold_bytes(value: &[u8]) -> String {
    let mut spaced = value.to_vec();
    let mut from = 0;
    while let Some(at) = spaced
        .get(from..)
        .and_then(|rest| memchr::memchr2(b'\r', b'\n', rest))
    {
        if let Some(b) = spaced.get_mut(from + at) {
            *b = b' ';
        }
        from += at + 1;
    }
    let mut text = match String::from_utf8(spaced) {
        Ok(text) => text,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    };
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    text.drain(..start);
    text
}

/// The header section of `raw`: everything up to and including the first
/// empty line, searched within `MAX_HEADER_SECTION` bytes. A message that
/// has no empty line but is short enough is all header. `None` when the
/// header section does not end within the bound.
pub(crate) fn header_section(raw: &[u8]) -> Option<&[u8]> {
    let window = raw.get(..MAX_HEADER_SECTION).unwrap_or(raw);
    let mut i = 0;
    while let Some(pos) = window
        .get(i..)
        .and_then(|w| w.iter().position(|&b| b == b'\n'))
    {
        let nl = i + pos;
        let after = nl + 1;
        match window.get(after) {
            Some(b'\n') => return raw.get(..after + 1),
            Some(b'\r') if window.get(after + 1) == Some(&b'\n') => return raw.get(..after + 2),
            _ => {}
        }
        i = after;
    }
    (raw.len() <= MAX_HEADER_SECTION).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_end_of_header_section() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"A: b\r\n\r\nbody", Some(b"A: b\r\n\r\n")),
            (b"A: b\n\nbody", Some(b"A: b\n\n")),
            (b"A: b\r\nC: d", Some(b"A: b\r\nC: d")),
            (b"", Some(b"")),
            (b"\r\n\r\nbody", Some(b"\r\n\r\n")),
        ];
        for (raw, want) in cases {
            assert_eq!(header_section(raw), *want);
        }
        let endless = vec![b'x'; MAX_HEADER_SECTION + 1];
        assert_eq!(header_section(&endless), None);
        let mut late = vec![b'x'; MAX_HEADER_SECTION];
        late.extend_from_slice(b"\n\nbody");
        assert_eq!(header_section(&late), None);
    }

    /// The one-copy unfolding of raw bytes gives what lossy decoding and
    /// then [`unfold`] give, on folded, non-ASCII and invalid UTF-8 values.
    #[test]
    fn unfold_bytes_matches_lossy_then_unfold() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"\r\n",
            b" plain value ",
            b"a\r\n b",
            b"a\r\n\tb\r\n",
            b"\r\n\t folded start",
            "caf\u{e9} \u{2003}em space\u{2003}".as_bytes(),
            "\u{a0}\u{3000}wide\u{3000}\u{a0}".as_bytes(),
            b"bad \xff\xfe bytes",
            b"cut \xe2\x82",
            b"cut \xe2\x82\r\n more",
            b"\xf0\x9f\r\n\x98\x80",
            b"\xc3\r\xa9",
            b"\x80\n",
            b"\x0b\x0cvt ff\x0b",
        ];
        for raw in cases {
            assert_eq!(
                unfold_bytes(raw),
                unfold(&String::from_utf8_lossy(raw)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_ordered() {
        let h = RawHeaders::from_pairs(&[
            ("Precedence", "1"),
            ("precedence", " 2\r\n\t3 "),
            ("List-Unsubscribe", ""),
        ]);
        assert_eq!(h.all("PRECEDENCE").collect::<Vec<_>>(), ["1", "2  \t3"]);
        assert!(h.has("list-unsubscribe"));
        assert!(!h.has("list-id"));
    }

    /// Only the fields the daemon reads are kept; the rest still count as
    /// header fields (a message of only `Received` lines is still mail).
    #[test]
    fn unread_fields_are_not_kept_but_counted() {
        let h = RawHeaders::from_pairs(&[("Received", "from a"), ("DKIM-Signature", "v=1")]);
        assert!(!h.is_empty());
        assert!(h.fields.is_empty());
        assert!(RawHeaders::from_pairs(&[]).is_empty());
    }
}
