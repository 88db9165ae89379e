//! End-to-end tests: the approvald binary against a real mail stack
//! (Postfix delivering into Dovecot over LMTP, both on 127.0.0.1).
//!
//! `scripts/test` starts the stack and exports its ports; to run these tests
//! by hand, `scripts/mail-stack start DIR`, then `source DIR/env`, then
//! `cargo test --test e2e`. Without a stack, the tests that need one return
//! at once and a note on stderr says they were skipped
//! ([`support::stack::skip_without_stack`]); `scripts/test` sets
//! `APPROVALD_E2E_REQUIRED=1`, which makes them fail instead.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the helpers panic with a message that says what \
              was expected and what was seen instead. Indexing JSON answers \
              (`body[\"id\"]`) is the clearest way to write an assertion"
)]
// The tests drive a real daemon and real servers, on real time: dates in
// mails and windows in requests come from the wall clock.
#![expect(
    clippy::disallowed_methods,
    reason = "end-to-end tests run against the real clock"
)]

mod audit;
mod audit_trail;
mod backup;
mod cli;
mod fail_closed;
mod flow;
mod health;
mod pages;
mod reload;
mod replies;
mod resilience;
mod stack;
mod support;
mod workflow;
