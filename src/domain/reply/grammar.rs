//! The decision line: an allow-list grammar, not a list of known negations.
//!
//! The decision is read from the first line the approver typed, and only
//! from there. That line must be, in order:
//!
//! 1. optionally, lead-in words from [`LEAD_INS`] ("yes", "ok"), or a
//!    greeting from [`GREETINGS`] with at most two name words and a comma
//!    ("Hi Bob, APPROVE");
//! 2. the decision word, whole: APPROVE / APPROVED, or DISAPPROVE /
//!    DISAPPROVED / REJECT / REJECTED / DENY / DENIED;
//! 3. optionally a window (`2h`, `until 18:00`, read by `window_change`);
//! 4. optionally a comment, after punctuation or at the end of the line.
//!
//! Any other word before the decision word refuses the line, whatever it
//! is: a negation spelt in a way no list knows cannot slip through. A
//! question mark right after the word, or a comment that opens by negating
//! or deferring it ("APPROVE - not yet", "approved, but wait"), refuses it
//! too.

use super::decision_line::{classify, verb_of, LineVerdict};
use super::words::{words, Word};
use super::{refusal, ReplyRefusal, Verb};

/// Words that may stand before the decision word: assent, nothing more.
pub(super) const LEAD_INS: &[&str] = &["yes", "ok", "okay", "yep", "sure", "hereby"];

/// Greetings that may open the decision line, followed by at most
/// [`MAX_NAME_WORDS`] words of a name and a comma: "Hi Bob, APPROVE".
pub(super) const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hallo", "olá", "ola", "bonjour", "hola",
];

/// Most words of a name after a greeting.
const MAX_NAME_WORDS: usize = 2;

/// Words that, among the first [`AFTER_WORDS`] words after the decision word
/// (and its window), negate, defer, condition or question it. In English and
/// the other languages approvers write in.
pub(super) const REFUSING_AFTER: &[&str] = &[
    // negation
    "no",
    "not",
    "nope",
    "nah",
    "never",
    "don't",
    "dont",
    "doesn't",
    "isn't",
    "won't",
    "wont",
    "can't",
    "cant",
    "cannot",
    "nicht",
    "kein",
    "keine",
    "nein",
    "não",
    "nao",
    "pas",
    "non",
    "jamais",
    "nunca",
    "nada",
    "ni",
    // deferral and condition
    "yet",
    "later",
    "wait",
    "hold",
    "pending",
    "tomorrow",
    "soon",
    "first",
    "but",
    "unless",
    "if",
    "after",
    "once",
    "when",
    "until",
    "till",
    "maybe",
    "perhaps",
    "pls",
    "please",
    "conditionally",
    "provided",
    "noch",
    "später",
    "spaeter",
    "erst",
    "wenn",
    "aber",
    "depois",
    "ainda",
    "mas",
    "se",
    "plus",
    "encore",
    "après",
    "apres",
    "mais",
    "después",
    "despues",
    "todavía",
    "todavia",
    "pero",
    "luego",
];

/// How many words after the decision word are checked against
/// [`REFUSING_AFTER`]: a refusal comes first ("approve - not yet"), a comment
/// that mentions a condition later is still a comment.
const AFTER_WORDS: usize = 3;

/// Reads the first line the approver typed: the decision and the byte
/// offset just after its word (where the window and comment start).
pub(super) fn decision_of(line: &str) -> Result<(Verb, usize), ReplyRefusal> {
    let ws = words(line);
    // Not a decision: said so precisely when the line negates one, for
    // the audit log; either way nothing is decided.
    let not_a_decision = || {
        if classify(line, true) == LineVerdict::Negated {
            ReplyRefusal::NegatedVerb
        } else {
            refusal::not_a_verb(line)
        }
    };
    let Some(at) = ws.iter().position(|w| verb_of(&w.norm).is_some()) else {
        return Err(not_a_decision());
    };
    if !lead_in_allowed(&ws, at) {
        return Err(not_a_decision());
    }
    let (Some(word), Some(verb)) = (ws.get(at), ws.get(at).and_then(|w| verb_of(&w.norm))) else {
        return Err(not_a_decision());
    };
    if word.punct_after == Some('?') {
        return Err(refusal::not_a_verb(line));
    }
    // "APPROVE or DISAPPROVE", "approve/reject": no decision.
    let later = ws.get(at + 1..).unwrap_or_default();
    if later
        .iter()
        .any(|w| verb_of(&w.norm).is_some_and(|v| v != verb))
    {
        return Err(ReplyRefusal::TwoVerbs);
    }
    Ok((verb, word.end))
}

/// Whether the words before the decision word (`ws[..at]`) are allowed.
fn lead_in_allowed(ws: &[Word<'_>], at: usize) -> bool {
    let mut i = 0;
    while i < at {
        let Some(w) = ws.get(i) else {
            return false;
        };
        if LEAD_INS.contains(&w.norm.as_str()) {
            i += 1;
            continue;
        }
        if GREETINGS.contains(&w.norm.as_str()) {
            // The greeting, up to two name words, then a comma before the
            // next word: the next allowed word starts after that break.
            let next = (i + 1..=(i + 1 + MAX_NAME_WORDS).min(at))
                .find(|&k| ws.get(k).is_some_and(|w| w.break_before));
            // A name, not a negation dressed as one ("Hey don't, approve").
            let names_plain = |k: usize| {
                ws.get(i + 1..k)
                    .unwrap_or_default()
                    .iter()
                    .all(|w| !REFUSING_AFTER.contains(&w.norm.as_str()) && !w.norm.ends_with("n't"))
            };
            match next {
                Some(k) if names_plain(k) => {
                    i = k;
                    continue;
                }
                _ => return false,
            }
        }
        return false;
    }
    true
}

/// Whether what follows the decision word and its window (`rest`) negates,
/// defers or questions it instead of commenting on it.
pub(super) fn refuses_after(rest: &str) -> bool {
    if rest.trim_start().starts_with('?') {
        return true;
    }
    words(rest)
        .iter()
        .take(AFTER_WORDS)
        .any(|w| REFUSING_AFTER.contains(&w.norm.as_str()) || w.norm.ends_with("n't"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_line_table() {
        // (line, Some(verb) when it decides)
        let cases: &[(&str, Option<Verb>)] = &[
            ("APPROVE", Some(Verb::Approve)),
            ("approved", Some(Verb::Approve)),
            ("Yes, approve", Some(Verb::Approve)),
            ("OK APPROVE 2h", Some(Verb::Approve)),
            ("Hi Bob, APPROVE", Some(Verb::Approve)),
            ("Hello Anna Maria, approved.", Some(Verb::Approve)),
            ("DISAPPROVE not during the freeze", Some(Verb::Disapprove)),
            ("Reject", Some(Verb::Disapprove)),
            ("I approve", None),
            ("do not approve", None),
            ("don’t approve", None),
            ("dont aprove", None),
            ("please approve", None),
            ("Hi Bob Alice Carol, approve", None),
            ("Hi Bob approve", None),
            ("Hey don't, approve", None),
            ("Dear no, approve", None),
            ("Approve?", None),
            ("approve? no", None),
            ("APPROVE or DISAPPROVE", None),
            ("approve/reject", None),
            ("we talked about who should approve", None),
            ("Not now.", None),
        ];
        for (line, want) in cases {
            let got = decision_of(line).ok().map(|(v, _)| v);
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn what_follows_the_word_table() {
        let cases: &[(&str, bool)] = &[
            ("", false),
            (" - looks good", false),
            (", thanks", false),
            (" - not yet", true),
            (", not now", true),
            ("? no", true),
            (" but wait for Bob", true),
            (" later", true),
            (" tomorrow", true),
            (" - won't be needed", true),
            (" - can’t hurt", true),
            (" - noch nicht", true),
            (" pas encore", true),
            (" - thanks, and do not forget to rotate the key", false),
        ];
        for (rest, refused) in cases {
            assert_eq!(refuses_after(rest), *refused, "{rest:?}");
        }
    }
}
