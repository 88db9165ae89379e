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
}
