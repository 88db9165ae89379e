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
    let class_lower = tag.class.to_ascii_lowercase();
    let id_lower = tag.id.to_ascii_lowercase();
    if has_class("gmail_quote")
        || has_class("gmail_quote_container")
        || has_class("moz-cite-prefix")
        || class_lower.contains("yahoo_quoted")
        || id_lower.starts_with("yahoo_quoted")
    {
        return QuoteRole::Container;
    }
    if tag.name == "hr"
        || id_lower == "divrplyfwdmsg"
        || id_lower == "appendonsend"
        || id_lower == "mail-editor-reference-message-container"
        || has_class("OutlookMessageHeader")
        || is_word_header_block(tag.style)
    {
        return QuoteRole::FromHere;
    }
    QuoteRole::None
}

/// A style attribute without white space, lower case, bounded: the form the
/// checks below compare against.
pub(super) fn compact_style(style: &str) -> String {
    style
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Classic Outlook for Windows (Word HTML) has no id on its reply header:
/// the block is recognised by its style,
/// `border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm`.
pub(super) fn is_word_header_block(style: &str) -> bool {
    let compact = compact_style(style);
    compact.contains("border-top:solid") && compact.contains("padding:3.0pt")
}

pub(super) fn is_display_none(style: &str) -> bool {
    compact_style(style).contains("display:none")
}
