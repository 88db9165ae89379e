//! `/d/{token}`: the decision page. GET (and HEAD) only show it and change
//! nothing, whoever fetches it (mail security scanners fetch every link).
//! Only a POST of its form decides: with the token in the body, the page's
//! anti-forgery value bound to the token, and a same-origin `Origin` (or
//! `Referer`). No script on the page, so nothing submits the form but a
//! person's click. Every answer carries headers that keep it out of caches,
//! frames and referrers.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use chrono::{DateTime, Utc};
use minijinja::{context, Environment, Value};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::approvals::{Approvals, PageState, PostOutcome};
use crate::domain::policy::human;
use crate::domain::reply::Verb;
use crate::domain::request::Request;

/// The client's address, attached to each connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// The page's only style sheet; its hash is the only style the
/// Content-Security-Policy allows.
const CSS: &str = "body{margin:0;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;line-height:1.45;color:#1a1a1a;background:#fff}main{max-width:640px;margin:0 auto;padding:16px}h1{font-size:22px}h2{font-size:17px;margin-top:20px}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:8px;border-left:3px solid #ccc}label{display:block;margin-top:12px;color:#333}textarea,input[type=text]{width:100%;box-sizing:border-box;font-size:16px;padding:8px}.buttons{display:flex;gap:12px;margin-top:16px}button{flex:1;font-size:18px;padding:14px;border:0;border-radius:6px;color:#fff}.approve{background:#1e7b34}.disapprove{background:#b3261e}.msg{padding:10px;border-radius:4px}.good{background:#e6f4ea}.bad{background:#fce8e6}.info{background:#eef3fd}.note,.who{color:#555;font-size:14px}@media (prefers-color-scheme:dark){body{background:#121212;color:#eee}pre{background:#1e1e1e}dt,.note,.who{color:#aaa}.good{background:#17351f}.bad{background:#3d1512}.info{background:#16233d}}";

/// The page template, compiled once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html`: minijinja escapes every value.
        if let Err(e) = env.add_template(
            "decision.html",
            include_str!("../../templates/web/decision.html"),
        ) {
            tracing::error!(error = %e, "the decision page template does not parse");
        }
        env
    })
}

/// `default-src 'none'` and the one style sheet: no script, no frame, no
/// form target but this site.
fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = data_encoding::BASE64.encode(&Sha256::digest(CSS.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// What every page handler needs.
#[derive(Clone)]
struct Site {
    approvals: Arc<Approvals>,
    /// `https://host[:port]`: the only origin a form may come from.
    public_url: String,
    /// Whether the form may approve or disapprove (`[http] decide_by_link`).
    decide: bool,
}

/// Largest accepted form: a comment of 2,000 characters and the rest.
const FORM_LIMIT: usize = 16 * 1024;

pub(super) fn router(
    approvals: Arc<Approvals>,
    public_url: String,
    decide: bool,
    hsts: bool,
) -> Router {
    let router = Router::new()
        .route("/d/{token}", get(show).post(post))
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(Site {
            approvals,
            public_url,
            decide,
        });
    if hsts {
        router.layer(axum::middleware::map_response(
            |mut r: Response| async move {
                r.headers_mut().insert(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static("max-age=31536000"),
                );
                r
            },
        ))
    } else {
        router
    }
}

/// A page with the security headers every answer carries.
fn page(status: StatusCode, ctx: Value) -> Response {
    let html = templates()
        .get_template("decision.html")
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot render the decision page");
            "<!DOCTYPE html><title>Error</title><p>The page cannot be shown.</p>".to_owned()
        });
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(h, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(h, header::CACHE_CONTROL, "no-store");
    // same-origin, not no-referrer: under no-referrer browsers send
    // `Origin: null` with the page's own form, and the same-origin check
    // would refuse every real click. Other sites still get no Referer.
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(),
    );
    set(
        h,
        "x-robots-tag".parse().unwrap_or(header::WARNING),
        "noindex, nofollow",
    );
    response
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Template variables, merged into one context by [`ctx`].
type Fields = Vec<(&'static str, Value)>;

fn ctx(parts: &[&Fields]) -> Value {
    let map: std::collections::BTreeMap<&str, Value> =
        parts.iter().flat_map(|p| p.iter().cloned()).collect();
    Value::from_pairs(map)
}

/// The request's fields as the page shows them.
fn request_ctx(r: &Request) -> Fields {
    let decisions: Vec<Value> = r
        .decisions
        .iter()
        .map(|d| {
            context! {
                level => d.level,
                approver => d.approver.as_str(),
                verb => d.verb.as_str(),
                at => time(d.at),
                comment => d.comment.as_str(),
            }
        })
        .collect();
    vec![
        ("id", Value::from(r.id.to_string())),
        ("status", Value::from(r.status.as_str())),
        ("requester", Value::from(r.requester.as_str())),
        ("action", Value::from(r.action.as_str())),
        ("resource", Value::from(r.resource.as_str())),
        ("reason", Value::from(r.reason.as_str())),
        ("governance_code", Value::from(r.governance_code.as_str())),
        ("justification", Value::from(r.justification.as_str())),
        (
            "window",
            Value::from(format!(
                "{} to {} ({})",
                time(r.granted_window.start()),
                time(r.granted_window.end()),
                human(r.granted_window.length())
            )),
        ),
        ("level", Value::from(r.level)),
        ("level_count", Value::from(r.levels.len())),
        ("deadline", Value::from(time(r.deadline))),
        ("decisions", Value::from(decisions)),
    ]
}

fn base(headline: &str, message: &str, tone: &str) -> Fields {
    vec![
        ("css", Value::from(CSS)),
        ("headline", Value::from(headline)),
        ("message", Value::from(message)),
        ("tone", Value::from(tone)),
        ("form", Value::from(false)),
        ("revoke_form", Value::from(false)),
    ]
}

/// The page for the state `state` of `token`, with `message` on top; the
/// approve/disapprove form only when `decide`.
fn state_page(
    token: &str,
    state: PageState,
    message: Option<(&str, &str)>,
    decide: bool,
) -> Response {
    let (msg, tone) = message.unwrap_or(("", "info"));
    match state {
        PageState::Open {
            request,
            level,
            approver,
            guard,
        } => {
            let by_mail = "To decide, reply to the approval mail with APPROVE or DISAPPROVE on the first line: answers are taken from your own mailbox only.";
            let msg = if decide || !msg.is_empty() {
                msg
            } else {
                by_mail
            };
            let form: Fields = vec![
                ("form", Value::from(decide)),
                ("token", Value::from(token)),
                ("guard", Value::from(guard)),
                ("approver", Value::from(approver.as_str())),
                ("level", Value::from(level)),
            ];
            page(
                StatusCode::OK,
                ctx(&[
                    &base("Approval needed", msg, tone),
                    &request_ctx(&request),
                    &form,
                ]),
            )
        }
        PageState::Revocable {
            request,
            approver,
            guard,
        } => {
            let form: Fields = vec![
                ("revoke_form", Value::from(true)),
                ("token", Value::from(token)),
                ("guard", Value::from(guard)),
                ("approver", Value::from(approver.as_str())),
            ];
            let shown = if msg.is_empty() {
                "Access is granted. If it is no longer justified, any approver may revoke it here, with a reason."
            } else {
                msg
            };
            page(
                StatusCode::OK,
                ctx(&[
                    &base(
                        "Access granted",
                        shown,
                        if msg.is_empty() { "info" } else { tone },
                    ),
                    &request_ctx(&request),
                    &form,
                ]),
            )
        }
        PageState::Answered { request, decision } => {
            let said = format!(
                "You already answered {} on {}{}. There is nothing more to do.",
                decision.verb.as_str(),
                time(decision.at),
                if decision.comment.is_empty() {
                    String::new()
                } else {
                    format!(": “{}”", decision.comment)
                }
            );
            let shown = if msg.is_empty() { said.as_str() } else { msg };
            page(
                StatusCode::OK,
                ctx(&[
                    &base(
                        "Your answer is recorded",
                        shown,
                        if msg.is_empty() { "good" } else { tone },
                    ),
                    &request_ctx(&request),
                ]),
            )
        }
        PageState::Closed { request } => {
            let said = format!(
                "This request is {} (or your level was decided) and no longer needs your answer. Nothing was changed.",
                request.status.as_str()
            );
            let shown = if msg.is_empty() { said.as_str() } else { msg };
            page(
                StatusCode::OK,
                ctx(&[
                    &base(
                        "No answer needed",
                        shown,
                        if msg.is_empty() { "info" } else { tone },
                    ),
                    &request_ctx(&request),
                ]),
            )
        }
        PageState::Invalid { why } => page(
            StatusCode::NOT_FOUND,
            ctx(&[&base("Link not valid", &why, "bad")]),
        ),
    }
}

/// GET and HEAD: the page, read only.
async fn show(State(site): State<Site>, Path(token): Path<String>) -> Response {
    match site.approvals.decision_page(&token) {
        Ok(state) => state_page(&token, state, None, site.decide),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a decision page");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                ctx(&[&base(
                    "Try again later",
                    "The page cannot be shown right now.",
                    "bad",
                )]),
            )
        }
    }
}

/// The form's fields. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionForm {
    token: String,
    guard: String,
    verb: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    window: String,
}

/// Whether the POST came from a page of `public_url`: its `Origin`, or
/// without one its `Referer`. Neither: refused (fail closed).
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    match (get(header::ORIGIN), get(header::REFERER)) {
        (Some(origin), _) => origin == public_url,
        (None, Some(referer)) => referer
            .strip_prefix(public_url)
            .is_some_and(|rest| rest.starts_with('/')),
        (None, None) => false,
    }
}

/// POST: decides, then shows what happened.
async fn post(
    State(site): State<Site>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let refused = |why: &str| {
        page(
            StatusCode::FORBIDDEN,
            ctx(&[&base("Nothing was decided", why, "bad")]),
        )
    };
    if !same_origin(&headers, &site.public_url) {
        return refused(
            "The form was not sent from this site's own page. Open the link from the mail again.",
        );
    }
    let Ok(Form(form)) = form else {
        return refused("The form was incomplete. Open the link from the mail again.");
    };
    if form.token != token {
        return refused(
            "The form does not belong to this link. Open the link from the mail again.",
        );
    }
    let verb = match form.verb.as_str() {
        "approve" => Verb::Approve,
        "disapprove" => Verb::Disapprove,
        "revoke" => Verb::Revoke,
        _ => return refused("Press Approve or Disapprove."),
    };
    if verb != Verb::Revoke && !site.decide {
        return refused("Decisions are taken by reply to the approval mail only.");
    }
    let outcome = site
        .approvals
        .decide_by_link(
            &token,
            &form.guard,
            verb,
            &form.comment,
            &form.window,
            &peer.ip().to_string(),
        )
        .await;
    let state = site.approvals.decision_page(&token);
    match (outcome, state) {
        (Ok(PostOutcome::Decided), Ok(state)) => state_page(
            &token,
            state,
            Some(("Thank you: your answer is recorded.", "good")),
            site.decide,
        ),
        (Ok(PostOutcome::Refused(why)), Ok(state)) => {
            let mut response = state_page(&token, state, Some((why.as_str(), "bad")), site.decide);
            *response.status_mut() = StatusCode::CONFLICT;
            response
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot apply a decision page answer");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                ctx(&[&base(
                    "Try again later",
                    "Nothing could be recorded right now.",
                    "bad",
                )]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_table() {
        let site = "https://approvals.example.test";
        let rows: [(&[(&str, &str)], bool); 7] = [
            (&[("origin", site)], true),
            (&[("origin", "https://evil.example.test")], false),
            (
                &[("origin", "https://approvals.example.test.evil.test")],
                false,
            ),
            (&[("origin", "null")], false),
            (&[("referer", "https://approvals.example.test/d/abc")], true),
            (
                &[("referer", "https://approvals.example.test.evil.test/d/abc")],
                false,
            ),
            (&[], false),
        ];
        for (headers, want) in rows {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(
                    header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            assert_eq!(same_origin(&h, site), want, "{headers:?}");
        }
    }

    #[test]
    fn the_page_template_renders_and_the_policy_allows_no_script() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(!csp.contains("script"), "{csp}");
        let html = templates()
            .get_template("decision.html")
            .unwrap()
            .render(ctx(&[&base("Link not valid", "<b>x</b>", "bad")]))
            .unwrap();
        assert!(html.contains("<h1>Link not valid</h1>"), "{html}");
        // Regression: the style sheet was HTML-escaped, so its hash no
        // longer matched the policy and browsers dropped it.
        assert!(
            html.contains(&format!("<style>{CSS}</style>")),
            "the style sheet verbatim"
        );
        assert!(html.contains("&lt;b&gt;x"), "escaped: {html}");
        assert!(!html.contains("<script"), "{html}");
    }
}
