//! Whether one line of new text carries a decision, and which.
//!
//! A line carries a decision when a decision word comes within a short lead-in at its
//! start ("APPROVE", "Yes, approve", "I DISAPPROVE"). Negations ("not approved",
//! "don't approve"), hedges ("should I approve", "please approve") and questions
//! ("Approve?") never count as a decision. The first meaningful line is read more
//! strictly: any mix of both decisions, or any negated decision word anywhere in it,
//! refuses the reply.

use super::words::{words, Word};
use super::Verb;

/// Most words allowed before the decision word; further in, the word is part of a
/// sentence about something else ("we talked about who should approve").
const MAX_LEAD_IN: usize = 4;

/// Words before a decision word (within its clause) that negate it.
const NEGATORS: &[&str] = &[
    "not",
    "don't",
    "dont",
    "do't",
    "cannot",
    "can't",
    "cant",
    "won't",
    "wont",
    "wouldn't",
    "shouldn't",
    "couldn't",
    "didn't",
    "doesn't",
    "isn't",
    "wasn't",
    "aren't",
    "weren't",
    "haven't",
    "hasn't",
    "hadn't",
    "mustn't",
    "never",
    "no",
    "nope",
    "nah",
    "neither",
    "nor",
    "refuse",
    "unable",
    "não",
    "nao",
    "nicht",
    "kein",
    "keine",
    "pas",
    "non",
    "nunca",
    "jamais",
    "nein",
];

/// Words after "no" that make it an assent ("no problem, approved"), not a negation.
const NO_ASSENT: &[&str] = &[
    "problem",
    "problems",
    "worries",
    "worry",
    "objection",
    "objections",
    "issue",
    "issues",
    "concerns",
];

/// Lead-in words that make a decision word hypothetical, conditional, a request to
/// someone else or a question rather than a decision.
const HEDGES: &[&str] = &[
    "if", "whether", "should", "shall", "would", "could", "might", "may", "can", "will", "who",
    "whom", "whose", "which", "what", "when", "why", "how", "once", "after", "before", "unless",
    "until", "till", "please", "pls", "plz", "i'll", "we'll", "you'll", "i'd", "we'd", "you'd",
    "let", "let's", "gonna", "wanna", "maybe", "perhaps",
];

/// Stems of decision words in other languages and English near-synonyms: not
/// decisions, but negated they mean a refusal and are reported as such.
const OTHER_STEMS: &[&str] = &[
    "aprov",
    "aprob",
    "genehmig",
    "freigeb",
    "freigeg",
    "approuv",
    "autoriz",
    "autoris",
    "authoriz",
    "authoris",
    "akzeptier",
    "aceit",
    "acept",
    "accept",
    "allow",
    "grant",
];

/// What one line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineVerdict {
    /// No decision on this line.
    Nothing,
    /// A decision; `end` is the byte offset just after the decision word, where the
    /// window and comment start.
    Verb { verb: Verb, end: usize },
    /// A negated decision word.
    Negated,
    /// Both decisions at once ("APPROVE or DISAPPROVE").
    Both,
}

/// The decision a word stands for, if it is one of the accepted English words.
pub(super) fn verb_of(norm: &str) -> Option<Verb> {
    match norm {
        "approve" | "approved" => Some(Verb::Approve),
        "disapprove" | "disapproved" | "reject" | "rejected" | "deny" | "denied" => {
            Some(Verb::Disapprove)
        }
        "revoke" | "revoked" => Some(Verb::Revoke),
        _ => None,
    }
}

/// Whether `words[index]` is a negator in its context.
fn is_negator(words: &[Word<'_>], index: usize) -> bool {
    let Some(word) = words.get(index) else {
        return false;
    };
    if !NEGATORS.contains(&word.norm.as_str()) {
        return false;
    }
    if word.norm == "no" {
        let next = words
            .get(index + 1)
            .map(|w| w.norm.as_str())
            .unwrap_or_default();
        return !NO_ASSENT.contains(&next);
    }
    true
}

/// Whether a negator precedes `words[index]` within its clause (up to three words).
fn negated_in_clause(words: &[Word<'_>], index: usize) -> bool {
    let mut k = index;
    for _ in 0..3 {
        let breaks = words.get(k).is_none_or(|w| w.break_before);
        if breaks || k == 0 {
            return false;
        }
        k -= 1;
        if is_negator(words, k) {
            return true;
        }
    }
    false
}

/// Whether the clause that starts at `words[index]` ends with a question mark.
fn is_question(words: &[Word<'_>], index: usize) -> bool {
    words.iter().skip(index).find_map(|w| w.punct_after) == Some('?')
}

/// One decision word found in a line.
struct Occurrence {
    /// Position among the line's words, to measure the lead-in.
    index: usize,
    /// The decision the word stands for.
    verb: Verb,
    /// Whether a negator sits in the same clause just before it.
    negated: bool,
}

/// Reads one line. `first` is true for the first meaningful line of the reply, which
/// is also refused when it mixes decisions or negates one anywhere in it.
pub(super) fn classify(line: &str, first: bool) -> LineVerdict {
    let words = words(line);
    let occurrences: Vec<Occurrence> = words
        .iter()
        .enumerate()
        .filter_map(|(index, w)| {
            verb_of(&w.norm).map(|verb| Occurrence {
                index,
                verb,
                negated: negated_in_clause(&words, index),
            })
        })
        .collect();
    let plain = |verb: Verb| occurrences.iter().any(|o| o.verb == verb && !o.negated);
    // Any other decision word, un-negated, on the same line.
    let plain_other = |verb: Verb| occurrences.iter().any(|o| o.verb != verb && !o.negated);

    let Some(lead) = occurrences.first() else {
        return if other_language_negation(&words) {
            LineVerdict::Negated
        } else {
            LineVerdict::Nothing
        };
    };
    if first && plain(Verb::Approve) && (plain(Verb::Disapprove) || plain(Verb::Revoke)) {
        return LineVerdict::Both;
    }
    if lead.index > MAX_LEAD_IN {
        let negated_anywhere = occurrences.iter().any(|o| o.negated);
        return if first && negated_anywhere {
            LineVerdict::Negated
        } else {
            LineVerdict::Nothing
        };
    }
    let end = words.get(lead.index).map(|w| w.end).unwrap_or_default();
    match lead.verb {
        Verb::Approve => {
            let negator_in_lead_in = (0..lead.index).any(|k| is_negator(&words, k));
            if negator_in_lead_in || occurrences.iter().any(|o| o.negated) {
                return LineVerdict::Negated;
            }
            if is_hedged(&words, lead.index) || is_question(&words, lead.index) {
                return LineVerdict::Nothing;
            }
            if plain_other(Verb::Approve) {
                return LineVerdict::Both;
            }
            LineVerdict::Verb {
                verb: Verb::Approve,
                end,
            }
        }
        // REVOKE reads like DISAPPROVE: it only takes access away.
        verb @ (Verb::Disapprove | Verb::Revoke) => {
            if lead.negated {
                return LineVerdict::Negated;
            }
            if is_hedged(&words, lead.index) || is_question(&words, lead.index) {
                return LineVerdict::Nothing;
            }
            if plain_other(verb) {
                return LineVerdict::Both;
            }
            LineVerdict::Verb { verb, end }
        }
    }
}

/// Whether the lead-in of the decision word at `index` turns it into something other
/// than a decision: a hedge word anywhere in it, or "to" right before the verb ("ask
/// Bob to approve"; "Looks good to me, approved" stays a decision).
fn is_hedged(words: &[Word<'_>], index: usize) -> bool {
    let lead_in = words.get(..index).unwrap_or_default();
    let infinitive = index > 0
        && words.get(index - 1).is_some_and(|w| w.norm == "to")
        && words.get(index).is_some_and(|w| !w.break_before);
    infinitive || lead_in.iter().any(|w| HEDGES.contains(&w.norm.as_str()))
}

/// Whether any decision word occurs in the line at all, for noise detection: a line
/// naming a decision is never skipped as a banner or signature.
pub(super) fn mentions_verb(line: &str) -> bool {
    words(line).iter().any(|w| verb_of(&w.norm).is_some())
}

/// "não aprovo", "nicht genehmigt", "je n'approuve pas", "not accepted": a negated
/// approval in words that are not decisions themselves.
fn other_language_negation(words: &[Word<'_>]) -> bool {
    words.iter().enumerate().any(|(index, w)| {
        let stem_at = |s: &str| OTHER_STEMS.iter().any(|stem| s.starts_with(stem));
        if w.norm.strip_prefix("n'").is_some_and(stem_at) {
            return true;
        }
        if !stem_at(&w.norm) {
            return false;
        }
        let before = (index.saturating_sub(3)..index).any(|k| is_negator(words, k));
        let after = (index + 1..index + 3).any(|k| is_negator(words, k));
        before || after
    })
}

#[cfg(test)]
mod tests {
    use super::super::Verb;
    use super::{classify, LineVerdict};

    fn verb(line: &str) -> Option<Verb> {
        match classify(line, true) {
            LineVerdict::Verb { verb, .. } => Some(verb),
            _ => None,
        }
    }

    #[test]
    fn plain_and_punctuated_verbs_are_read() {
        for line in [
            "APPROVE",
            "Approved.",
            "approve:",
            "APPROVE!",
            "*APPROVED*",
            "yes, approve",
            "I approve this",
        ] {
            assert_eq!(verb(line), Some(Verb::Approve), "{line}");
        }
        for line in [
            "DISAPPROVE",
            "Rejected.",
            "deny",
            "I DISAPPROVE",
            "No, reject",
            "Denied!",
        ] {
            assert_eq!(verb(line), Some(Verb::Disapprove), "{line}");
        }
    }

    #[test]
    fn negations_never_approve() {
        for line in [
            "not approved",
            "don't approve",
            "Don’t approve",
            "do not approve",
            "I cannot approve this",
            "won't approve",
            "NOT APPROVED",
            "No, approve",
            "não aprovo",
            "Je n'approuve pas",
            "nicht genehmigt",
            "I am afraid we cannot approve this one",
        ] {
            assert_eq!(classify(line, true), LineVerdict::Negated, "{line}");
        }
    }

    #[test]
    fn assent_with_no_is_not_a_negation() {
        assert_eq!(verb("No problem, approved"), Some(Verb::Approve));
    }

    #[test]
    fn questions_and_hedges_are_not_decisions() {
        for line in [
            "Approve?",
            "Should I approve?",
            "Please approve",
            "Who else needs to approve",
            "approve this?",
        ] {
            assert_eq!(classify(line, true), LineVerdict::Nothing, "{line}");
        }
    }

    #[test]
    fn words_that_merely_contain_a_verb_are_not_verbs() {
        for line in [
            "approvers",
            "approval granted",
            "disallow",
            "pre-approved",
            "approve@example.test",
        ] {
            assert_eq!(classify(line, true), LineVerdict::Nothing, "{line}");
        }
    }

    #[test]
    fn both_decisions_on_the_first_line_refuse() {
        for line in [
            "APPROVE or DISAPPROVE",
            "APPROVE/REJECT",
            "approve, no wait, reject",
        ] {
            assert_eq!(classify(line, true), LineVerdict::Both, "{line}");
        }
    }

    #[test]
    fn disapproval_may_explain_that_it_will_not_approve() {
        assert_eq!(
            verb("DISAPPROVE - I won't approve during the freeze"),
            Some(Verb::Disapprove)
        );
    }

    #[test]
    fn decision_word_deep_in_a_sentence_is_not_a_decision() {
        assert_eq!(
            classify("we talked yesterday about who should approve", false),
            LineVerdict::Nothing
        );
    }
}
