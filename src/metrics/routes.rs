//! The monitoring routes: `GET /metrics` (Prometheus text) and
//! `GET /v1/health` (JSON, 200 or 503). Served on the API socket, where
//! connecting is already the permission (the socket's group), and on the
//! optional loopback metrics listener. Neither shows a request's content.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use tokio::time::Instant;

use super::Monitor;

/// The two routes, bound to `monitor`.
pub(crate) fn router(monitor: Monitor) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/health", get(health))
        .with_state(monitor)
}

async fn metrics(State(m): State<Monitor>) -> Response {
    // Reading the indexes touches the disk: off the async threads.
    let rendered = tokio::task::spawn_blocking(move || m.metrics.render(Instant::now())).await;
    match rendered {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot render the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store\n").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the metrics task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

async fn health(State(m): State<Monitor>) -> Response {
    let report = m.health.report(Instant::now());
    let status = if report.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}
