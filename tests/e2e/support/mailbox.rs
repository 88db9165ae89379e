//! Reading mailboxes of the test stack over IMAP, as the people in a test
//! (approvers, requesters, the approvals inbox) would see them.
//!
//! Every call opens its own session and looks with EXAMINE and BODY.PEEK, so
//! the harness never sets `\Seen` or otherwise changes what the daemon sees.

use std::time::{Duration, Instant};

use async_imap::Session;
use futures::TryStreamExt;
use mail_parser::{Message, MessageParser};
use tokio::net::TcpStream;

use super::stack::Stack;

/// How often [`Mailbox::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(200);

/// One message as the server stores it.
#[derive(Clone, Debug)]
pub(crate) struct Mail {
    /// The IMAP UID, to tell messages apart and order them.
    pub(crate) uid: u32,
    /// The whole message, headers and body, byte for byte.
    pub(crate) raw: Vec<u8>,
}

impl Mail {
    /// The parsed message; fails the test when it cannot be parsed.
    pub(crate) fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .unwrap_or_else(|| panic!("unparsable message:\n{}", self.raw_text()))
    }

    /// The whole message as text (invalid UTF-8 replaced), for assertions
    /// on the exact wire form and for failure messages.
    pub(crate) fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// The decoded Subject, or "" when there is none.
    pub(crate) fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The text body: text/plain, or the HTML part converted to text when
    /// there is no plain part; "" when there is no body.
    pub(crate) fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The HTML body, when there is one.
    pub(crate) fn html(&self) -> Option<String> {
        self.parsed().body_html(0).map(|t| t.into_owned())
    }

    /// The raw value of the first header `name` (case-insensitive), trimmed.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_owned())
    }

    /// The raw values of every header `name`, in order (`Received`,
    /// `Delivered-To` may repeat).
    pub(crate) fn headers(&self, name: &str) -> Vec<String> {
        self.parsed()
            .headers()
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .filter_map(|h| {
                let offset = h.offset_start() as usize;
                let end = h.offset_end() as usize;
                self.raw.get(offset..end)
            })
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
            .collect()
    }

    /// The Message-ID without angle brackets.
    pub(crate) fn message_id(&self) -> Option<String> {
        self.parsed().message_id().map(str::to_owned)
    }

    /// The first From address (just the address).
    pub(crate) fn author(&self) -> Option<String> {
        first_address(self.parsed().from())
    }

    /// The first Reply-To address (just the address).
    pub(crate) fn reply_to(&self) -> Option<String> {
        first_address(self.parsed().reply_to())
    }

    /// Every To address.
    pub(crate) fn to_addresses(&self) -> Vec<String> {
        self.parsed()
            .to()
            .map(|a| {
                a.iter()
                    .filter_map(|a| a.address())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn first_address(addr: Option<&mail_parser::Address<'_>>) -> Option<String> {
    addr.and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_owned)
}

/// The mailboxes of one user of the test stack.
#[derive(Clone, Debug)]
pub(crate) struct Mailbox {
    /// The stack to connect to.
    stack: Stack,
    /// The login: the user's address.
    user: String,
}

impl Mailbox {
    /// The mailboxes of `user` (any address @example.test exists).
    pub(crate) fn new(stack: &Stack, user: &str) -> Mailbox {
        Mailbox {
            stack: stack.clone(),
            user: user.to_owned(),
        }
    }

    /// The login this mailbox belongs to.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// A logged-in IMAP session over plain TCP to 127.0.0.1.
    pub(crate) async fn session(&self) -> Session<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.stack.imap_port))
            .await
            .unwrap_or_else(|e| panic!("IMAP connect to port {}: {e}", self.stack.imap_port));
        let mut client = async_imap::Client::new(stream);
        // The server speaks first: a greeting, before any command.
        let greeting = client
            .read_response()
            .await
            .unwrap_or_else(|e| panic!("IMAP greeting: {e}"));
        assert!(greeting.is_some(), "IMAP server closed before its greeting");
        client
            .login(&self.user, &self.stack.password)
            .await
            .unwrap_or_else(|(e, _)| panic!("IMAP login as {}: {e}", self.user))
    }

    /// The names of all mailboxes (INBOX, and what the daemon created).
    pub(crate) async fn mailboxes(&self) -> Vec<String> {
        let mut session = self.session().await;
        let names: Vec<String> = session
            .list(None, Some("*"))
            .await
            .unwrap_or_else(|e| panic!("IMAP LIST for {}: {e}", self.user))
            .map_ok(|n| n.name().to_owned())
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("IMAP LIST for {}: {e}", self.user));
        session.logout().await.ok();
        names
    }

    /// Every message in `mailbox`, oldest first; empty when the mailbox
    /// does not exist (yet).
    pub(crate) async fn fetch_all(&self, mailbox: &str) -> Vec<Mail> {
        let mut session = self.session().await;
        let selected = match session.examine(mailbox).await {
            Ok(selected) => selected,
            Err(async_imap::error::Error::No(_)) => {
                session.logout().await.ok();
                return Vec::new();
            }
            Err(e) => panic!("IMAP EXAMINE {mailbox} as {}: {e}", self.user),
        };
        let mut mails = Vec::new();
        if selected.exists > 0 {
            let fetches: Vec<_> = session
                .fetch("1:*", "(UID BODY.PEEK[])")
                .await
                .unwrap_or_else(|e| panic!("IMAP FETCH {mailbox} as {}: {e}", self.user))
                .try_collect()
                .await
                .unwrap_or_else(|e| panic!("IMAP FETCH {mailbox} as {}: {e}", self.user));
            for fetch in fetches {
                // Unsolicited FETCH responses (flag changes by the daemon
                // meanwhile) carry no body: skip them.
                if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                    mails.push(Mail {
                        uid,
                        raw: body.to_vec(),
                    });
                }
            }
        }
        session.logout().await.ok();
        mails.sort_by_key(|m| m.uid);
        mails
    }

    /// How many messages `mailbox` holds; 0 when it does not exist (yet).
    pub(crate) async fn count(&self, mailbox: &str) -> usize {
        let mut session = self.session().await;
        let exists = match session.examine(mailbox).await {
            Ok(selected) => selected.exists,
            Err(async_imap::error::Error::No(_)) => 0,
            Err(e) => panic!("IMAP EXAMINE {mailbox} as {}: {e}", self.user),
        };
        session.logout().await.ok();
        exists as usize
    }

    /// Waits until `mailbox` holds at least `n` messages, counting without
    /// fetching (cheap for large backlogs), and returns the count; fails
    /// the test after `timeout`.
    pub(crate) async fn wait_until_holds(
        &self,
        mailbox: &str,
        n: usize,
        timeout: Duration,
    ) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let held = self.count(mailbox).await;
            if held >= n {
                return held;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}'s {mailbox} holds {held} message(s) after {timeout:?}, wanted {n}",
                    self.user
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until a message in `mailbox` matches `wanted` and returns the
    /// first that does; fails the test after `timeout`, listing what was
    /// there.
    pub(crate) async fn wait_for(
        &self,
        mailbox: &str,
        wanted: impl Fn(&Mail) -> bool,
        timeout: Duration,
    ) -> Mail {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.fetch_all(mailbox).await;
            if let Some(mail) = mails.iter().find(|m| wanted(m)) {
                return mail.clone();
            }
            if Instant::now() >= deadline {
                panic!(
                    "no matching message in {}'s {mailbox} after {timeout:?}; it holds {} message(s):\n{}",
                    self.user,
                    mails.len(),
                    describe(&mails)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `mailbox` holds at least `n` messages and returns them
    /// all; fails the test after `timeout`.
    pub(crate) async fn wait_for_count(
        &self,
        mailbox: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.fetch_all(mailbox).await;
            if mails.len() >= n {
                return mails;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}'s {mailbox} holds {} message(s) after {timeout:?}, wanted {n}:\n{}",
                    self.user,
                    mails.len(),
                    describe(&mails)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// One line per message, for failure messages.
fn describe(mails: &[Mail]) -> String {
    mails
        .iter()
        .map(|m| {
            format!(
                "  uid {}: from {:?} subject {:?}",
                m.uid,
                m.author().unwrap_or_default(),
                m.subject()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
