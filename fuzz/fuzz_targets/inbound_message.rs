//! Anyone can send mail to the approvals inbox, so the inbound parser sees
//! arbitrary bytes: it must return a parsed message or an error, never
//! panic.
#![no_main]

use std::collections::HashSet;
use std::panic::{self, PanicHookInfo};
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

/// The daemon's default message size limit: the full-parse path.
const MAX_FULL: usize = 1 << 20;
/// A small limit, as a tight configuration would set: inputs above it take
/// the header-only path.
const MAX_SMALL: usize = 4096;

fuzz_target!(init: tolerate_contained_mime_parser_panics(), |data: &[u8]| {
    // Results are irrelevant here; only a panic or a hang is a failure.
    let _ = approvald::entry::parse_message(data, MAX_FULL);
    let _ = approvald::entry::parse_message(data, MAX_SMALL);
    // One byte under the input's size: every input, however small, also
    // takes the header-only path that oversized mail takes.
    let _ = approvald::entry::parse_message(data, data.len().saturating_sub(1));
});

/// mail-parser has debug assertions that hostile MIME structure can reach
/// (fuzz builds enable debug assertions), and approvald runs it under
/// `catch_unwind` so that such a panic costs one message, not the daemon.
/// libFuzzer's panic hook aborts on every panic, caught or not; this hook
/// lets panics raised inside mail-parser unwind to approvald's
/// `catch_unwind` and reports each distinct one once. A panic that nothing
/// catches still aborts: libfuzzer-sys aborts when a panic reaches the
/// fuzz target's frame.
fn tolerate_contained_mime_parser_panics() {
    let abort = panic::take_hook();
    let reported: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        let Some(location) = info.location().filter(|l| l.file().contains("mail-parser")) else {
            abort(info);
            return;
        };
        let place = location.to_string();
        let first = reported
            .lock()
            .map(|mut seen| seen.insert(place.clone()))
            .unwrap_or(false);
        if first {
            eprintln!("contained mail-parser panic (reported once per place): {info}");
        }
    }));
}
