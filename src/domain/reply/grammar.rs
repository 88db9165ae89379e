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
//! question mark anywhere on an APPROVE line, or before or right after a
//! DISAPPROVE, refuses it. So does, after APPROVE, a word from
//! [`REFUSING_AFTER`] among the first [`AFTER_WORDS`] words that follow it
//! and its window, or that open any later line ("APPROVE - not yet",
//! "approved, but wait", "APPROVE\nnot yet"), and a word from
//! [`WINDOW_WORDS`] there, a window in a form the window reader does not read
//! ("APPROVE für 2 Stunden"), which would otherwise grant the whole window.

use super::decision_line::{classify, verb_of, LineVerdict};
use super::refusal::{self, shorten};
use super::words::{words, Word};
use super::{ReplyRefusal, Verb};

/// Words that may stand before the decision word: assent, nothing more.
pub(super) const LEAD_INS: &[&str] = &["yes", "ok", "okay", "yep", "sure", "hereby"];

/// Greetings that may open the decision line, followed by at most
/// [`MAX_NAME_WORDS`] words of a name and a comma: "Hi Bob, APPROVE".
pub(super) const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "dear", "hallo", "olá", "ola", "bonjour", "hola",
];

/// Most words of a name after a greeting.
const MAX_NAME_WORDS: usize = 2;

/// Most words before a decision word for the refusal to name the first one
/// ("\"I\" stands before APPROVE"); further in, the line is prose about
/// something else and is quoted as such.
const MAX_NAMED_LEAD_IN: usize = 4;

/// Characters that make a line a question. NFKC has already turned the
/// full-width and small forms into `?`, and `⁇`, `⁈`, `⁉` into pairs.
const QUESTION_MARKS: &[char] = &[
    '?', '¿', '\u{37e}', '\u{55e}', '\u{61f}', '\u{1367}', '\u{203d}', '\u{2e2e}', '\u{2753}',
    '\u{2754}',
];

/// Words that, among the first [`AFTER_WORDS`] words after APPROVE (and its
/// window) or at the start of a later line, negate, defer, condition, hedge
/// or take back the approval: in English and the other languages approvers
/// write in (Portuguese, German, French, Spanish). Any word ending in `n't`
/// counts too.
pub(super) const REFUSING_AFTER: &[&str] = &[
    // negation, English
    "no",
    "not",
    "nope",
    "nah",
    "nay",
    "never",
    "none",
    "nothing",
    "neither",
    "nor",
    "negative",
    "dont",
    "doesnt",
    "didnt",
    "isnt",
    "wasnt",
    "arent",
    "werent",
    "wont",
    "cant",
    "cannot",
    "couldnt",
    "shouldnt",
    "wouldnt",
    "havent",
    "hasnt",
    "hadnt",
    "mustnt",
    "aint",
    // taking it back
    "sorry",
    "oops",
    "mistake",
    "mistakenly",
    "accidentally",
    "wrong",
    "ignore",
    "disregard",
    "scratch",
    "cancel",
    "cancelled",
    "canceled",
    "revoke",
    "revoked",
    "retract",
    "withdraw",
    "withdrawn",
    "undo",
    "kidding",
    "jk",
    "joking",
    "actually",
    // deferral
    "yet",
    "later",
    "wait",
    "waiting",
    "hold",
    "pending",
    "postpone",
    "postponed",
    "defer",
    "deferred",
    "tomorrow",
    "tmrw",
    "tonight",
    "soon",
    "eventually",
    "afterwards",
    "next",
    "first",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    // condition and hedge
    "but",
    "unless",
    "if",
    "after",
    "once",
    "when",
    "whenever",
    "until",
    "till",
    "provided",
    "providing",
    "assuming",
    "conditionally",
    "conditional",
    "subject",
    "except",
    "maybe",
    "perhaps",
    "possibly",
    "probably",
    "tbd",
    "tbc",
    "pls",
    "plz",
    "please",
    // German
    "nicht",
    "nichts",
    "kein",
    "keine",
    "keinen",
    "nein",
    "nie",
    "niemals",
    "nö",
    "noe",
    "noch",
    "später",
    "spaeter",
    "erst",
    "wenn",
    "falls",
    "sobald",
    "nachdem",
    "aber",
    "jedoch",
    "morgen",
    "warten",
    "warte",
    "wartet",
    "vielleicht",
    "bitte",
    "außer",
    "ausser",
    "leider",
    // Portuguese
    "não",
    "nao",
    "nem",
    "nunca",
    "jamais",
    "nenhum",
    "nenhuma",
    "ainda",
    "depois",
    "mas",
    "porém",
    "porem",
    "contudo",
    "se",
    "caso",
    "quando",
    "talvez",
    "amanhã",
    "amanha",
    "aguarde",
    "aguardar",
    "aguardando",
    "espere",
    "esperar",
    "esperando",
    "após",
    "apos",
    "pendente",
    "desculpe",
    "infelizmente",
    // French
    "pas",
    "non",
    "ne",
    "rien",
    "aucun",
    "aucune",
    "plus",
    "encore",
    "après",
    "apres",
    "mais",
    "cependant",
    "pourtant",
    "si",
    "quand",
    "lorsque",
    "demain",
    "attends",
    "attendez",
    "attendre",
    "attente",
    "peut-être",
    "peut-etre",
    "sauf",
    "désolé",
    "desole",
    "malheureusement",
    // Spanish
    "jamás",
    "jamas",
    "nada",
    "ni",
    "tampoco",
    "ningún",
    "ningun",
    "ninguno",
    "ninguna",
    "todavía",
    "todavia",
    "aún",
    "aun",
    "después",
    "despues",
    "luego",
    "pero",
    "sino",
    "salvo",
    "excepto",
    "cuando",
    "quizás",
    "quizas",
    "quizá",
    "quiza",
    "tal",
    "mañana",
    "manana",
    "espera",
    "esperen",
    "pendiente",
    "siento",
    "desafortunadamente",
];

/// Words that, in the same place, announce a window the window reader does
/// not read: a preposition or a unit of time, in English or another
/// language ("APPROVE für 2 Stunden", "APPROVE jusqu'à la fin"). Read as a
/// comment, the approval would grant the whole requested window instead.
pub(super) const WINDOW_WORDS: &[&str] = &[
    "during", "hour", "hours", "hrs", "hr", "minute", "minutes", "mins", "day", "days", "week",
    "weeks", "bis", "während", "waehrend", "stunde", "stunden", "std", "minuten", "tag", "tage",
    "tagen", "woche", "wochen", "até", "durante", "hora", "horas", "minuto", "minutos", "dia",
    "dias", "día", "días", "semana", "semanas", "jusqu'à", "jusqu'a", "jusqu'au", "jusque",
    "pendant", "heure", "heures", "jour", "jours", "semaine", "semaines", "hasta",
];

/// How many words after the decision word (and its window), and at the
/// start of each later line, are checked against [`REFUSING_AFTER`] and
/// [`WINDOW_WORDS`]: a refusal comes first ("approve - not yet", "APPROVE -
/// fine by me if Bob agrees"); a comment that mentions a condition further
/// on is still a comment.
pub(super) const AFTER_WORDS: usize = 4;

/// Reads the first line the approver typed: the decision and the byte
/// offset just after its word (where the window and comment start).
pub(super) fn decision_of(line: &str) -> Result<(Verb, usize), ReplyRefusal> {
    let ws = words(line);
    let Some((at, word, verb)) = ws
        .iter()
        .enumerate()
        .find_map(|(at, w)| verb_of(&w.norm).map(|verb| (at, w, verb)))
    else {
        return Err(not_a_decision(line));
    };
    if let Err(bad) = lead_in(&ws, at) {
        // Said so precisely when the line negates the word, for the audit
        // log; either way nothing is decided.
        if classify(line, true) == LineVerdict::Negated {
            return Err(ReplyRefusal::NegatedVerb);
        }
        let Some(bad) = ws.get(bad).filter(|_| at <= MAX_NAMED_LEAD_IN) else {
            return Err(refusal::not_a_verb(line));
        };
        return Err(ReplyRefusal::WordBeforeVerb {
            word: shorten(bad.raw),
            verb,
        });
    }
    // "APPROVE or DISAPPROVE", "approve/reject": no decision.
    let later = ws.get(at + 1..).unwrap_or_default();
    if later
        .iter()
        .any(|w| verb_of(&w.norm).is_some_and(|v| v != verb))
    {
        return Err(ReplyRefusal::TwoVerbs);
    }
    let start = word.end - word.raw.len();
    let before = line.get(..start).unwrap_or_default();
    let after = line.get(word.end..).unwrap_or_default();
    let asks = match verb {
        Verb::Approve => is_question(before) || is_question(after),
        // A disapproval's comment may ask ("DISAPPROVE - why prod?"):
        // refusing it would leave the request open for others to approve.
        Verb::Disapprove | Verb::Revoke => is_question(before) || word.punct_after == Some('?'),
    };
    if asks {
        return Err(ReplyRefusal::Question);
    }
    Ok((verb, word.end))
}

/// The refusal for a first line without a decision word.
fn not_a_decision(line: &str) -> ReplyRefusal {
    if classify(line, true) == LineVerdict::Negated {
        ReplyRefusal::NegatedVerb
    } else {
        refusal::not_a_verb(line)
    }
}

/// Whether `text` holds a question mark of any script.
fn is_question(text: &str) -> bool {
    text.contains(QUESTION_MARKS)
}

/// Checks the words before the decision word (`ws[..at]`); `Err` holds
/// the index of the first one that may not stand there.
fn lead_in(ws: &[Word<'_>], at: usize) -> Result<(), usize> {
    let mut i = 0;
    while i < at {
        let Some(w) = ws.get(i) else {
            return Err(i);
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
                    .all(|w| refusing(&w.norm).is_none())
            };
            match next {
                Some(k) if names_plain(k) => {
                    i = k;
                    continue;
                }
                _ => return Err(i),
            }
        }
        return Err(i);
    }
    Ok(())
}

/// What a word after APPROVE does to it, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusing {
    /// It negates, defers, conditions or takes back the approval.
    Qualifies,
    /// It announces a window in a form the window reader does not read.
    Window,
}

/// Whether the lower-cased word `norm` is one that refuses an approval.
fn refusing(norm: &str) -> Option<Refusing> {
    if REFUSING_AFTER.contains(&norm) || norm.ends_with("n't") {
        Some(Refusing::Qualifies)
    } else if WINDOW_WORDS.contains(&norm) {
        Some(Refusing::Window)
    } else {
        None
    }
}

/// The refusal for an approval followed by `text` (the rest of its line
/// after the window, or a later line), if one of the first [`AFTER_WORDS`]
/// words of `text` negates, defers, conditions or takes it back, or names
/// a window in a form that is not read.
pub(super) fn refusal_after(text: &str) -> Option<ReplyRefusal> {
    words(text)
        .iter()
        .take(AFTER_WORDS)
        .find_map(|w| match refusing(&w.norm)? {
            Refusing::Qualifies => Some(ReplyRefusal::QualifiedVerb {
                word: shorten(w.raw),
            }),
            Refusing::Window => Some(ReplyRefusal::BadWindow {
                why: format!(
                    "\"{}\" after APPROVE reads as a window in a form approvald does not read: write APPROVE 2h, APPROVE 90m or APPROVE until 18:00, or reply plain APPROVE for the requested window",
                    shorten(w.raw)
                ),
            }),
        })
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
            ("REVOKE", Some(Verb::Revoke)),
            ("Revoke - not an incident", Some(Verb::Revoke)),
            ("do not revoke", None),
            ("approve or revoke", None),
            ("revoke?", None),
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
    fn question_marks_refuse_an_approval_anywhere_on_its_line() {
        for line in [
            "Approve?",
            "APPROVE - ok?",
            "Yes? APPROVE",
            "APPROVE ¿seguro",
            "APPROVE \u{2753}",
            "APPROVE - see https://tickets.example.test/?id=4711",
            "Reject?",
        ] {
            assert_eq!(decision_of(line), Err(ReplyRefusal::Question), "{line:?}");
        }
        // A disapproval may ask why; it is still a no.
        assert!(decision_of("DISAPPROVE - why prod?").is_ok());
    }

    #[test]
    fn a_word_before_the_decision_word_is_named() {
        let cases = [
            ("I approve", "I", Verb::Approve),
            ("Please approve", "Please", Verb::Approve),
            ("Looks good to me, approved", "Looks", Verb::Approve),
            ("Hi Bob approve", "Hi", Verb::Approve),
            ("maybe reject", "maybe", Verb::Disapprove),
        ];
        for (line, word, verb) in cases {
            let want = ReplyRefusal::WordBeforeVerb {
                word: word.to_owned(),
                verb,
            };
            assert_eq!(decision_of(line), Err(want), "{line:?}");
        }
        // Recognised negations keep their own refusal.
        assert_eq!(decision_of("not approved"), Err(ReplyRefusal::NegatedVerb));
    }

    #[test]
    fn what_follows_the_word_table() {
        // (what follows APPROVE and its window, the word that refuses it)
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            (" - looks good", None),
            (", thanks", None),
            (" - not yet", Some("not")),
            (", not now", Some("not")),
            (" no", Some("no")),
            (" but wait for Bob", Some("but")),
            (" later", Some("later")),
            (" tomorrow", Some("tomorrow")),
            (" - won't be needed", Some("won't")),
            (" - can't hurt", Some("can't")),
            (" - noch nicht", Some("noch")),
            (" pas encore", Some("pas")),
            (" - fine by me if Bob agrees", Some("if")),
            (" - wrong button, sorry", Some("wrong")),
            (" jk", Some("jk")),
            (" next week", Some("next")),
            (" - ainda não", Some("ainda")),
            (" - todavía no", Some("todavía")),
            (
                " - thanks, and do not forget to rotate the key",
                Some("not"),
            ),
            (
                " - checked the ticket, do not forget to rotate the key",
                None,
            ),
        ];
        for (rest, word) in cases {
            let want = word.map(|w| ReplyRefusal::QualifiedVerb { word: w.to_owned() });
            assert_eq!(refusal_after(rest), want, "{rest:?}");
        }
    }

    #[test]
    fn a_window_in_a_form_not_read_refuses() {
        for rest in [
            " für 2 Stunden",
            " pour 2 heures",
            " por 2 horas",
            " jusqu'à la fin de la migration",
            " até amanhã",
            " hasta mañana",
            " - during the maintenance",
        ] {
            assert!(
                matches!(refusal_after(rest), Some(ReplyRefusal::BadWindow { .. })),
                "{rest:?}"
            );
        }
    }
}
