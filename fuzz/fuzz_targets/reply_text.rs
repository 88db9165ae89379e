//! Reply texts are typed by people and mangled by mail clients, so the
//! reply parser sees arbitrary Unicode: it must return a decision or a
//! refusal, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lossy rather than skipping invalid UTF-8: every mutation still reaches
    // the parser, and valid inputs pass through unchanged.
    let text = String::from_utf8_lossy(data);
    match approvald::entry::parse_reply_text(&text) {
        // Only the two verbs exist; anything else means a decision was
        // made up from text that is not one.
        Ok(verb) => assert!(
            matches!(verb, "APPROVE" | "DISAPPROVE"),
            "unknown verb {verb:?}"
        ),
        // The refusal is mailed back to the approver: an empty one would
        // leave them guessing.
        Err(reason) => assert!(!reason.trim().is_empty(), "empty refusal"),
    }
});
