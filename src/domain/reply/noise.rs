//! Lines of new text that say nothing: greetings, gateway banners, sensitivity labels,
//! image placeholders, and a signature block typed above the answer. They are skipped
//! before looking for the decision, so "Hi team," or "[EXTERNAL]" never becomes the
//! line a decision is read from.

use super::decision_line;
use super::newtext::NewLine;
use super::words::words;

/// Most words of a greeting line ("Hello team," "Guten Tag Frau Müller,").
const MAX_GREETING_WORDS: usize = 5;

/// Most lines of a gateway banner paragraph.
const MAX_BANNER_LINES: usize = 12;

/// Most lines of a signature block recognised above the answer.
const MAX_SIGNATURE_LINES: usize = 6;

/// Openings of greetings, lower-cased, in the approvers' languages.
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
    "morning",
    "olá",
    "ola",
    "oi",
    "prezado",
    "prezada",
    "prezados",
    "caro",
    "cara",
    "bom dia",
    "boa tarde",
    "boa noite",
    "hallo",
    "hi all",
    "guten tag",
    "guten morgen",
    "guten abend",
    "liebe",
    "lieber",
    "sehr geehrte",
    "sehr geehrter",
    "moin",
    "servus",
    "bonjour",
    "bonsoir",
    "salut",
    "cher",
    "chère",
    "chers",
    "madame",
    "monsieur",
    "hola",
    "buenos días",
    "buenos dias",
    "buenas tardes",
    "buenas",
    "estimado",
    "estimada",
    "estimados",
    "hei",
    "hej",
    "ciao",
    "salve",
];

/// Openings of banners that mail gateways put at the top of external mail.
const BANNER_STARTS: &[&str] = &[
    "[external",
    "[ext]",
    "[ext ",
    "*external*",
    "**external",
    "external email",
    "external e-mail",
    "external:",
    "external sender",
    "external message",
    "caution:",
    "caution -",
    "caution!",
    "[caution",
    "warning:",
    "[warning",
    "attention:",
    "atenção:",
    "atencao:",
    "achtung:",
    "externe e-mail",
    "externe mail",
    "e-mail externo",
    "email externo",
    "mensagem externa",
    "correo externo",
    "correo electrónico externo",
    "courriel externe",
    "message externe",
    "this email originated",
    "this e-mail originated",
    "this message originated",
    "this message was sent from outside",
    "this email was sent from outside",
    "you don't often get email from",
    "you don’t often get email from",
    "some people who received this message don't often get email from",
    "some people who received this message don’t often get email from",
    "notice: this email",
];

/// Whole-line sensitivity labels (Microsoft Purview and similar), lower-cased.
const LABELS: &[&str] = &[
    "general",
    "public",
    "internal",
    "internal use only",
    "internal only",
    "for internal use only",
    "confidential",
    "highly confidential",
    "strictly confidential",
    "restricted",
    "personal",
    "non-business",
    "unrestricted",
    "company internal",
    "business use only",
    "official",
    "official-sensitive",
    "sensitive",
    "unclassified",
    "intern",
    "vertraulich",
    "streng vertraulich",
    "öffentlich",
    "interne",
    "confidentiel",
    "público",
    "publico",
    "interno",
    "confidencial",
    "uso interno",
    "restrito",
    "restringido",
    "geral",
];

/// Openings of sensitivity label lines ("Classification: Internal").
const LABEL_STARTS: &[&str] = &[
    "classification:",
    "sensitivity:",
    "data classification:",
    "security classification:",
    "information classification:",
    "classified as ",
    "klassifizierung:",
    "klassifikation:",
    "vertraulichkeit:",
    "classificação:",
    "classificacao:",
    "sensibilidade:",
    "clasificación:",
    "clasificacion:",
    "sensibilité:",
    "classification :",
    "sensibilité :",
];

/// Valedictions that end the comment: what follows is the approver's name.
const VALEDICTIONS: &[&str] = &[
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
    "regards",
    "best",
    "best regards",
    "kind regards",
    "warm regards",
    "br",
    "rgds",
    "sincerely",
    "obrigado",
    "obrigada",
    "abraço",
    "abraços",
    "abs",
    "att",
    "atenciosamente",
    "cumprimentos",
    "grüße",
    "gruß",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "mit freundlichen grüßen",
    "lg",
    "vg",
    "mfg",
    "cordialement",
    "merci",
    "bien à vous",
    "bien cordialement",
    "saludos",
    "un saludo",
    "gracias",
    "atentamente",
    "cdlt",
];

/// Indices into `lines` of the lines that say something, in order. Noise at the top
/// (greetings, banners, labels, a signature block) is skipped; labels, image
/// placeholders and blank lines are skipped everywhere.
pub(super) fn meaningful_lines(lines: &[NewLine<'_>]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut at_top = true;
    let mut signature_skipped = false;
    while let Some(line) = lines.get(i) {
        let text = line.text;
        if text.is_empty() || is_label(text) || is_placeholder(text) {
            i += 1;
            continue;
        }
        if at_top {
            if is_greeting(text) {
                i += 1;
                continue;
            }
            if is_banner_start(text) {
                i = skip_banner(lines, i + 1);
                continue;
            }
            if !signature_skipped {
                signature_skipped = true;
                if let Some(next) = signature_block_end(lines, i) {
                    i = next;
                    continue;
                }
            }
        }
        at_top = false;
        out.push(i);
        i += 1;
    }
    out
}

/// Whether the line is a valediction ("Thanks,", "Best regards", "Obrigado!").
pub(super) fn is_valediction(text: &str) -> bool {
    if text.len() > 60 {
        return false;
    }
    let lowered = text.to_lowercase();
    let words = words(&lowered);
    if words.len() > 4 || decision_line::mentions_verb(text) {
        return false;
    }
    let phrase: Vec<&str> = words.iter().map(|w| w.raw).collect();
    let ends_with_comma = text.trim_end().ends_with(',');
    (1..=phrase.len()).any(|n| {
        let opening = phrase.get(..n).unwrap_or_default().join(" ");
        VALEDICTIONS.contains(&opening.as_str()) && (phrase.len() - n <= 1 || ends_with_comma)
    })
}

/// Whether the line is just a name ("Alice", "Alice Example"), as approvers sign under
/// their answer without a valediction.
pub(super) fn is_bare_name(text: &str) -> bool {
    if text.len() > 40 {
        return false;
    }
    let words = words(text);
    (1..=3).contains(&words.len())
        && text
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '.' | '\''))
        && words
            .iter()
            .all(|w| w.raw.chars().next().is_some_and(char::is_uppercase))
        && !decision_line::mentions_verb(text)
}

/// Whether the line is a sensitivity label, which gateways put above or below the
/// text; it is never part of a decision or comment.
pub(super) fn is_label(text: &str) -> bool {
    if text.len() > 80 {
        return false;
    }
    let lowered = text.to_lowercase();
    let bare = lowered.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | '*' | '.' | ' '));
    LABELS.contains(&bare) || LABEL_STARTS.iter().any(|s| bare.starts_with(s))
}

/// Whether the line is an inline image placeholder ("[image: logo.png]", "[cid:…]").
pub(super) fn is_placeholder(text: &str) -> bool {
    if text.len() > 300 {
        return false;
    }
    let lowered = text.get(..7).unwrap_or(text).to_lowercase();
    text.ends_with(']') && (lowered.starts_with("[image:") || lowered.starts_with("[cid:"))
}

/// A short greeting line without a decision word.
fn is_greeting(text: &str) -> bool {
    if text.len() > 60 || decision_line::mentions_verb(text) {
        return false;
    }
    let words = words(text);
    if words.is_empty() || words.len() > MAX_GREETING_WORDS {
        return false;
    }
    let opening: Vec<&str> = words.iter().take(3).map(|w| w.norm.as_str()).collect();
    let greets = (1..=opening.len())
        .any(|n| GREETINGS.contains(&opening.get(..n).unwrap_or_default().join(" ").as_str()));
    let body = text.trim_end_matches([',', '!', ':', '.']);
    let closes = text.len() > body.len() || words.len() <= 3;
    greets && closes && !body.contains([',', '?'])
}

/// The first line of a gateway banner.
fn is_banner_start(text: &str) -> bool {
    let lowered = text.get(..80).unwrap_or(text).to_lowercase();
    BANNER_STARTS.iter().any(|s| lowered.starts_with(s))
}

/// The index after a banner paragraph: it runs to the next blank line, but stops
/// before a line that carries a decision, in case the approver typed right under it.
fn skip_banner(lines: &[NewLine<'_>], from: usize) -> usize {
    let mut i = from;
    while let Some(line) = lines.get(i) {
        let stop = line.text.is_empty()
            || i - from >= MAX_BANNER_LINES
            || !matches!(
                decision_line::classify(line.text, false),
                decision_line::LineVerdict::Nothing
            );
        if stop {
            break;
        }
        i += 1;
    }
    i
}

/// A signature block typed above the answer: 2 to 6 lines opening with a name, with
/// contact details and no decision word, followed by a blank line and, further down, a
/// line with a decision word. Kept conservative: any doubt leaves the lines as text.
fn signature_block_end(lines: &[NewLine<'_>], from: usize) -> Option<usize> {
    let mut end = from;
    while lines.get(end).is_some_and(|l| !l.text.is_empty()) {
        end += 1;
        if end - from > MAX_SIGNATURE_LINES {
            return None;
        }
    }
    let block = lines.get(from..end)?;
    let named = block.first().is_some_and(|l| looks_like_name(l.text));
    let contact = block.iter().any(|l| is_contact(l.text));
    let plain = block
        .iter()
        .all(|l| !decision_line::mentions_verb(l.text) && !l.text.ends_with('?'));
    if !(block.len() >= 2 && named && contact && plain) {
        return None;
    }
    let answer_below = lines
        .iter()
        .skip(end)
        .any(|l| decision_line::mentions_verb(l.text));
    answer_below.then_some(end)
}

/// "Alice Example", "Dr. Jürgen Weiß": two to four capitalised words.
fn looks_like_name(text: &str) -> bool {
    let words = words(text);
    (2..=4).contains(&words.len())
        && words
            .iter()
            .all(|w| w.raw.chars().next().is_some_and(char::is_uppercase))
        && !text.contains([',', ':', '!', '?'])
}

/// A line with a phone number, mail address or web address.
fn is_contact(text: &str) -> bool {
    let lowered = text.to_lowercase();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let phone_chars = text
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c) || c.is_alphabetic() || c == ':');
    let phone =
        digits >= 7 && phone_chars && text.chars().filter(|c| c.is_alphabetic()).count() <= 12;
    let address =
        lowered.contains('@') && lowered.split('@').nth(1).is_some_and(|d| d.contains('.'));
    let web =
        lowered.contains("http://") || lowered.contains("https://") || lowered.contains("www.");
    phone || address || web
}

#[cfg(test)]
mod tests {
    use super::{is_greeting, is_label, is_valediction};

    #[test]
    fn greetings_in_every_language() {
        for line in [
            "Hi,",
            "Hello team,",
            "Hi Alice,",
            "Olá,",
            "Oi,",
            "Hallo,",
            "Guten Tag,",
            "Bonjour,",
            "Hei,",
            "Hola,",
            "Dear all,",
        ] {
            assert!(is_greeting(line), "{line}");
        }
    }

    #[test]
    fn a_greeting_with_a_decision_is_not_noise() {
        assert!(!is_greeting("Hi, approved"));
    }

    #[test]
    fn labels() {
        for line in [
            "Classification: Internal",
            "Sensitivity: Confidential",
            "General",
            "Internal Use Only",
            "[Public]",
        ] {
            assert!(is_label(line), "{line}");
        }
        assert!(!is_label("APPROVE"));
    }

    #[test]
    fn valedictions() {
        for line in [
            "Thanks,",
            "Best regards,",
            "Cheers",
            "Obrigado!",
            "Mit freundlichen Grüßen",
            "Thanks Bob",
        ] {
            assert!(is_valediction(line), "{line}");
        }
        assert!(!is_valediction(
            "Thanks for checking the freeze calendar first"
        ));
    }
}
