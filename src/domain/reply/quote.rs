//! Recognising quoted originals: `>` lines, the lines clients put above a quoted
//! message ("On … wrote:", Outlook's From/Sent block, "-----Original Message-----"),
//! and the marker line that opens every approval mail.
//!
//! Clients that quote without `>` (Outlook, Apple Mail forwards, Yahoo) are only
//! recognisable by those header lines, so they are matched in every language the
//! approvers use and in the line-wrapped forms Gmail produces.

use crate::domain::wire::REPLY_MARKER_WORDS;

/// Longest attribution line ("On … wrote:") considered, joined over wrapped lines.
const MAX_ATTRIBUTION_CHARS: usize = 400;

/// How many lines a wrapped attribution may span (Gmail wraps after 76 columns).
const MAX_ATTRIBUTION_LINES: usize = 3;

/// Most lines of an Outlook header block (From, Sent, To, Cc, Subject, wrapped lists).
const MAX_HEADER_BLOCK_LINES: usize = 10;

/// First words of attribution lines: en, pt, de, fr, es, nl, it, nordic, pl, cs.
const ATTRIBUTION_STARTS: &[&str] = &[
    "on", "em", "no", "am", "le", "el", "op", "il", "den", "på", "w", "dne",
];

/// How attribution lines end, lower-cased and without spaces before the colon.
const ATTRIBUTION_ENDS: &[&str] = &[
    "wrote:",
    "writes:",
    "escreveu:",
    "escribió:",
    "escribio:",
    "a écrit:",
    "a ecrit:",
    "schrieb:",
    "schreef:",
    "skrev:",
    "ha scritto:",
    "napisał:",
    "napisał(a):",
    "napsal:",
    "napsal(a):",
    "kirjoitti:",
    "írta:",
    "yazdı:",
    "написал:",
    "написал(а):",
];

/// Words that put the author's name after the verb ("Am … schrieb Name <addr>:").
const ATTRIBUTION_INFIXES: &[&str] = &[
    " schrieb ",
    " schreef ",
    " skrev ",
    " escreveu ",
    " escribió ",
    " wrote ",
];

/// The "From:" labels that open a header block, lower-cased.
const FROM_LABELS: &[&str] = &[
    "from",
    "de",
    "von",
    "fra",
    "da",
    "van",
    "od",
    "från",
    "lähettäjä",
    "feladó",
    "от",
];

/// The other labels of a header block, lower-cased.
const HEADER_LABELS: &[&str] = &[
    "from",
    "sent",
    "date",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "de",
    "enviado",
    "enviada",
    "enviado el",
    "enviada em",
    "enviado em",
    "data",
    "para",
    "cc/cco",
    "assunto",
    "von",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "envoyé",
    "envoyé le",
    "date d'envoi",
    "à",
    "objet",
    "fra",
    "sendt",
    "til",
    "emne",
    "dato",
    "fecha",
    "asunto",
    "da",
    "inviato",
    "a",
    "oggetto",
    "van",
    "verzonden",
    "aan",
    "onderwerp",
    "skickat",
    "till",
    "ämne",
    "kopie",
    "kopia",
    "cco",
];

/// Lower-cased texts between the dashes of "-----Original Message-----" lines.
const SEPARATOR_TEXTS: &[&str] = &[
    "original message",
    "original-nachricht",
    "ursprüngliche nachricht",
    "mensagem original",
    "mensaje original",
    "message d'origine",
    "message original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "ursprungligt meddelande",
    "forwarded message",
    "mensagem encaminhada",
    "mensaje reenviado",
    "message transféré",
    "weitergeleitete nachricht",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "reply message",
];

/// Lower-cased lines that open an unquoted forwarded message (Apple Mail and others),
/// without spaces before the colon.
const FORWARD_INTROS: &[&str] = &[
    "begin forwarded message:",
    "início da mensagem encaminhada:",
    "inicio da mensagem encaminhada:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié:",
    "début du message réacheminé:",
    "début du message transféré:",
    "inicio del mensaje reenviado:",
    "comienzo del mensaje reenviado:",
    "forwarded message:",
    "forwarded message",
];

/// Whether the line belongs to a `>`-quoted block (any depth, with or without space).
pub(super) fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Whether the line is approvald's marker line ([`REPLY_MARKER`]), which opens every
/// approval mail: it and everything under it is the original. Its words count in any
/// case, however a client decorated or quoted the line.
///
/// [`REPLY_MARKER`]: crate::domain::wire::REPLY_MARKER
pub(super) fn is_marker(line: &str) -> bool {
    let words = REPLY_MARKER_WORDS.as_bytes();
    line.len() < 200
        && line
            .to_lowercase()
            .as_bytes()
            .windows(words.len())
            .any(|w| w.eq_ignore_ascii_case(words))
}

/// If a quote header starts at `lines[i]`, the index of its last line.
pub(super) fn header_end(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines.get(i)?.trim();
    if line.is_empty() {
        return None;
    }
    if is_separator(line) || is_forward_intro(line) {
        return Some(i);
    }
    if let Some(end) = attribution_end(lines, i) {
        return Some(end);
    }
    header_block_end(lines, i)
}

/// "-----Original Message-----", "-------- Original-Nachricht --------" and the
/// underscore line Outlook on the web and mobile put above the original.
fn is_separator(line: &str) -> bool {
    if line.len() > 120 {
        return false;
    }
    let is_rule = |c: char| matches!(c, '-' | '_' | '=' | '*' | '—' | '–');
    if line.len() >= 8 && line.chars().all(|c| c == '_') {
        return true;
    }
    let leading = line.chars().take_while(|&c| is_rule(c)).count();
    if leading < 2 {
        return false;
    }
    let inner = line
        .trim_matches(|c: char| is_rule(c) || c == ' ' || c == ':')
        .to_lowercase();
    SEPARATOR_TEXTS.contains(&inner.as_str())
}

/// "Begin forwarded message:" and its translations.
fn is_forward_intro(line: &str) -> bool {
    if line.len() > 80 {
        return false;
    }
    let lowered = compact_colon(&line.to_lowercase());
    FORWARD_INTROS.contains(&lowered.trim_matches(|c| c == '*' || c == ' '))
}

/// Removes spaces before colons, as French typography puts them (`a écrit :`).
fn compact_colon(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ':' {
            while out.ends_with(' ') {
                out.pop();
            }
        }
        out.push(c);
    }
    out
}

/// Attribution lines ("On … wrote:", "Em … escreveu:", "Am … schrieb …:"), also when
/// the client wrapped them over up to three lines.
fn attribution_end(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines.get(i)?.trim();
    let mut joined = String::new();
    for (n, line) in lines.iter().enumerate().skip(i).take(MAX_ATTRIBUTION_LINES) {
        let line = line.trim();
        if line.is_empty() || (n > i && is_quoted(line)) {
            return None;
        }
        if joined.len() + line.len() > MAX_ATTRIBUTION_CHARS {
            return None;
        }
        // Gmail breaks after "<" of the address: no space to put back there.
        if !joined.is_empty() && !joined.ends_with('<') {
            joined.push(' ');
        }
        joined.push_str(line);
        let wrapped = n > i;
        if is_attribution(&joined, wrapped) {
            return Some(n);
        }
        // Only lines that open like an attribution are worth joining with the next.
        if !starts_like_attribution(first) || !first.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    None
}

/// Whether `text` (one line, or lines joined when `wrapped`) is an attribution.
fn is_attribution(text: &str, wrapped: bool) -> bool {
    let lowered = compact_colon(&text.to_lowercase());
    let ends = ATTRIBUTION_ENDS.iter().any(|e| lowered.ends_with(e));
    let infix = lowered.ends_with(':') && ATTRIBUTION_INFIXES.iter().any(|w| lowered.contains(w));
    if !ends && !infix {
        return false;
    }
    let has_address = lowered.contains('@');
    let has_digit = lowered.chars().any(|c| c.is_ascii_digit());
    if wrapped {
        return starts_like_attribution(text) && has_digit;
    }
    starts_like_attribution(text) || has_address
}

/// Whether the first word is one attribution lines begin with.
fn starts_like_attribution(text: &str) -> bool {
    let lowered = text.to_lowercase();
    let first_word = lowered
        .split(|c: char| c.is_whitespace() || c == ',')
        .next()
        .unwrap_or_default();
    ATTRIBUTION_STARTS.contains(&first_word)
}

/// The label of a "Label: value" line, lower-cased, bold markers removed.
fn label_of(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches('*');
    let colon = line.char_indices().take(24).find(|&(_, c)| c == ':')?.0;
    let label = line.get(..colon)?.trim().trim_end_matches('*').trim();
    if label.is_empty() || label.chars().count() > 16 {
        return None;
    }
    Some(label.to_lowercase())
}

/// Outlook's header block: a From line followed within a few lines by Sent/Date/To/
/// Subject lines (in any of the approvers' languages), or all of them on one line.
fn header_block_end(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines.get(i)?;
    let label = label_of(first)?;
    if !FROM_LABELS.contains(&label.as_str()) {
        return None;
    }
    if one_line_header(first) {
        return Some(i);
    }
    let mut last_header = None;
    let mut misses = 0;
    for (n, line) in lines
        .iter()
        .enumerate()
        .skip(i + 1)
        .take(MAX_HEADER_BLOCK_LINES)
    {
        if line.trim().is_empty() {
            break;
        }
        match label_of(line) {
            Some(l) if HEADER_LABELS.contains(&l.as_str()) => {
                last_header = Some(n);
                misses = 0;
            }
            // A wrapped recipient list continues the previous header.
            _ if last_header.is_some() && misses == 0 => misses += 1,
            _ => break,
        }
    }
    last_header
}

/// "From: X Sent: Saturday… To: … Subject: …" flattened onto one line by an HTML
/// converter.
fn one_line_header(line: &str) -> bool {
    let lowered = compact_colon(&line.to_lowercase());
    [
        " sent:",
        " date:",
        " subject:",
        " enviado:",
        " assunto:",
        " gesendet:",
        " betreff:",
        " envoyé:",
        " objet:",
        " asunto:",
        " enviado el:",
    ]
    .iter()
    .any(|l| lowered.contains(l))
}

#[cfg(test)]
mod tests {
    use super::{header_end, is_marker};

    #[test]
    fn gmail_attribution_wrapped_after_the_angle_bracket_is_one_header() {
        let lines = [
            "On Sat, Nov 21, 2026 at 10:02 AM Access approvals <",
            "approvals@example.test> wrote:",
        ];
        assert_eq!(header_end(&lines, 0), Some(1));
    }

    #[test]
    fn german_attribution_with_name_after_schrieb() {
        let lines = [
            "Am Sa., 21. Nov. 2026 um 10:02 Uhr schrieb Access approvals <approvals@example.test>:",
        ];
        assert_eq!(header_end(&lines, 0), Some(0));
    }

    #[test]
    fn outlook_french_header_block() {
        let lines = [
            "De : Access approvals <approvals@example.test>",
            "Envoyé : samedi 21 novembre 2026 10:02",
            "À : Alice",
            "Objet : Access",
            "",
            "body",
        ];
        assert_eq!(header_end(&lines, 0), Some(3));
    }

    #[test]
    fn a_sentence_starting_with_on_is_not_an_attribution() {
        let lines = ["On second thought, approve", "but only for 2h"];
        assert_eq!(header_end(&lines, 0), None);
    }

    #[test]
    fn a_from_line_alone_is_not_a_header() {
        let lines = ["From: my side all good", "APPROVE"];
        assert_eq!(header_end(&lines, 0), None);
    }

    #[test]
    fn marker_is_found_quoted_or_not() {
        assert!(is_marker("##- Please type your reply above this line -##"));
        assert!(is_marker(
            "> ##- please type your reply above this line -##"
        ));
    }
}
