//! `GET /v1/requests`: lists and reports. Filters (status, requester,
//! approver, action, resource, emergency, creation time), pages (`limit`,
//! `cursor`), and JSON or CSV (`format=csv` or `Accept: text/csv`). "My
//! requests" is `requester=ME`; "my approvals" is `approver=ME`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::routes::ApiError;
use super::views::{ErrorBody, ListView, RequestView};
use super::RequestService;
use crate::approvals::{Caller, Filter, Page};
use crate::domain::ids::{Address, RequestId};
use crate::domain::request::{Request, Route, Status};

/// The filters of a list query. Unknown parameters are refused so that a
/// misspelt filter does not silently return everything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    requester: Option<String>,
    /// Requests this address is asked to approve (at any level).
    approver: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    emergency: Option<bool>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    /// At most this many (default [`DEFAULT_PAGE`], at most [`MAX_PAGE`]).
    limit: Option<usize>,
    /// Only requests after this one: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Requests per page when the client does not say.
const DEFAULT_PAGE: usize = 100;

/// Most requests per page: one answer stays small whatever the store holds.
const MAX_PAGE: usize = 1000;

/// The CSV columns, in order.
pub(crate) const CSV_HEADER: &str = "id,status,emergency,requester,action,resource,reason,governance_code,window_start,window_end,created,closed,decisions";

fn bad(field: &str, error: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorBody::field(field, error))
}

pub(super) async fn list<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    super::routes::forbid_unless(&*service, &caller, caller.may_read(true), "list requests")?;
    let Query(params) = params.map_err(|r| ApiError::rejected(r.status(), r.body_text(), None))?;
    let address = |field: &str, value: Option<String>| {
        value
            .map(|a| a.parse::<Address>().map_err(|e| bad(field, e)))
            .transpose()
    };
    let status = params
        .status
        .map(|s| {
            Status::parse(&s).ok_or_else(|| {
                let shown: String = s.chars().take(64).collect();
                bad(
                    "status",
                    format!(
                        "unknown status {shown:?} (one of: pending, approved, active, ended, rejected, expired, cancelled, revoked)"
                    ),
                )
            })
        })
        .transpose()?;
    let filter = Filter {
        status,
        requester: address("requester", params.requester)?,
        approver: address("approver", params.approver)?,
        action: params.action,
        resource: params.resource,
        emergency: params.emergency,
        created_after: params.created_after,
        created_before: params.created_before,
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(bad("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let after = params
        .cursor
        .map(|c| c.parse::<RequestId>().map_err(|e| bad("cursor", e)))
        .transpose()?;
    let accept_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let csv = match params.format.as_deref() {
        None => accept_csv,
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(bad("format", "must be json or csv")),
    };
    // One more than asked for tells whether another page follows.
    let page = Page {
        after,
        limit: limit + 1,
    };
    let mut requests = service
        .list(&filter, page)
        .map_err(|e| ApiError::internal("cannot list requests", &e))?;
    let more = requests.len() > limit;
    requests.truncate(limit);
    let next_cursor = more
        .then(|| requests.last().map(|r| r.id.to_string()))
        .flatten();
    if csv {
        let mut response = (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&requests),
        )
            .into_response();
        if let Some(next) = next_cursor.and_then(|c| c.parse().ok()) {
            response.headers_mut().insert("x-next-cursor", next);
        }
        return Ok(response);
    }
    Ok(Json(ListView {
        requests: requests.iter().map(RequestView::from).collect(),
        next_cursor,
    })
    .into_response())
}

/// The requests as CSV (RFC 4180, CRLF line ends) with a header row.
pub(crate) fn to_csv(requests: &[Request]) -> String {
    let mut out = String::with_capacity(64 + requests.len() * 256);
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    for r in requests {
        let decisions = r
            .decisions
            .iter()
            .map(|d| {
                format!(
                    "L{} {} {}",
                    d.level,
                    d.approver,
                    d.verb.as_str().to_lowercase()
                )
            })
            .chain(r.interventions.iter().map(|i| {
                let what = match i.kind {
                    crate::domain::request::InterventionKind::Cancel => "cancel".to_owned(),
                    crate::domain::request::InterventionKind::Revoke => "revoke".to_owned(),
                    crate::domain::request::InterventionKind::Override { to } => {
                        format!("override {}", to.as_str())
                    }
                };
                format!("{what} by {}", i.by)
            }))
            .collect::<Vec<_>>()
            .join("; ");
        let cells = [
            r.id.to_string(),
            r.status.as_str().to_owned(),
            (r.route == Route::Emergency).to_string(),
            r.requester.to_string(),
            r.action.clone(),
            r.resource.clone(),
            r.reason.clone(),
            r.governance_code.clone(),
            time(r.granted_window.start()),
            time(r.granted_window.end()),
            time(r.created_at),
            r.closed_at.map(time).unwrap_or_default(),
            decisions,
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell, always quoted (so a `;` inside cannot split it for a
/// spreadsheet that separates by `;`), and a value a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@`, tab, carriage return first, in their
/// ASCII or full-width forms) prefixed with `'`: requesters choose much of
/// this text, and the export is opened by auditors.
fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'])
    {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::tests::two_level_request;

    #[test]
    fn csv_cells_table() {
        let rows = [
            ("plain", "\"plain\""),
            ("a,b", "\"a,b\""),
            ("a;=1+1", "\"a;=1+1\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "\"'+1\""),
            ("-1", "\"'-1\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("＝1+1", "\"'＝1+1\""),
            ("", "\"\""),
        ];
        for (value, want) in rows {
            assert_eq!(cell(value), want, "{value:?}");
        }
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_request() {
        let mut r = two_level_request();
        r.resource = "web-01, the old one".into();
        let csv = to_csv(&[r.clone(), two_level_request()]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 4, "header, two rows, and the final line end");
        assert!(
            lines[1].starts_with(
                "\"AR-7\",\"pending\",\"false\",\"dave@example.test\",\"certificate.sign\",\"web-01, the old one\","
            ),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[1].matches(',').count(),
            lines[0].matches(',').count() + 1,
            "one comma is inside quotes"
        );
    }
}
