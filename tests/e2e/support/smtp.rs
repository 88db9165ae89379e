//! Sending mail into the test stack as a person's mail client would: replies
//! that thread and quote like Gmail or Thunderbird, and hand-made raw
//! messages (HTML-only, ISO-8859-1, auto-replies, bounces).

use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox as LettreMailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::mailbox::Mail;
use super::stack::Stack;

/// Bound on one SMTP conversation: lettre's own timeout covers only
/// connecting.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// An SMTP client of the test stack.
#[derive(Clone, Debug)]
pub(crate) struct Smtp {
    /// Postfix's plain SMTP port on 127.0.0.1.
    port: u16,
    /// SMTP AUTH login and password; `None` sends unauthenticated, which
    /// the stack allows from 127.0.0.1.
    login: Option<(String, String)>,
}

impl Smtp {
    /// Unauthenticated, as the stack allows from 127.0.0.1.
    pub(crate) fn new(stack: &Stack) -> Smtp {
        Smtp {
            port: stack.smtp_port,
            login: None,
        }
    }

    /// Authenticated as `user` with the stack's password (SMTP AUTH, checked
    /// by Dovecot).
    pub(crate) fn with_login(stack: &Stack, user: &str) -> Smtp {
        Smtp::with_credentials(stack, user, &stack.password)
    }

    /// Authenticated as `user` with `password` (a wrong one, say).
    pub(crate) fn with_credentials(stack: &Stack, user: &str, password: &str) -> Smtp {
        Smtp {
            port: stack.smtp_port,
            login: Some((user.to_owned(), password.to_owned())),
        }
    }

    /// A transport per send: no pooled connection outlives a test.
    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(self.port);
        if let Some((user, password)) = &self.login {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        builder.build()
    }

    /// Sends `message`, returning the server's answer or its refusal.
    pub(crate) async fn try_send(
        &self,
        message: &Message,
    ) -> Result<Response, lettre::transport::smtp::Error> {
        let transport = self.transport();
        match tokio::time::timeout(SEND_TIMEOUT, transport.send(message.clone())).await {
            Ok(result) => result,
            Err(_) => panic!("SMTP send did not finish within {SEND_TIMEOUT:?}"),
        }
    }

    /// Sends `message`; fails the test when the server refuses it.
    pub(crate) async fn send(&self, message: &Message) {
        if let Err(e) = self.try_send(message).await {
            panic!("SMTP send refused: {e}");
        }
    }

    /// Sends hand-made bytes with an explicit envelope, returning the
    /// server's answer or its refusal.
    pub(crate) async fn try_send_raw(
        &self,
        envelope_from: &str,
        envelope_to: &[&str],
        raw: &[u8],
    ) -> Result<Response, lettre::transport::smtp::Error> {
        let envelope = envelope(envelope_from, envelope_to);
        let transport = self.transport();
        match tokio::time::timeout(SEND_TIMEOUT, transport.send_raw(&envelope, raw)).await {
            Ok(result) => result,
            Err(_) => panic!("SMTP send did not finish within {SEND_TIMEOUT:?}"),
        }
    }

    /// Sends hand-made bytes (CRLF line ends, as on the wire) with an
    /// explicit envelope. `envelope_from` may be "" for a null sender, as
    /// bounces have. Fails the test when the server refuses them.
    pub(crate) async fn send_raw(&self, envelope_from: &str, envelope_to: &[&str], raw: &[u8]) {
        if let Err(e) = self.try_send_raw(envelope_from, envelope_to, raw).await {
            panic!("SMTP send of raw message refused: {e}");
        }
    }

    /// Sends many hand-made messages `(envelope_from, envelope_to, raw)`,
    /// `parallel` at a time over pooled connections, as a busy mail server
    /// passes them on; fails the test on the first refusal.
    pub(crate) async fn send_raw_many(
        &self,
        messages: &[(String, String, Vec<u8>)],
        parallel: usize,
    ) {
        use futures::StreamExt;
        let transport = self.transport();
        let sends = messages.iter().map(|(from, to, raw)| {
            let transport = transport.clone();
            async move {
                let envelope = envelope(from, &[to.as_str()]);
                match tokio::time::timeout(SEND_TIMEOUT, transport.send_raw(&envelope, raw)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("SMTP send of raw message to {to} refused: {e}"),
                    Err(_) => panic!("SMTP send did not finish within {SEND_TIMEOUT:?}"),
                }
            }
        });
        futures::stream::iter(sends)
            .buffer_unordered(parallel.max(1))
            .collect::<Vec<()>>()
            .await;
    }

    /// Sends a short plain-text mail.
    pub(crate) async fn send_text(&self, from: &str, to: &str, subject: &str, body: &str) {
        let message = Message::builder()
            .from(mailbox(from))
            .to(mailbox(to))
            .subject(subject)
            .message_id(None)
            .body(body.to_owned())
            .unwrap_or_else(|e| panic!("cannot build a mail: {e}"));
        self.send(&message).await;
    }
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    let from = if from.is_empty() {
        None
    } else {
        Some(
            from.parse()
                .unwrap_or_else(|e| panic!("bad envelope sender {from:?}: {e}")),
        )
    };
    let to = to
        .iter()
        .map(|t| {
            t.parse()
                .unwrap_or_else(|e| panic!("bad envelope recipient {t:?}: {e}"))
        })
        .collect();
    Envelope::new(from, to).unwrap_or_else(|e| panic!("bad envelope: {e}"))
}

/// Parses "addr" or "Name <addr>"; fails the test when it is not valid.
pub(crate) fn mailbox(address: &str) -> LettreMailbox {
    address
        .parse()
        .unwrap_or_else(|e| panic!("bad address {address:?}: {e}"))
}

/// A reply to a received mail, shaped as a common mail client writes it.
/// Fields are open so a test can bend one (a wrong Subject, no
/// In-Reply-To, another sender) before [`ReplyDraft::message`].
#[derive(Clone, Debug)]
pub(crate) struct ReplyDraft {
    /// The replying person ("addr" or "Name <addr>").
    pub(crate) from: String,
    /// The original's Reply-To (its From when it has none): where the
    /// client sends the reply.
    pub(crate) to: String,
    /// "Re: " and the original subject.
    pub(crate) subject: String,
    /// The original's Message-ID, with angle brackets.
    pub(crate) in_reply_to: Option<String>,
    /// The original's References then its Message-ID, with angle brackets.
    pub(crate) references: Vec<String>,
    /// New text, a blank line, the attribution line, the quoted original.
    pub(crate) body: String,
}

impl ReplyDraft {
    /// A reply from `from` to `original`, with `text` written above the
    /// quote.
    pub(crate) fn new(original: &Mail, from: &str, text: &str) -> ReplyDraft {
        let parsed = original.parsed();
        let to = original
            .reply_to()
            .or_else(|| original.author())
            .unwrap_or_else(|| {
                panic!(
                    "original has neither Reply-To nor From:\n{}",
                    original.raw_text()
                )
            });
        let subject = parsed.subject().unwrap_or_default();
        let subject = if subject.to_ascii_lowercase().starts_with("re:") {
            subject.to_owned()
        } else {
            format!("Re: {subject}")
        };
        let in_reply_to = parsed.message_id().map(|id| format!("<{id}>"));
        let mut references = references_of(&parsed);
        references.extend(in_reply_to.clone());
        let date = parsed
            .date()
            .map(|d| d.to_rfc822())
            .unwrap_or_else(|| "an unknown date".to_owned());
        let author = parsed
            .from()
            .and_then(|a| a.first())
            .map(|a| match (a.name(), a.address()) {
                (Some(name), Some(addr)) => format!("{name} <{addr}>"),
                (None, Some(addr)) => format!("<{addr}>"),
                (Some(name), None) => name.to_owned(),
                (None, None) => "someone".to_owned(),
            })
            .unwrap_or_else(|| "someone".to_owned());
        let body = format!(
            "{text}\n\nOn {date}, {author} wrote:\n{}",
            quote(&original.text())
        );
        ReplyDraft {
            from: from.to_owned(),
            to,
            subject,
            in_reply_to,
            references,
            body,
        }
    }

    /// The reply as a lettre message (text/plain, UTF-8, a fresh
    /// Message-ID).
    pub(crate) fn message(&self) -> Message {
        let mut builder = Message::builder()
            .from(mailbox(&self.from))
            .to(mailbox(&self.to))
            .subject(self.subject.clone())
            .message_id(None);
        if let Some(id) = &self.in_reply_to {
            builder = builder.in_reply_to(id.clone());
        }
        if !self.references.is_empty() {
            builder = builder.references(self.references.join(" "));
        }
        builder
            .body(self.body.clone())
            .unwrap_or_else(|e| panic!("cannot build the reply: {e}"))
    }
}

/// The References of `parsed`, each in angle brackets: what a reply
/// carries forward before adding the original's own Message-ID.
pub(crate) fn references_of(parsed: &mail_parser::Message<'_>) -> Vec<String> {
    parsed
        .references()
        .as_text_list()
        .map(|ids| ids.iter().map(|id| format!("<{id}>")).collect())
        .or_else(|| {
            parsed
                .references()
                .as_text()
                .map(|id| vec![format!("<{id}>")])
        })
        .unwrap_or_default()
}

/// Quotes `text` as mail clients do: "> " before each line, ">" alone on
/// an empty one.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::new();
    for line in text.trim_end().lines() {
        if line.is_empty() {
            out.push_str(">\n");
        } else {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
