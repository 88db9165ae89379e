//! An outbox record as a MIME message: text (and HTML) parts, threading
//! headers, and the headers that keep robots from answering.

use std::time::SystemTime;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::transport::SendError;
use crate::domain::ids::Address;
use crate::mail::compose::is_safe_message_id;
use crate::records::OutboundMail;

/// `Auto-Submitted` (RFC 3834): tells vacation responders and other robots
/// not to answer, which prevents mail loops with approvald's own replies.
#[derive(Clone)]
struct AutoSubmitted(String);

/// Header name checked at compile time (the constructor is a `const fn`).
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        AUTO_SUBMITTED
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Microsoft's equivalent of `Auto-Submitted`: Exchange and Outlook ignore
/// RFC 3834 but honour this, so out-of-office replies are not sent back to
/// the token-carrying Reply-To address.
#[derive(Clone)]
struct AutoResponseSuppress;

/// Header name checked at compile time.
const AUTO_RESPONSE_SUPPRESS: HeaderName =
    HeaderName::new_from_ascii_str("X-Auto-Response-Suppress");

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        AUTO_RESPONSE_SUPPRESS
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "OOF, AutoReply".into())
    }
}

pub(super) fn from_mailbox(from_name: &str, address: &Address) -> Result<Mailbox, String> {
    let addr = address
        .as_str()
        .parse::<lettre::Address>()
        .map_err(|e| format!("{address}: {e}"))?;
    let name = from_name.trim();
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_string()),
        addr,
    ))
}

fn mailbox(address: &Address) -> Result<Mailbox, SendError> {
    address
        .as_str()
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|e| SendError::Permanent(format!("{address} is not a deliverable address: {e}")))
}

/// `<id>` for a header, refusing ids that would corrupt it.
fn angle(id: &str) -> Result<String, SendError> {
    if is_safe_message_id(id) {
        Ok(format!("<{id}>"))
    } else {
        Err(SendError::Permanent(format!(
            "{id:?} is not a usable Message-ID"
        )))
    }
}

/// The MIME message for `m`: multipart/alternative (text, then HTML) when
/// there is HTML, text/plain alone otherwise. `date` is a parameter so that
/// tests get reproducible output.
pub(super) fn build_message(
    from: &Mailbox,
    m: &OutboundMail,
    date: SystemTime,
) -> Result<Message, SendError> {
    // Composition already removes control characters from subjects; this
    // repeats it so that no outbox record can inject header lines.
    let subject: String = m
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut b = Message::builder()
        .from(from.clone())
        .to(mailbox(&m.to)?)
        .subject(subject)
        .message_id(Some(angle(&m.message_id)?))
        .date(date)
        .header(AutoSubmitted(m.auto_submitted.clone()))
        .header(AutoResponseSuppress);
    if let Some(reply_to) = &m.reply_to {
        b = b.reply_to(mailbox(reply_to)?);
    }
    if let Some(parent) = &m.in_reply_to {
        b = b.in_reply_to(angle(parent)?);
    }
    if !m.references.is_empty() {
        let refs = m
            .references
            .iter()
            .map(|r| angle(r))
            .collect::<Result<Vec<_>, _>>()?;
        b = b.references(refs.join(" "));
    }
    let built = match &m.html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            html.clone(),
        )),
        None => b.singlepart(SinglePart::plain(m.text.clone())),
    };
    built.map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    #[test]
    fn message_carries_every_header() {
        let bytes = build_message(&from(), &mail(1), date())
            .unwrap()
            .formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let first = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first()).map(|a| {
                (
                    a.name().map(str::to_string),
                    a.address().unwrap_or("").to_string(),
                )
            })
        };
        assert_eq!(
            first(parsed.from()),
            Some((
                Some("Access approvals".into()),
                "approvals@example.test".into()
            ))
        );
        assert_eq!(
            first(parsed.to()),
            Some((None, "approver1@example.test".into()))
        );
        assert_eq!(
            first(parsed.reply_to()),
            Some((None, "approvals+abc@example.test".into()))
        );
        assert_eq!(
            parsed.subject(),
            Some("[AR-7] Approval needed 1 – Genehmigung")
        );
        assert_eq!(
            parsed.message_id(),
            Some("approvald.AR-7.request.1.1@example.test")
        );
        assert_eq!(
            parsed.in_reply_to().as_text_list().map(|l| l.to_vec()),
            Some(vec!["root@example.test".into()])
        );
        assert_eq!(
            parsed.references().as_text_list().map(|l| l.to_vec()),
            Some(vec![
                "root@example.test".into(),
                "other@example.test".into()
            ])
        );
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            parsed.header_raw("X-Auto-Response-Suppress").map(str::trim),
            Some("OOF, AutoReply")
        );
        assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_795_000_000));
    }

    #[test]
    fn html_mail_is_multipart_alternative_text_first() {
        let bytes = build_message(&from(), &mail(1), date())
            .unwrap()
            .formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let ct = parsed.root_part().content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let parts = parsed.root_part().sub_parts().unwrap();
        assert_eq!(parts.len(), 2);
        let kinds: Vec<(String, String)> = parts
            .iter()
            .map(|&i| {
                let ct = parsed.part(i).unwrap().content_type().unwrap();
                (
                    ct.ctype().to_string(),
                    ct.subtype().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("text".into(), "plain".into()),
                ("text".into(), "html".into())
            ]
        );
        assert_eq!(lf(parsed.body_text(0)), lf(Some(mail(1).text.into())));
        assert_eq!(lf(parsed.body_html(0)), "<p>Hallo J&ouml;rg</p>");
        assert!(
            bytes.is_ascii(),
            "bodies are transfer-encoded for 7-bit servers"
        );
    }

    #[test]
    fn text_only_mail_is_a_single_plain_part() {
        let mut m = mail(1);
        m.html = None;
        m.reply_to = None;
        m.in_reply_to = None;
        m.references.clear();
        let bytes = build_message(&from(), &m, date()).unwrap().formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        let ct = parsed.root_part().content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
        assert_eq!(lf(parsed.body_text(0)), lf(Some(m.text.clone().into())));
        assert!(parsed.reply_to().is_none());
        assert!(parsed.header_raw("In-Reply-To").is_none());
        assert!(parsed.header_raw("References").is_none());
    }

    #[test]
    fn outbox_record_cannot_inject_headers() {
        let mut m = mail(1);
        m.subject = "hi\r\nBcc: victim@example.test".into();
        let bytes = build_message(&from(), &m, date()).unwrap().formatted();
        let parsed = MessageParser::default().parse(&bytes).unwrap();
        assert!(parsed.bcc().is_none());
        assert!(parsed.header_raw("Bcc").is_none());
        assert_eq!(parsed.subject(), Some("hi  Bcc: victim@example.test"));
        let bad_ids = ["", "a b@x", "a@x>\r\nBcc: v@x", "<a@x>"];
        for id in bad_ids {
            for field in ["message-id", "in-reply-to", "references"] {
                let mut m = mail(1);
                match field {
                    "message-id" => m.message_id = id.into(),
                    "in-reply-to" => m.in_reply_to = Some(id.into()),
                    _ => m.references = vec![id.into()],
                }
                assert!(
                    matches!(
                        build_message(&from(), &m, date()),
                        Err(SendError::Permanent(_))
                    ),
                    "{field} {id:?} accepted"
                );
            }
        }
    }
}
