//! Choosing and decoding the text the reply parser reads, and searching
//! every text part for footer tokens.

use mail_parser::{HeaderName, Message, MessagePart, MimeHeaders, PartType};

use super::html::html_to_text;
use super::token_candidates::{offer_footer_tokens, Candidates};

/// Nested `message/rfc822` levels searched for footer tokens (a reply that
/// attaches the approval mail instead of quoting it).
const MAX_NESTED_MESSAGES: usize = 3;

/// Why a message has no text for the reply parser.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MessageBodyError {
    /// Neither an inline `text/plain` nor a `text/html` part: nothing a
    /// person could have typed a decision into.
    #[error("the message has no text or HTML part")]
    NoTextPart,
    /// The chosen part's transfer encoding is broken (for example invalid
    /// base64), so its text would be garbage.
    #[error("the message text cannot be decoded")]
    Undecodable,
    /// The message is larger than the configured limit; only its header
    /// was read, so tokens from the address and Subject are still known
    /// and the sender can be told why the reply was not processed.
    #[error("the message is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the raw message.
        size: usize,
        /// The configured `max_message_size`.
        limit: usize,
    },
}

/// The text the reply parser reads: the first inline `text/plain` part as
/// decoded by the MIME parser (transfer encoding and charset), otherwise
/// (or when that part is blank) the first inline HTML part converted so
/// that quotes keep a `> ` prefix. Line ends are `\n` either way.
pub(crate) fn reply_text(message: &Message<'_>) -> Result<String, MessageBodyError> {
    let mut blank_plain = None;
    for part in parts(message, &message.text_body) {
        if let PartType::Text(text) = &part.body {
            if is_plain(part) && !is_attachment(part) {
                if is_undecodable(part) {
                    return Err(MessageBodyError::Undecodable);
                }
                if !text.trim().is_empty() {
                    return Ok(unix_newlines(text));
                }
                // Some clients send an empty text/plain beside the HTML
                // that holds the reply: prefer the HTML then.
                blank_plain = Some(unix_newlines(text));
                break;
            }
        }
    }
    for part in parts(message, &message.html_body) {
        if let PartType::Html(html) = &part.body {
            if !is_attachment(part) {
                return if is_undecodable(part) {
                    Err(MessageBodyError::Undecodable)
                } else {
                    Ok(html_to_text(html))
                };
            }
        }
    }
    blank_plain.ok_or(MessageBodyError::NoTextPart)
}

/// The HTML part's text, when the message also has the `text/plain` part
/// [`reply_text`] chose: both are what the approver sent, and a reader sees
/// one or the other, so the reply parser reads both and takes a decision
/// only when they agree. `None` when there is no HTML part beside a
/// non-blank plain one (then [`reply_text`] already is the HTML, or the
/// only text).
pub(crate) fn alternative_text(message: &Message<'_>) -> Option<String> {
    let plain = parts(message, &message.text_body).find_map(|part| match &part.body {
        PartType::Text(text) if is_plain(part) && !is_attachment(part) => Some(text.clone()),
        _ => None,
    })?;
    if plain.trim().is_empty() {
        return None;
    }
    parts(message, &message.html_body).find_map(|part| match &part.body {
        PartType::Html(html) if !is_attachment(part) && !is_undecodable(part) => {
            Some(html_to_text(html))
        }
        _ => None,
    })
}

/// Whether a `text/plain` part is not the approver's words but a degenerate
/// stand-in for the HTML beside it: a fixed "this is an HTML message"
/// notice, or the HTML's blocks glued into one line. The HTML is read
/// instead then.
pub(crate) fn is_degenerate_plain(plain: &str, html_text: &str) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "this is an html message",
        "this message is in html format",
        "this is a multi-part message in mime format",
        "your email client does not support html",
        "your mail client does not support html",
        "to view this message, please use an html",
        "html version of this message",
    ];
    let lower = plain.trim().to_lowercase();
    if lower.len() < 200 && PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return true;
    }
    let plain_lines = plain
        .trim()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let html_lines = html_text
        .trim()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    plain_lines <= 1 && html_lines >= 3
}

/// The text with `\n` line ends, as the HTML conversion produces, so the
/// reply parser sees one convention whatever the client sent.
fn unix_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Offers the `Approval token:` footers of every text and HTML part,
/// quoted or not, attachments and attached messages included, in part
/// order.
pub(crate) fn offer_body_tokens(message: &Message<'_>, out: &mut Candidates) {
    offer_nested(message, out, 0);
}

fn offer_nested(message: &Message<'_>, out: &mut Candidates, depth: usize) {
    for part in &message.parts {
        if out.is_full() {
            return;
        }
        match &part.body {
            PartType::Text(text) => offer_footer_tokens(text, out),
            PartType::Html(html) => offer_footer_tokens(&html_to_text(html), out),
            PartType::Message(inner) if depth < MAX_NESTED_MESSAGES => {
                offer_nested(inner, out, depth + 1);
            }
            _ => {}
        }
    }
}

fn parts<'a, 'x>(
    message: &'a Message<'x>,
    ids: &'a [u32],
) -> impl Iterator<Item = &'a MessagePart<'x>> + 'a {
    ids.iter()
        .filter_map(move |&id| message.parts.get(id as usize))
}

/// `text/plain`, or no Content-Type at all (which means text/plain).
fn is_plain(part: &MessagePart<'_>) -> bool {
    part.content_type().is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_none_or(|sub| sub.eq_ignore_ascii_case("plain"))
    })
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.is_attachment())
}

/// The MIME parser keeps the raw bytes of a part whose transfer encoding
/// it could not decode; with base64 or quoted-printable declared, those
/// bytes are not the text.
fn is_undecodable(part: &MessagePart<'_>) -> bool {
    part.is_encoding_problem
        && part.headers.iter().any(|h| {
            h.name == HeaderName::ContentTransferEncoding
                && h.value.as_text().is_some_and(|v| {
                    v.eq_ignore_ascii_case("base64") || v.eq_ignore_ascii_case("quoted-printable")
                })
        })
}
