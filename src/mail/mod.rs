//! Mail adapters: composing and sending (outbound), reading the inbox
//! (inbound) and turning raw messages into facts (parse).

pub(crate) mod compose;
pub(crate) mod inbound;

pub(crate) mod outbound;
pub(crate) mod parse;
pub(crate) mod templates;
pub(crate) mod tls;

#[cfg(test)]
mod wire_tests;
