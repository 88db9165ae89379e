//! The mail wire contract: the pieces approvald writes into every approval
//! request and looks for again in the replies.
//!
//! An approval request carries its reply token in three places, because mail
//! clients damage each of them in their own way: the reply address
//! (`local+TOKEN@domain`), a Subject tag (`[ref:TOKEN]`) and the footer line
//! (`Approval token: TOKEN`). Its body opens with the marker line the
//! approver types the answer above. The composer writes these pieces, the
//! inbound parser and the reply reader find them; both sides take them from
//! here so that they cannot drift apart.
//!
//! Replies to mails sent before a change still carry the old pieces: changing
//! any of them strands every approval request in flight.
//!
//! Readers are lenient (case, spacing, quoting); that leniency belongs to
//! them. This module only says what is written.

/// The words of the marker line, for [`REPLY_MARKER`] and [`REPLY_MARKER_WORDS`].
macro_rules! marker_words {
    () => {
        "Please type your reply above this line"
    };
}

/// The label of the footer line, for [`TOKEN_LABEL`] and [`TOKEN_LINE_PREFIX`].
macro_rules! token_label {
    () => {
        "Approval token"
    };
}

/// First line of every approval request. The reply reader cuts the reply at
/// this line, so the approver's answer must be above it.
pub(crate) const REPLY_MARKER: &str = concat!("##- ", marker_words!(), " -##");

/// The words of [`REPLY_MARKER`] without its decoration: what readers look
/// for, in any case, since clients quote and re-decorate the line.
pub(crate) const REPLY_MARKER_WORDS: &str = marker_words!();

/// The label of the footer line carrying the token; readers accept it in any
/// case and with any spacing between its words.
pub(crate) const TOKEN_LABEL: &str = token_label!();

/// Start of the footer line carrying the approval token; the token follows.
pub(crate) const TOKEN_LINE_PREFIX: &str = concat!(token_label!(), ": ");

/// Opening of the Subject tag carrying the token; the token and
/// [`SUBJECT_TAG_CLOSE`] follow.
pub(crate) const SUBJECT_TAG_OPEN: &str = "[ref:";

/// End of the Subject tag carrying the token.
pub(crate) const SUBJECT_TAG_CLOSE: char = ']';

/// Separates the approvals address's local part from the token in the reply
/// address (the recipient delimiter of plus-addressing). The configured
/// address itself therefore never contains it.
pub(crate) const PLUS_DELIMITER: char = '+';

/// The Subject tag carrying `token`: `[ref:TOKEN]`.
pub(crate) fn subject_tag(token: &str) -> String {
    format!("{SUBJECT_TAG_OPEN}{token}{SUBJECT_TAG_CLOSE}")
}

/// The footer line carrying `token`: `Approval token: TOKEN`.
pub(crate) fn token_line(token: &str) -> String {
    format!("{TOKEN_LINE_PREFIX}{token}")
}

/// The local part of the reply address carrying `token`: `local+TOKEN`.
pub(crate) fn plus_local_part(local: &str, token: &str) -> String {
    format!("{local}{PLUS_DELIMITER}{token}")
}

/// Stands in for the colon of a token tag or label inside text approvald
/// did not write (RATIO, U+2236): it reads the same to a person, and no
/// reader takes what follows for a token.
const DEFUSED_COLON: char = '\u{2236}';

/// `text` from a requester or an approver, made safe to show in a mail:
/// every `[ref:` tag opening and every colon after the word `token` (as in
/// the footer label, in any case and spacing) gets [`DEFUSED_COLON`], so a
/// token-like string inside it is never taken for the mail's own token.
pub(crate) fn defuse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lower = text.to_ascii_lowercase();
    let open = SUBJECT_TAG_OPEN.trim_end_matches(':');
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
        let rest = lower.get(i..).unwrap_or("");
        let colon_follows = |word: &str| {
            rest.starts_with(word).then(|| {
                let after = &rest[word.len()..];
                let spaces = after.len() - after.trim_start().len();
                after[spaces..]
                    .starts_with(':')
                    .then_some(word.len() + spaces)
            })?
        };
        if let Some(skip) = colon_follows(open).or_else(|| colon_follows("token")) {
            out.push_str(text.get(i..i + skip).unwrap_or(""));
            out.push(DEFUSED_COLON);
            i += skip + 1;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_spelt_as_mails_already_sent_spell_them() {
        let cases = [
            (
                "marker",
                REPLY_MARKER.to_string(),
                "##- Please type your reply above this line -##",
            ),
            ("subject tag", subject_tag("abc"), "[ref:abc]"),
            ("footer line", token_line("abc"), "Approval token: abc"),
            (
                "plus local part",
                plus_local_part("approvals", "abc"),
                "approvals+abc",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name}");
        }
        assert!(REPLY_MARKER.contains(REPLY_MARKER_WORDS));
        assert!(TOKEN_LINE_PREFIX.starts_with(TOKEN_LABEL));
    }

    #[test]
    fn defused_text_carries_no_token_tag_or_label() {
        let cases = [
            ("[ref:abc]", "[ref\u{2236}abc]"),
            ("[REF: abc]", "[REF\u{2236} abc]"),
            ("Approval token: abc", "Approval token\u{2236} abc"),
            (
                "approval   TOKEN   : abc",
                "approval   TOKEN   \u{2236} abc",
            ),
            ("tokens: fine? token", "tokens: fine? token"),
            ("no tags here: ok", "no tags here: ok"),
            ("émoji ☃ [ref:x", "émoji ☃ [ref\u{2236}x"),
        ];
        for (input, want) in cases {
            assert_eq!(defuse(input), want, "{input:?}");
        }
    }
}
