//! `GET /v1/audit`: the recorded audit events, chained, in pages — what
//! `approvald audit export` and `audit verify` read from a running daemon
//! (the store is the daemon's alone while it runs) — and
//! `GET /v1/store/export`, the whole store for a backup.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::routes::{forbid_unless, ApiError};
use super::views::ErrorBody;
use super::RequestService;
use crate::approvals::Caller;
use crate::audit::json::Object;
use crate::records::audit_chain::Sealed;

/// Events per page when the caller names no limit.
const DEFAULT_LIMIT: usize = 500;
/// The most events one page holds: an answer stays a few megabytes.
pub(crate) const MAX_LIMIT: usize = 5000;

/// The query: where to start and how many.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct AuditParams {
    /// The first sequence number wanted (default 1).
    since: Option<u64>,
    /// At most this many events (default 500, at most 5000).
    limit: Option<usize>,
}

/// One page of events.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct AuditPage {
    /// The events, oldest first, as `audit export` writes them.
    events: Vec<serde_json::Value>,
    /// The `since` of the next page, absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

pub(super) async fn list<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    forbid_unless(
        &*service,
        &caller,
        caller.may_read(true),
        "read the audit trail",
    )?;
    let Query(params) = params.map_err(|r| ApiError::rejected(r.status(), r.body_text(), None))?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::field("limit", format!("must be between 1 and {MAX_LIMIT}")),
        ));
    }
    let since = params.since.unwrap_or(1).max(1);
    let events = service
        .audit_log(since, limit + 1)
        .map_err(|e| ApiError::internal("audit trail read failed", &e))?;
    let next = events.get(limit).and_then(|e| e.link).map(|l| l.seq);
    let events = events
        .iter()
        .take(limit)
        .map(|e| {
            let sealed = Sealed::of(e, e.link.map_or(0, |l| l.seq));
            serde_json::to_value(Object::new(e, &sealed, None)).unwrap_or_default()
        })
        .collect();
    Ok((StatusCode::OK, Json(AuditPage { events, next })).into_response())
}

/// `GET /v1/store/export`: every record, for a backup; administrators only
/// (it holds every request, address and comment).
pub(super) async fn export<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let admin = service.is_admin(&caller);
    forbid_unless(&*service, &caller, admin, "export the store")?;
    let bytes = tokio::task::spawn_blocking(move || service.export_store())
        .await
        .map_err(|e| ApiError::internal("store export failed", &e))?
        .map_err(|e| ApiError::internal("store export failed", &e))?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        bytes,
    )
        .into_response())
}
