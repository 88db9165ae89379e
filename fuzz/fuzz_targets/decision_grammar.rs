//! The decision grammar's promises, on arbitrary text: no spelling trick
//! changes what a reply decides, and no negation in front of an approval
//! above it leaves it an approval.
#![no_main]

use approvald::entry::parse_reply_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let decided = parse_reply_text(&text).ok();

    // Invisible characters are removed before reading: hiding one anywhere
    // (at a character boundary) never changes the outcome.
    for hidden in [
        '\u{200b}', '\u{202e}', '\u{feff}', '\u{2066}', '\u{ad}', '\u{fe0f}', '\u{61c}',
    ] {
        // Any boundary but inside a CRLF, which would make two line ends.
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .filter(|&i| !(text[..i].ends_with('\r') && text[i..].starts_with('\n')))
            .collect();
        let pick = data.first().map_or(0, |b| usize::from(*b)) % boundaries.len();
        let at = boundaries[pick];
        let mut spiked = text.to_string();
        spiked.insert(at, hidden);
        assert_eq!(
            parse_reply_text(&spiked).ok(),
            decided,
            "{hidden:?} at {at} changed the decision of {text:?}"
        );
    }

    // "not" typed as a first line above an approval is never an approval.
    if decided == Some("APPROVE") {
        let negated = format!("not\n{text}");
        assert_ne!(
            parse_reply_text(&negated).ok(),
            Some("APPROVE"),
            "{negated:?} approves"
        );
    }
});
