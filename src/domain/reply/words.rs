//! Splitting one line into words, remembering the punctuation between them: whether a
//! negation belongs to a decision word, or whether a decision word ends a question,
//! depends on that punctuation.

/// One word of a line.
pub(super) struct Word<'a> {
    /// The word as written, without surrounding punctuation; kept to quote it back.
    pub(super) raw: &'a str,
    /// Byte offset just after the word in the line, where the rest of the line (window,
    /// comment) starts.
    pub(super) end: usize,
    /// Lower-cased with typographic apostrophes made straight, for comparisons.
    pub(super) norm: String,
    /// Whether punctuation separates this word from the one before: "No, approve" is
    /// an answer followed by a verb, "not approve" is a negated verb.
    pub(super) break_before: bool,
    /// The punctuation right after the word (`?` when any question mark is there),
    /// used to tell "Approve?" from "Approve.".
    pub(super) punct_after: Option<char>,
}

/// Characters that separate words even without spaces around them: anything but
/// letters, digits, combining marks and the few marks that occur inside words or
/// addresses ("don't", "e.g.", "pre-approved", "alice@example.test"). Emoji and
/// other symbols separate, so "Approve👍" still holds the word "Approve".
fn is_separator(c: char) -> bool {
    let in_word = c.is_alphanumeric()
        || ('\u{300}'..='\u{36f}').contains(&c)
        || matches!(
            c,
            '\'' | '’' | '‘' | '.' | '-' | '_' | '@' | '*' | '~' | '`' | '#' | '%' | '$'
        );
    !in_word
}

/// Characters trimmed from the edges of a word (`*APPROVE*`, `approved.`, `'ok'`).
fn is_edge(c: char) -> bool {
    matches!(c, '.' | '-' | '\'' | '’' | '‘' | '*' | '_' | '~' | '`')
}

/// Punctuation that ends a clause, as far as negation and questions are concerned.
fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        ',' | ';' | ':' | '!' | '?' | '.' | '(' | ')' | '—' | '–' | '-'
    )
}

/// The words of `line` in order. Tokens without a letter or digit (emoji, lone
/// dashes) are not words but their punctuation still separates clauses.
pub(super) fn words(line: &str) -> Vec<Word<'_>> {
    let mut out: Vec<Word<'_>> = Vec::new();
    let mut pending: Option<char> = None;
    let mut token_start: Option<usize> = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        if !is_separator(c) {
            if token_start.is_none() {
                token_start = Some(i);
            }
            continue;
        }
        if let Some(start) = token_start.take() {
            push_token(line, start, i, &mut out, &mut pending);
        }
        if is_clause_break(c) {
            note_break(&mut pending, c);
        }
    }
    if let Some(last) = out.last_mut() {
        merge_break(&mut last.punct_after, pending);
    }
    out
}

/// Adds the token `line[start..end]` as a word (when it has a letter or digit),
/// moving its edge punctuation into the gaps around it.
fn push_token<'a>(
    line: &'a str,
    start: usize,
    end: usize,
    out: &mut Vec<Word<'a>>,
    pending: &mut Option<char>,
) {
    let Some(token) = line.get(start..end) else {
        return;
    };
    let trimmed_start = token.trim_start_matches(is_edge);
    let lead = token.len() - trimmed_start.len();
    let trimmed = trimmed_start.trim_end_matches(is_edge);
    if let Some(lead_text) = token.get(..lead) {
        lead_text
            .chars()
            .filter(|&c| is_clause_break(c))
            .for_each(|c| note_break(pending, c));
    }
    if !trimmed.chars().any(char::is_alphanumeric) {
        if let Some(rest) = token.get(lead..) {
            rest.chars()
                .filter(|&c| is_clause_break(c))
                .for_each(|c| note_break(pending, c));
        }
        return;
    }
    let word_end = start + lead + trimmed.len();
    if let Some(prev) = out.last_mut() {
        merge_break(&mut prev.punct_after, *pending);
    }
    let break_before = pending.is_some();
    *pending = None;
    out.push(Word {
        raw: trimmed,
        end: word_end,
        norm: trimmed.to_lowercase().replace('’', "'"),
        break_before,
        punct_after: None,
    });
    if let Some(tail) = line.get(word_end..end) {
        tail.chars()
            .filter(|&c| is_clause_break(c))
            .for_each(|c| note_break(pending, c));
    }
}

/// Records punctuation in the current gap: the first mark counts, except that a
/// question mark anywhere makes the gap a question.
fn note_break(pending: &mut Option<char>, c: char) {
    match pending {
        None => *pending = Some(c),
        Some(_) if c == '?' => *pending = Some('?'),
        Some(_) => {}
    }
}

/// Folds a gap's punctuation into the word before it.
fn merge_break(slot: &mut Option<char>, gap: Option<char>) {
    if let Some(c) = gap {
        note_break(slot, c);
    }
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn edge_punctuation_is_not_part_of_the_word() {
        let w = words("*Approved*. Thanks!");
        let norms: Vec<&str> = w.iter().map(|w| w.norm.as_str()).collect();
        assert_eq!(norms, ["approved", "thanks"]);
        assert_eq!(w.first().and_then(|w| w.punct_after), Some('.'));
        assert!(w.get(1).is_some_and(|w| w.break_before));
    }

    #[test]
    fn question_mark_wins_over_other_punctuation() {
        let w = words("approve?!");
        assert_eq!(w.first().and_then(|w| w.punct_after), Some('?'));
    }

    #[test]
    fn slash_separates_two_words() {
        let w = words("APPROVE/DISAPPROVE");
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn emoji_is_not_a_word() {
        assert!(words("👍").is_empty());
    }
}
