//! Webhooks: when access ends (its window is over, or it was revoked), a
//! POST of JSON to the group's `on_end` URL, so a vault rotates the
//! password or a proxy cuts the session. Queued in the store with the state
//! change (`records::OutboundWebhook`), delivered and retried by
//! [`worker::run_webhooks`] like mail from the outbox.

mod client;
mod worker;

use chrono::{DateTime, SecondsFormat, Utc};
use hyper::Uri;

use crate::domain::request::{Request, Route};
use crate::records::OutboundWebhook;

pub(crate) use client::HookClient;
pub(crate) use worker::{run_webhooks, STALL_BOUND as WEBHOOK_STALL_BOUND};

/// Whether `url` may receive webhooks: `https://`, or `http://` only to a
/// loopback address (a local agent), since the body says who may no longer
/// act on what.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{url:?} names no host"))?
        .trim_matches(['[', ']']);
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if crate::config::endpoint::is_loopback(host) => Ok(()),
        Some("http") => Err(format!(
            "{url:?}: plain http is refused off the loopback interface; use https"
        )),
        _ => Err(format!("{url:?}: only https:// (or http:// to loopback)")),
    }
}

/// The `access-ended` call for `r`, if its group has an `on_end` URL.
pub(crate) fn access_ended(r: &Request, at: DateTime<Utc>) -> Option<OutboundWebhook> {
    let url = r.on_end.clone()?;
    let body = serde_json::json!({
        "event": "access-ended",
        "request": r.id.to_string(),
        "status": r.status.as_str(),
        "requester": r.requester.as_str(),
        "action": r.action,
        "resource": r.resource,
        "emergency": r.route == Route::Emergency,
        "window": {
            "start": r.granted_window.start().to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": r.granted_window.end().to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        "ended_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    Some(OutboundWebhook {
        request: r.id,
        event: "access-ended".into(),
        url,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_table() {
        let rows = [
            ("https://vault.example.test/hooks/rotate", true),
            ("http://127.0.0.1:8200/rotate", true),
            ("http://[::1]:8200/rotate", true),
            ("http://localhost/rotate", true),
            ("http://vault.example.test/rotate", false),
            ("ftp://vault.example.test/", false),
            ("vault.example.test/rotate", false),
            ("", false),
        ];
        for (url, ok) in rows {
            assert_eq!(check_url(url).is_ok(), ok, "{url}");
        }
    }
}
