//! The application service: submissions and replies in, state changes with
//! their mail and audit records out. Transports (the HTTP API, the IMAP
//! worker) call this; it calls the pure domain and the store.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

use crate::audit::{AuditEvent, EventKind};
use crate::config::SenderPolicy;
use crate::domain::access_window::AccessWindow;
use crate::domain::clock::Clock;
use crate::domain::ids::{Address, RequestId};
use crate::domain::policy::{FieldError, Policy, Submission};
use crate::domain::reply::{self, ReplyDecision};
use crate::domain::request::{Answer, AnswerRefusal, Channel, Request, Status, Transition};
use crate::domain::token::{Keyring, Token, TokenClaims};
use crate::domain::verb::Verb;
use crate::mail::compose::Composer;
use crate::mail::message::OutboundMail;
use crate::mail::parse::{parse_inbound_of_size, InboundMail, InboxAddress};
use crate::store::{Change, Disposition, Explained, MessageKey, Seen, Store, StoreError};

/// At most this many explanatory answers per sender and day: enough for a
/// person to correct a mistake, too few to be a mail cannon.
const EXPLANATIONS_PER_DAY: u32 = 3;

/// Why a submission failed.
#[derive(Debug)]
pub(crate) enum SubmitError {
    /// The submission breaks the policy; every problem is listed.
    Invalid(Vec<FieldError>),
    /// Nothing is wrong with the submission, but it could not be stored.
    Store(StoreError),
}

impl From<StoreError> for SubmitError {
    fn from(e: StoreError) -> Self {
        SubmitError::Store(e)
    }
}

/// Settings for reading replies.
pub(crate) struct InboundSettings {
    /// The approvals inbox, whose plus-addresses carry reply tokens.
    pub(crate) inbox: InboxAddress,
    /// How strongly a reply's sender must be proven.
    pub(crate) sender_policy: SenderPolicy,
    /// Larger messages are read only as far as their headers.
    pub(crate) max_message_size: usize,
    /// Time zone approvers mean when they write `APPROVE until 18:00`.
    pub(crate) offset: FixedOffset,
}

/// The approvals service.
pub(crate) struct Approvals {
    /// Where every change, with its mail and audit records, is written.
    store: Store,
    /// Admission rules; requests in flight keep the levels they snapshotted.
    policy: Policy,
    /// Signs the tokens approvers reply with, and verifies them.
    keyring: Keyring,
    /// Renders every mail before it is queued, so the outbox holds exactly
    /// what will be sent.
    composer: Composer,
    /// How replies are read and whom they must come from.
    inbound: InboundSettings,
    /// The only source of "now": decisions are replayable in tests.
    clock: Arc<dyn Clock>,
}

/// What handling one inbox message amounted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Handled {
    /// Where the message belongs in IMAP now.
    pub(crate) disposition: Disposition,
    /// True when the message had been handled before (a restart or a
    /// redelivery) and nothing was applied this time.
    pub(crate) duplicate: bool,
}

/// A reply that is usable up to the point of applying it.
struct VerifiedReply {
    /// The request as it was when the reply was checked; the transaction
    /// re-applies the answer to the current state.
    request: Request,
    /// The From address, recorded when it is not the approver's own (the
    /// `token` sender policy lets anyone holding the token answer).
    sender: Option<String>,
    /// What the verified token says: request, level and approver index.
    claims: TokenClaims,
    /// The approver the token was issued to.
    approver: Address,
    /// What the reply says.
    decision: ReplyDecision,
    /// The narrower window the approver granted, resolved to instants.
    window: Option<AccessWindow>,
}

impl Approvals {
    pub(crate) fn new(
        store: Store,
        policy: Policy,
        keyring: Keyring,
        composer: Composer,
        inbound: InboundSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Approvals {
            store,
            policy,
            keyring,
            composer,
            inbound,
            clock,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Messages larger than this are only read as far as their headers.
    pub(crate) fn max_message_size(&self) -> usize {
        self.inbound.max_message_size
    }

    /// Admits a request, mails level 1 and the requester, and makes all of
    /// it durable before returning.
    pub(crate) async fn submit(&self, s: Submission) -> Result<Request, SubmitError> {
        let now = self.clock.now();
        let requester = s.requester.clone();
        let (action, resource) = (s.action.clone(), s.resource.clone());
        // Admitted under a placeholder id: a refused submission must not use
        // up an id, so the ids people quote stay dense.
        let mut request = match self.policy.admit(s, RequestId::new(0), now) {
            Ok(r) => r,
            Err(errors) => {
                let why = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.error))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.store.audit_only(
                    AuditEvent::new(now, EventKind::Submitted, "refused", "submission refused")
                        .with_actor(requester.as_str())
                        .with_action(action)
                        .with_resource(resource)
                        .with_reason(why),
                )?;
                self.store.flush().await?;
                return Err(SubmitError::Invalid(errors));
            }
        };
        request.id = self.store.new_request_id()?;
        let id = request.id;
        let mut mails = Vec::new();
        match self.composer.received(&request) {
            Ok(m) => mails.push(m),
            Err(e) => {
                tracing::error!(request = %request.id, error = %e, "cannot compose the receipt")
            }
        }
        mails.extend(self.level_mails(&request, 1));
        let audit = vec![event(
            &request,
            now,
            EventKind::Submitted,
            "pending",
            "request submitted",
        )
        .with_actor(request.requester.as_str())
        .with_level(1)];
        let stored = request.clone();
        self.store.commit(Some(id), move |_| Change {
            request: Some(stored.clone()),
            mails: mails.clone(),
            audit: audit.clone(),
            seen: None,
            explained: None,
            result: (),
        })?;
        self.store.flush().await?;
        Ok(request)
    }

    pub(crate) fn get(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        self.store.request(id)
    }

    pub(crate) fn list(
        &self,
        status: Option<Status>,
        requester: Option<&Address>,
    ) -> Result<Vec<Request>, StoreError> {
        self.store.requests(|r| {
            status.is_none_or(|s| r.status == s) && requester.is_none_or(|a| r.requester == *a)
        })
    }

    /// Closes every pending request whose deadline has passed, telling its
    /// requester. Returns how many expired.
    pub(crate) async fn expire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self
            .store
            .requests(|r| r.status == Status::Pending && now >= r.deadline)?;
        let mut expired = 0;
        for r in due {
            let closed = self.store.commit(Some(r.id), |current| {
                let Some(mut request) = current else {
                    return Change::nothing(false);
                };
                if !request.expire_if_due(now) {
                    return Change::nothing(false);
                }
                let ev = event(
                    &request,
                    now,
                    EventKind::Expired,
                    "expired",
                    "request expired undecided",
                )
                .with_level(request.level);
                Change {
                    mails: self.decided_mail(&request).into_iter().collect(),
                    request: Some(request),
                    audit: vec![ev],
                    ..Change::nothing(true)
                }
            })?;
            expired += usize::from(closed);
        }
        if expired > 0 {
            self.store.flush().await?;
        }
        Ok(expired)
    }

    /// Approval mails for every askable approver of `level`, each with its
    /// own token.
    fn level_mails(&self, r: &Request, level: u8) -> Vec<OutboundMail> {
        r.askable_approvers(level)
            .into_iter()
            .filter_map(|(index, approver)| {
                let claims = TokenClaims {
                    request: r.id.get(),
                    level,
                    approver_index: index,
                    expires_at: r.deadline,
                };
                let token = self.keyring.sign(&claims, approver.as_str());
                self.composer
                    .approval_request(r, level, index, approver, &token)
                    .map_err(|e| tracing::error!(request = %r.id, error = %e, "cannot compose approval mail"))
                    .ok()
            })
            .collect()
    }

    /// Handles one whole message (see [`Approvals::handle_fetched`]).
    #[cfg(test)]
    pub(crate) fn handle_message(
        &self,
        key: MessageKey,
        raw: &[u8],
    ) -> Result<Handled, StoreError> {
        self.handle_fetched(key, raw, raw.len())
    }

    /// Handles one message from the inbox and records its effects (not yet
    /// flushed: the caller flushes a batch at once before moving messages).
    /// The message is `full_size` bytes long; `raw` may be only its header
    /// section when it is larger than the daemon reads.
    pub(crate) fn handle_fetched(
        &self,
        key: MessageKey,
        raw: &[u8],
        full_size: usize,
    ) -> Result<Handled, StoreError> {
        let now = self.clock.now();
        let parsed = parse_inbound_of_size(
            raw,
            full_size,
            &self.inbound.inbox,
            self.inbound.max_message_size,
        );
        let mail = match parsed {
            Ok(m) => m,
            Err(e) => {
                if let Some(seen) = self.store.seen(key, None)? {
                    return Ok(duplicate(seen));
                }
                let ev =
                    AuditEvent::new(now, EventKind::ReplyRefused, "refused", "unusable message")
                        .with_reason(e.to_string());
                return self.refuse(key, None, ev, None, now);
            }
        };
        if let Some(seen) = self.store.seen(key, mail.message_id.as_deref())? {
            if seen.key != key {
                return self.redelivered(key, &mail, seen, now);
            }
            return Ok(duplicate(seen));
        }
        let actor = mail.from.clone().unwrap_or_else(|| "unknown sender".into());
        if let Some(auto) = &mail.automated {
            let ev = AuditEvent::new(
                now,
                EventKind::ReplyIgnored,
                "ignored",
                "automated message ignored",
            )
            .with_actor(actor)
            .with_reason(format!("automated message: {auto}"));
            // Never answered: answering machines is how mail loops start.
            return self.refuse(key, Some(&mail), ev, None, now);
        }
        // A store error is not the sender's fault: it leaves the message in
        // the inbox (the batch fails) to be handled once the store is back.
        let verified = match self.find_token(&mail, now)? {
            Ok(found) => self.verify(&mail, found, now),
            Err(why) => Err(Refused::new(None, why)),
        };
        match verified {
            Ok(v) => self.apply(key, &mail, v, now),
            Err(refused) => {
                let mut ev =
                    AuditEvent::new(now, EventKind::ReplyRefused, "refused", "reply refused")
                        .with_actor(actor)
                        .with_reason(refused.why.as_str());
                if let Some(r) = &refused.request {
                    ev = with_request(ev, r);
                }
                // Only someone who holds a valid token, or whom the policy
                // knows, is answered: anyone else may be a forged From, and
                // explaining to them would make approvald a spam relay.
                let answerable = refused.request.is_some() || self.knows(&mail);
                let tell = answerable.then(|| refused.tell.unwrap_or(refused.why));
                self.refuse(key, Some(&mail), ev, tell, now)
            }
        }
    }

    /// Whether the sender of `mail` is someone the policy knows (a requester
    /// or an approver), authenticated as strongly as the sender policy asks.
    fn knows(&self, mail: &InboundMail) -> bool {
        let Some(from) = mail.from.as_deref() else {
            return false;
        };
        if let SenderPolicy::TokenFromDmarc { authserv_id } = &self.inbound.sender_policy {
            if !mail.sender_authenticated(authserv_id) {
                return false;
            }
        }
        self.policy.groups.iter().any(|g| {
            g.members
                .iter()
                .chain(g.levels.iter().flat_map(|l| l.approvers.iter()))
                .any(|a| a.as_str().eq_ignore_ascii_case(from))
        })
    }

    /// Finds the token that authorises `mail`: the first candidate that
    /// verifies, preferring one issued to the sender (a reply-all can carry
    /// another approver's plus-address first). `Ok(Err(why))` when none does.
    fn find_token(
        &self,
        mail: &InboundMail,
        now: DateTime<Utc>,
    ) -> Result<Result<(Request, TokenClaims, Address), String>, StoreError> {
        let mut last_error =
            String::from("no approval token found (plus-address, subject or quoted footer)");
        let mut found: Option<(Request, TokenClaims, Address)> = None;
        for candidate in &mail.token_candidates {
            let token = match Token::parse(candidate) {
                Ok(t) => t,
                Err(e) => {
                    last_error = format!("malformed token: {e}");
                    continue;
                }
            };
            let claims = token.claims();
            let id = RequestId::new(claims.request);
            let Some(request) = self.store.request(id)? else {
                last_error = format!("token names unknown request {id}");
                continue;
            };
            let Some(approver) = request
                .levels
                .get(usize::from(claims.level.saturating_sub(1)))
                .and_then(|l| l.approvers.get(usize::from(claims.approver_index)))
                .cloned()
            else {
                last_error = format!("token names no approver of {id}");
                continue;
            };
            match self.keyring.verify(&token, approver.as_str(), now) {
                Ok(claims) => {
                    let senders = mail
                        .from
                        .as_deref()
                        .is_some_and(|f| f.eq_ignore_ascii_case(approver.as_str()));
                    if senders {
                        return Ok(Ok((request, claims, approver)));
                    }
                    found = found.or(Some((request, claims, approver)));
                }
                Err(e) => last_error = format!("token {} refused: {e}", token.log_prefix()),
            }
        }
        Ok(found.ok_or(last_error))
    }

    /// Checks everything else that can be checked before touching state:
    /// the sender, and what the reply says.
    fn verify(
        &self,
        mail: &InboundMail,
        (request, claims, approver): (Request, TokenClaims, Address),
        now: DateTime<Utc>,
    ) -> Result<VerifiedReply, Refused> {
        let refuse = |why: String| Err(Refused::new(Some(&request), why));
        match (&self.inbound.sender_policy, mail.from.as_deref()) {
            (SenderPolicy::Token, _) => {}
            (_, None) => return refuse("the message has no usable From address".into()),
            (_, Some(from)) if !from.eq_ignore_ascii_case(approver.as_str()) => {
                let mut r = Refused::new(
                    Some(&request),
                    format!("sent by {from}, but the token belongs to {approver}"),
                );
                // The sender may be anyone: do not tell them who the approver is.
                r.tell = Some(
                    "the answer must come from the address the approval request was sent to".into(),
                );
                return Err(r);
            }
            (SenderPolicy::TokenFromDmarc { authserv_id }, Some(from)) => {
                if !mail.sender_authenticated(authserv_id) {
                    return refuse(format!(
                        "{from} is not authenticated: no DKIM or SPF pass aligned with its domain from {authserv_id}"
                    ));
                }
            }
            (SenderPolicy::TokenAndFrom, Some(_)) => {}
        }
        let text = match &mail.text {
            Ok(t) => t,
            Err(e) => return refuse(format!("unreadable body: {e}")),
        };
        let decision = match reply::parse_reply(text) {
            Ok(d) => d,
            Err(refusal) => return refuse(refusal.explain()),
        };
        let window = match (&decision.window, decision.verb) {
            (Some(change), Verb::Approve) => {
                let current = (request.granted_window.start(), request.granted_window.end());
                match reply::narrow_window(change, current, now, self.inbound.offset) {
                    Ok((start, end)) => match AccessWindow::new(start, end) {
                        Ok(w) => Some(w),
                        Err(e) => return refuse(e),
                    },
                    Err(refusal) => return refuse(refusal.explain()),
                }
            }
            _ => None,
        };
        let sender = mail
            .from
            .clone()
            .filter(|from| !from.eq_ignore_ascii_case(approver.as_str()));
        Ok(VerifiedReply {
            request,
            sender,
            claims,
            approver,
            decision,
            window,
        })
    }

    /// Applies a verified reply to the request's current state, in one
    /// transaction with its mail, audit and seen records.
    fn apply(
        &self,
        key: MessageKey,
        mail: &InboundMail,
        v: VerifiedReply,
        now: DateTime<Utc>,
    ) -> Result<Handled, StoreError> {
        let id = v.request.id;
        let message_id = mail.message_id.clone();
        let may_explain = self.may_explain(mail, now)?;
        let outcome = self.store.commit(Some(id), |current| {
            let Some(mut request) = current else {
                return Change::nothing(Err(format!("request {id} vanished")));
            };
            let answer = Answer {
                level: v.claims.level,
                approver: v.approver.clone(),
                verb: v.decision.verb,
                comment: v.decision.comment.clone(),
                channel: Channel::Email,
                window: v.window,
            };
            let seen = |disposition| Seen {
                key,
                message_id: message_id.clone(),
                disposition,
                at: now,
            };
            match request.answer(answer, now) {
                Err(refusal) => {
                    let kind = match refusal {
                        AnswerRefusal::SelfApproval(_) => EventKind::SelfApprovalRefused,
                        _ => EventKind::ReplyRefused,
                    };
                    let why = refusal.to_string();
                    let ev = event(&request, now, kind, "refused", "reply refused")
                        .with_actor(v.approver.as_str())
                        .with_level(v.claims.level)
                        .with_reason(why.as_str());
                    let tell = refusal.tell();
                    let explanation = may_explain
                        .as_ref()
                        .and_then(|x| self.explanation(mail, &tell, Some(id), x));
                    Change {
                        audit: vec![ev],
                        seen: Some(seen(Disposition::Rejected)),
                        explained: explanation.as_ref().and(may_explain.clone()),
                        mails: explanation.into_iter().collect(),
                        ..Change::nothing(Ok(Disposition::Rejected))
                    }
                }
                Ok(transition) => {
                    let (mails, audit) = self.effects(&request, &v, transition, now);
                    Change {
                        request: Some(request),
                        mails,
                        audit,
                        seen: Some(seen(Disposition::Processed)),
                        result: Ok(Disposition::Processed),
                        explained: None,
                    }
                }
            }
        })?;
        match outcome {
            Ok(disposition) => Ok(Handled {
                disposition,
                duplicate: false,
            }),
            Err(why) => {
                let ev = with_request(
                    AuditEvent::new(now, EventKind::ReplyRefused, "refused", "reply refused")
                        .with_reason(why),
                    &v.request,
                );
                self.refuse(key, Some(mail), ev, None, now)
            }
        }
    }

    /// A message already handled under another IMAP identity: a second
    /// delivery of the same mail, a copy put back into the inbox, or a
    /// rescan after UIDVALIDITY changed. Nothing is applied again; the new
    /// identity is remembered and the event audited.
    fn redelivered(
        &self,
        key: MessageKey,
        mail: &InboundMail,
        first: Seen,
        now: DateTime<Utc>,
    ) -> Result<Handled, StoreError> {
        let ev = AuditEvent::new(now, EventKind::ReplyIgnored, "ignored", "message already handled")
            .with_actor(mail.from.as_deref().unwrap_or("unknown sender"))
            .with_reason(format!(
                "same Message-ID as a message handled at {} (UIDVALIDITY {} UID {}); nothing applied again",
                first.at.to_rfc3339(),
                first.key.uidvalidity,
                first.key.uid
            ));
        self.store.commit(None, |_| Change {
            audit: vec![ev.clone()],
            seen: Some(Seen {
                key,
                message_id: None,
                disposition: first.disposition,
                at: now,
            }),
            ..Change::nothing(())
        })?;
        Ok(duplicate(first))
    }

    /// Whether the sender of `mail` may be sent an explanation now: a human
    /// (not an automated message) with a From address, under the daily cap.
    fn may_explain(
        &self,
        mail: &InboundMail,
        now: DateTime<Utc>,
    ) -> Result<Option<Explained>, StoreError> {
        let Some(from) = mail.from.as_deref().filter(|_| mail.automated.is_none()) else {
            return Ok(None);
        };
        let day = now.format("%Y-%m-%d").to_string();
        if self.store.explained_count(from, &day)? >= EXPLANATIONS_PER_DAY {
            tracing::info!(sender = from, "explanation cap reached; not answering");
            return Ok(None);
        }
        Ok(Some(Explained {
            sender: from.to_string(),
            day,
        }))
    }

    /// The explanatory answer to `mail`, if it can be composed.
    fn explanation(
        &self,
        mail: &InboundMail,
        why: &str,
        request: Option<RequestId>,
        to: &Explained,
    ) -> Option<OutboundMail> {
        let to: Address = to.sender.parse().ok()?;
        self.composer
            .explanation(
                &to,
                &mail.redacted_subject(),
                mail.message_id.as_deref(),
                why,
                request,
            )
            .map_err(|e| tracing::error!(error = %e, "cannot compose an explanation"))
            .ok()
    }

    /// The mail and audit records a transition causes.
    fn effects(
        &self,
        r: &Request,
        v: &VerifiedReply,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> (Vec<OutboundMail>, Vec<AuditEvent>) {
        let level = v.claims.level;
        let mut audit = vec![event(
            r,
            now,
            EventKind::DecisionAccepted,
            "accepted",
            "decision accepted",
        )
        .with_actor(v.approver.as_str())
        .with_level(level)
        .with_reason(decision_reason(v))];
        let mut mails = Vec::new();
        match transition {
            Transition::Recorded { missing } => {
                tracing::info!(request = %r.id, level, missing, "approval recorded; level needs more");
            }
            Transition::LevelAdvanced { to, .. } => {
                audit.push(
                    event(
                        r,
                        now,
                        EventKind::LevelAdvanced,
                        "pending",
                        format!("level {level} approved; asking level {to}"),
                    )
                    .with_level(to),
                );
                mails.extend(self.level_mails(r, to));
            }
            Transition::Approved => {
                audit.push(
                    event(r, now, EventKind::Approved, "approved", "request approved")
                        .with_level(level),
                );
                mails.extend(self.decided_mail(r));
            }
            Transition::Rejected => {
                audit.push(
                    event(
                        r,
                        now,
                        EventKind::Rejected,
                        "rejected",
                        format!("request rejected by {}", v.approver),
                    )
                    .with_actor(v.approver.as_str())
                    .with_level(level),
                );
                mails.extend(self.decided_mail(r));
            }
        }
        (mails, audit)
    }

    fn decided_mail(&self, r: &Request) -> Option<OutboundMail> {
        self.composer
            .decided(r)
            .map_err(
                |e| tracing::error!(request = %r.id, error = %e, "cannot compose the outcome mail"),
            )
            .ok()
    }

    /// Records a refused or ignored message: its audit event, the memory
    /// that it was handled (so it is never looked at again) and, when `tell`
    /// is given and the sender may be answered, an explanation of what to
    /// send instead.
    fn refuse(
        &self,
        key: MessageKey,
        mail: Option<&InboundMail>,
        ev: AuditEvent,
        tell: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Handled, StoreError> {
        tracing::info!(
            uid = key.uid,
            reason = ev.reason.as_deref().unwrap_or(""),
            "message refused"
        );
        let explained = match (mail, &tell) {
            (Some(m), Some(_)) => self.may_explain(m, now)?,
            _ => None,
        };
        let request = ev
            .request
            .as_deref()
            .and_then(|r| r.parse::<RequestId>().ok());
        let explanation = match (mail, &tell, &explained) {
            (Some(m), Some(why), Some(x)) => self.explanation(m, why, request, x),
            _ => None,
        };
        let message_id = mail.and_then(|m| m.message_id.clone());
        self.store.commit(None, |_| Change {
            audit: vec![ev.clone()],
            seen: Some(Seen {
                key,
                message_id: message_id.clone(),
                disposition: Disposition::Rejected,
                at: now,
            }),
            explained: explanation.as_ref().and(explained.clone()),
            mails: explanation.clone().into_iter().collect(),
            ..Change::nothing(())
        })?;
        Ok(Handled {
            disposition: Disposition::Rejected,
            duplicate: false,
        })
    }
}

/// A reply that cannot be used.
struct Refused {
    /// The request the reply was about, when its token identified one.
    request: Option<Box<Request>>,
    /// Why, for the audit log.
    why: String,
    /// Why, for the sender, when the audit reason must not be told to
    /// whoever sent the mail.
    tell: Option<String>,
}

impl Refused {
    fn new(request: Option<&Request>, why: String) -> Refused {
        Refused {
            request: request.map(|r| Box::new(r.clone())),
            why,
            tell: None,
        }
    }
}

/// The audit reason of an accepted decision: the verb, the comment, and the
/// real sender when it is not the approver.
fn decision_reason(v: &VerifiedReply) -> String {
    let mut reason = v.decision.verb.as_str().to_string();
    if !v.decision.comment.is_empty() {
        reason.push_str(": ");
        reason.push_str(&v.decision.comment);
    }
    if let Some(sender) = &v.sender {
        reason.push_str(&format!(" (sent by {sender})"));
    }
    reason
}

fn duplicate(seen: Seen) -> Handled {
    Handled {
        disposition: seen.disposition,
        duplicate: true,
    }
}

/// An audit event about `r`, with its identifying fields filled in.
fn event(
    r: &Request,
    at: DateTime<Utc>,
    kind: EventKind,
    outcome: &str,
    message: impl Into<String>,
) -> AuditEvent {
    with_request(AuditEvent::new(at, kind, outcome, message), r)
}

fn with_request(ev: AuditEvent, r: &Request) -> AuditEvent {
    ev.with_request(r.id.to_string())
        .with_action(r.action.as_str())
        .with_resource(r.resource.as_str())
}
#[cfg(test)]
mod tests;
