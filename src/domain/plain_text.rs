//! What free text from a requester may contain: what a person can see.
//! Characters that change how text is shown without being shown themselves
//! (Unicode format characters: bidi overrides, zero-width joiners), line
//! and paragraph separators, and control characters can make a request say
//! one thing to the approver and another to the audit log. They are
//! refused, not stripped, so the requester learns what was wrong.

/// Unicode general category Cf (format), as of Unicode 15.
const FORMAT: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Why `text` may not be shown as it is, naming the first offending
/// character; `newlines` allows plain line breaks (`\n`, and `\r\n`).
pub(crate) fn check(text: &str, newlines: bool) -> Result<(), String> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed_break = newlines && (c == '\n' || (c == '\r' && chars.peek() == Some(&'\n')));
        let what = if allowed_break {
            continue;
        } else if c.is_control() {
            "a control character"
        } else if c == '\u{2028}' || c == '\u{2029}' {
            "a line or paragraph separator"
        } else if FORMAT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) {
            "an invisible formatting character (such as a direction override or a zero-width character)"
        } else {
            continue;
        };
        return Err(format!(
            "contains {what} (U+{:04X}); only visible text{} is accepted",
            u32::from(c),
            if newlines { " and line breaks" } else { "" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_refused_table() {
        let cases: &[(&str, bool, bool)] = &[
            ("web-01.example.test", false, true),
            ("Zertifikat läuft ab – 明日", false, true),
            ("line one\nline two", true, true),
            ("line one\r\nline two", true, true),
            ("line one\nline two", false, false),
            ("lone\rcarriage return", true, false),
            ("tab\there", true, false),
            ("bell\u{7}", true, false),
            ("rtl \u{202E}txt.exe", true, false),
            ("isolate \u{2066}x\u{2069}", true, false),
            ("zero\u{200B}width", true, false),
            ("joiner\u{200D}", true, false),
            ("bom\u{FEFF}", true, false),
            ("soft\u{00AD}hyphen", true, false),
            ("tag \u{E0041}", true, false),
            ("line\u{2028}separator", true, false),
            ("para\u{2029}separator", true, false),
            ("nel\u{85}", true, false),
        ];
        for (text, newlines, ok) in cases {
            assert_eq!(check(text, *newlines).is_ok(), *ok, "{text:?}");
        }
    }
}
