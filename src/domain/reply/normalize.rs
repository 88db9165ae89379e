//! Uniform characters before any parsing: mail clients and HTML converters disagree
//! about line ends and sprinkle invisible characters, which would otherwise defeat
//! every comparison further on.

/// Returns `text` with `\n` as the only line end, every kind of space (tabs,
/// non-breaking and narrow spaces) as a plain space, and invisible characters
/// (zero-width spaces and joiners, byte-order marks, soft hyphens, direction marks,
/// other control characters) removed.
pub(super) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t'
            | '\u{b}'
            | '\u{c}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}' => out.push(' '),
            '\u{ad}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn crlf_and_lone_cr_become_newlines() {
        assert_eq!(normalize("a\r\nb\rc\nd"), "a\nb\nc\nd");
    }

    #[test]
    fn nbsp_and_tabs_become_spaces_and_zero_width_vanishes() {
        assert_eq!(
            normalize("\u{feff}AP\u{200b}PROVE\u{a0}2h\tok\u{202f}x"),
            "APPROVE 2h ok x"
        );
    }
}
