//! Choosing and decoding the text the reply parser reads, and searching
//! every text part for footer tokens.

use std::borrow::Cow;
use std::cell::OnceCell;

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

/// The text of each top-level HTML part, converted on first use and then
/// kept: the footer-token search, [`reply_text`] and [`alternative_text`]
/// all read the same parts, and the conversion is a pure function of the
/// part's HTML, so converting it once gives each of them the same text.
pub(crate) struct HtmlTexts {
    /// One cell per top-level part, by part index.
    texts: Vec<OnceCell<String>>,
}

impl HtmlTexts {
    /// Empty cells for every top-level part of `message`.
    pub(crate) fn new(message: &Message<'_>) -> Self {
        HtmlTexts {
            texts: message.parts.iter().map(|_| OnceCell::new()).collect(),
        }
    }

    /// The text of the HTML `html` of top-level part `id`, converted once.
    /// A part index outside the message (which the MIME parser does not
    /// produce) is converted without being kept.
    fn of(&self, id: usize, html: &str) -> Cow<'_, str> {
        match self.texts.get(id) {
            Some(cell) => Cow::Borrowed(cell.get_or_init(|| html_to_text(html)).as_str()),
            None => Cow::Owned(html_to_text(html)),
        }
    }
}

/// The text the reply parser reads: the first inline `text/plain` part as
/// decoded by the MIME parser (transfer encoding and charset), otherwise
/// (or when that part is blank) the first inline HTML part converted so
/// that quotes keep a `> ` prefix. Line ends are `\n` either way.
pub(crate) fn reply_text(
    message: &Message<'_>,
    html_texts: &HtmlTexts,
) -> Result<String, MessageBodyError> {
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
    for (id, part) in indexed_parts(message, &message.html_body) {
        if let PartType::Html(html) = &part.body {
            if !is_attachment(part) {
                return if is_undecodable(part) {
                    Err(MessageBodyError::Undecodable)
                } else {
                    Ok(html_texts.of(id, html).into_owned())
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
pub(crate) fn alternative_text(message: &Message<'_>, html_texts: &HtmlTexts) -> Option<String> {
    let plain_is_blank = parts(message, &message.text_body).find_map(|part| match &part.body {
        PartType::Text(text) if is_plain(part) && !is_attachment(part) => {
            Some(text.trim().is_empty())
        }
        _ => None,
    })?;
    if plain_is_blank {
        return None;
    }
    indexed_parts(message, &message.html_body).find_map(|(id, part)| match &part.body {
        PartType::Html(html) if !is_attachment(part) && !is_undecodable(part) => {
            Some(html_texts.of(id, html).into_owned())
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
    // Lowercasing maps every character to at least one byte and a
    // character has at most four, so a trimmed text of `4 * MAX` bytes or
    // more lowercases to at least `MAX` bytes: no need to lowercase it.
    const MAX_PLACEHOLDER_TEXT: usize = 200;
    let trimmed = plain.trim();
    if trimmed.len() < 4 * MAX_PLACEHOLDER_TEXT {
        let lower = trimmed.to_lowercase();
        if lower.len() < MAX_PLACEHOLDER_TEXT && PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
            return true;
        }
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
///
/// One pass: a `\r\n` pair loses its `\r`, a lone `\r` becomes `\n`; the
/// same as replacing every `\r\n` and then every remaining `\r`.
fn unix_newlines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(cr) = rest.find('\r') {
        let (before, from_cr) = rest.split_at(cr);
        out.push_str(before);
        let after = from_cr.get(1..).unwrap_or("");
        if !after.starts_with('\n') {
            out.push('\n');
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Offers the `Approval token:` footers of every text and HTML part,
/// quoted or not, attachments and attached messages included, in part
/// order.
/// `html_texts` belongs to `message`; the HTML of attached messages is
/// converted where it is read.
pub(crate) fn offer_body_tokens(
    message: &Message<'_>,
    html_texts: &HtmlTexts,
    out: &mut Candidates,
) {
    offer_nested(message, Some(html_texts), out, 0);
}

fn offer_nested(
    message: &Message<'_>,
    html_texts: Option<&HtmlTexts>,
    out: &mut Candidates,
    depth: usize,
) {
    for (id, part) in message.parts.iter().enumerate() {
        if out.is_full() {
            return;
        }
        match &part.body {
            PartType::Text(text) => offer_footer_tokens(text, out),
            PartType::Html(html) => match html_texts {
                Some(texts) => offer_footer_tokens(&texts.of(id, html), out),
                None => offer_footer_tokens(&html_to_text(html), out),
            },
            PartType::Message(inner) if depth < MAX_NESTED_MESSAGES => {
                offer_nested(inner, None, out, depth + 1);
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

/// [`parts`] with each part's index in `message.parts`.
fn indexed_parts<'a, 'x>(
    message: &'a Message<'x>,
    ids: &'a [u32],
) -> impl Iterator<Item = (usize, &'a MessagePart<'x>)> + 'a {
    ids.iter().filter_map(move |&id| {
        let id = id as usize;
        message.parts.get(id).map(|part| (id, part))
    })
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

#[cfg(test)]
mod tests {
    use super::{is_degenerate_plain, unix_newlines};

    /// The one-pass newline conversion against the two replacements it
    /// stands for.
    #[test]
    fn unix_newlines_matches_two_replacements() {
        let cases = [
            "",
            "\r",
            "\n",
            "\r\n",
            "\n\r",
            "\r\r\n",
            "\r\n\r",
            "a\r\nb\rc\nd",
            "trailing\r",
            "\r\n\r\n\r\n",
            "caf\u{e9}\r\n\u{2028}\r\u{e9}",
            "no breaks at all",
        ];
        for text in cases {
            assert_eq!(
                unix_newlines(text),
                text.replace("\r\n", "\n").replace('\r', "\n"),
                "{text:?}"
            );
        }
    }

    /// `is_degenerate_plain` as it was, lowercasing the whole text: the
    /// reference for the length bound that skips the lowercasing.
    fn is_degenerate_plain_reference(plain: &str, html_text: &str) -> bool {
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
        let lines = |t: &str| t.trim().lines().filter(|l| !l.trim().is_empty()).count();
        lines(plain) <= 1 && lines(html_text) >= 3
    }

    #[test]
    fn degenerate_plain_matches_full_lowercasing() {
        let notice = "This Is An HTML Message";
        let kelvin = "\u{212a}".repeat(70); // 3 bytes each, lowercases to 1
        let padding = |n: usize| "x".repeat(n);
        let plains = vec![
            notice.to_string(),
            notice.to_uppercase(),
            format!("  {notice}  \r\n"),
            format!("{notice} {}", padding(150)),
            format!("{notice} {}", padding(180)),
            format!("{notice} {}", padding(900)),
            format!("{kelvin} {notice}"),
            format!("{kelvin}{kelvin}{kelvin} {notice}"),
            format!("{kelvin}{kelvin}{kelvin}{kelvin} {notice}"),
            format!("{} {notice}", "\u{130}".repeat(90)),
            format!("{} {notice}", "\u{1e9e}".repeat(60)),
            "Your Mail Client Does Not Support HTML.".to_string(),
            "APPROVE".to_string(),
            "APPROVE\nlooks fine".to_string(),
            String::new(),
        ];
        let htmls = ["", "one line", "a\nb\nc", "a\n\nb\n \nc\nd"];
        for plain in &plains {
            for html in htmls {
                assert_eq!(
                    is_degenerate_plain(plain, html),
                    is_degenerate_plain_reference(plain, html),
                    "{plain:?} / {html:?}"
                );
            }
        }
    }
}
