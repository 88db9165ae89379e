//! The API on the HTTP listener: every call needs `Authorization: Bearer
//! KEY`. A missing or unknown key is answered 401, a key whose role does not
//! allow the call 403 (in the routes); both audited with the key's name,
//! never the key. Each key may make a burst of [`BURST`] calls, refilled at
//! [`PER_SECOND`] a second; beyond that, 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::time::Instant;

use super::views::ErrorBody;
use crate::approvals::{Approvals, Caller};

/// Calls a key may make at once.
const BURST: f64 = 20.0;
/// Calls a key may make per second, sustained.
const PER_SECOND: f64 = 10.0;

/// What the gate needs: the keys (through the service's settings, so a
/// reload applies) and each key's bucket.
#[derive(Clone)]
pub(super) struct KeyGate {
    pub(super) approvals: Arc<Approvals>,
    /// Tokens left and when they were last counted, by key name.
    pub(super) buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

fn refuse(status: StatusCode, why: &str) -> Response {
    let mut r = (status, Json(ErrorBody::plain(why))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// Lets a call through with its [`Caller`] attached, or answers 401/429.
pub(super) async fn authenticate(
    State(gate): State<KeyGate>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let caller = presented.and_then(|k| gate.approvals.caller_for_key(k));
    let Some(caller) = caller else {
        let why = if presented.is_some() {
            "an unknown API key"
        } else {
            "no API key (Authorization: Bearer KEY)"
        };
        gate.approvals.record_refusal("an HTTP API client", why);
        return refuse(StatusCode::UNAUTHORIZED, why);
    };
    if let Caller::Key { name, .. } = &caller {
        let allowed = {
            let mut buckets = gate
                .buckets
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let (tokens, at) = buckets.entry(name.clone()).or_insert((BURST, now));
            *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * PER_SECOND).min(BURST);
            *at = now;
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                true
            } else {
                false
            }
        };
        if !allowed {
            tracing::warn!(key = %name, "API key over its rate limit");
            return refuse(StatusCode::TOO_MANY_REQUESTS, "too many calls: slow down");
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}
