//! Reading inbox messages: what the mail parser and the reply grammar make
//! of a message, without the store. Deciding needs the store and happens in
//! order; reading does not, so a batch is read on every core first.

use chrono::{DateTime, Utc};

use super::inbox::InboxMessage;
use super::settings::Settings;
use crate::domain::reply::{self, ReplyDecision, ReplyRefusal};
use crate::domain::token::Token;
use crate::mail::parse::{parse_inbound_of_size, InboundMail, ParseError};

/// What the reply grammar reads in a message's text part and, when there
/// is one beside it, its HTML part. Read once, with the message.
pub(crate) struct Readings {
    /// The text part's decision; `None` when the body could not be read.
    pub(super) text: Option<Result<ReplyDecision, ReplyRefusal>>,
    /// The HTML part's, when the message has both.
    pub(super) alternative: Option<Result<ReplyDecision, ReplyRefusal>>,
}

impl Readings {
    fn of(s: &Settings, mail: &InboundMail, now: DateTime<Utc>) -> Readings {
        // Read only what may be an answer: the grammar runs only for a
        // message carrying a token that passes the keyring's own check
        // (well formed, a key it holds, not expired: the same candidates,
        // keyring and check that deciding applies first). Any other
        // message is refused before its text matters. The signature itself
        // binds the request's nonce and is checked when deciding, with the
        // store; a token forged to pass this check still costs a reading
        // (the grammar is fuzzed and property-tested not to panic).
        let signed = trusted_candidates(s, mail)
            .iter()
            .any(|c| Token::parse(c).is_ok_and(|t| s.keyring.check(&t, now).is_ok()));
        if !signed {
            return Readings {
                text: None,
                alternative: None,
            };
        }
        Readings::read(mail)
    }

    /// What the grammar reads in `mail`, unconditionally.
    pub(super) fn read(mail: &InboundMail) -> Readings {
        Readings {
            text: mail.text.as_deref().ok().map(reply::parse_reply),
            alternative: mail.alternative_text.as_deref().map(reply::parse_reply),
        }
    }
}

/// The token-shaped strings of `mail` that may authorise it. Under a rule
/// that trusts signatures, only those the signature covers: an envelope
/// header is written in transit, by anyone.
pub(super) fn trusted_candidates<'a>(s: &Settings, mail: &'a InboundMail) -> &'a [String] {
    if s.inbound.sender_rule.authserv_id().is_some() {
        &mail.signed_token_candidates
    } else {
        &mail.token_candidates
    }
}

/// A message as read without the store, on any thread: what the mail
/// parser and the reply grammar make of it. Deciding needs the store and
/// happens in order; reading does not, so a batch is read in parallel.
pub(crate) struct Read {
    pub(super) mail: Result<(InboundMail, Readings), ParseError>,
}

impl Read {
    /// Reads a message of `full_size` bytes (`raw` may be only its header
    /// section when it is larger than the daemon reads).
    /// `now` is when the tokens' expiry is checked. Deciding checks again
    /// and is the one that counts: a token read as valid may be refused
    /// then, and a message not read here whose token verifies then (the
    /// clock stepped back) is read then.
    pub(crate) fn of(s: &Settings, raw: &[u8], full_size: usize, now: DateTime<Utc>) -> Read {
        let mail =
            parse_inbound_of_size(raw, full_size, &s.inbound.inbox, s.inbound.max_message_size)
                .map(|m| {
                    let readings = Readings::of(s, &m, now);
                    (m, readings)
                });
        Read { mail }
    }
}

/// Reads every message of a batch, spread over the machine's cores.
pub(super) fn read_all(s: &Settings, messages: &[InboxMessage], now: DateTime<Utc>) -> Vec<Read> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4);
    let per_thread = messages.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = messages
            .chunks(per_thread)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|m| Read::of(s, &m.raw, m.size, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            // A panic while reading is the batch's, as it would be on this
            // thread: the batch fails and its messages stay in the inbox.
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
