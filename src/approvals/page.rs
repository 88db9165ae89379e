//! The decision page: what its GET shows (read only, whoever fetches it)
//! and what its POST decides (through the one `decide` path, channel
//! `link`), with the page's anti-forgery value checked first.

use super::decide::{Answer, Decided, Origin};
use super::Approvals;
use crate::domain::ids::Address;
use crate::domain::plain_text;
use crate::domain::reply::{parse_reply, Verb};
use crate::domain::request::{Decision, Request, Status};
use crate::domain::token::Token;
use crate::records::{AuditEvent, EventKind};
use crate::store::StoreError;

/// Longest comment or reason taken from the page.
const MAX_COMMENT_CHARS: usize = 2000;

/// What the page for a token shows.
#[derive(Debug)]
pub(crate) enum PageState {
    /// The approver may decide now: the form, with its anti-forgery value.
    Open {
        request: Box<Request>,
        level: u8,
        approver: Address,
        guard: String,
    },
    /// Access is granted: any approver of the request may take it back.
    Revocable {
        request: Box<Request>,
        approver: Address,
        guard: String,
    },
    /// This approver already answered this request (by mail or here).
    Answered {
        request: Box<Request>,
        decision: Box<Decision>,
    },
    /// The request no longer needs this answer: decided, expired,
    /// cancelled, or the token's level already closed.
    Closed { request: Box<Request> },
    /// The token is not valid (forged, damaged, expired, unknown).
    Invalid { why: String },
}

/// What posting the form did, for the page that follows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PostOutcome {
    /// Applied: the request moved on.
    Decided,
    /// Not applied; why, in approvald's own words.
    Refused(String),
}

impl Approvals {
    /// The page for `token`. Changes nothing, ever: a link scanner fetching
    /// it is harmless.
    pub(crate) fn decision_page(&self, token: &str) -> Result<PageState, StoreError> {
        let now = self.clock.now();
        let s = self.settings.current();
        let Ok(token) = Token::parse(token) else {
            return Ok(PageState::Invalid {
                why: "this link is not a valid approval link".into(),
            });
        };
        let v = match self.verify_token(&s, &token, now)? {
            Ok(v) => v,
            Err(_) => {
                return Ok(PageState::Invalid {
                    why: "this link is no longer valid (expired, or not issued by approvald)"
                        .into(),
                })
            }
        };
        let request = Box::new(v.request);
        if request.status.is_granted() {
            return Ok(match s.keyring.page_guard(&token) {
                Some(guard) => PageState::Revocable {
                    request,
                    approver: v.approver,
                    guard,
                },
                None => PageState::Invalid {
                    why: "this link is no longer valid".into(),
                },
            });
        }
        if let Some(d) = request.decisions.iter().find(|d| d.approver == v.approver) {
            return Ok(PageState::Answered {
                decision: Box::new(d.clone()),
                request,
            });
        }
        if request.status != Status::Pending || request.level != v.claims.level {
            return Ok(PageState::Closed { request });
        }
        let Some(guard) = s.keyring.page_guard(&token) else {
            return Ok(PageState::Invalid {
                why: "this link is no longer valid".into(),
            });
        };
        Ok(PageState::Open {
            request,
            level: v.claims.level,
            approver: v.approver,
            guard,
        })
    }

    /// Applies the form posted from the page for `token`: `verb`, an
    /// optional comment and an optional narrower window written as in a
    /// reply (`2h`, `until 18:00`). Refused without the page's own
    /// anti-forgery value. Durable before it returns.
    pub(crate) async fn decide_by_link(
        &self,
        token: &str,
        guard: &str,
        verb: Verb,
        comment: &str,
        window: &str,
        peer: &str,
    ) -> Result<PostOutcome, StoreError> {
        let now = self.clock.now();
        let s = self.settings.current();
        let refuse = |why: &str| -> Result<PostOutcome, StoreError> {
            self.store.audit_only(
                AuditEvent::new(
                    now,
                    EventKind::ReplyRefused,
                    "refused",
                    "decision page answer refused",
                )
                .with_actor(format!("link from {peer}"))
                .with_reason(why),
            )?;
            Ok(PostOutcome::Refused(why.to_owned()))
        };
        // A malformed token or a guard that does not verify is answered but
        // neither audited nor flushed: anyone can post those, and they must
        // not fill the trail or force disk syncs. A verified guard proves
        // the poster fetched approvald's own page for a genuine token.
        let Some(t) = Token::parse(token)
            .ok()
            .filter(|t| s.keyring.check_page_guard(t, guard))
        else {
            tracing::debug!(%peer, "decision page post without a valid token and guard");
            return Ok(PostOutcome::Refused(
                "the form did not come from this link's page: open the link again".into(),
            ));
        };
        let comment = comment.trim();
        let problem = if comment.chars().count() > MAX_COMMENT_CHARS {
            Some(format!(
                "the comment is longer than {MAX_COMMENT_CHARS} characters"
            ))
        } else if verb == Verb::Revoke && comment.is_empty() {
            Some("say why the access is revoked".to_owned())
        } else {
            plain_text::check(comment, true).err()
        };
        let outcome = match problem {
            Some(why) => refuse(&why)?,
            None => {
                // The window is read with the reply grammar, so the page
                // and a reply accept exactly the same windows.
                let window = if window.trim().is_empty() || verb != Verb::Approve {
                    Ok(None)
                } else {
                    match parse_reply(&format!("APPROVE {}", window.trim())) {
                        Ok(d) if d.comment.is_empty() && d.window.is_some() => Ok(d.window),
                        _ => Err(()),
                    }
                };
                match window {
                    Err(()) => refuse(
                        "the narrower window was not understood: write it like 2h, 90m or until 18:00",
                    )?,
                    Ok(window) => {
                        let answer = Answer {
                            token: t,
                            verb,
                            window,
                            comment: comment.to_owned(),
                        };
                        let origin = Origin::Link {
                            peer: peer.to_owned(),
                        };
                        match self.decide(&answer, &origin)? {
                            Decided::Applied(_) | Decided::Revoked => PostOutcome::Decided,
                            Decided::Refused => PostOutcome::Refused(
                                "nothing was decided: the request no longer takes this answer (see below)"
                                    .into(),
                            ),
                        }
                    }
                }
            }
        };
        self.store.flush().await?;
        Ok(outcome)
    }
}
