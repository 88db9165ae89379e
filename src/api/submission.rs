//! Reading a submission body: every field checked and every problem named
//! at once, unknown fields refused, before anything reaches the domain.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::views::{FieldErrorView, WindowView};
use crate::domain::access_window::AccessWindow;
use crate::domain::ids::Address;
use crate::domain::policy::Submission;

/// Longest field name echoed back in an "unknown field" error, so that a
/// hostile body cannot make the answer large.
const MAX_ECHOED_NAME_CHARS: usize = 64;

/// Longest accepted value of a one-line text field, in characters: these
/// values end up in mail subjects and audit lines, where an unbounded value
/// would only ever be an accident or an attack.
const MAX_LINE_CHARS: usize = 256;

/// A submission as the client sends it. The server does not deserialize into
/// this type (see [`parse_submission`]) so that it can name every bad field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct SubmitBody {
    /// The requester's email address.
    pub(crate) requester: String,
    /// The privileged action asked for.
    pub(crate) action: String,
    /// What the action applies to.
    pub(crate) resource: String,
    /// Why, in the requester's words.
    pub(crate) justification: String,
    /// One of the registered reasons.
    pub(crate) reason: String,
    /// The change or incident ticket the request answers to.
    pub(crate) governance_code: String,
    /// The window asked for.
    pub(crate) window: WindowView,
    /// Break-glass access, where the group allows it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) emergency: bool,
}

/// Why a submission body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RequestBodyError {
    /// The body is JSON but not an object: nothing can be said per field.
    NotAnObject,
    /// These fields are missing or invalid.
    Fields(Vec<FieldErrorView>),
}

/// The fields a submission may have.
const SUBMIT_FIELDS: [&str; 8] = [
    "requester",
    "action",
    "resource",
    "justification",
    "reason",
    "governance_code",
    "window",
    "emergency",
];

/// Reads a submission from a JSON body, reporting every missing or invalid
/// field at once. Unknown fields are refused so that a misspelt optional
/// field cannot be silently ignored.
pub(crate) fn parse_submission(body: &Value) -> Result<Submission, RequestBodyError> {
    let Some(obj) = body.as_object() else {
        return Err(RequestBodyError::NotAnObject);
    };
    let mut errors = Vec::new();
    let mut fail = |field: &str, error: String| {
        errors.push(FieldErrorView {
            field: field.to_owned(),
            error,
        })
    };
    for key in obj.keys() {
        if !SUBMIT_FIELDS.contains(&key.as_str()) {
            let shown: String = key.chars().take(MAX_ECHOED_NAME_CHARS).collect();
            fail(&shown, format!("unknown field {shown:?}"));
        }
    }
    let requester = string(obj, "requester", Lines::One)
        .and_then(|s| s.parse::<Address>())
        .map_err(|e| fail("requester", e))
        .ok();
    let mut text = |field: &'static str, lines: Lines| {
        string(obj, field, lines)
            .map(str::to_owned)
            .map_err(|e| fail(field, e))
            .ok()
    };
    let action = text("action", Lines::One);
    let resource = text("resource", Lines::One);
    let justification = text("justification", Lines::Many);
    let reason = text("reason", Lines::One);
    let governance_code = text("governance_code", Lines::One);
    let window = window(obj).map_err(|(f, e)| fail(f, e)).ok();
    let emergency = match obj.get("emergency") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            fail("emergency", "must be true or false".into());
            false
        }
    };
    match (
        requester,
        action,
        resource,
        justification,
        reason,
        governance_code,
        window,
    ) {
        (
            Some(requester),
            Some(action),
            Some(resource),
            Some(justification),
            Some(reason),
            Some(governance_code),
            Some(window),
        ) if errors.is_empty() => Ok(Submission {
            requester,
            action,
            resource,
            justification,
            reason,
            governance_code,
            window,
            emergency,
        }),
        _ => Err(RequestBodyError::Fields(errors)),
    }
}

/// Whether a text field may span lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// Names and codes: they go into mail subjects and audit lines.
    One,
    /// Free text, shown in mail bodies.
    Many,
}

/// A required string field, refusing control characters that could forge
/// lines in mail or logs, or rewrite a terminal showing the value.
fn string<'a>(obj: &'a Map<String, Value>, field: &str, lines: Lines) -> Result<&'a str, String> {
    let s = match obj.get(field) {
        None | Some(Value::Null) => return Err(format!("{field} is required")),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(format!("{field} must be a string")),
    };
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
    if s.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(match lines {
            Lines::One => format!("{field} must be one line without control characters"),
            Lines::Many => format!("{field} must not contain control characters"),
        });
    }
    if lines == Lines::One && s.chars().count() > MAX_LINE_CHARS {
        return Err(format!(
            "{field} is longer than {MAX_LINE_CHARS} characters"
        ));
    }
    Ok(s)
}

/// The `window` field: an object of two RFC 3339 instants, start before end.
fn window(obj: &Map<String, Value>) -> Result<AccessWindow, (&'static str, String)> {
    let w = match obj.get("window") {
        None | Some(Value::Null) => return Err(("window", "window is required".to_owned())),
        Some(Value::Object(w)) => w,
        Some(_) => {
            return Err((
                "window",
                "window must be an object {\"start\": ..., \"end\": ...}".to_owned(),
            ))
        }
    };
    if let Some(other) = w.keys().find(|k| !matches!(k.as_str(), "start" | "end")) {
        let shown: String = other.chars().take(MAX_ECHOED_NAME_CHARS).collect();
        return Err(("window", format!("unknown field window.{shown}")));
    }
    let start = instant(w, "start").map_err(|e| ("window.start", e))?;
    let end = instant(w, "end").map_err(|e| ("window.end", e))?;
    AccessWindow::new(start, end).map_err(|e| ("window", e))
}

fn instant(w: &Map<String, Value>, field: &str) -> Result<DateTime<Utc>, String> {
    match w.get(field) {
        None | Some(Value::Null) => Err(format!("window.{field} is required")),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                let shown: String = s.chars().take(MAX_ECHOED_NAME_CHARS).collect();
                format!("window.{field} {shown:?} is not an RFC 3339 time ({e})")
            }),
        Some(_) => Err(format!(
            "window.{field} must be an RFC 3339 time string, e.g. 2026-11-21T09:00:00Z"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "requester": "Dave@Example.test",
            "action": "certificate.sign",
            "resource": "web-01",
            "justification": "expiring\nsoon",
            "reason": "Incident",
            "governance_code": "CHG-9",
            "window": {"start": "2026-11-21T10:00:00Z", "end": "2026-11-21T12:00:00+01:00"}
        })
    }

    fn with(path: &[&str], v: Value) -> Value {
        let mut body = valid();
        let mut at = &mut body;
        let (last, parents) = path.split_last().unwrap();
        for p in parents {
            at = at.get_mut(*p).unwrap();
        }
        at.as_object_mut().unwrap().insert((*last).to_owned(), v);
        body
    }

    fn without(field: &str) -> Value {
        let mut body = valid();
        body.as_object_mut().unwrap().remove(field);
        body
    }

    fn fields(body: &Value) -> Vec<String> {
        match parse_submission(body) {
            Err(RequestBodyError::Fields(errs)) => errs.into_iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_body_becomes_a_submission_in_utc() {
        let s = parse_submission(&valid()).unwrap();
        assert_eq!(s.requester.as_str(), "dave@example.test");
        assert_eq!(s.justification, "expiring\nsoon");
        let t = |h| Utc.with_ymd_and_hms(2026, 11, 21, h, 0, 0).unwrap();
        assert_eq!((s.window.start(), s.window.end()), (t(10), t(11)));
    }

    #[test]
    fn each_bad_field_is_named() {
        let long = "x".repeat(MAX_LINE_CHARS + 1);
        let cases: Vec<(&str, Value, &str)> = vec![
            ("missing requester", without("requester"), "requester"),
            (
                "bad address",
                with(&["requester"], json!("dave")),
                "requester",
            ),
            ("number as action", with(&["action"], json!(7)), "action"),
            (
                "null resource",
                with(&["resource"], json!(null)),
                "resource",
            ),
            (
                "newline in resource",
                with(&["resource"], json!("a\nb")),
                "resource",
            ),
            (
                "escape in reason",
                with(&["reason"], json!("\u{1b}[2J")),
                "reason",
            ),
            (
                "too long governance code",
                with(&["governance_code"], json!(long)),
                "governance_code",
            ),
            (
                "bell in justification",
                with(&["justification"], json!("a\u{7}")),
                "justification",
            ),
            ("missing window", without("window"), "window"),
            ("window as string", with(&["window"], json!("2h")), "window"),
            (
                "bad start",
                with(&["window", "start"], json!("tomorrow")),
                "window.start",
            ),
            (
                "missing end",
                with(&["window", "end"], json!(null)),
                "window.end",
            ),
            (
                "end not a string",
                with(&["window", "end"], json!(5)),
                "window.end",
            ),
            (
                "inverted window",
                with(&["window", "end"], json!("2026-11-21T09:00:00Z")),
                "window",
            ),
            (
                "empty window",
                with(&["window", "end"], json!("2026-11-21T10:00:00Z")),
                "window",
            ),
            (
                "unknown window key",
                with(&["window", "length"], json!("2h")),
                "window",
            ),
            (
                "unknown field",
                with(&["governance-code"], json!("CHG-1")),
                "governance-code",
            ),
        ];
        for (name, body, field) in cases {
            assert_eq!(fields(&body), vec![field.to_owned()], "{name}");
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let body = json!({"requester": "x", "window": {"start": "x", "end": "y"}});
        assert_eq!(
            fields(&body),
            [
                "requester",
                "action",
                "resource",
                "justification",
                "reason",
                "governance_code",
                "window.start"
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_whole() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(
                parse_submission(&body).unwrap_err(),
                RequestBodyError::NotAnObject,
                "{body}"
            );
        }
    }

    #[test]
    fn hostile_unknown_field_names_are_not_echoed_in_full() {
        let name = "k".repeat(10_000);
        let errs = fields(&with(&[&name], json!(1)));
        assert_eq!(errs[0].chars().count(), MAX_ECHOED_NAME_CHARS);
    }

    proptest! {
        /// Whatever text arrives in whichever fields, reading it never
        /// panics, and a refusal always names known fields.
        #[test]
        fn arbitrary_field_values_give_a_submission_or_named_errors(
            values in proptest::collection::vec(any::<String>(), 8),
            keep in proptest::collection::vec(any::<bool>(), 7),
        ) {
            let mut body = Map::new();
            for ((name, value), keep) in SUBMIT_FIELDS.iter().zip(&values).zip(&keep) {
                if *keep {
                    body.insert((*name).to_owned(), json!(value));
                }
            }
            if keep[6] {
                body.insert("window".into(), json!({"start": values[6], "end": values[7]}));
            }
            match parse_submission(&Value::Object(body)) {
                Ok(s) => {
                    for text in [&s.action, &s.resource, &s.reason, &s.governance_code] {
                        prop_assert!(!text.chars().any(char::is_control));
                    }
                }
                Err(RequestBodyError::Fields(errors)) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(
                            SUBMIT_FIELDS.contains(&e.field.as_str())
                                || e.field == "window.start"
                                || e.field == "window.end",
                            "unexpected field {}", e.field
                        );
                    }
                }
                Err(RequestBodyError::NotAnObject) => prop_assert!(false, "an object was refused whole"),
            }
        }
    }
}
