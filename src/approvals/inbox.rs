//! Inbox messages: parsed into facts, recognised when seen before, refused
//! when they cannot be an answer (automated, no token, wrong sender, no
//! clear decision), and otherwise handed to [`decide`](super::decide) as an
//! emailed answer.
//!
//! A batch is made durable with one flush before it is handed back, so the
//! caller may move the messages out of the inbox as soon as it returns.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::decide::{check_origin, Answer, Decided, Origin, Refused, Verified};
use super::explain::{self, why, Explanation};
use super::reading::{read_all, trusted_candidates, Read, Readings};
use super::settings::Settings;
use super::Approvals;
use crate::domain::ids::RequestId;
use crate::domain::sender_rule::SenderFacts;
use crate::domain::token::Token;
use crate::mail::parse::InboundMail;
use crate::records::{AuditEvent, Disposition, EventKind, MessageKey, Seen};
use crate::store::{Change, StoreError};

/// Messages decided in one store transaction. Large enough that the
/// transaction's fixed cost and the counters and audit head every message
/// rewrites are paid once for many; small enough that the writers it keeps
/// waiting (API calls, the outbox recording what it sent, timers) wait a
/// few milliseconds, not the time a whole IMAP batch takes.
const STORE_SLICE: usize = 32;

/// One message as fetched from the inbox; owned, so that a batch can be
/// handed to a blocking thread while the IMAP worker fetches the next one.
pub(crate) struct InboxMessage {
    /// Its IMAP identity.
    pub(crate) key: MessageKey,
    /// The message, or only its header section when it is larger than the
    /// daemon reads.
    pub(crate) raw: Vec<u8>,
    /// Its full size in bytes.
    pub(crate) size: usize,
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

/// A batch as read, waiting to be decided.
pub(crate) struct ReadBatch {
    /// The settings it was read under, and will be decided under.
    settings: Arc<Settings>,
    /// Its messages, in inbox order.
    messages: Vec<InboxMessage>,
    /// What was read in each message, in the order of `messages`.
    reads: Vec<Read>,
}

impl ReadBatch {
    /// The UIDs of its messages, in order.
    pub(crate) fn uids(&self) -> Vec<u32> {
        self.messages.iter().map(|m| m.key.uid).collect()
    }
}

/// A parsed reply, as the origin of an emailed answer.
pub(crate) struct EmailReply<'a> {
    /// Its IMAP identity, remembered with whatever it caused.
    pub(crate) key: MessageKey,
    /// What the message says about itself.
    pub(crate) mail: &'a InboundMail,
    /// Who sent it, as far as the mail proves it.
    pub(crate) sender: SenderFacts,
    /// What the reply grammar read in it.
    pub(crate) readings: &'a Readings,
}

impl EmailReply<'_> {
    /// The memory that this message was handled, and where it belongs.
    pub(super) fn seen(
        &self,
        disposition: Disposition,
        request: Option<RequestId>,
        now: DateTime<Utc>,
    ) -> Seen {
        Seen {
            key: self.key,
            dedup_key: dedup_key(self.mail),
            request,
            disposition,
            at: now,
        }
    }

    /// Who the audit log names as having sent it.
    pub(super) fn actor(&self) -> &str {
        self.mail.from.as_deref().unwrap_or("unknown sender")
    }
}

impl Approvals {
    /// Reads a batch of inbox messages (MIME and reply grammar) on a
    /// blocking thread, spread over the machine's cores: the part of
    /// handling that needs no store, done while the batch before it is
    /// decided.
    pub(crate) async fn read_batch(
        self: &Arc<Self>,
        messages: Vec<InboxMessage>,
    ) -> Result<ReadBatch, StoreError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // One settings snapshot for reading and deciding the batch: a
            // reload in between cannot split it.
            let settings = me.settings.current();
            let reads = read_all(&settings, &messages, me.clock.now());
            ReadBatch {
                settings,
                messages,
                reads,
            }
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))
    }

    /// Reads and decides a batch (see [`Approvals::decide_batch`]).
    #[cfg(test)]
    pub(crate) async fn handle_batch(
        self: &Arc<Self>,
        messages: Vec<InboxMessage>,
    ) -> Result<Vec<Handled>, StoreError> {
        let read = self.read_batch(messages).await?;
        self.decide_batch(read).await
    }

    /// Decides a read batch in order and makes all its effects durable with
    /// one flush before returning (a store transaction per slice of
    /// [`STORE_SLICE`] messages), so the caller may then move the messages
    /// out of the inbox. The results are in the order of the messages. The
    /// decisions are taken on a blocking thread: verifying and committing
    /// is CPU work that would otherwise hold an async worker, and the IMAP
    /// worker fetches, reads and moves meanwhile.
    pub(crate) async fn decide_batch(
        self: &Arc<Self>,
        batch: ReadBatch,
    ) -> Result<Vec<Handled>, StoreError> {
        let me = Arc::clone(self);
        let handled = tokio::task::spawn_blocking(move || {
            let ReadBatch {
                settings: mut s,
                messages,
                mut reads,
            } = batch;
            // A reload since the batch was read (it was read while the one
            // before was decided) applies to it now: a key withdrawn or a
            // sender rule tightened takes effect from the next batch
            // decided, not the one after.
            let current = me.settings.current();
            if !Arc::ptr_eq(&current, &s) {
                reads = read_all(&current, &messages, me.clock.now());
                s = current;
            }
            // One store transaction per slice of the batch: each message
            // is decided against the slice's earlier changes, as it would
            // be alone. Other writers wait while a slice is open, so a
            // slice is kept short (see `STORE_SLICE`).
            let mut handled = Vec::with_capacity(messages.len());
            let mut reads = reads.into_iter();
            for slice in messages.chunks(STORE_SLICE) {
                let read: Vec<Read> = reads.by_ref().take(slice.len()).collect();
                let decided = me.store.batched(|store| {
                    let within = me.over(store.clone());
                    slice
                        .iter()
                        .zip(read)
                        .map(|(m, r)| within.handle_read(&s, m.key, r))
                        .collect::<Result<Vec<_>, _>>()
                })?;
                handled.extend(decided);
            }
            Ok::<_, StoreError>(handled)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))??;
        self.store.flush().await?;
        Ok(handled)
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

    /// Reads and handles one message from the inbox, outside any batch.
    /// The message is `full_size` bytes long; `raw` may be only its header
    /// section when it is larger than the daemon reads.
    #[cfg(test)]
    pub(super) fn handle_fetched(
        &self,
        key: MessageKey,
        raw: &[u8],
        full_size: usize,
    ) -> Result<Handled, StoreError> {
        let s = self.settings.current();
        let read = Read::of(&s, raw, full_size, self.clock.now());
        self.handle_read(&s, key, read)
    }

    /// Handles one message read from the inbox and records its effects
    /// (not yet flushed: [`Approvals::decide_batch`] flushes a batch at
    /// once).
    pub(super) fn handle_read(
        &self,
        s: &Settings,
        key: MessageKey,
        read: Read,
    ) -> Result<Handled, StoreError> {
        let now = self.clock.now();
        let (mail, readings) = match read.mail {
            Ok(m) => m,
            Err(e) => {
                if let Some(seen) = self.store.seen(key, None)? {
                    return Ok(duplicate(seen));
                }
                let ev =
                    AuditEvent::new(now, EventKind::ReplyRefused, "refused", "unusable message")
                        .with_reason(e.to_string());
                self.counters.refused("unusable");
                return self
                    .refuse_message(s, key, None, ev, None, now)
                    .map(|()| rejected());
            }
        };
        if let Some(seen) = self.store.seen(key, dedup_key(&mail).as_deref())? {
            if seen.key != key {
                return self.redelivered(key, &mail, seen, now);
            }
            return Ok(duplicate(seen));
        }
        if let Some(auto) = &mail.automated {
            let ev = AuditEvent::new(
                now,
                EventKind::ReplyIgnored,
                "ignored",
                "automated message ignored",
            )
            .with_actor(mail.from.clone().unwrap_or_else(|| "unknown sender".into()))
            .with_reason(format!("automated message: {auto}"));
            self.counters.refused("automated");
            // Never answered: answering machines is how mail loops start.
            return self
                .refuse_message(s, key, Some(&mail), ev, None, now)
                .map(|()| rejected());
        }
        let authentication = s
            .inbound
            .sender_rule
            .authserv_id()
            .map(|id| mail.sender_authentication(id));
        let reply = EmailReply {
            key,
            mail: &mail,
            readings: &readings,
            sender: SenderFacts {
                from: mail.from.as_deref().and_then(|f| f.parse().ok()),
                authenticated: authentication.as_ref().is_some_and(Result::is_ok),
                unauthenticated_because: authentication.and_then(Result::err),
            },
        };
        let origin = Origin::Email(&reply);
        // A store error is not the sender's fault: it leaves the message in
        // the inbox (the batch fails) to be handled once the store is back.
        let decided = match self.read_answer(s, &reply, &origin, now)? {
            Ok((answer, verified)) => self.decide_verified(s, &answer, &origin, verified, now)?,
            Err(refused) => self.refuse(s, &origin, refused, now)?,
        };
        Ok(Handled {
            disposition: match decided {
                Decided::Applied(_) | Decided::Revoked => Disposition::Processed,
                Decided::Refused => Disposition::Rejected,
            },
            duplicate: false,
        })
    }

    /// The answer a reply carries: its token, then (in the order refusals
    /// are explained) the sender, the text, and the decision in it. Comes
    /// with the token's verification, which deciding reuses.
    fn read_answer(
        &self,
        s: &Settings,
        reply: &EmailReply<'_>,
        origin: &Origin<'_>,
        now: DateTime<Utc>,
    ) -> Result<Result<(Answer, Verified), Refused>, StoreError> {
        let (token, verified) = match self.find_token(s, reply, now)? {
            Ok(found) => found,
            Err(why) => return Ok(Err(Refused::new(None, why))),
        };
        if let Err(refused) = check_origin(s, origin, &verified) {
            return Ok(Err(refused));
        }
        // The read-ahead skips the grammar when no token passed the
        // keyring's check at that moment; the token verified now (the
        // clock stepped back since), so the text is read now. The skip
        // saves work and never changes an outcome.
        let late;
        let readings = match reply.readings.text {
            Some(_) => reply.readings,
            None => {
                late = Readings::read(reply.mail);
                &late
            }
        };
        let reading = match (&reply.mail.text, &readings.text) {
            (Ok(_), Some(reading)) => reading,
            (Err(e), _) => {
                let reason = format!("unreadable body: {e}");
                return Ok(Err(Refused::told(&verified, reason, why::UNREADABLE)));
            }
            (Ok(_), None) => {
                let reason = "the body was not read".to_string();
                return Ok(Err(Refused::told(&verified, reason, why::UNREADABLE)));
            }
        };
        let decision = match reading.clone() {
            Ok(d) => d,
            Err(refusal) => {
                return Ok(Err(Refused::told(
                    &verified,
                    refusal.explain(),
                    why::NO_DECISION,
                )))
            }
        };
        // The HTML part beside the text: a reader sees one or the other,
        // so both must say the same, or nothing is decided.
        if reply.mail.alternative_text.is_some() {
            let agrees = readings.alternative.as_ref().is_some_and(|a| {
                a.as_ref()
                    .is_ok_and(|d| d.verb == decision.verb && d.window == decision.window)
            });
            if !agrees {
                return Ok(Err(Refused::told(
                    &verified,
                    "the text and the HTML part of the reply do not say the same".into(),
                    why::NO_DECISION,
                )));
            }
        }
        Ok(Ok((
            Answer {
                token,
                verb: decision.verb,
                window: decision.window,
                comment: decision.comment,
            },
            verified,
        )))
    }

    /// Finds the token that authorises the reply: the first candidate that
    /// verifies, preferring one issued to the sender (a reply-all can carry
    /// another approver's plus-address first). `Ok(Err(why))` when none does.
    fn find_token(
        &self,
        s: &Settings,
        reply: &EmailReply<'_>,
        now: DateTime<Utc>,
    ) -> Result<Result<(Token, Verified), String>, StoreError> {
        let mut last_error =
            String::from("no approval token found (plus-address, subject or quoted footer)");
        let mut found = None;
        for candidate in trusted_candidates(s, reply.mail) {
            let token = match Token::parse(candidate) {
                Ok(t) => t,
                Err(e) => {
                    last_error = format!("malformed token: {e}");
                    continue;
                }
            };
            match self.verify_token(s, &token, now)? {
                Ok(v) if reply.sender.from.as_ref() == Some(&v.approver) => {
                    return Ok(Ok((token, v)));
                }
                Ok(v) => found = found.or(Some((token, v))),
                Err(why) => last_error = why,
            }
        }
        Ok(found.ok_or(last_error))
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
                dedup_key: None,
                request: first.request,
                disposition: first.disposition,
                at: now,
            }),
            ..Change::nothing(())
        })?;
        Ok(duplicate(first))
    }

    /// Records a refused or ignored message: its audit event, the memory
    /// that it was handled (so it is never looked at again) and, when given
    /// (and the caps were checked), an explanation to the approver.
    pub(super) fn refuse_message(
        &self,
        s: &Settings,
        key: MessageKey,
        mail: Option<&InboundMail>,
        ev: AuditEvent,
        tell: Option<Explanation>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        tracing::info!(
            uid = key.uid,
            reason = ev.reason.as_deref().unwrap_or(""),
            "message refused"
        );
        let message_id = mail.and_then(|m| m.message_id.clone());
        let dedup = mail.and_then(dedup_key);
        let request = ev
            .request
            .as_deref()
            .and_then(|r| r.parse::<RequestId>().ok());
        let composed = tell.and_then(|x| explain::compose(s, message_id.as_deref(), &x, now));
        self.store.commit(None, |_| Change {
            audit: vec![ev.clone()],
            seen: Some(Seen {
                key,
                dedup_key: dedup.clone(),
                request,
                disposition: Disposition::Rejected,
                at: now,
            }),
            explained: composed.as_ref().map(|(_, x)| x.clone()),
            mails: composed.iter().map(|(m, _)| m.clone()).collect(),
            ..Change::nothing(())
        })
    }
}

/// What makes a message the same message wherever it turns up: its
/// Message-ID, its From and the tokens it carries, hashed. A Message-ID
/// alone is chosen by the sender, so a mail that used one first could
/// otherwise make a later genuine reply carrying it look handled.
pub(crate) fn dedup_key(mail: &InboundMail) -> Option<String> {
    let mid = mail.message_id.as_deref()?;
    let mut h = Sha256::new();
    for part in [mid, mail.from.as_deref().unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for token in &mail.token_candidates {
        h.update(token.as_bytes());
        h.update([0]);
    }
    Some(data_encoding::HEXLOWER.encode(&h.finalize()))
}

fn duplicate(seen: Seen) -> Handled {
    Handled {
        disposition: seen.disposition,
        duplicate: true,
    }
}

fn rejected() -> Handled {
    Handled {
        disposition: Disposition::Rejected,
        duplicate: false,
    }
}
