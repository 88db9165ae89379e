//! What each happening to a request causes: the one table from "this
//! transition" to "these mails and these audit events". [`effects`] is pure;
//! [`render`] turns its notices into composed mails.

use chrono::{DateTime, Utc};

use super::settings::Settings;
use crate::domain::ids::Address;
use crate::domain::request::{InterventionKind, Request, Route, Status, Tick, Transition};
use crate::domain::token::TokenClaims;
use crate::mail::compose::NoticeText;
use crate::records::{AuditEvent, EventKind, OutboundMail, OutboundWebhook};
use crate::store::Change;

/// Something that happened to a request that others must hear of.
#[derive(Clone, Debug)]
pub(super) enum Happening<'a> {
    /// The request was admitted.
    Submitted,
    /// An approver's answer was applied.
    Answered {
        /// Whose answer.
        by: &'a Address,
        /// The level the answer was given at.
        level: u8,
        /// The audit reason: verb, comment, and the real sender if not the
        /// approver.
        reason: String,
        /// What the answer did to the request.
        transition: Transition,
    },
    /// Time moved the request on (deadline, window start, window end).
    Ticked(Tick),
    /// Someone cancelled, revoked or overrode the request.
    Intervened {
        /// What they did.
        kind: InterventionKind,
        /// Who they say they are (an admin's name, an approver's address).
        by: &'a str,
        /// The local account behind an API call.
        uid: Option<u32>,
        /// The reason they gave.
        reason: &'a str,
    },
}

/// A mail a happening causes, before it is composed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Notice {
    /// "Your request was received", to the requester.
    Receipt,
    /// An approval request to every askable approver of the level.
    AskLevel(u8),
    /// The final outcome, to the requester.
    Outcome,
    /// "Emergency access used", with the full request, to every approver
    /// of every level.
    EmergencyUsed,
    /// What an intervention did, to the requester and to every approver
    /// who was asked (all of them, for emergency access).
    Intervention(InterventionKind),
    /// "No longer needs your answer", to the approvers of a level that
    /// closed before they answered.
    NoLongerNeeded(u8),
    /// The approval mail again, to the level's approvers who have not
    /// answered (same token, same thread).
    Remind(u8),
    /// The approval mail to the level's escalation approvers.
    AskEscalation(u8),
}

/// Everything a happening causes.
#[derive(Debug, PartialEq)]
pub(super) struct Effects {
    /// Mails to compose and queue, in this order.
    pub(super) notices: Vec<Notice>,
    /// Audit events to record, in this order.
    pub(super) audit: Vec<AuditEvent>,
    /// Webhook calls to queue.
    pub(super) webhooks: Vec<OutboundWebhook>,
}

/// What a sequence of happenings to one request writes with it: composed
/// mails, audit events and webhook calls, in order.
#[derive(Debug, Default)]
pub(super) struct Outputs {
    pub(super) mails: Vec<OutboundMail>,
    pub(super) audit: Vec<AuditEvent>,
    pub(super) webhooks: Vec<OutboundWebhook>,
}

impl Outputs {
    /// Adds what `happening` to `r` (already in its new state) causes.
    pub(super) fn add(
        &mut self,
        s: &Settings,
        r: &Request,
        happening: &Happening<'_>,
        now: DateTime<Utc>,
    ) {
        let fx = effects(r, happening, now);
        self.mails.extend(render(s, r, &fx.notices));
        self.audit.extend(fx.audit);
        self.webhooks.extend(fx.webhooks);
    }

    /// Adds what each of `ticks` causes.
    pub(super) fn add_ticks(
        &mut self,
        s: &Settings,
        r: &Request,
        ticks: impl IntoIterator<Item = Tick>,
        now: DateTime<Utc>,
    ) {
        for tick in ticks {
            self.add(s, r, &Happening::Ticked(tick), now);
        }
    }

    /// The change that writes `request` with these outputs and returns
    /// `result`.
    pub(super) fn into_change<R>(self, request: Option<Request>, result: R) -> Change<R> {
        Change {
            request,
            mails: self.mails,
            audit: self.audit,
            webhooks: self.webhooks,
            ..Change::nothing(result)
        }
    }
}

/// The table: what `happening` to `r` (already in its new state) causes.
pub(super) fn effects(r: &Request, happening: &Happening<'_>, now: DateTime<Utc>) -> Effects {
    let ev = |kind, outcome, message: String| event(r, now, kind, outcome, message);
    match happening {
        Happening::Submitted => {
            let submitted = ev(EventKind::Submitted, "pending", "request submitted".into())
                .with_actor(r.requester.as_str())
                .with_level(1);
            match r.route {
                Route::Approvers => Effects {
                    webhooks: Vec::new(),
                    notices: vec![Notice::Receipt, Notice::AskLevel(1)],
                    audit: vec![submitted],
                },
                Route::Emergency => Effects {
                    webhooks: Vec::new(),
                    notices: vec![Notice::Receipt, Notice::Outcome, Notice::EmergencyUsed],
                    audit: vec![
                        submitted,
                        ev(
                            EventKind::EmergencyGranted,
                            "approved",
                            "EMERGENCY access granted without approval; every approver told".into(),
                        )
                        .with_actor(r.requester.as_str())
                        .with_reason(r.justification.as_str()),
                    ],
                },
                Route::Justification => Effects {
                    webhooks: Vec::new(),
                    notices: vec![Notice::Receipt, Notice::Outcome],
                    audit: vec![
                        submitted,
                        ev(
                            EventKind::JustificationGranted,
                            "approved",
                            "access granted on the justification alone".into(),
                        )
                        .with_actor(r.requester.as_str())
                        .with_reason(r.justification.as_str()),
                    ],
                },
            }
        }
        Happening::Ticked(Tick::Expired) => Effects {
            webhooks: Vec::new(),
            notices: vec![Notice::Outcome, Notice::NoLongerNeeded(r.level)],
            audit: vec![ev(
                EventKind::Expired,
                "expired",
                "request expired undecided".into(),
            )
            .with_level(r.level)],
        },
        Happening::Ticked(Tick::Reminded { level }) => Effects {
            webhooks: Vec::new(),
            notices: vec![Notice::Remind(*level)],
            audit: vec![ev(
                EventKind::Reminded,
                "pending",
                format!("reminder sent to level {level}'s approvers who have not answered"),
            )
            .with_level(*level)],
        },
        Happening::Ticked(Tick::Escalated { level }) => Effects {
            webhooks: Vec::new(),
            notices: vec![Notice::AskEscalation(*level)],
            audit: vec![ev(
                EventKind::Escalated,
                "pending",
                format!("level {level} escalated: its escalation approvers are asked too"),
            )
            .with_level(*level)],
        },
        Happening::Ticked(Tick::Started) => Effects {
            webhooks: Vec::new(),
            notices: vec![],
            audit: vec![ev(
                EventKind::WindowStarted,
                "active",
                format!(
                    "access window started; granted until {}",
                    r.granted_window.end().to_rfc3339()
                ),
            )
            .with_actor(r.requester.as_str())],
        },
        Happening::Ticked(Tick::Ended) => Effects {
            // The vault rotates, the proxy cuts the session.
            webhooks: crate::webhooks::access_ended(r, now).into_iter().collect(),
            notices: vec![],
            audit: vec![ev(
                EventKind::WindowEnded,
                "ended",
                "access window ended; the credential may be rotated now".into(),
            )
            .with_actor(r.requester.as_str())],
        },
        Happening::Intervened {
            kind,
            by,
            uid,
            reason,
        } => {
            let (event_kind, outcome, message) = match kind {
                InterventionKind::Cancel => {
                    (EventKind::Cancelled, "cancelled", "request cancelled")
                }
                InterventionKind::Revoke => (EventKind::Revoked, "revoked", "access revoked"),
                InterventionKind::Override {
                    to: Status::Approved,
                } => (
                    EventKind::Overridden,
                    "approved",
                    "request approved by an administrator's override",
                ),
                InterventionKind::Override { .. } => (
                    EventKind::Overridden,
                    "rejected",
                    "request rejected by an administrator's override",
                ),
            };
            let actor = match uid {
                Some(uid) => format!("{by} (uid {uid})"),
                None => (*by).to_owned(),
            };
            Effects {
                webhooks: match kind {
                    InterventionKind::Revoke => {
                        crate::webhooks::access_ended(r, now).into_iter().collect()
                    }
                    _ => Vec::new(),
                },
                notices: vec![Notice::Intervention(*kind)],
                audit: vec![ev(event_kind, outcome, message.into())
                    .with_actor(actor)
                    .with_level(r.level)
                    .with_reason(*reason)],
            }
        }
        Happening::Answered {
            by,
            level,
            reason,
            transition,
        } => {
            let changed = matches!(transition, Transition::Rejected { changed: true });
            let (outcome, message) = if changed {
                ("changed", "decision changed: an earlier APPROVE withdrawn")
            } else {
                ("accepted", "decision accepted")
            };
            let accepted = ev(EventKind::DecisionAccepted, outcome, message.into())
                .with_actor(by.as_str())
                .with_level(*level)
                .with_reason(reason.as_str());
            let (notices, then) = match *transition {
                Transition::Recorded { .. } => (vec![], None),
                Transition::LevelAdvanced { from, to } => (
                    vec![Notice::AskLevel(to), Notice::NoLongerNeeded(from)],
                    Some(
                        ev(
                            EventKind::LevelAdvanced,
                            "pending",
                            format!("level {level} approved; asking level {to}"),
                        )
                        .with_level(to),
                    ),
                ),
                Transition::Approved => (
                    vec![Notice::Outcome, Notice::NoLongerNeeded(*level)],
                    Some(
                        ev(EventKind::Approved, "approved", "request approved".into())
                            .with_level(*level),
                    ),
                ),
                Transition::Rejected { .. } => (
                    vec![Notice::Outcome, Notice::NoLongerNeeded(*level)],
                    Some(
                        ev(
                            EventKind::Rejected,
                            "rejected",
                            format!("request rejected by {by}"),
                        )
                        .with_actor(by.as_str())
                        .with_level(*level),
                    ),
                ),
            };
            Effects {
                notices,
                audit: std::iter::once(accepted).chain(then).collect(),
                webhooks: Vec::new(),
            }
        }
    }
}

/// Composes the mails `notices` stand for. A mail that cannot be composed
/// is logged and left out: the state change and its audit still happen.
pub(super) fn render(s: &Settings, r: &Request, notices: &[Notice]) -> Vec<OutboundMail> {
    let mut mails = Vec::new();
    for notice in notices {
        match notice {
            Notice::Receipt => match s.composer.received(r) {
                Ok(m) => mails.push(m),
                Err(e) => {
                    tracing::error!(request = %r.id, error = %e, "cannot compose the receipt")
                }
            },
            Notice::AskLevel(level) => mails.extend(level_mails(s, r, *level)),
            Notice::Remind(level) => {
                let n = r.reminders_sent;
                mails.extend(
                    level_mails(s, r, *level)
                        .into_iter()
                        .filter(|m| r.decisions_at(*level).all(|d| d.approver != m.to))
                        .map(|m| s.composer.as_reminder(m, n)),
                );
            }
            Notice::AskEscalation(level) => {
                let added: Vec<&Address> = r
                    .escalations
                    .iter()
                    .filter(|e| e.level == *level)
                    .flat_map(|e| &e.approvers)
                    .collect();
                mails.extend(
                    level_mails(s, r, *level)
                        .into_iter()
                        .filter(|m| added.contains(&&m.to)),
                );
            }
            Notice::EmergencyUsed => {
                let text = NoticeText {
                    headline: "Emergency access used",
                    detail: "The requester used break-glass access: it was granted at once, without approval. Check the justification below. If the access is not justified, revoke it (approvald request revoke) and follow your incident procedure.",
                    actor: Some(r.requester.as_str()),
                    actor_reason: None,
                    revoke_token: None,
                };
                for to in r.all_approvers() {
                    push_revocable(s, r, to, "emergency", text, &mut mails);
                }
                for to in &r.notify {
                    push_notice(s, r, to, "emergency", text, &mut mails);
                }
            }
            Notice::Intervention(kind) => {
                let (name, headline, detail) = intervention_text(*kind);
                let last = r.interventions.last();
                let text = NoticeText {
                    headline,
                    detail,
                    actor: last.map(|i| i.by.as_str()),
                    actor_reason: last.map(|i| i.reason.as_str()),
                    revoke_token: None,
                };
                push_notice(s, r, &r.requester, name, text, &mut mails);
                for to in told_approvers(r) {
                    // Access granted by an override can be taken back by
                    // any approver, as any other grant.
                    if r.status.is_granted() {
                        push_revocable(s, r, to, name, text, &mut mails);
                    } else {
                        push_notice(s, r, to, name, text, &mut mails);
                    }
                }
                for to in &r.notify {
                    push_notice(s, r, to, name, text, &mut mails);
                }
            }
            Notice::Outcome => {
                match s.composer.decided(r) {
                    Ok(m) => mails.push(m),
                    Err(e) => {
                        tracing::error!(request = %r.id, error = %e, "cannot compose the outcome mail")
                    }
                }
                let (headline, detail) = outcome_text(r);
                let text = NoticeText {
                    headline,
                    detail,
                    actor: None,
                    actor_reason: None,
                    revoke_token: None,
                };
                for to in &r.notify {
                    push_notice(s, r, to, "outcome", text, &mut mails);
                }
                // Every approver asked hears of a grant, and may take it
                // back by replying REVOKE.
                if r.status.is_granted() && r.route == Route::Approvers {
                    let text = NoticeText {
                        headline: "Approved: access granted",
                        detail: "This request was approved at every level; access is granted for the window below.",
                        ..text
                    };
                    for to in told_approvers(r) {
                        push_revocable(s, r, to, "granted", text, &mut mails);
                    }
                }
            }
            Notice::NoLongerNeeded(level) => {
                let text = NoticeText {
                    headline: "No longer needs your answer",
                    detail: "This request was decided at your level (or closed) before you answered. There is nothing to do, and a reply to its approval mail will not be used.",
                    actor: None,
                    actor_reason: None,
                    revoke_token: None,
                };
                for (_, to) in r.askable_approvers(*level) {
                    if r.decisions_at(*level).all(|d| d.approver != *to) {
                        push_notice(s, r, to, &format!("closed.{level}"), text, &mut mails);
                    }
                }
            }
        }
    }
    mails
}

/// A notice to approver `to` of `r` that carries a token they may reply
/// REVOKE with: bound to the request, their level and them, valid until the
/// granted window ends.
fn push_revocable(
    s: &Settings,
    r: &Request,
    to: &Address,
    kind: &str,
    text: NoticeText<'_>,
    mails: &mut Vec<OutboundMail>,
) {
    let place = r.levels.iter().enumerate().find_map(|(l, level)| {
        let index = level.approvers.iter().position(|a| a == to)?;
        Some((u8::try_from(l + 1).ok()?, u8::try_from(index).ok()?))
    });
    let Some((level, approver_index)) = place else {
        return push_notice(s, r, to, kind, text, mails);
    };
    let claims = TokenClaims {
        request: r.id.get(),
        level,
        approver_index,
        expires_at: r.granted_window.end().max(r.deadline),
    };
    let token = s.keyring.sign(&claims, &r.nonce, to.as_str());
    let text = NoticeText {
        revoke_token: Some(&token),
        ..text
    };
    push_notice(s, r, to, kind, text, mails);
}

fn push_notice(
    s: &Settings,
    r: &Request,
    to: &Address,
    kind: &str,
    text: NoticeText<'_>,
    mails: &mut Vec<OutboundMail>,
) {
    match s.composer.notice(r, to, kind, text) {
        Ok(m) => mails.push(m),
        Err(e) => tracing::error!(request = %r.id, error = %e, "cannot compose a notice"),
    }
}

/// approvald's own words for an outcome, as watchers read it.
fn outcome_text(r: &Request) -> (&'static str, &'static str) {
    match r.status {
        Status::Rejected => ("Rejected", "This request was rejected by an approver."),
        Status::Expired => (
            "Expired",
            "This request was not decided by its deadline and expired.",
        ),
        _ => (
            "Approved",
            "This request was approved; access is granted for the window below.",
        ),
    }
}

/// approvald's own words for each intervention: Message-ID name,
/// headline, and what it means for the reader.
fn intervention_text(kind: InterventionKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        InterventionKind::Cancel => (
            "cancelled",
            "Request cancelled",
            "This request was cancelled. It no longer needs an answer, and a reply to its approval mail will not be used.",
        ),
        InterventionKind::Revoke => (
            "revoked",
            "Access revoked",
            "The access this request granted was revoked and ends now.",
        ),
        InterventionKind::Override { to: Status::Approved } => (
            "override",
            "Approved by an administrator's override",
            "An administrator approved this request over the approval levels. It no longer needs an answer.",
        ),
        InterventionKind::Override { .. } => (
            "override",
            "Rejected by an administrator's override",
            "An administrator rejected this request over the approval levels. It no longer needs an answer.",
        ),
    }
}

/// The approvers who have heard of `r` so far: every approver of an
/// emergency request, the asked levels' approvers otherwise.
fn told_approvers(r: &Request) -> Vec<&Address> {
    match r.route {
        Route::Emergency => r.all_approvers(),
        Route::Justification => Vec::new(),
        Route::Approvers => (1..=r.level)
            .flat_map(|l| r.askable_approvers(l).into_iter().map(|(_, a)| a))
            .collect(),
    }
}

/// Approval mails for every askable approver of `level`, each with its
/// own token.
fn level_mails(s: &Settings, r: &Request, level: u8) -> Vec<OutboundMail> {
    r.askable_approvers(level)
        .into_iter()
        .filter_map(|(index, approver)| {
            let claims = TokenClaims {
                request: r.id.get(),
                level,
                approver_index: index,
                expires_at: r.deadline,
            };
            let token = s.keyring.sign(&claims, &r.nonce, approver.as_str());
            s.composer
                .approval_request(r, level, index, approver, &token)
                .map_err(|e| tracing::error!(request = %r.id, error = %e, "cannot compose approval mail"))
                .ok()
        })
        .collect()
}

/// An audit event about `r`, with its identifying fields filled in.
pub(super) fn event(
    r: &Request,
    at: DateTime<Utc>,
    kind: EventKind,
    outcome: &str,
    message: impl Into<String>,
) -> AuditEvent {
    with_request(AuditEvent::new(at, kind, outcome, message), r)
}

pub(super) fn with_request(ev: AuditEvent, r: &Request) -> AuditEvent {
    ev.with_request(r.id.to_string())
        .with_action(r.action.as_str())
        .with_resource(r.resource.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::tests::{addr, t0, two_level_request};

    /// Each happening's notices and audit kinds, outcomes and levels: the
    /// table read back.
    #[test]
    fn effects_table() {
        let r = two_level_request();
        let alice = addr("alice@example.test");
        let answered = |transition| Happening::Answered {
            by: &alice,
            level: 1,
            reason: "APPROVE".into(),
            transition,
        };
        type Row<'a> = (
            Happening<'a>,
            Vec<Notice>,
            Vec<(EventKind, &'a str, Option<u8>)>,
        );
        let table: Vec<Row<'_>> = vec![
            (
                Happening::Submitted,
                vec![Notice::Receipt, Notice::AskLevel(1)],
                vec![(EventKind::Submitted, "pending", Some(1))],
            ),
            (
                Happening::Ticked(Tick::Expired),
                vec![Notice::Outcome, Notice::NoLongerNeeded(r.level)],
                vec![(EventKind::Expired, "expired", Some(r.level))],
            ),
            (
                answered(Transition::Recorded { missing: 1 }),
                vec![],
                vec![(EventKind::DecisionAccepted, "accepted", Some(1))],
            ),
            (
                answered(Transition::LevelAdvanced { from: 1, to: 2 }),
                vec![Notice::AskLevel(2), Notice::NoLongerNeeded(1)],
                vec![
                    (EventKind::DecisionAccepted, "accepted", Some(1)),
                    (EventKind::LevelAdvanced, "pending", Some(2)),
                ],
            ),
            (
                answered(Transition::Approved),
                vec![Notice::Outcome, Notice::NoLongerNeeded(1)],
                vec![
                    (EventKind::DecisionAccepted, "accepted", Some(1)),
                    (EventKind::Approved, "approved", Some(1)),
                ],
            ),
            (
                answered(Transition::Rejected { changed: false }),
                vec![Notice::Outcome, Notice::NoLongerNeeded(1)],
                vec![
                    (EventKind::DecisionAccepted, "accepted", Some(1)),
                    (EventKind::Rejected, "rejected", Some(1)),
                ],
            ),
            (
                answered(Transition::Rejected { changed: true }),
                vec![Notice::Outcome, Notice::NoLongerNeeded(1)],
                vec![
                    (EventKind::DecisionAccepted, "changed", Some(1)),
                    (EventKind::Rejected, "rejected", Some(1)),
                ],
            ),
        ];
        for (happening, notices, audit) in table {
            let got = effects(&r, &happening, t0());
            assert_eq!(got.notices, notices, "{happening:?}");
            let kinds: Vec<_> = got
                .audit
                .iter()
                .map(|e| (e.kind, e.outcome.as_str(), e.level))
                .collect();
            assert_eq!(kinds, audit, "{happening:?}");
            for e in &got.audit {
                assert_eq!(e.request.as_deref(), Some(r.id.to_string().as_str()));
                assert_eq!(e.at, t0());
            }
        }
    }
}
