//! An approver's answer, whatever channel brought it: one path that checks
//! the token, who answered, and the answer itself, then applies it to the
//! request's current state in one transaction with its effects.
//!
//! The channel shows only in [`Origin`]: what proves the answerer (for mail,
//! the sender rule) and what else is recorded with the answer (for mail,
//! the memory that the message was handled, and any explanation).

use chrono::{DateTime, Utc};

use super::effects::{with_request, Happening, Outputs};
use super::explain::{self, why, Explanation};
use super::inbox::EmailReply;
use super::settings::Settings;
use super::Approvals;
use crate::domain::access_window::AccessWindow;
use crate::domain::ids::{Address, RequestId};
use crate::domain::reply::{self, WindowChange};
use crate::domain::request::{Answer as StateAnswer, AnswerRefusal, Channel, Request, Transition};
use crate::domain::sender_rule::{SenderProblem, SenderRule};
use crate::domain::token::{Token, TokenClaims};
use crate::domain::verb::Verb;
use crate::records::{AuditEvent, Disposition, EventKind};
use crate::store::{Change, StoreError};

/// What an approver answered, as any channel hands it over.
pub(crate) struct Answer {
    /// The token the answer came with: request, level and approver.
    pub(crate) token: Token,
    pub(crate) verb: Verb,
    /// A narrower window, as the approver wrote it.
    pub(crate) window: Option<WindowChange>,
    pub(crate) comment: String,
}

/// Where an answer came from.
pub(crate) enum Origin<'a> {
    /// A reply in the approvals inbox.
    Email(&'a EmailReply<'a>),
    /// The form of the decision page, posted from approvald's own page
    /// (the HTTP layer checked the page's anti-forgery value and the
    /// request's origin). The token is the proof, as for a reply under the
    /// `token` sender rule; the page itself shows the outcome.
    Link {
        /// The client's address, for the audit trail.
        peer: String,
    },
}

impl Origin<'_> {
    fn channel(&self) -> Channel {
        match self {
            Origin::Email(_) => Channel::Email,
            Origin::Link { .. } => Channel::Link,
        }
    }
}

/// What deciding amounted to. Either way it is recorded (audit, and the
/// origin's own records) before `decide` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decided {
    /// The answer changed the request.
    Applied(Transition),
    /// A REVOKE took granted access back.
    Revoked,
    /// The answer changed nothing.
    Refused,
}

/// A token that verified, and what it names.
pub(super) struct Verified {
    /// The request as it was when the token was checked; the transaction
    /// re-applies the answer to the current state.
    pub(super) request: Request,
    pub(super) claims: TokenClaims,
    /// The approver the token was issued to.
    pub(super) approver: Address,
}

/// An answer that cannot be used.
pub(super) struct Refused {
    /// The request the answer was about, when its token identified one.
    pub(super) request: Option<Box<Request>>,
    /// Why, for the audit log.
    pub(super) why: String,
    /// What the token's approver may be told, when it is the approver who
    /// answered: one of approvald's own sentences, never the answer's words.
    /// `None`: nobody is told anything.
    pub(super) tell: Option<(Address, &'static str)>,
    /// The reason as the refusal metric counts it: a short, fixed word.
    pub(super) kind: &'static str,
}

impl Refused {
    /// A refusal told to nobody.
    pub(super) fn new(request: Option<&Request>, why: String) -> Refused {
        Refused {
            kind: if request.is_some() { "other" } else { "token" },
            request: request.map(|r| Box::new(r.clone())),
            why,
            tell: None,
        }
    }

    /// The same refusal, counted under `kind`.
    pub(super) fn counted_as(self, kind: &'static str) -> Refused {
        Refused { kind, ..self }
    }

    /// A refusal of `v`'s answer that its approver may be told about.
    pub(super) fn told(v: &Verified, why: String, tell: &'static str) -> Refused {
        let kind = match tell {
            why::NO_DECISION => "no-decision",
            why::UNREADABLE => "unreadable",
            why::WINDOW => "window",
            _ => "other",
        };
        Refused {
            tell: Some((v.approver.clone(), tell)),
            kind,
            ..Refused::new(Some(&v.request), why)
        }
    }
}

impl Approvals {
    /// Decides `answer` from `origin`: verifies the token, checks the
    /// answerer, resolves the window, and applies the answer with its
    /// effects. Only a store failure is an error; every refusal is recorded.
    pub(crate) fn decide(
        &self,
        answer: &Answer,
        origin: &Origin<'_>,
    ) -> Result<Decided, StoreError> {
        let now = self.clock.now();
        let s = self.settings.current();
        let verified = match self.verify_token(&s, &answer.token, now)? {
            Ok(v) => v,
            Err(why) => return self.refuse(&s, origin, Refused::new(None, why), now),
        };
        self.decide_verified(&s, answer, origin, verified, now)
    }

    /// [`Approvals::decide`] for an answer whose token was verified just
    /// now, under the same settings and instant (a reply's token is
    /// verified to read the reply at all): verifying again would read and
    /// decode the request a second time for nothing. The transaction still
    /// applies the answer to the request's current state.
    pub(super) fn decide_verified(
        &self,
        s: &Settings,
        answer: &Answer,
        origin: &Origin<'_>,
        verified: Verified,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        if let Err(refused) = check_origin(s, origin, &verified) {
            return self.refuse(s, origin, refused, now);
        }
        let window = match resolve_window(s, answer, &verified.request, now) {
            Ok(w) => w,
            Err(reason) => {
                let refused = Refused::told(&verified, reason, why::WINDOW);
                return self.refuse(s, origin, refused, now);
            }
        };
        self.apply(s, answer, origin, verified, window, now)
    }

    /// Checks `token`: first from the token alone (signature over its
    /// claims, expiry), so a forged token never causes a store lookup; then
    /// against the request it names (its nonce and the approver at the
    /// named position). `Ok(Err(why))` when it does not verify, including
    /// when the request's record cannot be read: one damaged record refuses
    /// the answers about it, never a whole batch.
    pub(super) fn verify_token(
        &self,
        s: &Settings,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Result<Verified, String>, StoreError> {
        let claims = match s.keyring.check(token, now) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let id = RequestId::new(claims.request);
        let request = match self.store.request(id) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(Err(format!("token names unknown request {id}"))),
            Err(e) if e.is_unreadable_record() => {
                tracing::error!(request = %id, error = %e, "unreadable request record; the answer is refused");
                return Ok(Err(format!(
                    "the record of request {id} cannot be read: {e}"
                )));
            }
            Err(e) => return Err(e),
        };
        let Some(approver) = request
            .levels
            .get(usize::from(claims.level.saturating_sub(1)))
            .and_then(|l| l.approvers.get(usize::from(claims.approver_index)))
            .cloned()
        else {
            return Ok(Err(format!("token names no approver of {id}")));
        };
        Ok(
            match s
                .keyring
                .check_binding(token, &request.nonce, approver.as_str())
            {
                Ok(()) => Ok(Verified {
                    request,
                    claims,
                    approver,
                }),
                Err(e) => Err(e.to_string()),
            },
        )
    }

    /// Applies a checked answer to the request's current state, in one
    /// transaction with its mail, audit and the origin's records.
    fn apply(
        &self,
        s: &Settings,
        answer: &Answer,
        origin: &Origin<'_>,
        v: Verified,
        window: Option<AccessWindow>,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        let id = v.request.id;
        let sender = answerer_if_not_approver(origin, &v.approver);
        let unverified = match origin {
            Origin::Email(_) => {
                (s.inbound.sender_rule == SenderRule::Token).then_some("sender_policy = token")
            }
            // A link is a bearer credential: whoever holds the mail holds it.
            Origin::Link { .. } => Some("a decision link, usable by whoever holds the mail"),
        };
        // Decided before the transaction, which must not read beyond its
        // own trees: whether a refusal may be explained, caps included.
        let explain_to = match origin {
            Origin::Email(reply) => self.is_verified_approver(s, reply, &v.approver),
            Origin::Link { .. } => false,
        } && self.may_explain_to(s, &v.approver, now)?;
        // Set by the transaction when the request's state refuses the
        // answer, for the refusal metric (the closure may run more than once;
        // the last run is the one committed).
        let state_refusal = std::cell::Cell::new("state");
        let committed = self.store.commit(Some(id), |current| {
            let Some(mut request) = current else {
                return Change::nothing(Err(format!("request {id} vanished")));
            };
            let state_answer = StateAnswer {
                level: v.claims.level,
                approver: v.approver.clone(),
                verb: answer.verb,
                comment: answer.comment.clone(),
                channel: origin.channel(),
                window,
            };
            // A REVOKE is not an answer to a level: it ends granted access.
            let applied = if answer.verb == crate::domain::verb::Verb::Revoke {
                request
                    .revoke_by_approver(&v.approver, &answer.comment, now, origin.channel())
                    .map(|()| None)
            } else {
                request.answer(state_answer, now).map(Some)
            };
            match applied {
                Ok(None) => {
                    let Some(done) = request.interventions.last().cloned() else {
                        return Change::nothing(Err("revoke not recorded".into()));
                    };
                    let happening = Happening::Intervened {
                        kind: done.kind,
                        by: &done.by,
                        uid: None,
                        reason: &done.reason,
                    };
                    let mut out = Outputs::default();
                    out.add(s, &request, &happening, now);
                    let mut change = out.into_change(Some(request), Ok(Decided::Revoked));
                    self.origin_records(
                        s,
                        origin,
                        &mut change,
                        id,
                        Disposition::Processed,
                        None,
                        now,
                    );
                    change
                }
                Err(refusal) => {
                    state_refusal.set(refusal_kind(&refusal));
                    let kind = match refusal {
                        AnswerRefusal::SelfApproval(_) => EventKind::SelfApprovalRefused,
                        _ => EventKind::ReplyRefused,
                    };
                    let ev = super::effects::event(&request, now, kind, "refused", "reply refused")
                        .with_actor(v.approver.as_str())
                        .with_level(v.claims.level)
                        .with_reason(refusal.to_string());
                    let mut change = Change {
                        audit: vec![ev],
                        ..Change::nothing(Ok(Decided::Refused))
                    };
                    let tell = explain_to.then(|| Explanation {
                        to: v.approver.clone(),
                        request: id,
                        why: refusal.tell(),
                    });
                    self.origin_records(
                        s,
                        origin,
                        &mut change,
                        id,
                        Disposition::Rejected,
                        tell,
                        now,
                    );
                    change
                }
                Ok(Some(transition)) => {
                    let happening = Happening::Answered {
                        by: &v.approver,
                        level: v.claims.level,
                        reason: decision_reason(answer, sender.as_ref(), unverified),
                        transition,
                    };
                    let mut out = Outputs::default();
                    out.add(s, &request, &happening, now);
                    // A grant whose window has begun is live at once: the
                    // same transaction starts it (and ends it, if the whole
                    // window passed while the approval was pending).
                    let ticks = request.advance(now);
                    out.add_ticks(s, &request, ticks, now);
                    let mut change =
                        out.into_change(Some(request), Ok(Decided::Applied(transition)));
                    self.origin_records(
                        s,
                        origin,
                        &mut change,
                        id,
                        Disposition::Processed,
                        None,
                        now,
                    );
                    change
                }
            }
        });
        let outcome = match committed {
            Err(e) if e.is_unreadable_record() => {
                Err(format!("the record of {id} cannot be read: {e}"))
            }
            other => other?,
        };
        match outcome {
            Ok(decided) => {
                match decided {
                    Decided::Applied(_) | Decided::Revoked => {
                        self.counters.decided(origin.channel());
                    }
                    Decided::Refused => self.counters.refused(state_refusal.get()),
                }
                Ok(decided)
            }
            Err(why) => self.refuse(s, origin, Refused::new(Some(&v.request), why), now),
        }
    }

    /// Adds to `change` what the origin records with an answer: for mail,
    /// the memory that the message was handled and, when given, an
    /// explanation to the approver.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is one fact about the answer being recorded"
    )]
    fn origin_records<R>(
        &self,
        s: &Settings,
        origin: &Origin<'_>,
        change: &mut Change<R>,
        request: RequestId,
        disposition: Disposition,
        tell: Option<Explanation>,
        now: DateTime<Utc>,
    ) {
        match origin {
            Origin::Email(reply) => {
                change.seen = Some(reply.seen(disposition, Some(request), now));
                let composed = tell
                    .and_then(|x| explain::compose(s, reply.mail.message_id.as_deref(), &x, now));
                if let Some((mail, explained)) = composed {
                    change.mails.push(mail);
                    change.explained = Some(explained);
                }
            }
            // The page shows the outcome; nothing else is recorded.
            Origin::Link { .. } => {}
        }
    }

    /// Records a refused answer: its audit event and the origin's records
    /// (for mail, an explanation when the token's own approver sent it).
    pub(super) fn refuse(
        &self,
        s: &Settings,
        origin: &Origin<'_>,
        refused: Refused,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        self.counters.refused(refused.kind);
        match origin {
            Origin::Email(reply) => {
                let mut ev =
                    AuditEvent::new(now, EventKind::ReplyRefused, "refused", "reply refused")
                        .with_actor(reply.actor())
                        .with_reason(refused.why.as_str());
                if let Some(r) = &refused.request {
                    ev = with_request(ev, r);
                }
                // Only the token's own approver, proven as such, is told
                // anything: anyone else may be a forged From, and answering
                // them would make approvald a spam relay.
                let tell = match (&refused.request, refused.tell) {
                    (Some(r), Some((approver, why))) => {
                        let proven = self.is_verified_approver(s, reply, &approver)
                            && self.may_explain_to(s, &approver, now)?;
                        proven.then(|| Explanation {
                            to: approver,
                            request: r.id,
                            why: why.to_string(),
                        })
                    }
                    _ => None,
                };
                self.refuse_message(s, reply.key, Some(reply.mail), ev, tell, now)?;
            }
            Origin::Link { peer } => {
                let mut ev = AuditEvent::new(
                    now,
                    EventKind::ReplyRefused,
                    "refused",
                    "decision page answer refused",
                )
                .with_actor(format!("link from {peer}"))
                .with_reason(refused.why.as_str());
                if let Some(r) = &refused.request {
                    ev = with_request(ev, r);
                }
                self.store.audit_only(ev)?;
            }
        }
        Ok(Decided::Refused)
    }
}

/// The refusal metric's word for a refusal by the request's state.
fn refusal_kind(r: &AnswerRefusal) -> &'static str {
    match r {
        AnswerRefusal::Closed(_) => "closed",
        AnswerRefusal::PastDeadline => "past-deadline",
        AnswerRefusal::WrongLevel { .. } => "wrong-level",
        AnswerRefusal::NotAnApprover(_) => "not-an-approver",
        AnswerRefusal::SelfApproval(_) => "self-approval",
        AnswerRefusal::AlreadyAnswered(_) => "already-answered",
        AnswerRefusal::WindowOutside => "window",
        AnswerRefusal::NothingToRevoke(_) => "nothing-to-revoke",
        AnswerRefusal::CommentRequired => "comment-required",
    }
}

/// Whether the answerer is who the token's approver must be, by the rules
/// of the channel the answer came through.
pub(super) fn check_origin(s: &Settings, origin: &Origin<'_>, v: &Verified) -> Result<(), Refused> {
    match origin {
        Origin::Email(reply) => {
            let refuse = |why: String| Refused::new(Some(&v.request), why).counted_as("sender");
            match s
                .inbound
                .sender_rule
                .check(&reply.sender, &v.approver, &v.request)
            {
                Ok(()) => Ok(()),
                Err(SenderProblem::NoFrom) => {
                    Err(refuse("the message has no usable From address".into()))
                }
                // The sender may be anyone: nobody is told anything.
                Err(SenderProblem::NotTheApprover { from }) => Err(refuse(format!(
                    "sent by {from}, but the token belongs to {}",
                    v.approver
                ))),
                Err(SenderProblem::Participant { from }) => Err(refuse(format!(
                    "sent by {from}, who takes part in this request, but the token belongs to {}: a forwarded approval request cannot be answered by its requester or another approver",
                    v.approver
                ))),
                Err(SenderProblem::NotAuthenticated {
                    from,
                    authserv_id,
                    why,
                }) => Err(refuse(format!(
                    "{from} is not authenticated by {authserv_id}: {why}"
                ))),
            }
        }
        Origin::Link { .. } => Ok(()),
    }
}

/// The narrower window an APPROVE grants, resolved to instants; `None` when
/// the answer does not narrow it.
fn resolve_window(
    s: &Settings,
    answer: &Answer,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Option<AccessWindow>, String> {
    let (Some(change), Verb::Approve) = (&answer.window, answer.verb) else {
        return Ok(None);
    };
    let current = (request.granted_window.start(), request.granted_window.end());
    // The zone's offset as it is now: "until 18:00" means 18:00 by the
    // approver's clock today (or tomorrow), explicit offsets still win.
    use chrono::{Offset, TimeZone};
    let offset = s
        .inbound
        .timezone
        .offset_from_utc_datetime(&now.naive_utc())
        .fix();
    let (start, end) =
        reply::narrow_window(change, current, now, offset).map_err(|refusal| refusal.explain())?;
    AccessWindow::new(start, end).map(Some)
}

/// Who answered, when that is not the approver the token names (the `token`
/// sender rule lets anyone holding the token answer): kept in the audit.
fn answerer_if_not_approver(origin: &Origin<'_>, approver: &Address) -> Option<String> {
    match origin {
        Origin::Email(reply) => reply
            .mail
            .from
            .clone()
            .filter(|from| !from.eq_ignore_ascii_case(approver.as_str())),
        Origin::Link { .. } => None,
    }
}

/// The audit reason of an accepted decision: the verb, the comment, the real
/// sender when it is not the approver, and whether nothing verified the
/// sender at all.
fn decision_reason(answer: &Answer, sender: Option<&String>, unverified: Option<&str>) -> String {
    let mut reason = answer.verb.as_str().to_string();
    if !answer.comment.is_empty() {
        reason.push_str(": ");
        reason.push_str(&answer.comment);
    }
    if let Some(sender) = sender {
        reason.push_str(&format!(" (sent by {sender})"));
    }
    if let Some(why) = unverified {
        reason.push_str(&format!(" [sender not verified: {why}]"));
    }
    reason
}
