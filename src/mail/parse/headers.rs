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

/// Header fields in message order (topmost first), names lowercased.
#[derive(Debug, Default)]
pub(crate) struct RawHeaders {
    /// `(lowercase name, unfolded and trimmed value)`.
    fields: Vec<(String, String)>,
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
            .map(|header| {
                let start = header.offset_start as usize;
                let end = header.offset_end as usize;
                let value = raw.get(start..end).unwrap_or_default();
                (
                    header.name.as_str().to_ascii_lowercase(),
                    unfold(&String::from_utf8_lossy(value)),
                )
            })
            .collect();
        RawHeaders { fields }
    }

    /// Builds headers from name/value pairs; for tests of the consumers.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        RawHeaders {
            fields: pairs
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
                .collect(),
        }
    }

    /// Values of every field called `name` (case-insensitive), topmost first.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the message has no header field at all (then it is not mail).
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether a field called `name` is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.all(name).next().is_some()
    }
}

/// Joins folded lines and trims: `a\r\n b` becomes `a  b`.
fn unfold(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
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

    #[test]
    fn lookup_is_case_insensitive_and_ordered() {
        let h = RawHeaders::from_pairs(&[("X-A", "1"), ("x-a", " 2\r\n\t3 "), ("B", "")]);
        assert_eq!(h.all("x-A").collect::<Vec<_>>(), ["1", "2  \t3"]);
        assert!(h.has("b"));
        assert!(!h.has("c"));
    }
}
