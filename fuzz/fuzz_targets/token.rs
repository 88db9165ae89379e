//! Tokens are copied out of mails by people and clients, so the decoder
//! sees arbitrary text: it must decode or reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let decoded = approvald::entry::decode_token(&text);
    // Tokens are accepted in either case because people retype them in
    // capitals: the case of the text must never change the outcome.
    assert_eq!(
        decoded,
        approvald::entry::decode_token(&text.to_ascii_uppercase()),
        "upper case changed the outcome"
    );
    assert_eq!(
        decoded,
        approvald::entry::decode_token(&text.to_ascii_lowercase()),
        "lower case changed the outcome"
    );
});
