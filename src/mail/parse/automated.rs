//! Recognising machine-generated mail (auto-replies, bounces, receipts,
//! mailing lists).
//!
//! The daemon must neither take such a message as an approver's decision
//! nor answer it (which could start a mail loop), so anything that says it
//! is automated is treated as automated; `Auto-Submitted: no` is the only
//! explicit "not automated". `X-Auto-Response-Suppress` is ignored: Outlook
//! sets it on ordinary mail.

use std::fmt;

use super::headers::RawHeaders;

/// Header values shown in `Display` are cut to this many characters: they
/// come from the sender and end up in the audit log.
const MAX_SHOWN: usize = 80;

/// Why a message is considered machine-generated. When several reasons
/// apply, the most specific is reported, in the order of the variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Automated {
    /// Top-level `multipart/report`: a delivery status notification
    /// (`delivery-status`), read receipt (`disposition-notification`) or
    /// other report; carries the `report-type`, lowercase ("" if missing).
    Report(String),
    /// `Auto-Submitted` with a value other than `no` (RFC 3834), lowercase,
    /// without parameters or comments, e.g. `auto-replied`.
    AutoSubmitted(String),
    /// `X-Autoreply` present (vacation programs).
    XAutoreply,
    /// `X-Autorespond` present (autoresponders).
    XAutorespond,
    /// `Return-Path: <>`: the null sender used by bounces and receipts.
    NullReturnPath,
    /// `Precedence: bulk | junk | list | auto_reply`, lowercase.
    Precedence(String),
    /// `List-Id` present: the message came through a mailing list.
    ListId(String),
    /// `List-Unsubscribe` present: a list or bulk sender.
    ListUnsubscribe,
}

/// Names the header that gave the message away, e.g.
/// `Auto-Submitted: auto-replied`, for the audit log. Sender-supplied
/// values are shortened and control characters replaced.
impl fmt::Display for Automated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Automated::Report(kind) => write!(f, "multipart/report ({})", shown(kind)),
            Automated::AutoSubmitted(value) => write!(f, "Auto-Submitted: {}", shown(value)),
            Automated::XAutoreply => f.write_str("X-Autoreply"),
            Automated::XAutorespond => f.write_str("X-Autorespond"),
            Automated::NullReturnPath => f.write_str("Return-Path: <>"),
            Automated::Precedence(value) => write!(f, "Precedence: {}", shown(value)),
            Automated::ListId(id) => write!(f, "List-Id: {}", shown(id)),
            Automated::ListUnsubscribe => f.write_str("List-Unsubscribe"),
        }
    }
}

fn shown(value: &str) -> String {
    value
        .chars()
        .take(MAX_SHOWN)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Classifies a message by its top-level headers. `report_type` is
/// `Some` when the top-level body is `multipart/report`.
pub(crate) fn detect(headers: &RawHeaders, report_type: Option<String>) -> Option<Automated> {
    if let Some(report_type) = report_type {
        return Some(Automated::Report(report_type));
    }
    if let Some(value) = headers
        .all("auto-submitted")
        .map(keyword)
        .find(|v| v != "no")
    {
        return Some(Automated::AutoSubmitted(value));
    }
    if headers
        .all("x-autoreply")
        .any(|v| !v.eq_ignore_ascii_case("no"))
    {
        return Some(Automated::XAutoreply);
    }
    if headers
        .all("x-autorespond")
        .any(|v| !v.eq_ignore_ascii_case("no"))
    {
        return Some(Automated::XAutorespond);
    }
    if headers.all("return-path").any(is_null_path) {
        return Some(Automated::NullReturnPath);
    }
    if let Some(value) = headers
        .all("precedence")
        .map(keyword)
        .find(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"))
    {
        return Some(Automated::Precedence(value));
    }
    if let Some(id) = headers.all("list-id").next() {
        return Some(Automated::ListId(id.to_string()));
    }
    if headers.has("list-unsubscribe") {
        return Some(Automated::ListUnsubscribe);
    }
    None
}

/// The leading keyword of a structured value: `auto-replied; owner=x`
/// and `auto-generated (vacation)` give `auto-replied`, `auto-generated`.
fn keyword(value: &str) -> String {
    value
        .split([';', '(', ' ', '\t'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `<>`, possibly with spaces or a comment around it.
fn is_null_path(value: &str) -> bool {
    let without_comment = value.split('(').next().unwrap_or("");
    let compact: String = without_comment
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    compact == "<>"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Headers, report-type of a top-level multipart/report, expected result.
    type Case = (
        Vec<(&'static str, &'static str)>,
        Option<&'static str>,
        Option<Automated>,
    );

    #[test]
    fn display_names_the_header_and_sanitises_values() {
        let cases = [
            (
                Automated::Report("delivery-status".into()),
                "multipart/report (delivery-status)",
            ),
            (
                Automated::AutoSubmitted("auto-replied".into()),
                "Auto-Submitted: auto-replied",
            ),
            (Automated::XAutoreply, "X-Autoreply"),
            (Automated::XAutorespond, "X-Autorespond"),
            (Automated::NullReturnPath, "Return-Path: <>"),
            (Automated::Precedence("bulk".into()), "Precedence: bulk"),
            (
                Automated::ListId("a\u{1b}[31m\tb".into()),
                "List-Id: a?[31m?b",
            ),
            (Automated::ListUnsubscribe, "List-Unsubscribe"),
        ];
        for (automated, want) in cases {
            assert_eq!(automated.to_string(), want);
        }
        let long = Automated::ListId("x".repeat(500)).to_string();
        assert_eq!(long.len(), "List-Id: ".len() + MAX_SHOWN);
    }

    #[test]
    fn classification_table() {
        let cases: Vec<Case> = vec![
            (vec![], None, None),
            (vec![("Auto-Submitted", "no")], None, None),
            (vec![("Auto-Submitted", "NO (manual)")], None, None),
            (
                vec![("Auto-Submitted", "Auto-Replied; owner-email=\"a@b\"")],
                None,
                Some(Automated::AutoSubmitted("auto-replied".into())),
            ),
            (
                vec![("Auto-Submitted", "auto-generated (vacation)")],
                None,
                Some(Automated::AutoSubmitted("auto-generated".into())),
            ),
            (
                vec![("Auto-Submitted", "")],
                None,
                Some(Automated::AutoSubmitted(String::new())),
            ),
            (
                vec![("X-Autoreply", "yes")],
                None,
                Some(Automated::XAutoreply),
            ),
            (
                vec![("X-Autorespond", "x")],
                None,
                Some(Automated::XAutorespond),
            ),
            (
                vec![("Return-Path", "<>")],
                None,
                Some(Automated::NullReturnPath),
            ),
            (
                vec![("Return-Path", " < > (bounce)")],
                None,
                Some(Automated::NullReturnPath),
            ),
            (vec![("Return-Path", "<a@b.example>")], None, None),
            (
                vec![("Precedence", "Bulk")],
                None,
                Some(Automated::Precedence("bulk".into())),
            ),
            (
                vec![("Precedence", "auto_reply")],
                None,
                Some(Automated::Precedence("auto_reply".into())),
            ),
            (vec![("Precedence", "first-class")], None, None),
            (
                vec![("List-Id", "IT <it.lists.example.test>")],
                None,
                Some(Automated::ListId("IT <it.lists.example.test>".into())),
            ),
            (
                vec![("List-Unsubscribe", "<mailto:u@x>")],
                None,
                Some(Automated::ListUnsubscribe),
            ),
            (vec![("X-Auto-Response-Suppress", "All")], None, None),
            (
                vec![("Auto-Submitted", "auto-replied"), ("Return-Path", "<>")],
                Some("delivery-status"),
                Some(Automated::Report("delivery-status".into())),
            ),
            (
                vec![
                    ("Auto-Submitted", "no"),
                    ("Auto-Submitted", "auto-generated"),
                ],
                None,
                Some(Automated::AutoSubmitted("auto-generated".into())),
            ),
        ];
        for (pairs, report, want) in cases {
            let headers = RawHeaders::from_pairs(&pairs);
            assert_eq!(
                detect(&headers, report.map(String::from)),
                want,
                "{pairs:?} {report:?}"
            );
        }
    }
}
