//! Turns requests into complete outgoing mails: subject, threading headers,
//! reply address and rendered bodies.
//!
//! Composition is deterministic (no clock, no randomness): the store may run
//! it more than once inside a transaction, and a mail composed twice must be
//! the same mail. Message-IDs are therefore derived from what the mail is
//! about, which also lets clients recognise a mail sent twice after a crash.

use sha2::{Digest, Sha256};

use crate::domain::ids::{Address, RequestId};
use crate::domain::request::{Request, Route, Status};
use crate::domain::token::{Token, TOKEN_TEXT_LEN};
use crate::domain::wire::{self, PLUS_DELIMITER};
use crate::mail::templates::{ApprovalView, ExplanationView, NoticeView, RenderError, Templates};
use crate::records::{MailPurpose, OutboundMail};

/// RFC 5321's limit on the part of an address before `@`; the plus-address
/// carrying a token must fit in it.
const MAX_LOCAL_PART: usize = 64;

/// Longest action or resource text shown in a subject; the full text is in
/// the body. Keeps subjects readable in phone inbox lists.
const SUBJECT_FIELD_CHARS: usize = 80;

/// Longest Message-ID accepted from an incoming mail for threading.
const MAX_MESSAGE_ID: usize = 250;

/// `Auto-Submitted` value (RFC 3834) for notifications approvald starts.
const AUTO_GENERATED: &str = "auto-generated";
/// `Auto-Submitted` value (RFC 3834) for answers to someone's mail.
const AUTO_REPLIED: &str = "auto-replied";

/// Composes every mail approvald sends.
pub(crate) struct Composer {
    /// The validated templates bodies are rendered from.
    templates: Templates,
    /// Display name approvald sends as; templates sign with it.
    from_name: String,
    /// The approvals address: its domain names Message-IDs, and its local
    /// part carries tokens as a plus-address.
    address: Address,
    /// `[http] public_url`, when decision pages are served: approval mails
    /// then link to `{public_url}/d/{token}`.
    decision_links: Option<String>,
    /// The store's identity, in every Message-ID: a restored or second
    /// store numbers requests again from where it stands, and must not
    /// repeat a Message-ID that providers have seen (they drop repeats).
    store_id: String,
}

/// Why a mail could not be composed. Each is either a template problem the
/// administrator must fix or a caller bug; none comes from mail senders.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ComposeError {
    /// A template failed on this request's data.
    #[error(transparent)]
    Template(#[from] RenderError),
    /// The level asked for is not in the request's chain.
    #[error("{id} has no level {level}")]
    NoSuchLevel { id: RequestId, level: u8 },
    /// The approver index does not name this approver: the token would be
    /// bound to someone else.
    #[error("{approver} is not approver #{index} of level {level} of {id}")]
    NotThatApprover {
        id: RequestId,
        level: u8,
        index: u8,
        approver: Address,
    },
    /// The requester may never be asked to approve their own request.
    #[error("{id} was requested by {approver}, who is never asked to approve it")]
    SelfApproval { id: RequestId, approver: Address },
    /// Approvals are only asked for pending requests.
    #[error("{id} is {}, not pending: no approval can be asked for", .status.as_str())]
    NotPending { id: RequestId, status: Status },
    /// There is no outcome to announce before the request is closed.
    #[error("{id} is still pending: there is no outcome to announce")]
    NotDecided { id: RequestId },
    /// The plus-address with the token is not a valid address.
    #[error("cannot build the reply address: {0}")]
    ReplyAddress(String),
}

impl Composer {
    /// Builds a composer for mail sent as `from_name <address>`.
    ///
    /// Refuses an address whose plus-address with a token would exceed the
    /// 64-character local part limit, so that this is a startup error rather
    /// than every approval request failing.
    pub(crate) fn new(
        templates: Templates,
        from_name: impl Into<String>,
        address: Address,
    ) -> Result<Composer, String> {
        let local = address.local();
        if local.contains(PLUS_DELIMITER) {
            return Err(format!(
                "{address}: the address must not contain '{PLUS_DELIMITER}': tokens ride on its plus-address"
            ));
        }
        let delimiter = PLUS_DELIMITER.len_utf8();
        let longest = local.len() + delimiter + TOKEN_TEXT_LEN;
        if longest > MAX_LOCAL_PART {
            return Err(format!(
                "{address}: the part before @ may have at most {} characters, so that \
                 it still fits in {MAX_LOCAL_PART} with '{PLUS_DELIMITER}' and a {TOKEN_TEXT_LEN}-character token",
                MAX_LOCAL_PART - delimiter - TOKEN_TEXT_LEN
            ));
        }
        Ok(Composer {
            templates,
            from_name: from_name.into(),
            address,
            decision_links: None,
            store_id: String::new(),
        })
    }

    /// The same composer naming Message-IDs after store `id`.
    pub(crate) fn with_store_id(mut self, id: &str) -> Self {
        // Only what a Message-ID may hold, whatever the store says.
        self.store_id = id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        self
    }

    /// The mail asking `approver` (approver number `approver_index` of
    /// `level`) to decide `r`, with replies going to the plus-address that
    /// carries `token`.
    pub(crate) fn approval_request(
        &self,
        r: &Request,
        level: u8,
        approver_index: u8,
        approver: &Address,
        token: &Token,
    ) -> Result<OutboundMail, ComposeError> {
        if r.status != Status::Pending {
            return Err(ComposeError::NotPending {
                id: r.id,
                status: r.status,
            });
        }
        let chain = r
            .levels
            .get(usize::from(level.saturating_sub(1)))
            .filter(|_| level >= 1)
            .ok_or(ComposeError::NoSuchLevel { id: r.id, level })?;
        if chain.approvers.get(usize::from(approver_index)) != Some(approver) {
            return Err(ComposeError::NotThatApprover {
                id: r.id,
                level,
                index: approver_index,
                approver: approver.clone(),
            });
        }
        if *approver == r.requester {
            return Err(ComposeError::SelfApproval {
                id: r.id,
                approver: approver.clone(),
            });
        }
        let subject = format!(
            "[{}] Approval needed (level {level} of {}): {} {}",
            r.id,
            r.levels.len(),
            what(r),
            wire::subject_tag(token.as_str())
        );
        let reply_to = self.reply_address(token)?;
        let mailto = |verb: &str| mailto(&reply_to, &format!("Re: {subject}"), verb);
        let (mailto_approve, mailto_disapprove) = (mailto("APPROVE"), mailto("DISAPPROVE"));
        let body = self.templates.approval_request(&ApprovalView {
            request: r,
            level,
            approver,
            token: token.as_str(),
            from_name: &self.from_name,
            mailto_approve: &mailto_approve,
            mailto_disapprove: &mailto_disapprove,
            decision_link: self
                .decision_links
                .as_ref()
                .map(|base| format!("{base}/d/{}", token.as_str()))
                .as_deref(),
        })?;
        Ok(OutboundMail {
            purpose: MailPurpose::ApprovalRequest,
            request: Some(r.id),
            to: approver.clone(),
            subject,
            text: body.text,
            html: body.html,
            message_id: self.message_id(&format!("{}.request.{level}.{approver_index}", r.id)),
            reply_to: Some(reply_to),
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: AUTO_GENERATED.into(),
        })
    }

    /// The same composer, linking approval mails to decision pages under
    /// `public_url`.
    pub(crate) fn with_decision_links(self, public_url: Option<String>) -> Composer {
        Composer {
            decision_links: public_url,
            ..self
        }
    }

    /// The approval mail `m` sent again as reminder `n`: the same body and
    /// token, "Reminder:" in the subject, threaded under the first one.
    pub(crate) fn as_reminder(&self, m: OutboundMail, n: u8) -> OutboundMail {
        let first = m.message_id.clone();
        let own = first.replacen('@', &format!(".reminder{n}@"), 1);
        OutboundMail {
            subject: format!("Reminder: {}", m.subject),
            message_id: own,
            references: vec![first.clone()],
            in_reply_to: Some(first),
            ..m
        }
    }

    /// The receipt to the requester; its Message-ID is the root of the
    /// requester's thread about `r`.
    pub(crate) fn received(&self, r: &Request) -> Result<OutboundMail, ComposeError> {
        let body = self.templates.received(r, &self.from_name)?;
        Ok(OutboundMail {
            purpose: MailPurpose::Received,
            request: Some(r.id),
            to: r.requester.clone(),
            subject: format!("[{}] Request received: {}", r.id, what(r)),
            text: body.text,
            html: body.html,
            message_id: self.thread_root(r.id),
            reply_to: None,
            in_reply_to: None,
            references: Vec::new(),
            auto_submitted: AUTO_GENERATED.into(),
        })
    }

    /// The final outcome to the requester, threaded under the receipt.
    pub(crate) fn decided(&self, r: &Request) -> Result<OutboundMail, ComposeError> {
        let verdict = match r.status {
            Status::Approved | Status::Active | Status::Ended => "Approved",
            Status::Rejected => "Rejected",
            Status::Expired => "Expired",
            Status::Pending | Status::Cancelled | Status::Revoked => {
                return Err(ComposeError::NotDecided { id: r.id })
            }
        };
        let body = self.templates.decided(r, &self.from_name)?;
        let root = self.thread_root(r.id);
        Ok(OutboundMail {
            purpose: MailPurpose::Decided,
            request: Some(r.id),
            to: r.requester.clone(),
            subject: format!("[{}] {verdict}: {}", r.id, what(r)),
            text: body.text,
            html: body.html,
            message_id: self.message_id(&format!("{}.decided", r.id)),
            reply_to: None,
            in_reply_to: Some(root.clone()),
            references: vec![root],
            auto_submitted: AUTO_GENERATED.into(),
        })
    }

    /// A notice about `r` to `to`: approvald's own `headline` and `detail`,
    /// and who acted and why. `kind` names the notice in its Message-ID, so
    /// that each recipient gets each notice once. Threaded under the mail
    /// the recipient already has: the receipt for the requester, the
    /// approval request for an approver who was asked.
    pub(crate) fn notice(
        &self,
        r: &Request,
        to: &Address,
        kind: &str,
        view: NoticeText<'_>,
    ) -> Result<OutboundMail, ComposeError> {
        let revoke_link = view
            .revoke_token
            .zip(self.decision_links.as_ref())
            .map(|(t, base)| format!("{base}/d/{}", t.as_str()));
        let body = self.templates.notice(&NoticeView {
            request: r,
            headline: view.headline,
            detail: view.detail,
            actor: view.actor,
            actor_reason: view.actor_reason,
            revoke_token: view.revoke_token.map(Token::as_str),
            revoke_link: revoke_link.as_deref(),
            from_name: &self.from_name,
        })?;
        let (subject_tag, reply_to) = match view.revoke_token {
            Some(token) => (
                format!(" {}", wire::subject_tag(token.as_str())),
                Some(self.reply_address(token)?),
            ),
            None => (String::new(), None),
        };
        let parent = if *to == r.requester {
            Some(self.thread_root(r.id))
        } else {
            r.levels.iter().enumerate().find_map(|(l, level)| {
                let index = level.approvers.iter().position(|a| a == to)?;
                (l < usize::from(r.level) && r.route == Route::Approvers)
                    .then(|| self.message_id(&format!("{}.request.{}.{index}", r.id, l + 1)))
            })
        };
        let digest = data_encoding::HEXLOWER.encode(&Sha256::digest(to.as_str().as_bytes()));
        let short = digest.get(..16).unwrap_or(&digest);
        Ok(OutboundMail {
            purpose: MailPurpose::Notice,
            request: Some(r.id),
            to: to.clone(),
            subject: format!("[{}] {}: {}{subject_tag}", r.id, view.headline, what(r)),
            text: body.text,
            html: body.html,
            message_id: self.message_id(&format!("{}.{kind}.{short}", r.id)),
            reply_to,
            references: parent.iter().cloned().collect(),
            in_reply_to: parent,
            auto_submitted: AUTO_GENERATED.into(),
        })
    }

    /// The answer to the approver of `request` whose reply (Message-ID
    /// `in_reply_to`) could not be used: `why` — one of approvald's own fixed
    /// sentences — and exactly what to send. Nothing of the reply is echoed:
    /// neither its subject nor its text, so no sender can make approvald
    /// mail words of their choosing. A Message-ID that is not a plain token
    /// is dropped rather than copied into headers.
    pub(crate) fn explanation(
        &self,
        to: &Address,
        request: RequestId,
        in_reply_to: Option<&str>,
        why: &str,
    ) -> Result<OutboundMail, ComposeError> {
        let text = self.templates.explanation(&ExplanationView {
            why,
            request,
            from_name: &self.from_name,
        })?;
        let parent = in_reply_to.and_then(clean_message_id);
        let seed = match &parent {
            Some(id) => format!("in-reply-to:{id}"),
            None => format!("to:{to}\nrequest:{request}\nwhy:{why}"),
        };
        let digest = data_encoding::HEXLOWER.encode(&Sha256::digest(seed.as_bytes()));
        let short = digest.get(..16).unwrap_or(&digest);
        Ok(OutboundMail {
            purpose: MailPurpose::Explanation,
            request: Some(request),
            to: to.clone(),
            subject: format!("[{request}] Your reply could not be used"),
            text,
            html: None,
            message_id: self.message_id(&format!("explain.{short}")),
            reply_to: None,
            references: parent.iter().cloned().collect(),
            in_reply_to: parent,
            auto_submitted: AUTO_REPLIED.into(),
        })
    }

    /// `local+token@domain` of the approvals address.
    fn reply_address(&self, token: &Token) -> Result<Address, ComposeError> {
        format!(
            "{}@{}",
            wire::plus_local_part(self.address.local(), token.as_str()),
            self.address.domain()
        )
        .parse()
        .map_err(ComposeError::ReplyAddress)
    }

    /// The receipt's Message-ID, which every later mail to the requester
    /// refers to.
    fn thread_root(&self, id: RequestId) -> String {
        self.message_id(&id.to_string())
    }

    fn message_id(&self, what: &str) -> String {
        if self.store_id.is_empty() {
            return format!("approvald.{what}@{}", self.address.domain());
        }
        format!(
            "approvald.{what}.{}@{}",
            self.store_id,
            self.address.domain()
        )
    }
}

/// A `mailto:` URL (RFC 6068) for a reply to `to` with `subject` and `verb`
/// on the first line, then an empty line for a comment.
pub(crate) fn mailto(to: &Address, subject: &str, verb: &str) -> String {
    format!(
        "mailto:{}?subject={}&body={}",
        to.as_str(),
        percent(subject),
        percent(&format!("{verb}\r\n\r\n"))
    )
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986), so the
/// URL survives any mail client and HTML attribute.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a notice says, in approvald's words and the actor's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoticeText<'a> {
    pub(crate) headline: &'a str,
    pub(crate) detail: &'a str,
    pub(crate) actor: Option<&'a str>,
    pub(crate) actor_reason: Option<&'a str>,
    /// A token the reader may reply REVOKE with (approvers of granted
    /// access only).
    pub(crate) revoke_token: Option<&'a Token>,
}

/// `action on resource`, made safe and short for a subject; an emergency
/// request says so in every subject, so no reader can miss it in a list.
fn what(r: &Request) -> String {
    let flag = if r.route == Route::Emergency {
        "EMERGENCY "
    } else {
        ""
    };
    format!(
        "{flag}{} on {}",
        header_text(&wire::defuse(&r.action), SUBJECT_FIELD_CHARS),
        header_text(&wire::defuse(&r.resource), SUBJECT_FIELD_CHARS)
    )
}

/// Text fit for a header: control characters (a line break would end the
/// header) become spaces, runs of white space collapse, and anything past
/// `max_chars` is cut with an ellipsis.
fn header_text(s: &str, max_chars: usize) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut cut: String = collapsed
        .chars()
        .take(max_chars.saturating_sub(1))
        .collect();
    cut.push('…');
    cut
}

/// A Message-ID from an incoming mail, if it is safe to copy into headers
/// (see [`is_safe_message_id`]). Surrounding angle brackets are removed.
fn clean_message_id(raw: &str) -> Option<String> {
    let id = raw.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id);
    is_safe_message_id(id).then(|| id.to_string())
}

/// Whether `id` (without angle brackets) can go into a Message-ID,
/// In-Reply-To or References header as is: 1 to 250 visible ASCII
/// characters, none of them angle brackets, quotes or backslashes. Anything
/// else could break the header or smuggle in another one.
pub(crate) fn is_safe_message_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_MESSAGE_ID
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access_window::AccessWindow;
    use crate::domain::ids::RequestNonce;
    use crate::domain::request::{Channel, Decision};
    use crate::domain::token::{Keyring, TokenClaims};
    use crate::domain::verb::Verb;
    use crate::domain::wire::{REPLY_MARKER, TOKEN_LINE_PREFIX};
    use crate::secret::SecretBytes;
    use chrono::Duration;
    use proptest::prelude::*;

    use crate::domain::request::tests::{addr, t0, two_level_request};

    /// The shared two-level request, with a 2 h window and texts the
    /// assertions below look for.
    fn request() -> Request {
        let mut r = two_level_request();
        r.justification = "The certificate expires tomorrow.".into();
        r.governance_code = "CHG-1234".into();
        r.group = "pki-operators".into();
        let w = AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(3)).unwrap();
        r.requested_window = w;
        r.granted_window = w;
        r
    }

    fn decision(level: u8, who: &str, verb: Verb, comment: &str, minutes: i64) -> Decision {
        Decision {
            level,
            approver: addr(who),
            verb,
            comment: comment.into(),
            at: t0() + Duration::minutes(minutes),
            channel: Channel::Email,
            window: None,
        }
    }

    fn token(level: u8, index: u8, approver: &str) -> Token {
        let ring = Keyring::new(SecretBytes::new(vec![7; 32]), vec![]).unwrap();
        let claims = TokenClaims {
            request: 7,
            level,
            approver_index: index,
            expires_at: t0() + Duration::hours(24),
        };
        ring.sign(&claims, &RequestNonce::default(), approver)
    }

    fn composer() -> Composer {
        Composer::new(
            Templates::load(None).unwrap(),
            "Access approvals",
            addr("approvals@example.test"),
        )
        .unwrap()
    }

    fn ask_alice(c: &Composer, r: &Request) -> (OutboundMail, Token) {
        let t = token(1, 0, "alice@example.test");
        let m = c
            .approval_request(r, 1, 0, &addr("alice@example.test"), &t)
            .unwrap();
        (m, t)
    }

    #[test]
    fn approval_request_headers() {
        let c = composer();
        let mut r = request();
        r.level = 2;
        r.decisions
            .push(decision(1, "alice@example.test", Verb::Approve, "", 5));
        let t = token(2, 0, "carol@example.test");
        let m = c
            .approval_request(&r, 2, 0, &addr("carol@example.test"), &t)
            .unwrap();
        let tok = t.as_str();
        assert_eq!(tok.len(), 52);
        let cases: [(&str, String, String); 9] = [
            (
                "subject",
                m.subject.clone(),
                format!(
                    "[AR-7] Approval needed (level 2 of 2): certificate.sign on web-01 [ref:{tok}]"
                ),
            ),
            ("to", m.to.to_string(), "carol@example.test".into()),
            (
                "reply-to plus address",
                m.reply_to
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                format!("approvals+{tok}@example.test"),
            ),
            (
                "message-id",
                m.message_id.clone(),
                "approvald.AR-7.request.2.0@example.test".into(),
            ),
            ("in-reply-to", format!("{:?}", m.in_reply_to), "None".into()),
            ("references", format!("{:?}", m.references), "[]".into()),
            (
                "auto-submitted",
                m.auto_submitted.clone(),
                "auto-generated".into(),
            ),
            (
                "purpose",
                format!("{:?}", m.purpose),
                "ApprovalRequest".into(),
            ),
            (
                "request",
                format!("{:?}", m.request),
                "Some(RequestId(7))".into(),
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn message_ids_name_the_store_so_a_restored_one_never_repeats_them() {
        let r = request();
        let mid = |store: &str| {
            composer()
                .with_store_id(store)
                .approval_request(
                    &r,
                    1,
                    0,
                    &addr("alice@example.test"),
                    &token(1, 0, "alice@example.test"),
                )
                .unwrap()
                .message_id
        };
        let (a, b) = (mid("0123456789abcdef"), mid("fedcba9876543210"));
        assert_ne!(a, b);
        assert!(a.contains(".0123456789abcdef@"), "{a}");
        assert!(
            mid("<evil>@x y").contains(".evilxy@"),
            "only letters and digits"
        );
    }

    #[test]
    fn message_ids_differ_per_level_and_approver() {
        let c = composer();
        let r = request();
        let a = c
            .approval_request(
                &r,
                1,
                0,
                &addr("alice@example.test"),
                &token(1, 0, "alice@example.test"),
            )
            .unwrap();
        let b = c
            .approval_request(
                &r,
                1,
                1,
                &addr("bob@example.test"),
                &token(1, 1, "bob@example.test"),
            )
            .unwrap();
        assert_eq!(b.message_id, "approvald.AR-7.request.1.1@example.test");
        assert_ne!(a.message_id, b.message_id);
        assert_ne!(
            a.reply_to, b.reply_to,
            "each approver replies to their own token"
        );
    }

    #[test]
    fn text_starts_with_marker_and_ends_with_token_footer() {
        let (m, t) = ask_alice(&composer(), &request());
        let footer = format!("{TOKEN_LINE_PREFIX}{}", t.as_str());
        assert_eq!(m.text.lines().next(), Some(REPLY_MARKER));
        assert_eq!(m.text.trim_end().lines().last(), Some(footer.as_str()));
        let html = m.html.unwrap();
        let marker_at = html.find(REPLY_MARKER).unwrap();
        let body_at = html.find("<body").unwrap();
        let first_heading = html.find("<h1").unwrap();
        assert!(
            body_at < marker_at && marker_at < first_heading,
            "marker at the top of the HTML"
        );
        assert!(html.contains(&footer));
    }

    #[test]
    fn approval_request_shows_everything_an_approver_needs() {
        let c = composer();
        let mut r = request();
        r.level = 2;
        let narrowed =
            AccessWindow::new(t0() + Duration::hours(1), t0() + Duration::hours(2)).unwrap();
        let mut d = decision(
            1,
            "alice@example.test",
            Verb::Approve,
            "fine, but only one hour",
            5,
        );
        d.window = Some(narrowed);
        r.decisions.push(d);
        r.granted_window = narrowed;
        let t = token(2, 0, "carol@example.test");
        let m = c
            .approval_request(&r, 2, 0, &addr("carol@example.test"), &t)
            .unwrap();
        let html = strip_tags(&m.html.clone().unwrap());
        let wanted = [
            "dave@example.test",
            "certificate.sign",
            "web-01",
            "The certificate expires tomorrow.",
            "Incident",
            "CHG-1234",
            "Sat 21 Nov 2026, 10:00 UTC",
            "Sat 21 Nov 2026, 12:00 UTC",
            "(2h)",
            "(1h)",
            "2 of 2",
            "alice@example.test answered",
            "APPROVE",
            "fine, but only one hour",
            "Sat 21 Nov 2026, 09:05 UTC",
            "Sun 22 Nov 2026, 09:00 UTC",
            "Reply with APPROVE or DISAPPROVE on the first line; anything after the word is your comment.",
            "You may narrow the window: APPROVE 2h, or APPROVE until 18:00.",
        ];
        for w in wanted {
            assert!(m.text.contains(w), "text lacks {w:?}:\n{}", m.text);
            assert!(html.contains(w), "html lacks {w:?}:\n{html}");
        }
    }

    /// The visible text of simple HTML: tags removed.
    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn html_escapes_requester_text_but_text_part_keeps_it() {
        let c = composer();
        let mut r = request();
        r.justification = "<script>alert('x')</script> & more".into();
        r.resource = "web-01<img src=x>".into();
        let (m, _) = ask_alice(&c, &r);
        let html = m.html.unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img src=x>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&amp; more"), "{html}");
        assert!(m.text.contains("<script>alert('x')</script> & more"));
    }

    #[test]
    fn composing_twice_gives_the_same_mail() {
        let c = composer();
        let mut r = request();
        let (a, t) = ask_alice(&c, &r);
        let b = c
            .approval_request(&r, 1, 0, &addr("alice@example.test"), &t)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(c.received(&r).unwrap(), c.received(&r).unwrap());
        r.status = Status::Expired;
        assert_eq!(c.decided(&r).unwrap(), c.decided(&r).unwrap());
        let e = |c: &Composer| {
            c.explanation(
                &addr("x@example.test"),
                RequestId::new(7),
                Some("m1@x"),
                "why",
            )
            .unwrap()
        };
        assert_eq!(e(&c), e(&composer()));
    }

    #[test]
    fn received_is_the_thread_root() {
        let m = composer().received(&request()).unwrap();
        assert_eq!(m.message_id, "approvald.AR-7@example.test");
        assert_eq!(m.to, addr("dave@example.test"));
        assert_eq!(
            m.subject,
            "[AR-7] Request received: certificate.sign on web-01"
        );
        assert_eq!(m.in_reply_to, None);
        assert_eq!(m.reply_to, None);
        assert_eq!(m.purpose, MailPurpose::Received);
        assert!(
            m.text.contains("alice@example.test, bob@example.test"),
            "{}",
            m.text
        );
        assert!(m.html.is_some());
    }

    #[test]
    fn decided_outcomes_table() {
        let c = composer();
        let approved = {
            let mut r = request();
            r.decisions
                .push(decision(1, "alice@example.test", Verb::Approve, "", 5));
            r.decisions
                .push(decision(2, "carol@example.test", Verb::Approve, "", 9));
            r.status = Status::Approved;
            r
        };
        let rejected = {
            let mut r = request();
            r.decisions.push(decision(
                1,
                "bob@example.test",
                Verb::Disapprove,
                "not during the freeze",
                5,
            ));
            r.status = Status::Rejected;
            r
        };
        let silent_reject = {
            let mut r = rejected.clone();
            r.decisions[0].comment.clear();
            r
        };
        let expired = {
            let mut r = request();
            r.status = Status::Expired;
            r
        };
        let cases: [(&str, Request, &str, &[&str]); 4] = [
            (
                "approved",
                approved,
                "[AR-7] Approved: certificate.sign on web-01",
                &[
                    "APPROVED",
                    "Sat 21 Nov 2026, 10:00 UTC to Sat 21 Nov 2026, 12:00 UTC (2h)",
                ],
            ),
            (
                "rejected",
                rejected,
                "[AR-7] Rejected: certificate.sign on web-01",
                &["REJECTED by bob@example.test", "not during the freeze"],
            ),
            (
                "rejected without comment",
                silent_reject,
                "[AR-7] Rejected: certificate.sign on web-01",
                &["REJECTED by bob@example.test", "They left no comment."],
            ),
            (
                "expired",
                expired,
                "[AR-7] Expired: certificate.sign on web-01",
                &["EXPIRED", "Sun 22 Nov 2026, 09:00 UTC"],
            ),
        ];
        for (name, r, subject, phrases) in cases {
            let m = c.decided(&r).unwrap();
            assert_eq!(m.subject, subject, "{name}");
            assert_eq!(
                m.in_reply_to.as_deref(),
                Some("approvald.AR-7@example.test"),
                "{name}"
            );
            assert_eq!(
                m.references,
                vec!["approvald.AR-7@example.test".to_string()],
                "{name}"
            );
            assert_eq!(
                m.message_id, "approvald.AR-7.decided@example.test",
                "{name}"
            );
            assert_eq!(m.to, addr("dave@example.test"), "{name}");
            for p in phrases {
                assert!(m.text.contains(p), "{name}: text lacks {p:?}:\n{}", m.text);
            }
            assert!(m.html.is_some(), "{name}");
        }
    }

    #[test]
    fn caller_mistakes_are_refused() {
        let c = composer();
        let r = request();
        let alice = addr("alice@example.test");
        let t = token(1, 0, "alice@example.test");
        let mut closed = request();
        closed.status = Status::Approved;
        let mut self_listed = request();
        self_listed.levels[0]
            .approvers
            .push(addr("dave@example.test"));
        let cases: Vec<(&str, Result<OutboundMail, ComposeError>)> = vec![
            ("level 0", c.approval_request(&r, 0, 0, &alice, &t)),
            (
                "level past the chain",
                c.approval_request(&r, 3, 0, &alice, &t),
            ),
            (
                "index of someone else",
                c.approval_request(&r, 1, 1, &alice, &t),
            ),
            (
                "index past the list",
                c.approval_request(&r, 1, 9, &alice, &t),
            ),
            (
                "closed request",
                c.approval_request(&closed, 1, 0, &alice, &t),
            ),
            (
                "requester as approver",
                c.approval_request(&self_listed, 1, 2, &addr("dave@example.test"), &t),
            ),
            ("decided while pending", c.decided(&r)),
        ];
        for (name, got) in cases {
            assert!(got.is_err(), "{name}: {got:?}");
        }
    }

    #[test]
    fn explanation_headers() {
        let c = composer();
        let m = c
            .explanation(
                &addr("alice@example.test"),
                RequestId::new(7),
                Some("<CAF00@mail.example.test>"),
                "the first line says neither APPROVE nor DISAPPROVE",
            )
            .unwrap();
        assert_eq!(m.subject, "[AR-7] Your reply could not be used");
        assert_eq!(m.auto_submitted, "auto-replied");
        assert_eq!(m.in_reply_to.as_deref(), Some("CAF00@mail.example.test"));
        assert_eq!(m.references, vec!["CAF00@mail.example.test".to_string()]);
        assert_eq!(m.reply_to, None);
        assert_eq!(m.html, None);
        assert_eq!(m.request, Some(RequestId::new(7)));
        assert_eq!(m.purpose, MailPurpose::Explanation);
        let id = m.message_id.clone();
        let hash = id
            .strip_prefix("approvald.explain.")
            .and_then(|r| r.strip_suffix("@example.test"))
            .unwrap();
        assert_eq!(hash.len(), 16);
        assert!(hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        for w in [
            "neither APPROVE nor DISAPPROVE",
            "AR-7",
            "APPROVE 2h",
            "DISAPPROVE",
        ] {
            assert!(m.text.contains(w), "lacks {w:?}:\n{}", m.text);
        }
    }

    #[test]
    fn explanation_message_id_is_unique_per_answered_mail() {
        let c = composer();
        let to = addr("alice@example.test");
        let id = |parent: Option<&str>, why: &str| {
            c.explanation(&to, RequestId::new(7), parent, why)
                .unwrap()
                .message_id
        };
        assert_eq!(
            id(Some("a@x"), "one"),
            id(Some("a@x"), "two"),
            "same mail, same answer"
        );
        assert_eq!(
            id(Some("<a@x>"), "one"),
            id(Some("a@x"), "one"),
            "brackets do not matter"
        );
        assert_ne!(id(Some("a@x"), "one"), id(Some("b@x"), "one"));
        assert_ne!(id(None, "one"), id(None, "two"));
    }

    #[test]
    fn hostile_message_id_cannot_inject_headers() {
        let c = composer();
        let m = c
            .explanation(
                &addr("alice@example.test"),
                RequestId::new(7),
                Some("x@y>\r\nBcc: victim@example.test"),
                "why",
            )
            .unwrap();
        assert_eq!(m.subject, "[AR-7] Your reply could not be used");
        assert_eq!(m.in_reply_to, None);
        assert!(m.references.is_empty());
    }

    #[test]
    fn subject_fields_are_cleaned_and_shortened() {
        let mut r = request();
        r.action = "cert\tificate\n.sign".into();
        r.resource = "r".repeat(500);
        let m = composer().received(&r).unwrap();
        assert!(!m.subject.chars().any(char::is_control), "{}", m.subject);
        assert!(m
            .subject
            .starts_with("[AR-7] Request received: cert ificate .sign on rrr"));
        assert!(m.subject.chars().count() < 150, "{}", m.subject);
    }

    /// `[mail] timezone`: times as people there write them, with the
    /// zone's own abbreviation, summer time included.
    #[test]
    fn times_are_shown_in_the_configured_zone() {
        let oslo = Composer::new(
            Templates::load(None)
                .unwrap()
                .with_timezone(chrono_tz::Europe::Oslo),
            "Access approvals",
            addr("approvals@example.test"),
        )
        .unwrap();
        let r = request();
        let m = oslo
            .approval_request(
                &r,
                1,
                0,
                &addr("alice@example.test"),
                &token(1, 0, "alice@example.test"),
            )
            .unwrap();
        assert!(m.text.contains("Sat 21 Nov 2026, 11:00 CET"), "{}", m.text);
        assert!(m.text.contains("Europe/Oslo time"), "{}", m.text);
        let mut summer = request();
        let july = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 7, 1, 8, 0, 0).unwrap();
        summer.requested_window =
            AccessWindow::new(july, july + chrono::Duration::hours(2)).unwrap();
        summer.granted_window = summer.requested_window;
        let m = oslo.received(&summer).unwrap();
        assert!(m.text.contains("Wed 1 Jul 2026, 10:00 CEST"), "{}", m.text);
    }

    /// The one-tap buttons open a reply to the mail's own plus-address,
    /// with its subject and the verb on the first line, every character
    /// that could end the URL or an HTML attribute percent-encoded.
    #[test]
    fn mailto_buttons_open_the_reply_with_the_verb_typed() {
        let c = composer();
        let r = request();
        let m = c
            .approval_request(
                &r,
                1,
                0,
                &addr("alice@example.test"),
                &token(1, 0, "alice@example.test"),
            )
            .unwrap();
        let reply_to = m.reply_to.clone().unwrap();
        let approve = mailto(&reply_to, &format!("Re: {}", m.subject), "APPROVE");
        assert!(
            m.text.contains(&format!("Approve:    {approve}")),
            "{}",
            m.text
        );
        // In HTML the `&` is written `&amp;`, which a browser reads back.
        let in_html = approve.replace('&', "&amp;");
        assert!(m
            .html
            .as_deref()
            .unwrap()
            .contains(&format!("href=\"{in_html}\"")));
        assert!(
            approve.starts_with(&format!("mailto:{reply_to}?subject=Re%3A%20%5BAR-7%5D")),
            "{approve}"
        );
        assert!(approve.ends_with("&body=APPROVE%0D%0A%0D%0A"), "{approve}");
        let tricky = mailto(&reply_to, "a&b=c?d#e \"f\" <g> ü", "DISAPPROVE");
        let query = tricky.split_once('?').unwrap().1;
        assert!(!query.contains(['#', '"', '<', '>', ' ', '?']), "{tricky}");
        assert_eq!(query.matches('&').count(), 1, "{tricky}");
        assert!(query.contains("%C3%BC"), "UTF-8 bytes: {tricky}");
    }

    #[test]
    fn address_too_long_for_a_token_is_refused_at_startup() {
        let t = || Templates::load(None).unwrap();
        let eleven = addr("abcdefghijk@example.test");
        let twelve = addr("abcdefghijkl@example.test");
        assert!(Composer::new(t(), "A", eleven).is_ok());
        let err = Composer::new(t(), "A", twelve).err().unwrap();
        assert!(err.contains("at most 11"), "{err}");
        assert!(Composer::new(t(), "A", addr("a+b@example.test")).is_err());
    }

    proptest! {
        #[test]
        fn header_text_never_has_control_characters(s in "\\PC*|[\\r\\n\\t\\x00-\\x1f]*", max in 1usize..50) {
            let h = header_text(&s, max);
            prop_assert!(!h.chars().any(char::is_control));
            prop_assert!(h.chars().count() <= max);
        }

        #[test]
        fn explanation_never_fails_and_stays_safe(
            parent in proptest::option::of("\\PC{0,300}"),
        ) {
            let c = composer();
            let m = c.explanation(&addr("a@example.test"), RequestId::new(7), parent.as_deref(), "why").unwrap();
            prop_assert_eq!(m.subject.as_str(), "[AR-7] Your reply could not be used");
            if let Some(p) = &m.in_reply_to {
                prop_assert!(is_safe_message_id(p));
            }
            prop_assert!(is_safe_message_id(&m.message_id));
        }
    }
}
