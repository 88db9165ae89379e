//! Why a reply was not taken as a decision, worded for the approver and the audit log.

use super::Verb;

/// Longest excerpt of the approver's words quoted back in an explanation: enough to
/// recognise the line, short enough for one syslog line and one sentence.
const MAX_SAID_CHARS: usize = 60;

/// Longest first line (in words) still quoted back as "\"…\" is not a decision"; a
/// longer line is prose without a decision rather than an informal answer.
const MAX_SAID_WORDS: usize = 8;

/// The closing every explanation shares, so approvers always learn the same fix.
const HOW_TO_ANSWER: &str = "reply with the word APPROVE or DISAPPROVE on the first line";

/// A reply that does not carry exactly one clear decision. Nothing is applied; the
/// approver gets [`ReplyRefusal::explain`] back and can answer again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplyRefusal {
    /// The new text is prose without any decision word.
    NoVerb,
    /// Both APPROVE and DISAPPROVE (or REJECT, DENY) were said: the approver's intent
    /// cannot be told.
    TwoVerbs,
    /// A decision word was negated ("not approved", "don't approve", "não aprovo"):
    /// never read as an approval, and not guessed to be a disapproval.
    NegatedVerb,
    /// The approver answered informally (`ok`, `yes`, `+1`, `LGTM`, an emoji) instead
    /// of with a decision word.
    NotAVerb {
        /// What the approver wrote, shortened, so the explanation can quote it.
        said: String,
    },
    /// Nothing but quoted text, signatures or greetings: the approver typed nothing.
    Empty,
    /// The window after APPROVE could not be read or would widen the request.
    BadWindow {
        /// A complete sentence naming the problem and the accepted forms.
        why: String,
    },
    /// A word that is not on the lead-in allow-list stands before the decision word
    /// ("I approve", "Looks good, approved", "Please approve").
    WordBeforeVerb {
        /// The first word that may not stand there, shortened.
        word: String,
        /// The decision word it stands before.
        verb: Verb,
    },
    /// APPROVE followed by a word that takes it back, puts it off or makes it
    /// conditional ("APPROVE - not yet", "approved, but wait", "APPROVE tomorrow").
    QualifiedVerb {
        /// The word that did it, shortened.
        word: String,
    },
    /// A question mark on the decision line ("Approve?", "APPROVE - ok?"): a question
    /// is not a decision.
    Question,
}

impl ReplyRefusal {
    /// One English sentence for the audit log and for the explanatory answer mail.
    pub(crate) fn explain(&self) -> String {
        match self {
            ReplyRefusal::NoVerb => format!("the reply has no decision: {HOW_TO_ANSWER}"),
            ReplyRefusal::TwoVerbs => {
                "the reply says both APPROVE and DISAPPROVE: reply with only one of the two words on the first line"
                    .to_owned()
            }
            ReplyRefusal::NegatedVerb => {
                format!("the reply negates a decision word (like \"not approved\"): {HOW_TO_ANSWER}")
            }
            ReplyRefusal::NotAVerb { said } => format!("\"{said}\" is not a decision: {HOW_TO_ANSWER}"),
            ReplyRefusal::Empty => format!("the reply has no text of its own above the quoted message: {HOW_TO_ANSWER}"),
            ReplyRefusal::BadWindow { why } => why.clone(),
            ReplyRefusal::WordBeforeVerb { word, verb } => format!(
                "\"{word}\" stands before {}: only yes, ok or a greeting with a comma may, so {HOW_TO_ANSWER}, as its first word",
                verb.as_str()
            ),
            ReplyRefusal::QualifiedVerb { word } => format!(
                "APPROVE is followed by \"{word}\", which takes it back, puts it off or makes it conditional: reply with APPROVE alone (or a comment that does not start that way) when you approve now, or with DISAPPROVE"
            ),
            ReplyRefusal::Question => format!(
                "the line with the decision word has a question mark, and a question is not a decision: {HOW_TO_ANSWER}, without a question mark on it"
            ),
        }
    }
}

/// The refusal for a first line that is not a decision: short informal answers are
/// quoted back, longer prose is not.
pub(super) fn not_a_verb(said: &str) -> ReplyRefusal {
    let said = said.trim();
    if said.is_empty() {
        return ReplyRefusal::Empty;
    }
    if said.split_whitespace().count() > MAX_SAID_WORDS {
        return ReplyRefusal::NoVerb;
    }
    ReplyRefusal::NotAVerb {
        said: shorten(said),
    }
}

/// Cuts `text` to [`MAX_SAID_CHARS`] characters on a character boundary.
pub(super) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_SAID_CHARS).collect();
    if text.chars().nth(MAX_SAID_CHARS).is_some() {
        out.push('…');
    }
    out
}
