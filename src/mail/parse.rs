//! Turning the raw bytes of a message from the approvals inbox into the
//! facts the daemon acts on: who sent it, which reply tokens it carries,
//! whether a machine wrote it, what text the approver typed, and what our
//! mail server concluded about the sender's authenticity.
//!
//! Pure: no I/O. Every input, however hostile, gives either a
//! [`ParseError`] or a (possibly degraded) [`InboundMail`]; nothing here
//! panics.

mod auth_results;
mod automated;
mod body;
mod entities;
mod headers;
mod html;
mod inbox;
mod token_candidates;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod no_panic_tests;
#[cfg(test)]
mod parser_config_tests;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::{Address, HeaderName, HeaderValue, Message, MessageParser};

pub(crate) use auth_results::AuthResults;
pub(crate) use automated::Automated;
pub(crate) use body::MessageBodyError;
pub(crate) use inbox::InboxAddress;

use auth_results::domain_of;
use headers::{header_section, RawHeaders};
use token_candidates::Candidates;

/// Longest address accepted as a sender (RFC 5321 path limit).
const MAX_ADDRESS_LEN: usize = 254;

/// Longest header field name accepted at the start of a message; real
/// ones are far shorter, and the bound keeps the check cheap.
const MAX_FIELD_NAME_LEN: usize = 128;

/// Longest Message-ID kept; RFC 5322 lines are at most 998 characters.
const MAX_MESSAGE_ID_LEN: usize = 998;

/// What the daemon needs to know about one inbound message.
#[derive(Clone)]
pub(crate) struct InboundMail {
    /// The Message-ID without `<>`: de-duplicates messages seen twice and
    /// threads the daemon's answer to this message.
    pub(crate) message_id: Option<String>,
    /// The single From address, lowercase, compared with the approver the
    /// token was issued to. `None` when absent, unparseable, or when the
    /// message names several From addresses (then nobody can be held to it).
    pub(crate) from: Option<String>,
    /// Decoded Subject ("" when absent). It holds the reply token in its
    /// `[ref:...]` tag: log [`InboundMail::redacted_subject`] instead.
    pub(crate) subject: String,
    /// Syntactically valid reply tokens, lowercase, without duplicates, in
    /// priority order: plus-address of the inbox (envelope headers, then
    /// To and Cc), `[ref:TOKEN]` Subject tags, `Approval token:` footers.
    /// Not verified: the caller checks each one's HMAC, in this order.
    pub(crate) token_candidates: Vec<String>,
    /// The candidates found where a DKIM signature covers them — the
    /// Subject and the body — in the same order. Envelope headers
    /// (`Delivered-To`, `X-Original-To`, `Envelope-To`) are added in transit
    /// and signed by nobody, so under a rule that trusts signatures an old
    /// signed reply could otherwise be re-aimed at another token.
    pub(crate) signed_token_candidates: Vec<String>,
    /// Why the message is machine-generated, if it is; such a message is
    /// neither a decision nor to be answered.
    pub(crate) automated: Option<Automated>,
    /// The text the reply parser reads (see [`body::reply_text`]), or why
    /// there is none.
    pub(crate) text: Result<String, MessageBodyError>,
    /// The HTML part's text when the message has both a plain and an HTML
    /// part: a decision is taken only when both say the same.
    pub(crate) alternative_text: Option<String>,
    /// Every `Authentication-Results` header as written, topmost first;
    /// read only under a sender rule that trusts them (see
    /// [`InboundMail::sender_authentication`]), so most messages never pay
    /// for parsing them.
    authentication_results_raw: Vec<String>,
}

impl InboundMail {
    /// Whether our own mail server (identified by `authserv_id`) vouches
    /// for the From domain; `Err(why)` when it does not. Only the topmost
    /// `Authentication-Results` header is read, and only when it carries
    /// that authserv-id (case-insensitive): our server prepends its own, so
    /// anything below it was there before the message reached us. A second
    /// header with our id means our server did not strip incoming ones (or
    /// someone forged one): nothing is trusted then. The header must show
    /// `dmarc=pass` for the From domain when it has a DMARC result, or else
    /// `dkim=pass` / `spf=pass` for a domain aligned with it (see
    /// [`AuthResults::authenticates`]).
    pub(crate) fn sender_authentication(&self, authserv_id: &str) -> Result<(), String> {
        let id = authserv_id.trim();
        if id.is_empty() {
            return Err("no authserv-id is configured".into());
        }
        let Some(from_domain) = self.from.as_deref().and_then(domain_of) else {
            return Err("no usable From address".into());
        };
        let all = self.authentication_results();
        let ours = |ar: &&AuthResults| ar.authserv_id.eq_ignore_ascii_case(id);
        let Some(top) = all.first().filter(ours) else {
            return Err(format!(
                "the topmost Authentication-Results header is not from {id}"
            ));
        };
        if all.iter().filter(ours).count() > 1 {
            return Err(format!(
                "more than one Authentication-Results header claims to be from {id}"
            ));
        }
        if top.authenticates(&from_domain) {
            Ok(())
        } else {
            Err(format!(
                "{id} saw no DMARC pass (or, without a DMARC result, no DKIM or SPF pass aligned with {from_domain})"
            ))
        }
    }

    /// Every `Authentication-Results` header, parsed, topmost first.
    pub(crate) fn authentication_results(&self) -> Vec<AuthResults> {
        self.authentication_results_raw
            .iter()
            .map(|v| AuthResults::parse(v))
            .collect()
    }

    /// [`InboundMail::sender_authentication`] as a yes or no.
    #[cfg(test)]
    pub(crate) fn sender_authenticated(&self, authserv_id: &str) -> bool {
        self.sender_authentication(authserv_id).is_ok()
    }

    /// The Subject with its `[ref:...]` tags blanked: the form to log,
    /// because the tag holds a reply token.
    pub(crate) fn redacted_subject(&self) -> String {
        token_candidates::redact_subject_tags(&self.subject)
    }
}

/// Reply tokens are credentials and bodies may be confidential: neither is
/// written by `{:?}`, so logging a message cannot leak them.
impl fmt::Debug for InboundMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMail")
            .field("message_id", &self.message_id)
            .field("from", &self.from)
            .field("subject", &self.redacted_subject())
            .field(
                "token_candidates",
                &Redacted(self.token_candidates.len(), "tokens"),
            )
            .field("automated", &self.automated)
            .field(
                "text",
                &self.text.as_ref().map(|t| Redacted(t.len(), "bytes")),
            )
            .field("authentication_results", &self.authentication_results())
            .finish()
    }
}

/// Stands in for redacted content in `Debug` output: only its size shows.
struct Redacted(usize, &'static str);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} {} redacted>", self.0, self.1)
    }
}

/// Why a message could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Not a mail message: no header fields, or a structure the MIME
    /// parser gave up on. The text says which, for the log.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Larger than the limit, and not even its header section ends within
    /// the bound read from oversized messages. (An oversized message with
    /// a normal header is parsed, with `text` = [`MessageBodyError::TooLarge`].)
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the raw message.
        size: usize,
        /// The configured `max_message_size`.
        limit: usize,
    },
}

/// Reads one raw message (RFC 5322, CRLF or LF line ends).
///
/// A message larger than `max_message_size` is not decoded: only its header
/// section is read (message id, From, Subject, plus-address and Subject
/// tokens, automated), and `text` is `Err(MessageBodyError::TooLarge)`. That keeps
/// the cost bounded while the daemon can still log the message and tell
/// the sender. Only if the header section itself does not end within a
/// bound is [`ParseError::TooLarge`] returned.
pub(crate) fn parse_inbound(
    raw: &[u8],
    inbox: &InboxAddress,
    max_message_size: usize,
) -> Result<InboundMail, ParseError> {
    parse_inbound_of_size(raw, raw.len(), inbox, max_message_size)
}

/// [`parse_inbound`] for a message of `full_size` bytes of which `raw` may
/// be only the header section: the IMAP worker does not download the body of
/// a message it would not read.
pub(crate) fn parse_inbound_of_size(
    raw: &[u8],
    full_size: usize,
    inbox: &InboxAddress,
    max_message_size: usize,
) -> Result<InboundMail, ParseError> {
    let oversized = full_size.max(raw.len()) > max_message_size;
    let too_large = || ParseError::TooLarge {
        size: full_size.max(raw.len()),
        limit: max_message_size,
    };
    if !starts_with_header_field(raw) {
        return Err(ParseError::Malformed(
            "does not start with a header field".into(),
        ));
    }
    let input = if oversized {
        header_section(raw).ok_or_else(too_large)?
    } else {
        raw
    };
    let message = run_mime_parser(input, oversized)?;
    let headers = RawHeaders::from_message(&message);
    if headers.is_empty() {
        return Err(ParseError::Malformed("no header fields".into()));
    }

    let mut candidates = Candidates::default();
    for name in ["delivered-to", "x-original-to", "envelope-to", "to", "cc"] {
        for value in headers.all(name) {
            token_candidates::offer_plus_addresses_in(value, inbox, &mut candidates);
        }
    }
    let subject = message.subject().unwrap_or("").trim().to_string();
    token_candidates::offer_subject_tags(&subject, &mut candidates);
    let mut signed = Candidates::default();
    token_candidates::offer_subject_tags(&subject, &mut signed);

    // Every HTML part is converted to text at most once, whichever of the
    // steps below reads it first.
    let html_texts = body::HtmlTexts::new(&message);
    let text = if oversized {
        Err(MessageBodyError::TooLarge {
            size: full_size.max(raw.len()),
            limit: max_message_size,
        })
    } else {
        // The body is searched once; its tokens join both lists as if each
        // had been offered them one by one (see `Candidates::offer_all`).
        let mut body_tokens = Candidates::default();
        body::offer_body_tokens(&message, &html_texts, &mut body_tokens);
        candidates.offer_all(&body_tokens);
        signed.offer_all(&body_tokens);
        body::reply_text(&message, &html_texts)
    };

    // Both parts are the approver's: the HTML is read beside the plain
    // text, and instead of it when the plain part is a degenerate stand-in.
    let (text, alternative_text) = match (text, oversized) {
        (Ok(plain), false) => match body::alternative_text(&message, &html_texts) {
            Some(html) if body::is_degenerate_plain(&plain, &html) => (Ok(html), None),
            other => (Ok(plain), other),
        },
        (other, _) => (other, None),
    };
    Ok(InboundMail {
        message_id: message_id(&message),
        from: single_from(&message),
        subject,
        token_candidates: candidates.into_vec(),
        signed_token_candidates: signed.into_vec(),
        automated: automated::detect(&headers, report_type(&message)),
        text,
        alternative_text,
        authentication_results_raw: headers
            .all("authentication-results")
            .map(str::to_owned)
            .collect(),
    })
}

/// A message starts with `Name:` (RFC 5322 field name: printable ASCII
/// without `:`; obsolete syntax allows blanks before the colon). Without
/// that, the MIME parser would take text or binary data for a header.
fn starts_with_header_field(raw: &[u8]) -> bool {
    let name_len = raw
        .iter()
        .take(MAX_FIELD_NAME_LEN + 1)
        .take_while(|&&b| b.is_ascii_graphic() && b != b':')
        .count();
    if name_len == 0 || name_len > MAX_FIELD_NAME_LEN {
        return false;
    }
    raw.get(name_len..)
        .unwrap_or_default()
        .iter()
        .find(|&&b| b != b' ' && b != b'\t')
        == Some(&b':')
}

/// The MIME parser, told to decode only the fields read through it: the
/// MIME fields of every part (its body depends on them), Subject, From and
/// Message-ID. Every other field is skipped, not decoded: a reply carries a
/// dozen `Received`, DKIM and ARC fields, and decoding them was a third of
/// parsing a message. Their raw text is still there (offsets are kept),
/// which is how [`RawHeaders`] reads the few others approvald needs.
static MIME_PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_id(HeaderName::MessageId)
        .default_header_ignore()
});

/// Runs the MIME parser. It is written not to panic, but it contains debug
/// assertions and offset arithmetic that hostile input might reach; a
/// panic there must cost this one message, not the daemon.
fn run_mime_parser(input: &[u8], headers_only: bool) -> Result<Message<'_>, ParseError> {
    let parser = &*MIME_PARSER;
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        if headers_only {
            parser.parse_headers(input)
        } else {
            parser.parse(input)
        }
    }));
    match parsed {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(ParseError::Malformed("no header fields".into())),
        Err(_) => Err(ParseError::Malformed(
            "the MIME structure could not be parsed".into(),
        )),
    }
}

fn root_headers<'a, 'x>(
    message: &'a Message<'x>,
    name: HeaderName<'static>,
) -> impl Iterator<Item = &'a HeaderValue<'x>> + 'a {
    message
        .parts
        .first()
        .map(|root| root.headers.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(move |h| h.name == name)
        .map(|h| &h.value)
}

fn message_id(message: &Message<'_>) -> Option<String> {
    let id = match root_headers(message, HeaderName::MessageId).next()? {
        HeaderValue::Text(id) => id.as_ref(),
        HeaderValue::TextList(ids) => ids.first()?.as_ref(),
        _ => return None,
    };
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && id.len() <= MAX_MESSAGE_ID_LEN).then(|| id.to_string())
}

/// The one From address, or `None` (see [`InboundMail::from`]).
fn single_from(message: &Message<'_>) -> Option<String> {
    let mut froms = root_headers(message, HeaderName::From);
    let first = froms.next()?;
    if froms.next().is_some() {
        return None;
    }
    let HeaderValue::Address(Address::List(list)) = first else {
        return None;
    };
    let [only] = list.as_slice() else {
        return None;
    };
    normalise_address(only.address.as_deref()?)
}

/// Lowercases and checks an addr-spec: one `@`-separated local part and
/// host name, nothing that could smuggle a second address or a line break.
fn normalise_address(address: &str) -> Option<String> {
    let address = address.trim();
    if address.is_empty() || address.len() > MAX_ADDRESS_LEN {
        return None;
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return None;
    }
    let (local, domain) = address.rsplit_once('@')?;
    // A quoted local part may contain `@`; no approver's address does, and
    // refusing it keeps "one address, one `@`" true for every caller.
    if local.is_empty() || local.contains('@') {
        return None;
    }
    let domain = domain_of(domain).filter(|d| d.len() == domain.trim_end_matches('.').len())?;
    Some(format!("{}@{}", local.to_lowercase(), domain))
}

/// `Some(report-type)` when the top-level body is `multipart/report`.
fn report_type(message: &Message<'_>) -> Option<String> {
    let content_type =
        root_headers(message, HeaderName::ContentType).find_map(|v| v.as_content_type())?;
    let is_report = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    is_report.then(|| {
        content_type
            .attributes()
            .unwrap_or_default()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case("report-type"))
            .map(|a| a.value.trim().to_ascii_lowercase())
            .unwrap_or_default()
    })
}
