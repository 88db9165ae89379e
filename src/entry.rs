//! Public entry points into the pure parsers, for benchmarks and fuzz
//! targets. They return summaries, not internal types, so the internals stay
//! free to change.

use crate::domain::reply;
use crate::domain::token::Token;
use crate::mail::parse::{parse_inbound, InboxAddress};

/// Reads a reply text; `Ok(verb)` or `Err(reason)`.
pub fn parse_reply_text(text: &str) -> Result<&'static str, String> {
    reply::parse_reply(text)
        .map(|d| d.verb.as_str())
        .map_err(|r| r.explain())
}

/// Parses a raw message as the inbox worker would; returns how many token
/// candidates it found, or the parse error.
pub fn parse_message(raw: &[u8], max_size: usize) -> Result<usize, String> {
    let inbox = InboxAddress::new("approvals@example.test").map_err(|e| e.to_string())?;
    parse_inbound(raw, &inbox, max_size)
        .map(|m| m.token_candidates.len())
        .map_err(|e| e.to_string())
}

/// Decodes a token's text form without verifying it.
pub fn decode_token(text: &str) -> Result<u64, String> {
    Token::parse(text)
        .map(|t| t.claims().request)
        .map_err(|e| e.to_string())
}
