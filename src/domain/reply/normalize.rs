//! Uniform characters before any parsing: mail clients and HTML converters disagree
//! about line ends and sprinkle invisible characters, which would otherwise defeat
//! every comparison further on.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Returns `text` with `\n` as the only line end, every kind of space (tabs,
/// non-breaking and narrow spaces) as a plain space, and invisible characters
/// (zero-width spaces and joiners, byte-order marks, soft hyphens, direction marks,
/// other control characters) removed.
pub(super) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // NFKC first: full-width, ligature and other compatibility spellings of
    // a letter become the letter, so no spelling of a word escapes the
    // grammar; then every apostrophe- and quote-like mark becomes one.
    // (Marks are folded before NFKC too: it would split some, such as the
    // acute accent, into a space and a combining mark.)
    // Invisible characters go before NFKC as well: left in, one between a
    // letter and its accent would keep them from composing, and a word
    // with a hidden character in it would read differently.
    let folded: String = text
        .chars()
        .map(fold_marks)
        .filter(|c| !is_invisible(*c))
        .collect();
    // Most replies are already in NFKC (plain text, or accents already
    // composed): the quick check, a table lookup per character, spares
    // them the composition. A text it is unsure of is composed in full.
    let composed = if is_nfkc_quick(folded.chars()) == IsNormalized::Yes {
        folded
    } else {
        compose(&folded)
    };
    let mut chars = composed.chars().peekable();
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
            c if is_invisible(c) => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// NFKC, with the marks folded again (NFKC can make new ones).
fn compose(folded: &str) -> String {
    // A `>` is kept out of composition: NFKC would join it with a combining
    // mark after it into `≯`, and a quoted line would stop being a quote.
    let mut composed = String::with_capacity(folded.len());
    for (i, piece) in folded.split('>').enumerate() {
        if i > 0 {
            composed.push('>');
        }
        composed.extend(piece.nfkc().map(fold_marks));
    }
    composed
}

/// Characters that take no space and show nothing: zero-width spaces and
/// joiners, byte-order marks, soft hyphens, direction marks, embeddings,
/// overrides and isolates, variation selectors, fillers and tags. Left in a
/// word, one would split it or keep it from matching.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}'
    )
}

/// Apostrophe-like marks to `'`, quotation-mark-like ones to `"`: "don’t",
/// "donʼt", "donʹt", "don′t" and "don`t" are all "don't".
fn fold_marks(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{2035}'
        | '\u{02b9}' | '\u{02bb}' | '\u{02bc}' | '\u{02bd}' | '\u{02be}' | '\u{02bf}'
        | '\u{02c8}' | '\u{02ca}' | '\u{02cb}' | '`' | '\u{b4}' | '\u{055a}' | '\u{05f3}'
        | '\u{a78b}' | '\u{a78c}' | '\u{1fbd}' | '\u{1fbf}' | '\u{1fef}' | '\u{1ffd}'
        | '\u{1ffe}' | '\u{275b}' | '\u{275c}' | '\u{ff07}' | '\u{ff40}' => '\'',
        '\u{201c}'
        | '\u{201d}'
        | '\u{201e}'
        | '\u{201f}'
        | '\u{2033}'
        | '\u{2036}'
        | '\u{ab}'
        | '\u{bb}'
        | '\u{2039}'
        | '\u{203a}'
        | '\u{02ee}'
        | '\u{05f4}'
        | '\u{275d}'
        | '\u{275e}'
        | '\u{2e42}'
        | '\u{300c}'..='\u{300f}'
        | '\u{301d}'..='\u{301f}'
        | '\u{ff02}'
        | '\u{1f676}'..='\u{1f678}' => '"',
        c => c,
    }
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

    #[test]
    fn compatibility_spellings_and_marks_fold() {
        let cases = [
            (
                "\u{ff21}\u{ff30}\u{ff30}\u{ff32}\u{ff2f}\u{ff36}\u{ff25}",
                "APPROVE",
            ),
            ("don\u{2019}t", "don't"),
            ("don\u{2bc}t", "don't"),
            ("don`t", "don't"),
            ("don\u{b4}t", "don't"),
            ("\u{201c}ok\u{201d}", "\"ok\""),
            ("\u{fb01}ne", "fine"),
            ("A\u{202e}EVORPPA", "AEVORPPA"),
            ("don\u{2018}t", "don't"),
            ("don\u{2b9}t", "don't"),
            ("don\u{2032}t", "don't"),
            ("don\u{a78c}t", "don't"),
            ("\u{201e}ok\u{201c}", "\"ok\""),
            ("\u{2039}ok\u{203a}", "\"ok\""),
            ("\u{300c}ok\u{300d}", "\"ok\""),
            ("\u{ff02}ok\u{ff02}", "\"ok\""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn every_invisible_character_vanishes() {
        for hidden in [
            '\u{ad}',
            '\u{34f}',
            '\u{61c}',
            '\u{180e}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{3164}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{e0041}',
            '\u{e0100}',
        ] {
            assert_eq!(normalize(&format!("la{hidden}ter")), "later", "{hidden:?}");
        }
    }

    #[test]
    fn regression_a_combining_mark_after_a_quote_marker_keeps_the_quote() {
        assert_eq!(normalize(">\u{338} text"), ">\u{338} text");
        assert_eq!(normalize("\u{226f}"), "\u{226f}");
        assert_eq!(normalize("e\u{301}>"), "\u{e9}>");
    }

    proptest::proptest! {
        /// Skipping the composition when the quick check says the text is
        /// composed already changes nothing: every text comes out as it
        /// does when always composed.
        #[test]
        fn the_quick_check_never_changes_the_result(
            text in proptest::string::string_regex(
                "([ -~]|[\\u{300}-\\u{36f}]|[\\u{a0}-\\u{17f}]|[\\u{ff01}-\\u{ff5e}]|[\\u{fb00}-\\u{fb06}]|[\\u{ac00}-\\u{ac10}]|[\\u{1100}-\\u{1112}]|[\\u{1161}-\\u{1175}]|\\u{2019}|\\u{200b}|\\u{338}|\\u{226f}|\\r|\\n|\\t){0,40}"
            ).unwrap()
        ) {
            let folded: String = text
                .chars()
                .map(super::fold_marks)
                .filter(|c| !super::is_invisible(*c))
                .collect();
            let quick = super::is_nfkc_quick(folded.chars()) == super::IsNormalized::Yes;
            if quick {
                proptest::prop_assert_eq!(super::compose(&folded), folded);
            }
        }
    }

    #[test]
    fn a_hidden_character_cannot_keep_an_accent_from_composing() {
        assert_eq!(normalize("na\u{200b}\u{303}o"), "não");
        assert_eq!(normalize("na\u{303}o"), "não");
    }
}
