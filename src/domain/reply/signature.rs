//! Signature lines: below them is the approver's signature or a client's footer,
//! never a decision.

/// Longest line still taken for a client footer ("Sent from my iPhone"); longer lines
/// are sentences the approver wrote.
const MAX_FOOTER_CHARS: usize = 120;

/// How the footers of mail apps begin, lower-cased: English, Portuguese, German,
/// French, Spanish.
const FOOTER_STARTS: &[&str] = &[
    "sent from my ",
    "sent from outlook",
    "sent from yahoo mail",
    "sent from mail for windows",
    "sent from mail<",
    "sent from mail ",
    "sent from samsung",
    "sent from the all new aol",
    "sent from aol",
    "sent from proton mail",
    "sent with proton mail",
    "sent via ",
    "sent from gmail",
    "get outlook for ",
    "get outlook<",
    "enviado do meu ",
    "enviado do outlook",
    "enviado do yahoo",
    "enviado de meu ",
    "enviado pelo ",
    "obter o outlook",
    "obtenha o outlook",
    "baixe o outlook",
    "von meinem ",
    "gesendet von meinem ",
    "gesendet von outlook",
    "gesendet von yahoo",
    "gesendet mit ",
    "von outlook für ",
    "outlook für ios",
    "outlook für android",
    "envoyé de mon ",
    "envoyé depuis ",
    "envoyé à partir de ",
    "envoyé avec ",
    "télécharger outlook",
    "obtenir outlook",
    "enviado desde mi ",
    "enviado desde outlook",
    "enviado desde yahoo",
    "enviado desde ",
    "obtener outlook",
    "descargar outlook",
];

/// The conventional signature delimiter `-- ` (also without the space, and the dash
/// Apple's autocorrection makes of `--`).
pub(super) fn is_delimiter(line: &str) -> bool {
    matches!(line.trim(), "--" | "—" | "–")
}

/// A mail app's footer such as "Sent from my iPhone" or "Von meinem iPhone gesendet".
pub(super) fn is_client_footer(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty() || line.len() > MAX_FOOTER_CHARS {
        return false;
    }
    let lowered = line.to_lowercase();
    FOOTER_STARTS.iter().any(|start| lowered.starts_with(start))
}

#[cfg(test)]
mod tests {
    use super::{is_client_footer, is_delimiter};

    #[test]
    fn phone_footers_in_every_language() {
        for line in [
            "Sent from my iPhone",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Enviado do meu iPhone",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPad",
            "Enviado desde mi iPhone",
            "Sent from Yahoo Mail for iPhone",
            "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows",
        ] {
            assert!(is_client_footer(line), "{line}");
        }
    }

    #[test]
    fn a_sentence_about_sending_is_not_a_footer() {
        assert!(!is_client_footer("APPROVE"));
        assert!(!is_client_footer("Sentence from the ticket"));
    }

    #[test]
    fn delimiter_with_and_without_trailing_space() {
        assert!(is_delimiter("-- "));
        assert!(is_delimiter("--"));
        assert!(!is_delimiter("-- Alice"));
    }
}
