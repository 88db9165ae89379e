//! The tokenizer: what stands at a `<` — a start tag with the attributes
//! that matter, an end tag, or something to drop — in one bounded step.

/// What the tokenizer recognised at a `<`.
pub(super) enum Markup<'a> {
    /// A start tag with the attributes the converter cares about.
    Start(StartTag<'a>),
    /// An end tag, name lowercased.
    End(TagName),
    /// A comment, doctype or processing instruction: dropped.
    Ignored,
    /// A raw-text element (`<script>`, `<style>`, `<title>` ...) whose
    /// content has already been skipped.
    Skipped,
}

/// The parts of a start tag that decide line breaks and quoting.
pub(super) struct StartTag<'a> {
    /// Lowercased element name.
    pub(super) name: TagName,
    /// `class` attribute, raw.
    pub(super) class: &'a str,
    /// `id` attribute, raw.
    pub(super) id: &'a str,
    /// `style` attribute, raw.
    pub(super) style: &'a str,
    /// Carries the `hidden` attribute: its content is never shown.
    pub(super) hidden: bool,
    /// Written as `<x/>`: treated as an empty element, as mail authors mean.
    pub(super) self_closing: bool,
}

/// Elements whose content is raw text that must not be shown.
const RAW_TEXT: &[&str] = &["script", "style", "title", "textarea", "xmp", "template"];

/// Recognises the markup starting at `start` (a `<`). Returns `None` when
/// the `<` is literal text, otherwise the markup and the index after it.
pub(super) fn markup_at(bytes: &[u8], start: usize) -> Option<(Markup<'_>, usize)> {
    let next = *bytes.get(start + 1)?;
    if bytes.get(start..start + 4) == Some(b"<!--") {
        let end = find(bytes, start + 4, b"-->").map_or(bytes.len(), |p| p + 3);
        return Some((Markup::Ignored, end));
    }
    if next == b'!' || next == b'?' {
        let end = find(bytes, start + 2, b">").map_or(bytes.len(), |p| p + 1);
        return Some((Markup::Ignored, end));
    }
    if next == b'/' {
        let name_start = start + 2;
        if !bytes.get(name_start)?.is_ascii_alphabetic() {
            // `</ >` or `</3`: browsers drop it as a bogus comment.
            let end = find(bytes, name_start, b">").map_or(bytes.len(), |p| p + 1);
            return Some((Markup::Ignored, end));
        }
        let name_end = scan_name(bytes, name_start);
        let name = lower(bytes, name_start, name_end);
        let end = find(bytes, name_end, b">").map_or(bytes.len(), |p| p + 1);
        return Some((Markup::End(name), end));
    }
    if !next.is_ascii_alphabetic() {
        return None;
    }
    let name_end = scan_name(bytes, start + 1);
    let name = lower(bytes, start + 1, name_end);
    let (tag, end) = parse_attributes(bytes, name_end, name);
    if RAW_TEXT.contains(&tag.name.as_str()) && !tag.self_closing {
        let end = skip_raw_text(bytes, end, tag.name.as_str().as_bytes());
        return Some((Markup::Skipped, end));
    }
    Some((Markup::Start(tag), end))
}

/// Index of the first occurrence of `needle` at or after `from`.
pub(super) fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = bytes.get(from..)?;
    match needle {
        [byte] => memchr::memchr(*byte, hay),
        _ => memchr::memmem::find(hay, needle),
    }
    .map(|p| p + from)
}

/// End of a tag name: letters, digits, `-`, `:` (Outlook's `o:p`), `_`.
pub(super) fn scan_name(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'_' {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Bytes of a tag name kept: a longer name cannot match anything we know.
const MAX_NAME_LEN: usize = 32;

/// A lowercased tag name, at most [`MAX_NAME_LEN`] bytes, held inline so
/// that reading a tag allocates nothing. Names come from [`scan_name`], so
/// they are ASCII.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TagName {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl TagName {
    /// The name's bytes, for comparing two names without reading them as
    /// text again.
    pub(super) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    pub(super) fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl PartialEq<&str> for TagName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The name between `from` and `to`, ASCII-lowercased and cut to
/// [`MAX_NAME_LEN`] bytes. (Lossy UTF-8 decoding of the cut name, as this
/// once did, is the identity on the ASCII bytes [`scan_name`] accepts; a
/// name that is not valid UTF-8 reads as empty, which matches nothing.)
pub(super) fn lower(bytes: &[u8], from: usize, to: usize) -> TagName {
    let slice = bytes.get(from..to).unwrap_or(b"");
    let slice = slice.get(..MAX_NAME_LEN).unwrap_or(slice);
    let mut name = TagName::default();
    for (dst, src) in name.bytes.iter_mut().zip(slice) {
        *dst = src.to_ascii_lowercase();
    }
    name.len = slice.len();
    name
}

/// Reads attributes up to the closing `>`, honouring quoted values (which
/// may contain `>`).
pub(super) fn parse_attributes(bytes: &[u8], from: usize, name: TagName) -> (StartTag<'_>, usize) {
    let mut tag = StartTag {
        name,
        class: "",
        id: "",
        style: "",
        hidden: false,
        self_closing: false,
    };
    let mut i = from;
    let mut last_slash = false;
    loop {
        let Some(&b) = bytes.get(i) else {
            return (tag, bytes.len());
        };
        match b {
            b'>' => {
                tag.self_closing = last_slash;
                return (tag, i + 1);
            }
            b'/' => {
                last_slash = true;
                i += 1;
            }
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                last_slash = false;
                let name_start = i;
                while let Some(&c) = bytes.get(i) {
                    if c.is_ascii_whitespace() || c == b'=' || c == b'>' || c == b'/' {
                        break;
                    }
                    i += 1;
                }
                if i == name_start {
                    // A stray `=`: step over it so the loop always advances.
                    i += 1;
                    continue;
                }
                let attr = bytes.get(name_start..i).unwrap_or(b"");
                i = skip_ws(bytes, i);
                let value = if bytes.get(i) == Some(&b'=') {
                    i = skip_ws(bytes, i + 1);
                    let (value, next) = attribute_value(bytes, i);
                    i = next;
                    value
                } else {
                    ""
                };
                if attr.eq_ignore_ascii_case(b"class") {
                    tag.class = value;
                } else if attr.eq_ignore_ascii_case(b"id") {
                    tag.id = value;
                } else if attr.eq_ignore_ascii_case(b"style") {
                    tag.style = value;
                } else if attr.eq_ignore_ascii_case(b"hidden")
                    || (attr.eq_ignore_ascii_case(b"aria-hidden")
                        && value.eq_ignore_ascii_case("true"))
                {
                    tag.hidden = true;
                }
            }
        }
    }
}

pub(super) fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// A quoted or unquoted attribute value starting at `i`.
pub(super) fn attribute_value(bytes: &[u8], i: usize) -> (&str, usize) {
    match bytes.get(i) {
        Some(&q) if q == b'"' || q == b'\'' => {
            let end = bytes
                .get(i + 1..)
                .and_then(|rest| rest.iter().position(|&c| c == q))
                .map_or(bytes.len(), |p| p + i + 1);
            let value = bytes.get(i + 1..end).unwrap_or(b"");
            (std::str::from_utf8(value).unwrap_or(""), end + 1)
        }
        _ => {
            let mut end = i;
            while bytes
                .get(end)
                .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'>')
            {
                end += 1;
            }
            let value = bytes.get(i..end).unwrap_or(b"");
            (std::str::from_utf8(value).unwrap_or(""), end)
        }
    }
}

/// Skips the content of a raw-text element up to and including its end tag
/// (`</style>`), matched case-insensitively; the rest of the input if none.
pub(super) fn skip_raw_text(bytes: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(lt) = bytes.get(i..).and_then(|rest| memchr::memchr(b'<', rest)) {
        i += lt;
        if bytes.get(i + 1) == Some(&b'/')
            && bytes
                .get(i + 2..i + 2 + name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            return find(bytes, i + 2, b">").map_or(bytes.len(), |p| p + 1);
        }
        i += 1;
    }
    bytes.len()
}
