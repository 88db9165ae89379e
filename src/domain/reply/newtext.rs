//! Separating what the approver typed from what the client quoted.
//!
//! The reply is walked once from the top. `>`-quoted lines are skipped, and so is a
//! quote header directly followed by `>` lines (bottom-posting and interleaving keep
//! going below it). A quote header followed by unquoted text, approvald's marker line,
//! a signature delimiter or a client footer ends the new text: everything under it is
//! the original or a signature. A signature or footer above anything the approver typed
//! is skipped instead, since the answer can then only be below it.

use super::{quote, signature};

/// Most lines of a signature block skipped when a signature delimiter comes before
/// anything the approver wrote (signature placed above the quote, reply typed below).
const MAX_LEADING_SIGNATURE_LINES: usize = 10;

/// One line the approver typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NewLine<'a> {
    /// The line, trimmed.
    pub(super) text: &'a str,
    /// Which stretch of new text the line belongs to; stretches are separated by
    /// quoted blocks, and a comment never continues across one.
    pub(super) stretch: usize,
}

/// The lines of new text in `text` (already normalized), in order.
pub(super) fn new_lines(text: &str) -> Vec<NewLine<'_>> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut stretch = 0;
    let mut typed_anything = false;
    let mut in_quote = false;
    let mut i = 0;
    while let Some(&raw) = lines.get(i) {
        let line = raw.trim();
        if quote::is_quoted(line) {
            if !in_quote {
                stretch += 1;
                in_quote = true;
            }
            i += 1;
            continue;
        }
        in_quote = false;
        if quote::is_marker(line) {
            break;
        }
        if signature::is_client_footer(line) {
            if typed_anything {
                break;
            }
            // A footer above anything typed: the approver wrote below it.
            i += 1;
            stretch += 1;
            continue;
        }
        if signature::is_delimiter(line) {
            if typed_anything {
                break;
            }
            i = skip_block(&lines, i + 1);
            stretch += 1;
            continue;
        }
        if let Some(end) = quote::header_end(&lines, i) {
            if !introduces_quote(&lines, end + 1) {
                break;
            }
            stretch += 1;
            i = end + 1;
            continue;
        }
        typed_anything |= !line.is_empty();
        out.push(NewLine {
            text: line,
            stretch,
        });
        i += 1;
    }
    out
}

/// Whether the first non-blank line from `from` on is `>`-quoted: the header before it
/// then only introduces a quote block and new text may follow the block.
fn introduces_quote(lines: &[&str], from: usize) -> bool {
    lines
        .iter()
        .skip(from)
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| quote::is_quoted(l))
}

/// The index after the block of non-blank lines starting at `from` (bounded).
fn skip_block(lines: &[&str], from: usize) -> usize {
    let mut i = from;
    while lines.get(i).is_some_and(|l| !l.trim().is_empty())
        && i - from < MAX_LEADING_SIGNATURE_LINES
    {
        i += 1;
    }
    i
}
