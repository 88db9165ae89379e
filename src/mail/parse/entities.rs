//! HTML character references.
//!
//! Only the references mail clients actually write are known by name: the
//! markup characters, spacing and punctuation, and the Latin letters of the
//! languages approvers write in (Portuguese, German, French, Spanish). Any
//! numeric reference is decoded. An unknown name is left as written.

/// Decodes the character reference at the start of `s` (which starts with
/// `&`). Returns the character and the number of bytes it used, or `None`
/// when `s` does not start with a reference this module knows.
pub(crate) fn decode_entity(s: &str) -> Option<(char, usize)> {
    let rest = s.strip_prefix('&')?;
    if let Some(num) = rest.strip_prefix('#') {
        return decode_numeric(num).map(|(c, used)| (c, used + 2));
    }
    let name_len = rest
        .bytes()
        .take(32)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if rest.as_bytes().get(name_len) != Some(&b';') {
        return None;
    }
    let name = rest.get(..name_len)?;
    named(name).map(|c| (c, name_len + 2))
}

/// `&#39;` / `&#x2F;` without the `&#`; the `;` may be missing, as browsers
/// allow. Invalid code points become U+FFFD, as browsers do.
fn decode_numeric(num: &str) -> Option<(char, usize)> {
    let (radix, digits_from) = match num.as_bytes().first() {
        Some(b'x') | Some(b'X') => (16, 1),
        _ => (10, 0),
    };
    let digits = num.get(digits_from..)?;
    let len = digits
        .bytes()
        .take_while(|b| char::from(*b).is_digit(radix))
        .count();
    if len == 0 {
        return None;
    }
    let text = digits.get(..len)?;
    // More than eight digits is out of range whatever they are.
    let value = if len > 8 {
        None
    } else {
        u32::from_str_radix(text, radix).ok()
    };
    let c = value
        .filter(|&v| v != 0)
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}');
    let semicolon = usize::from(digits.as_bytes().get(len) == Some(&b';'));
    Some((c, digits_from + len + semicolon))
}

fn named(name: &str) -> Option<char> {
    let c = match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ensp" | "emsp" | "thinsp" => ' ',
        "zwnj" | "zwj" | "shy" => '\u{200B}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "cent" => '¢',
        "yen" => '¥',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "iexcl" => '¡',
        "iquest" => '¿',
        "ordf" => 'ª',
        "ordm" => 'º',
        "acute" => '´',
        "uml" => '¨',
        "Agrave" => 'À',
        "Aacute" => 'Á',
        "Acirc" => 'Â',
        "Atilde" => 'Ã',
        "Auml" => 'Ä',
        "Aring" => 'Å',
        "AElig" => 'Æ',
        "Ccedil" => 'Ç',
        "Egrave" => 'È',
        "Eacute" => 'É',
        "Ecirc" => 'Ê',
        "Euml" => 'Ë',
        "Igrave" => 'Ì',
        "Iacute" => 'Í',
        "Icirc" => 'Î',
        "Iuml" => 'Ï',
        "Ntilde" => 'Ñ',
        "Ograve" => 'Ò',
        "Oacute" => 'Ó',
        "Ocirc" => 'Ô',
        "Otilde" => 'Õ',
        "Ouml" => 'Ö',
        "Oslash" => 'Ø',
        "OElig" => 'Œ',
        "Ugrave" => 'Ù',
        "Uacute" => 'Ú',
        "Ucirc" => 'Û',
        "Uuml" => 'Ü',
        "Yacute" => 'Ý',
        "agrave" => 'à',
        "aacute" => 'á',
        "acirc" => 'â',
        "atilde" => 'ã',
        "auml" => 'ä',
        "aring" => 'å',
        "aelig" => 'æ',
        "ccedil" => 'ç',
        "egrave" => 'è',
        "eacute" => 'é',
        "ecirc" => 'ê',
        "euml" => 'ë',
        "igrave" => 'ì',
        "iacute" => 'í',
        "icirc" => 'î',
        "iuml" => 'ï',
        "ntilde" => 'ñ',
        "ograve" => 'ò',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "otilde" => 'õ',
        "ouml" => 'ö',
        "oslash" => 'ø',
        "oelig" => 'œ',
        "ugrave" => 'ù',
        "uacute" => 'ú',
        "ucirc" => 'û',
        "uuml" => 'ü',
        "yacute" => 'ý',
        "yuml" => 'ÿ',
        "szlig" => 'ß',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::decode_entity;

    #[test]
    fn decodes_named_and_numeric_references() {
        let cases: &[(&str, Option<(char, usize)>)] = &[
            ("&amp;rest", Some(('&', 5))),
            ("&nbsp;", Some((' ', 6))),
            ("&#39;", Some(('\'', 5))),
            ("&#x2F;", Some(('/', 6))),
            ("&#X2f;", Some(('/', 6))),
            ("&#233", Some(('é', 5))),
            ("&#0;", Some(('\u{FFFD}', 4))),
            ("&#x110000;", Some(('\u{FFFD}', 10))),
            ("&#xD800;", Some(('\u{FFFD}', 8))),
            ("&#999999999999;", Some(('\u{FFFD}', 15))),
            ("&atilde;", Some(('ã', 8))),
            ("&nosuch;", None),
            ("&amp", None),
            ("&#;", None),
            ("&#x;", None),
            ("&", None),
            ("&é;", None),
        ];
        for (input, want) in cases {
            assert_eq!(decode_entity(input), *want, "input {input:?}");
        }
    }
}
