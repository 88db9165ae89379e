//! The API's routes and the mapping of every outcome to a status and a JSON
//! body. No answer is ever plain text, and no internal detail leaks out.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::submission::{parse_submission, RequestBodyError};
use super::views::{ErrorBody, GrantView, RequestView};
use super::RequestService;
use crate::approvals::{Act, ActionError, Caller, SubmitError};
use crate::domain::ids::{Address, RequestId};
use crate::domain::request::Status;

/// Largest accepted request body: a submission is a few hundred bytes, so
/// anything near this is a mistake or an attack.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The routes, bound to `service`.
pub(crate) fn router<S: RequestService>(service: Arc<S>) -> Router {
    Router::new()
        .route(
            "/v1/requests",
            get(super::reports::list::<S>).post(submit::<S>),
        )
        .route("/v1/requests/{id}", get(show::<S>))
        .route("/v1/requests/{id}/cancel", post(cancel::<S>))
        .route("/v1/requests/{id}/revoke", post(revoke::<S>))
        .route("/v1/requests/{id}/override", post(override_::<S>))
        .route("/v1/grants", get(grants::<S>))
        .route("/v1/audit", get(super::audit_trail::list::<S>))
        .route("/v1/store/export", get(super::audit_trail::export::<S>))
        .route(
            "/v1/openapi.json",
            get(|| async { Json(super::openapi::document()) }),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(service)
}

/// An error answer: its status and body.
#[derive(Debug)]
pub(super) struct ApiError {
    /// The HTTP status, chosen by what the caller can do about it.
    status: StatusCode,
    /// Always JSON, so integrators need one error parser.
    body: ErrorBody,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, body: ErrorBody) -> Self {
        ApiError { status, body }
    }

    /// A failure of ours: the detail goes to the log, never to the caller,
    /// who can do nothing with it and should not learn about internals.
    pub(super) fn internal(context: &str, detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorBody::plain("internal error"),
        )
    }

    /// An extractor's refusal, answered as JSON with the status it chose
    /// (400 for malformed input, 413 too large, 415 wrong content type).
    pub(super) fn rejected(status: StatusCode, text: String, field: Option<&str>) -> Self {
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = match field {
            Some(f) => ErrorBody::field(f, text),
            None => ErrorBody::plain(text),
        };
        ApiError::new(status, body)
    }
}

/// `403` (audited) unless `allowed`.
pub(super) fn forbid_unless<S: RequestService>(
    service: &S,
    caller: &Caller,
    allowed: bool,
    what: &str,
) -> Result<(), ApiError> {
    if allowed {
        return Ok(());
    }
    let why = format!("{} may not {what}", caller.shown());
    service.record_refusal(caller, &why);
    Err(ApiError::new(StatusCode::FORBIDDEN, ErrorBody::plain(why)))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

async fn submit<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| {
        let text = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "expected Content-Type: application/json".to_owned()
            }
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the body is larger than {} KiB", BODY_LIMIT / 1024)
            }
            _ => r.body_text(),
        };
        ApiError::rejected(r.status(), text, None)
    })?;
    let submission = parse_submission(&body).map_err(|e| match e {
        RequestBodyError::NotAnObject => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorBody::plain("the body must be a JSON object"),
        ),
        RequestBodyError::Fields(errors) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorBody::fields(errors))
        }
    })?;
    match service.submit(submission, caller).await {
        Ok(request) => {
            let location = format!("/v1/requests/{}", request.id);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(RequestView::from(&request)),
            )
                .into_response())
        }
        Err(SubmitError::Invalid(errors)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::fields(errors.into_iter().map(Into::into).collect()),
        )),
        Err(SubmitError::Forbidden(why)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorBody::field("requester", why),
        )),
        Err(SubmitError::Duplicate(pending)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorBody::field(
                "resource",
                format!(
                    "{pending} is already pending for this requester, action and resource; cancel it or wait for its decision"
                ),
            ),
        )),
        Err(SubmitError::Store(e)) => Err(ApiError::internal("cannot store a submission", &e)),
    }
}

async fn show<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    forbid_unless(&*service, &caller, caller.may_read(false), "show a request")?;
    let Path(id) = id.map_err(|r| ApiError::rejected(r.status(), r.body_text(), Some("id")))?;
    let id: RequestId = id
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, ErrorBody::field("id", e)))?;
    match service.get(id) {
        Ok(Some(request)) => Ok(Json(RequestView::from(&request)).into_response()),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorBody::plain(format!("no request {id}")),
        )),
        Err(e) => Err(ApiError::internal("cannot read a request", &e)),
    }
}

/// The body of cancel, revoke and override. Unknown fields are refused.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActBody {
    /// Who acts, as a person (the account making the call is recorded too).
    by: String,
    /// Why.
    reason: String,
    /// For an override only: `approved` or `rejected`.
    #[serde(default)]
    status: Option<String>,
}

async fn cancel<S: RequestService>(
    state: State<Arc<S>>,
    caller: Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    act(state, caller, id, body, |_| Ok(Act::Cancel)).await
}

async fn revoke<S: RequestService>(
    state: State<Arc<S>>,
    caller: Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    act(state, caller, id, body, |_| Ok(Act::Revoke)).await
}

async fn override_<S: RequestService>(
    state: State<Arc<S>>,
    caller: Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    act(state, caller, id, body, |status| match status {
        Some("approved") => Ok(Act::Override(Status::Approved)),
        Some("rejected") => Ok(Act::Override(Status::Rejected)),
        Some(_) => Err("must be \"approved\" or \"rejected\""),
        None => Err("is required: \"approved\" or \"rejected\""),
    })
    .await
}

/// One of the interventions: reads the id and body, lets `which` choose
/// the act from the body's `status`, and maps every outcome.
async fn act<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ActBody>, JsonRejection>,
    which: impl FnOnce(Option<&str>) -> Result<Act, &'static str>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|r| ApiError::rejected(r.status(), r.body_text(), Some("id")))?;
    let id: RequestId = id
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, ErrorBody::field("id", e)))?;
    let Json(body) = body.map_err(|r| {
        let status = if r.status() == StatusCode::BAD_REQUEST || r.status().is_server_error() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            r.status()
        };
        ApiError::rejected(status, r.body_text(), None)
    })?;
    let act = which(body.status.as_deref()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::field("status", e),
        )
    })?;
    if !matches!(act, Act::Override(_)) && body.status.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::field("status", "only an override takes a status"),
        ));
    }
    match service.act(id, act, &body.by, &body.reason, caller).await {
        Ok(request) => Ok(Json(RequestView::from(&request)).into_response()),
        Err(ActionError::NotFound(id)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorBody::plain(format!("no request {id}")),
        )),
        Err(ActionError::Forbidden(why)) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, ErrorBody::plain(why)))
        }
        Err(ActionError::Invalid(errors)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::fields(errors.into_iter().map(Into::into).collect()),
        )),
        Err(ActionError::Conflict(why)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorBody::field("status", why),
        )),
        Err(ActionError::Store(e)) => Err(ApiError::internal("cannot store an intervention", &e)),
    }
}

/// The question of a grants check: all three are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantParams {
    requester: Option<String>,
    action: Option<String>,
    resource: Option<String>,
}

async fn grants<S: RequestService>(
    State(service): State<Arc<S>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<GrantParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    forbid_unless(
        &*service,
        &caller,
        caller.may_check_grants(),
        "check grants",
    )?;
    let Query(params) = params
        .map_err(|r| ApiError::rejected(StatusCode::UNPROCESSABLE_ENTITY, r.body_text(), None))?;
    let missing = |field: &'static str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorBody::field(field, "is required"),
        )
    };
    let requester = params
        .requester
        .ok_or_else(|| missing("requester"))?
        .parse::<Address>()
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody::field("requester", e),
            )
        })?;
    let action = params
        .action
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing("action"))?;
    let resource = params
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("resource"))?;
    for (field, value) in [("action", &action), ("resource", &resource)] {
        if value.chars().count() > 256 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody::field(field, "at most 256 characters"),
            ));
        }
    }
    match service
        .check_grant(&requester, &action, &resource, caller)
        .await
    {
        Ok(answer) => Ok(Json(GrantView::from(&answer)).into_response()),
        Err(e) => Err(ApiError::internal("cannot answer a grants check", &e)),
    }
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(256).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorBody::plain(format!("no such endpoint: {method} {path}")),
    )
}

async fn wrong_method(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorBody::plain(format!("method {method} is not allowed here")),
    )
}

#[cfg(test)]
mod tests {
    use hyper::Method;
    use serde_json::{json, Value};

    use super::super::client::ApiClient;
    use super::super::testkit::{Mode, Server};
    use super::BODY_LIMIT;

    fn submission() -> Value {
        json!({
            "requester": "dave@example.test",
            "action": "certificate.sign",
            "resource": "web-01",
            "justification": "expiring",
            "reason": "Incident",
            "governance_code": "CHG-9",
            "window": {"start": "2026-11-21T10:00:00Z", "end": "2026-11-21T12:00:00Z"}
        })
    }

    fn edited(edit: fn(&mut Value)) -> Vec<u8> {
        let mut v = submission();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    /// One exchange and what it must produce.
    struct Case {
        name: &'static str,
        mode: Mode,
        method: Method,
        path: &'static str,
        body: Option<(&'static str, Vec<u8>)>,
        status: u16,
        /// Expected values of top-level keys of the answer.
        expect: Value,
    }

    fn json_body(v: Vec<u8>) -> Option<(&'static str, Vec<u8>)> {
        Some(("application/json", v))
    }

    fn cases() -> Vec<Case> {
        use Mode::*;
        let post = Method::POST;
        let get = Method::GET;
        let c = |name, mode, method: &Method, path, body, status, expect| Case {
            name,
            mode,
            method: method.clone(),
            path,
            body,
            status,
            expect,
        };
        vec![
            c(
                "submit ok",
                Working,
                &post,
                "/v1/requests",
                json_body(serde_json::to_vec(&submission()).unwrap()),
                201,
                json!({"id": "AR-8", "status": "pending", "level": 1, "levels": 2,
                     "window": {"start": "2026-11-21T10:00:00Z", "end": "2026-11-21T12:00:00Z"}}),
            ),
            c(
                "submit malformed json",
                Working,
                &post,
                "/v1/requests",
                json_body(b"{\"requester\": ".to_vec()),
                400,
                json!({}),
            ),
            c(
                "submit not an object",
                Working,
                &post,
                "/v1/requests",
                json_body(b"[1, 2]".to_vec()),
                400,
                json!({"error": "the body must be a JSON object"}),
            ),
            c(
                "submit without content type",
                Working,
                &post,
                "/v1/requests",
                Some(("text/plain", serde_json::to_vec(&submission()).unwrap())),
                415,
                json!({"error": "expected Content-Type: application/json"}),
            ),
            c(
                "submit too large",
                Working,
                &post,
                "/v1/requests",
                json_body(vec![b' '; BODY_LIMIT + 1]),
                413,
                json!({"error": "the body is larger than 64 KiB"}),
            ),
            c(
                "submit missing field",
                Working,
                &post,
                "/v1/requests",
                json_body(edited(|v| {
                    v.as_object_mut().unwrap().remove("reason");
                })),
                422,
                json!({"field": "reason", "error": "reason is required"}),
            ),
            c(
                "submit bad address",
                Working,
                &post,
                "/v1/requests",
                json_body(edited(|v| v["requester"] = json!("dave"))),
                422,
                json!({"field": "requester"}),
            ),
            c(
                "submit bad time",
                Working,
                &post,
                "/v1/requests",
                json_body(edited(|v| v["window"]["start"] = json!("9am"))),
                422,
                json!({"field": "window.start"}),
            ),
            c(
                "submit inverted window",
                Working,
                &post,
                "/v1/requests",
                json_body(edited(|v| {
                    v["window"]["end"] = json!("2026-11-21T08:00:00Z")
                })),
                422,
                json!({"field": "window"}),
            ),
            c(
                "submit refused by policy",
                Refusing,
                &post,
                "/v1/requests",
                json_body(serde_json::to_vec(&submission()).unwrap()),
                422,
                json!({"error": "\"Because\" is not a registered reason", "field": "reason",
                     "errors": [{"field": "reason", "error": "\"Because\" is not a registered reason"},
                                {"field": "window", "error": "the window is too long"}]}),
            ),
            c(
                "submit store failure",
                Broken,
                &post,
                "/v1/requests",
                json_body(serde_json::to_vec(&submission()).unwrap()),
                500,
                json!({"error": "internal error"}),
            ),
            c(
                "show by AR id",
                Working,
                &get,
                "/v1/requests/AR-7",
                None,
                200,
                json!({"id": "AR-7", "requester": "dave@example.test", "decisions": []}),
            ),
            c(
                "show by number",
                Working,
                &get,
                "/v1/requests/7",
                None,
                200,
                json!({"id": "AR-7"}),
            ),
            c(
                "show unknown",
                Working,
                &get,
                "/v1/requests/AR-9",
                None,
                404,
                json!({"error": "no request AR-9"}),
            ),
            c(
                "show malformed id",
                Working,
                &get,
                "/v1/requests/AR-x",
                None,
                400,
                json!({"field": "id"}),
            ),
            c(
                "show store failure",
                Broken,
                &get,
                "/v1/requests/AR-7",
                None,
                500,
                json!({"error": "internal error"}),
            ),
            c(
                "list all",
                Working,
                &get,
                "/v1/requests",
                None,
                200,
                json!({}),
            ),
            c(
                "list filtered",
                Working,
                &get,
                "/v1/requests?status=pending&requester=Dave%40example.test",
                None,
                200,
                json!({}),
            ),
            c(
                "list unknown status",
                Working,
                &get,
                "/v1/requests?status=open",
                None,
                400,
                json!({"field": "status"}),
            ),
            c(
                "list bad requester",
                Working,
                &get,
                "/v1/requests?requester=dave",
                None,
                400,
                json!({"field": "requester"}),
            ),
            c(
                "list unknown parameter",
                Working,
                &get,
                "/v1/requests?state=pending",
                None,
                400,
                json!({}),
            ),
            c(
                "list store failure",
                Broken,
                &get,
                "/v1/requests",
                None,
                500,
                json!({"error": "internal error"}),
            ),
            c(
                "unknown route",
                Working,
                &get,
                "/v2/requests",
                None,
                404,
                json!({"error": "no such endpoint: GET /v2/requests"}),
            ),
            c(
                "wrong method",
                Working,
                &Method::DELETE,
                "/v1/requests/AR-7",
                None,
                405,
                json!({}),
            ),
        ]
    }

    #[tokio::test]
    async fn every_outcome_has_its_status_and_a_json_body() {
        for case in cases() {
            let server = Server::start(case.mode).await;
            let client = ApiClient::new(&server.socket);
            let (status, body) = client
                .call_raw(case.method.clone(), case.path, case.body)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(status, case.status, "{}: {body}", case.name);
            assert!(
                body.is_object(),
                "{}: answer is not a JSON object: {body}",
                case.name
            );
            if status >= 400 {
                assert!(
                    body["error"].is_string(),
                    "{}: no error message: {body}",
                    case.name
                );
            }
            for (key, want) in case.expect.as_object().unwrap() {
                assert_eq!(&body[key], want, "{}: key {key} of {body}", case.name);
            }
            assert!(
                !body.to_string().contains("secret internal detail"),
                "{}: store detail leaked",
                case.name
            );
        }
    }

    #[tokio::test]
    async fn created_request_is_where_location_says() {
        let server = Server::start(Mode::Working).await;
        let client = ApiClient::new(&server.socket);
        let (status, created) = client
            .call(Method::POST, "/v1/requests", Some(submission()))
            .await
            .unwrap();
        assert_eq!(status, 201);
        let id = created["id"].as_str().unwrap();
        let (status, shown) = client
            .call(Method::GET, &format!("/v1/requests/{id}"), None)
            .await
            .unwrap();
        assert_eq!((status, &shown), (200, &created));
    }

    #[tokio::test]
    async fn location_header_names_the_new_request() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let server = Server::start(Mode::Working).await;
        let body = serde_json::to_vec(&submission()).unwrap();
        let mut s = tokio::net::UnixStream::connect(&server.socket)
            .await
            .unwrap();
        let head = format!(
            "POST /v1/requests HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nlocation: /v1/requests/ar-8\r\n"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn list_filters_by_status_and_requester() {
        let server = Server::start(Mode::Working).await;
        let client = ApiClient::new(&server.socket);
        let mut other = submission();
        other["requester"] = json!("erin@example.test");
        client
            .call(Method::POST, "/v1/requests", Some(other))
            .await
            .unwrap();
        let ids = |v: &Value| -> Vec<String> {
            v["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let cases: &[(&str, &[&str])] = &[
            ("/v1/requests", &["AR-7", "AR-8"]),
            ("/v1/requests?status=pending", &["AR-7", "AR-8"]),
            ("/v1/requests?status=approved", &[]),
            ("/v1/requests?requester=erin@example.test", &["AR-8"]),
            (
                "/v1/requests?status=pending&requester=DAVE%40example.test",
                &["AR-7"],
            ),
        ];
        for (path, want) in cases {
            let (status, body) = client.call(Method::GET, path, None).await.unwrap();
            assert_eq!(status, 200, "{path}");
            assert_eq!(ids(&body), *want, "{path}");
        }
    }

    #[tokio::test]
    async fn lists_come_in_pages_that_chain_by_cursor() {
        let server = Server::start(Mode::Working).await;
        let client = ApiClient::new(&server.socket);
        for _ in 0..2 {
            client
                .call(Method::POST, "/v1/requests", Some(submission()))
                .await
                .unwrap();
        }
        let page = |path: &'static str| {
            let client = &client;
            async move { client.call(Method::GET, path, None).await.unwrap() }
        };
        let (status, first) = page("/v1/requests?limit=2").await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = first["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["AR-7", "AR-8"]);
        assert_eq!(first["next_cursor"], "AR-8");
        let (_, last) = page("/v1/requests?limit=2&cursor=AR-8").await;
        assert_eq!(last["requests"].as_array().unwrap().len(), 1);
        assert_eq!(last["requests"][0]["id"], "AR-9");
        assert!(last["next_cursor"].is_null(), "{last}");
        for bad in [
            "/v1/requests?limit=0",
            "/v1/requests?limit=1001",
            "/v1/requests?cursor=yesterday",
        ] {
            let (status, body) = page(bad).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
    }
}
