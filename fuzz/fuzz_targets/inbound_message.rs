//! Anyone can send mail to the approvals inbox, so the inbound parser sees
//! arbitrary bytes: it must return a parsed message or an error, never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The daemon's default message size limit: the full-parse path.
const MAX_FULL: usize = 1 << 20;
/// A small limit, as a tight configuration would set: inputs above it take
/// the header-only path.
const MAX_SMALL: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // Results are irrelevant here; only a panic or a hang is a failure.
    let _ = approvald::entry::parse_message(data, MAX_FULL);
    let _ = approvald::entry::parse_message(data, MAX_SMALL);
    // One byte under the input's size: every input, however small, also
    // takes the header-only path that oversized mail takes.
    let _ = approvald::entry::parse_message(data, data.len().saturating_sub(1));
});
