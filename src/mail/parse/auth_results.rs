//! `Authentication-Results` headers (RFC 8601) and the sender check built
//! on them.
//!
//! The daemon does not verify DKIM, SPF or DMARC itself: the receiving mail
//! server does and writes the outcome into an `Authentication-Results`
//! header naming itself (the authserv-id). Anyone can add such headers to a
//! message, so only the topmost one carrying the configured authserv-id
//! counts; it was written by our server, above anything the sender added.

/// Methods that start a new result even when a non-conforming writer left
/// out the `;` between results.
const METHODS: &[&str] = &[
    "arc",
    "auth",
    "bimi",
    "compauth",
    "dkim",
    "dkim-adsp",
    "dkim-atps",
    "dmarc",
    "iprev",
    "rrvs",
    "sender-id",
    "smime",
    "spf",
    "vbr",
];

/// Bounds on what one header may hold, so a hostile header cannot make the
/// parsed form much larger than needed.
const MAX_RESULTS: usize = 64;
const MAX_PROPERTIES: usize = 32;

/// One parsed `Authentication-Results` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthResults {
    /// Who wrote the header, lowercase; only headers written by our own
    /// server are trusted. Empty when the writer omitted it (as Microsoft's
    /// servers do), which never matches a configured id.
    pub(crate) authserv_id: String,
    /// The method results, in the order written.
    pub(crate) results: Vec<MethodResult>,
}

/// One `method=result` with its properties, e.g.
/// `dkim=pass header.d=example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MethodResult {
    /// `dkim`, `spf`, `dmarc` ..., lowercase, without a `/version`.
    pub(crate) method: String,
    /// `pass`, `fail`, `none` ..., lowercase.
    pub(crate) result: String,
    /// `ptype.property` (lowercase) and value (unquoted, as written), e.g.
    /// `("header.d", "example.com")`; they say which domain passed.
    pub(crate) properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The first value of a property such as `header.d`.
    pub(crate) fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn passed(&self, method: &str) -> bool {
        self.method == method && self.result == "pass"
    }
}

impl AuthResults {
    /// Parses the value of one header (everything after the colon).
    /// Never fails: what cannot be understood is left out.
    pub(crate) fn parse(value: &str) -> AuthResults {
        let segments = lex(value);
        let mut authserv_id = String::new();
        let mut results = Vec::new();
        for (index, words) in segments.iter().enumerate() {
            let mut words = words.as_slice();
            if index == 0 {
                if let Some(first) = words.first() {
                    if !first.contains('=') && words.get(1).is_none_or(|w| !w.starts_with('=')) {
                        authserv_id = first.to_ascii_lowercase();
                        words = words.get(1..).unwrap_or(&[]);
                    }
                }
            }
            collect_results(&pairs(words), &mut results);
        }
        AuthResults {
            authserv_id,
            results,
        }
    }

    /// True when this header shows that the sender's From domain was
    /// authenticated. When the header carries a DMARC result at all, only
    /// `dmarc=pass` for that domain counts: a DMARC fail or quarantine is
    /// the verdict, whatever DKIM or SPF said. Without a DMARC result,
    /// `dkim=pass` with an aligned `header.d` / `header.i`, or `spf=pass`
    /// with an aligned `smtp.mailfrom` (alignment as in [`aligned`]).
    pub(crate) fn authenticates(&self, from_domain: &str) -> bool {
        let has_dmarc = self
            .results
            .iter()
            .any(|r| r.method.eq_ignore_ascii_case("dmarc"));
        if has_dmarc {
            return self.results.iter().any(|r| {
                r.passed("dmarc")
                    && r.property("header.from")
                        .and_then(domain_of)
                        .is_some_and(|d| d == from_domain)
            });
        }
        self.results.iter().any(|r| {
            if r.passed("dkim") {
                ["header.d", "header.i"].iter().any(|key| {
                    r.property(key)
                        .and_then(domain_of)
                        .is_some_and(|d| aligned(&d, from_domain))
                })
            } else if r.passed("spf") {
                r.property("smtp.mailfrom")
                    .and_then(domain_of)
                    .is_some_and(|d| aligned(&d, from_domain))
            } else {
                false
            }
        })
    }
}

/// Relaxed identifier alignment, in the spirit of DMARC (RFC 7489 §3.1) but
/// without the Public Suffix List: two domains are aligned when they are
/// equal, or when one is a subdomain of the other at a label boundary
/// (`mail.example.com` and `example.com`) and the shorter one has at least
/// two labels.
///
/// This is deliberately stricter than DMARC: sibling subdomains
/// (`a.example.com`, `b.example.com`) are not aligned, and guessing the
/// organisational domain from the last two labels is not done because it
/// would align `victim.co.uk` with `attacker.co.uk`.
pub(crate) fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    short.contains('.')
        && long
            .strip_suffix(&short)
            .is_some_and(|head| head.ends_with('.') && head.len() > 1)
}

/// The domain of an address or domain value (`user@Example.COM`,
/// `@example.com`, `example.com.`), lowercase; `None` if it is not a host
/// name.
pub(crate) fn domain_of(value: &str) -> Option<String> {
    let value = value.trim();
    let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
    let domain = domain
        .trim_end_matches('>')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    valid.then_some(domain)
}

/// Splits a header value into `;`-separated segments of words. Comments
/// (nested parentheses) separate words and are dropped; quoted strings are
/// unquoted; `\` escapes the next character inside both.
fn lex(value: &str) -> Vec<Vec<String>> {
    let mut segments = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = value.chars();
    let flush = |segments: &mut Vec<Vec<String>>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            if let Some(seg) = segments.last_mut() {
                seg.push(std::mem::take(word));
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut segments, &mut word, &mut in_word);
                let mut depth = 1usize;
                while depth > 0 {
                    match chars.next() {
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some('\\') => {
                            chars.next();
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') | None => break,
                        Some('\\') => {
                            if let Some(escaped) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        Some(other) => word.push(other),
                    }
                }
            }
            ';' => {
                flush(&mut segments, &mut word, &mut in_word);
                segments.push(Vec::new());
            }
            c if c.is_whitespace() => flush(&mut segments, &mut word, &mut in_word),
            c => {
                in_word = true;
                word.push(c);
                // The ordinary characters that follow go the same way:
                // copy them as one slice.
                let rest = chars.as_str();
                let run = rest
                    .find(|c: char| matches!(c, '(' | '"' | ';') || c.is_whitespace())
                    .unwrap_or(rest.len());
                word.push_str(rest.get(..run).unwrap_or(""));
                chars = rest.get(run..).unwrap_or("").chars();
            }
        }
    }
    flush(&mut segments, &mut word, &mut in_word);
    segments
}

/// Turns words into `key=value` pairs, accepting spaces around `=`
/// (`dkim = pass`). Words that are not part of a pair (a version number,
/// `none`) are skipped.
fn pairs(words: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        i += 1;
        if let Some((key, value)) = word.split_once('=') {
            if key.is_empty() {
                continue;
            }
            let value = if value.is_empty() {
                i += 1;
                words.get(i - 1).cloned().unwrap_or_default()
            } else {
                value.to_string()
            };
            out.push((key.to_string(), value));
        } else if let Some(next) = words.get(i).filter(|w| w.starts_with('=')) {
            i += 1;
            let value = if next.len() == 1 {
                i += 1;
                words.get(i - 1).cloned().unwrap_or_default()
            } else {
                next.get(1..).unwrap_or("").to_string()
            };
            out.push((word.clone(), value));
        }
    }
    out
}

/// Groups the pairs of one segment into results: the first pair is a
/// method, later pairs are its properties unless they name a known method.
fn collect_results(pairs: &[(String, String)], results: &mut Vec<MethodResult>) {
    let mut current: Option<MethodResult> = None;
    for (index, (key, value)) in pairs.iter().enumerate() {
        let key = key.to_ascii_lowercase();
        let method = key.split('/').next().unwrap_or("");
        if index == 0 || METHODS.contains(&method) {
            if let Some(done) = current.take() {
                push_bounded(results, done);
            }
            current = Some(MethodResult {
                method: method.to_string(),
                result: value.to_ascii_lowercase(),
                properties: Vec::new(),
            });
        } else if let Some(result) = current.as_mut() {
            if result.properties.len() < MAX_PROPERTIES {
                result.properties.push((key, value.clone()));
            }
        }
    }
    if let Some(done) = current {
        push_bounded(results, done);
    }
}

fn push_bounded(results: &mut Vec<MethodResult>, result: MethodResult) {
    if results.len() < MAX_RESULTS {
        results.push(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lex` as it was, a character at a time: the reference for copying
    /// runs of ordinary characters as slices.
    fn lex_one_by_one(value: &str) -> Vec<Vec<String>> {
        let mut segments = vec![Vec::new()];
        let mut word = String::new();
        let mut in_word = false;
        let mut chars = value.chars();
        let flush = |segments: &mut Vec<Vec<String>>, word: &mut String, in_word: &mut bool| {
            if *in_word {
                if let Some(seg) = segments.last_mut() {
                    seg.push(std::mem::take(word));
                }
                *in_word = false;
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '(' => {
                    flush(&mut segments, &mut word, &mut in_word);
                    let mut depth = 1usize;
                    while depth > 0 {
                        match chars.next() {
                            Some('(') => depth += 1,
                            Some(')') => depth -= 1,
                            Some('\\') => {
                                chars.next();
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                }
                '"' => {
                    in_word = true;
                    loop {
                        match chars.next() {
                            Some('"') | None => break,
                            Some('\\') => {
                                if let Some(escaped) = chars.next() {
                                    word.push(escaped);
                                }
                            }
                            Some(other) => word.push(other),
                        }
                    }
                }
                ';' => {
                    flush(&mut segments, &mut word, &mut in_word);
                    segments.push(Vec::new());
                }
                c if c.is_whitespace() => flush(&mut segments, &mut word, &mut in_word),
                c => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        flush(&mut segments, &mut word, &mut in_word);
        segments
    }

    #[test]
    fn lex_by_runs_matches_one_by_one() {
        let cases = [
            "",
            ";",
            "mx.example.net; dkim=pass header.d=example.com",
            "mx.example.net;\r\n\tspf=pass (sender ok) smtp.mailfrom=a@b.c;dmarc=pass",
            "x (nested (comment) here) y=\"quoted \\\" value\" z",
            "a\\b c\\(d ( \\) ) e",
            "unterminated \"quote; still",
            "unterminated (comment; still",
            "caf\u{e9}=\u{fc}ber; \u{2003}wide\u{3000}space\u{a0}nbsp",
            "k = v ;; ; k2=v2(c)k3=\"v3\"k4",
            "\u{1f600}=\u{1f600};(\u{1f600})\"\u{1f600}\"",
            "trailing\\",
        ];
        for value in cases {
            assert_eq!(lex(value), lex_one_by_one(value), "{value:?}");
        }
    }

    fn result(method: &str, res: &str, props: &[(&str, &str)]) -> MethodResult {
        MethodResult {
            method: method.into(),
            result: res.into(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_gmail_style_header() {
        let value = "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 \
            header.b=Ab+c/d=;\r\n       spf=pass (google.com: domain of a@example.com \
            designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n       \
            dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com";
        let ar = AuthResults::parse(value);
        assert_eq!(ar.authserv_id, "mx.google.com");
        assert_eq!(
            ar.results,
            vec![
                result(
                    "dkim",
                    "pass",
                    &[
                        ("header.i", "@example.com"),
                        ("header.s", "s1"),
                        ("header.b", "Ab+c/d=")
                    ]
                ),
                result("spf", "pass", &[("smtp.mailfrom", "a@example.com")]),
                result("dmarc", "pass", &[("header.from", "example.com")]),
            ]
        );
    }

    #[test]
    fn parses_unusual_but_valid_syntax() {
        let ar = AuthResults::parse(
            "  \"mx (x) .example\" 1 ; DKIM/1 = Pass (good (nested) comment) \
             header.d = \"example.com\"; spf=none; none",
        );
        assert_eq!(ar.authserv_id, "mx (x) .example");
        assert_eq!(
            ar.results,
            vec![
                result("dkim", "pass", &[("header.d", "example.com")]),
                result("spf", "none", &[]),
            ]
        );
        let none = AuthResults::parse("mx.example.test 1; none");
        assert_eq!(
            (none.authserv_id.as_str(), none.results.len()),
            ("mx.example.test", 0)
        );
    }

    #[test]
    fn microsoft_style_header_has_no_authserv_id() {
        let ar = AuthResults::parse(
            "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com; dkim=pass \
             (signature was verified) header.d=example.com;dmarc=pass action=none \
             header.from=example.com;compauth=pass reason=100",
        );
        assert_eq!(ar.authserv_id, "");
        let methods: Vec<_> = ar.results.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["spf", "dkim", "dmarc", "compauth"]);
    }

    #[test]
    fn missing_semicolons_still_split_known_methods() {
        let ar = AuthResults::parse("mx.example.test; dkim=pass header.d=a.example spf=fail");
        let methods: Vec<_> = ar
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(methods, [("dkim", "pass"), ("spf", "fail")]);
    }

    #[test]
    fn authenticates_table() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "mx; dmarc=pass header.from=example.com",
                "example.com",
                true,
            ),
            (
                "mx; dmarc=pass header.from=EXAMPLE.com.",
                "example.com",
                true,
            ),
            (
                "mx; dmarc=pass header.from=mail.example.com",
                "example.com",
                false,
            ),
            ("mx; dmarc=pass", "example.com", false),
            (
                "mx; dmarc=fail header.from=example.com",
                "example.com",
                false,
            ),
            ("mx; dkim=pass header.d=example.com", "example.com", true),
            (
                "mx; dkim=pass header.d=mail.example.com",
                "example.com",
                true,
            ),
            ("mx; dkim=pass header.d=example.com", "eu.example.com", true),
            ("mx; dkim=pass header.i=@example.com", "example.com", true),
            (
                "mx; dkim=pass header.i=user@sub.example.com",
                "example.com",
                true,
            ),
            (
                "mx; dkim=pass header.d=a.example.com",
                "b.example.com",
                false,
            ),
            (
                "mx; dkim=pass header.d=badexample.com",
                "example.com",
                false,
            ),
            ("mx; dkim=pass header.d=com", "example.com", false),
            (
                "mx; dkim=pass header.d=attacker.co.uk",
                "victim.co.uk",
                false,
            ),
            ("mx; dkim=pass header.d=co.uk", "victim.co.uk", true),
            ("mx; dkim=fail header.d=example.com", "example.com", false),
            (
                "mx; dkim=neutral header.d=example.com",
                "example.com",
                false,
            ),
            (
                "mx; spf=pass smtp.mailfrom=bounce@mail.example.com",
                "example.com",
                true,
            ),
            (
                "mx; spf=pass smtp.mailfrom=example.com",
                "example.com",
                true,
            ),
            ("mx; spf=pass smtp.mailfrom=other.org", "example.com", false),
            ("mx; spf=pass smtp.helo=example.com", "example.com", false),
            (
                "mx; spf=softfail smtp.mailfrom=example.com",
                "example.com",
                false,
            ),
            (
                "mx; dkim=pass header.d=other.org; spf=pass smtp.mailfrom=example.com",
                "example.com",
                true,
            ),
            (
                "mx; x-custom=pass header.d=example.com",
                "example.com",
                false,
            ),
        ];
        for (value, domain, want) in cases {
            assert_eq!(
                AuthResults::parse(value).authenticates(domain),
                *want,
                "{value} for {domain}"
            );
        }
    }

    #[test]
    fn alignment_and_domain_extraction() {
        assert!(aligned("Example.COM", "example.com"));
        assert!(!aligned("", ""));
        assert!(!aligned("example.com", ".example.com"));
        assert_eq!(
            domain_of("User@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(domain_of("@example.com.").as_deref(), Some("example.com"));
        assert_eq!(domain_of("bad domain"), None);
        assert_eq!(domain_of("a@"), None);
        assert_eq!(domain_of("a@b..c"), None);
    }

    #[test]
    fn hostile_values_do_not_panic() {
        for value in [
            "",
            ";;;;",
            "(((((",
            "\"",
            "\\",
            "=",
            "= = =",
            "a=",
            "mx; =pass",
            "mx; dkim=",
            "mx; dkim",
            "mx; dkim =",
            ")",
            "mx; dkim=pass (unterminated",
        ] {
            let _ = AuthResults::parse(value);
        }
        let many = format!("mx; {}", "dkim=pass header.d=x.example ".repeat(10_000));
        let ar = AuthResults::parse(&many);
        assert_eq!(ar.results.len(), MAX_RESULTS);
    }
}
