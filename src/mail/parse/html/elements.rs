//! What an element means for the text: a line break, a quote, nothing at
//! all, or content that is never shown.

use super::markup::StartTag;

/// Elements that start and end a line.
pub(super) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "caption"
            | "center"
            | "dd"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hr"
            | "html"
            | "li"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "tfoot"
            | "thead"
            | "tr"
            | "ul"
    )
}

/// Elements that never have content or an end tag.
pub(super) fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// How a start tag affects quoting.
#[derive(PartialEq)]
pub(super) enum QuoteRole {
    /// Not a quote marker.
    None,
    /// `<blockquote>`: one more quote level for its content.
    Blockquote,
    /// A client's quote wrapper: its content is quoted.
    Container,
    /// A client's reply separator: everything after it, up to the end of
    /// the enclosing element, is quoted (Outlook puts the quoted mail after
    /// the separator as siblings, not inside it).
    FromHere,
}

pub(super) fn quote_role(tag: &StartTag<'_>) -> QuoteRole {
    if tag.name == "blockquote" {
        return QuoteRole::Blockquote;
    }
    let has_class = |wanted: &str| {
        tag.class
            .split_ascii_whitespace()
            .any(|c| c.eq_ignore_ascii_case(wanted))
    };
    // ASCII case-insensitive comparisons: the same as comparing the
    // ASCII-lowercased attribute with these lowercase names.
    let id_is = |wanted: &str| tag.id.eq_ignore_ascii_case(wanted);
    if has_class("gmail_quote")
        || has_class("gmail_quote_container")
        || has_class("moz-cite-prefix")
        || contains_ignore_ascii_case(tag.class, "yahoo_quoted")
        || tag
            .id
            .as_bytes()
            .get(..YAHOO_QUOTED.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(YAHOO_QUOTED.as_bytes()))
    {
        return QuoteRole::Container;
    }
    if tag.name == "hr"
        || id_is("divrplyfwdmsg")
        || id_is("appendonsend")
        || id_is("mail-editor-reference-message-container")
        || has_class("OutlookMessageHeader")
        || is_word_header_block(tag.style)
    {
        return QuoteRole::FromHere;
    }
    QuoteRole::None
}

const YAHOO_QUOTED: &str = "yahoo_quoted";

/// Whether `haystack` contains the lowercase ASCII `needle`, ignoring ASCII
/// case.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Characters kept of a style attribute by [`compact_style`].
const MAX_STYLE_CHARS: usize = 512;

/// A style attribute without white space, lower case, bounded: the form the
/// checks below compare against.
pub(super) fn compact_style(style: &str) -> String {
    let mut compact = String::with_capacity(style.len().min(4 * MAX_STYLE_CHARS));
    for c in style
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(MAX_STYLE_CHARS)
    {
        compact.push(c.to_ascii_lowercase());
    }
    compact
}

/// Classic Outlook for Windows (Word HTML) has no id on its reply header:
/// the block is recognised by its style,
/// `border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm`.
pub(super) fn is_word_header_block(style: &str) -> bool {
    if style.is_empty() {
        return false;
    }
    let compact = compact_style(style);
    compact.contains("border-top:solid") && compact.contains("padding:3.0pt")
}

/// Whether a reader cannot see the element's content: the `hidden`
/// attribute, or an inline style that hides it — `display:none`,
/// `visibility:hidden`, a zero font size, zero opacity, a zero maximum
/// height, or text in the colour of its own background. Text no one sees is
/// never read as anyone's answer.
pub(super) fn is_hidden(tag: &StartTag<'_>) -> bool {
    if tag.hidden {
        return true;
    }
    if tag.style.is_empty() {
        // No declaration, so nothing below can hold.
        return false;
    }
    let style = compact_style(tag.style);
    let declarations: Vec<(&str, &str)> = style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(k, v)| (k, v.trim_end_matches("!important")))
        .collect();
    let value = |name: &str| {
        declarations
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    };
    let zero = |v: &str| {
        let number = v.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        !number.is_empty() && number.parse::<f64>().is_ok_and(|n| n <= 0.0)
    };
    let colour = value("color");
    let background = value("background-color").or_else(|| value("background"));
    value("display") == Some("none")
        || value("visibility").is_some_and(|v| v == "hidden" || v == "collapse")
        || value("font-size").is_some_and(zero)
        || value("opacity").is_some_and(zero)
        || value("max-height").is_some_and(zero)
        || matches!((colour, background), (Some(c), Some(b)) if same_colour(c, b))
}

/// Whether two CSS colour values are the same colour, for the common
/// spellings (`#fff`, `#ffffff`, `white`, `rgb(255,255,255)`).
fn same_colour(a: &str, b: &str) -> bool {
    match (rgb(a), rgb(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

fn rgb(v: &str) -> Option<(u8, u8, u8)> {
    let named = match v {
        "white" => Some((255, 255, 255)),
        "black" => Some((0, 0, 0)),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    if let Some(hex) = v.strip_prefix('#') {
        let h = |s: &str| u8::from_str_radix(s, 16).ok();
        return match hex.len() {
            3 => {
                let d = |i: usize| hex.get(i..=i).and_then(|c| h(&c.repeat(2)));
                Some((d(0)?, d(1)?, d(2)?))
            }
            6 => Some((h(hex.get(0..2)?)?, h(hex.get(2..4)?)?, h(hex.get(4..6)?)?)),
            _ => None,
        };
    }
    let inner = v.strip_prefix("rgb(")?.strip_suffix(')')?;
    let mut parts = inner.split(',').map(|p| p.parse::<u8>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}
