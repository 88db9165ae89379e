//! A minimal HTTP/1.1 client for the API socket, used by the CLI: one
//! connection per call, JSON in and out.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

use super::submission::SubmitBody;
use crate::domain::ids::{Address, RequestId};

/// Largest answer read, so that a confused peer on the socket cannot make
/// the CLI exhaust memory. A list of every request fits many times over.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// How long a call may take before the CLI gives up rather than hang.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Talks to approvald's API socket.
#[derive(Clone, Debug)]
pub(crate) struct ApiClient {
    /// The socket to connect to, named in every error.
    socket: PathBuf,
    /// Limit on one whole call: connect, send, and read the answer.
    timeout: Duration,
}

/// Why a call got no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Nothing listens on the socket (or it does not exist).
    #[error("cannot connect to {socket}: is approvald running? ({source})")]
    Unavailable {
        socket: String,
        #[source]
        source: io::Error,
    },
    /// The socket exists but this user may not use it.
    #[error("cannot connect to {socket}: permission denied (the socket admits its owner and group only)")]
    PermissionDenied { socket: String },
    /// The daemon accepted the connection but did not answer in time.
    #[error("approvald on {socket} did not answer within {seconds}s")]
    Timeout { socket: String, seconds: u64 },
    /// The connection broke or the peer does not speak HTTP.
    #[error("the exchange with approvald on {socket} failed: {source}")]
    Http {
        socket: String,
        #[source]
        source: hyper::Error,
    },
    /// The request itself could not be formed (a bad path).
    #[error("cannot build the request: {0}")]
    Request(String),
    /// The answer came but is not JSON.
    #[error("approvald answered {status} with a body that is not JSON: {why}")]
    NotJson { status: u16, why: String },
    /// The answer is larger than the client is willing to read.
    #[error("approvald's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

impl ClientError {
    /// Whether the daemon could not be reached or stopped answering, as
    /// opposed to answering something unreadable: the CLI exits with a
    /// different code so scripts can retry only the former.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(
            self,
            ClientError::Unavailable { .. }
                | ClientError::PermissionDenied { .. }
                | ClientError::Timeout { .. }
                | ClientError::Http { .. }
        )
    }
}

impl ApiClient {
    /// A client for the API on `socket`.
    pub(crate) fn new(socket: impl AsRef<Path>) -> Self {
        ApiClient {
            socket: socket.as_ref().to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another time limit per call.
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `POST /v1/requests`: submits a request.
    pub(crate) async fn submit(&self, body: &SubmitBody) -> Result<(u16, Value), ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Request(e.to_string()))?;
        self.call(Method::POST, "/v1/requests", Some(body)).await
    }

    /// `GET /v1/requests/{id}`: one request.
    pub(crate) async fn get_request(&self, id: &RequestId) -> Result<(u16, Value), ClientError> {
        self.call(Method::GET, &format!("/v1/requests/{id}"), None)
            .await
    }

    /// `POST /v1/requests/{id}/{verb}` (cancel, revoke, override).
    pub(crate) async fn act(
        &self,
        id: &RequestId,
        verb: &str,
        body: Value,
    ) -> Result<(u16, Value), ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/requests/{id}/{verb}"),
            Some(body),
        )
        .await
    }

    /// `GET /v1/grants?…`: may `requester` run `action` on `resource` now?
    pub(crate) async fn check_grant(
        &self,
        requester: &Address,
        action: &str,
        resource: &str,
    ) -> Result<(u16, Value), ClientError> {
        let path = format!(
            "/v1/grants?requester={}&action={}&resource={}",
            percent_encode(requester.as_str()),
            percent_encode(action),
            percent_encode(resource)
        );
        self.call(Method::GET, &path, None).await
    }

    /// `GET /v1/requests?…`: one page of requests matching `filters`
    /// (name, value) after `cursor`, as JSON or, with `csv`, as CSV text.
    pub(crate) async fn list_requests(
        &self,
        filters: &[(&str, String)],
        cursor: Option<&str>,
        csv: bool,
    ) -> Result<(u16, Value, Option<String>), ClientError> {
        let mut query: Vec<String> = filters
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        if let Some(c) = cursor {
            query.push(format!("cursor={}", percent_encode(c)));
        }
        if csv {
            query.push("format=csv".into());
        }
        let path = match query.is_empty() {
            true => "/v1/requests".to_owned(),
            false => format!("/v1/requests?{}", query.join("&")),
        };
        if !csv {
            let (status, body) = self.call(Method::GET, &path, None).await?;
            return Ok((status, body, None));
        }
        let (status, headers, bytes) = self.call_raw_with_headers(Method::GET, &path).await?;
        let next = headers
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = if (200..300).contains(&status) {
            Value::String(text)
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body, next))
    }

    /// Sends `body` (if any) as JSON and returns the status and the JSON
    /// answer (null for an empty body).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), ClientError> {
        let body = body
            .map(|b| serde_json::to_vec(&b).map(|bytes| ("application/json", bytes)))
            .transpose()
            .map_err(|e| ClientError::Request(e.to_string()))?;
        self.call_raw(method, path, body).await
    }

    /// Sends raw bytes with the given content type; lets tests send what a
    /// broken or hostile client would.
    pub(crate) async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(u16, Value), ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange(method, path, body)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                socket: self.shown(),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(u16, Value), ClientError> {
        let (status, _, body) = self.exchange_bytes(method, path, body).await?;
        if body.is_empty() {
            return Ok((status, Value::Null));
        }
        serde_json::from_slice(&body)
            .map(|v| (status, v))
            .map_err(|e| ClientError::NotJson {
                status,
                why: e.to_string(),
            })
    }

    /// `GET` (or any body-less call) answered with its status, headers and
    /// raw body, within the client's timeout.
    pub(crate) async fn call_raw_with_headers(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(u16, hyper::HeaderMap, Bytes), ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange_bytes(method, path, None)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                socket: self.shown(),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    async fn exchange_bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(u16, hyper::HeaderMap, Bytes), ClientError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            // HTTP/1.1 requires a Host; a socket has no host name.
            .header(HOST, "localhost");
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header(CONTENT_TYPE, content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| self.connect_error(e))?;
        let http = |source| ClientError::Http {
            socket: self.shown(),
            source,
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "API connection ended with an error");
            }
        });
        let result = async {
            let response = sender.send_request(request).await.map_err(http)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<LengthLimitError>().is_some() {
                        return ClientError::TooLarge;
                    }
                    match e.downcast::<hyper::Error>() {
                        Ok(source) => http(*source),
                        Err(e) => ClientError::NotJson {
                            status,
                            why: e.to_string(),
                        },
                    }
                })?
                .to_bytes();
            Ok((status, headers, body))
        }
        .await;
        drop(sender);
        driver.abort();
        result
    }

    fn connect_error(&self, e: io::Error) -> ClientError {
        match e.kind() {
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                socket: self.shown(),
            },
            _ => ClientError::Unavailable {
                socket: self.shown(),
                source: e,
            },
        }
    }

    fn shown(&self) -> String {
        self.socket.display().to_string()
    }
}

/// Percent-encodes a query value: everything but unreserved characters, so
/// that `+` in an address is not read as a space.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    /// A peer that reads one request and answers `reply` verbatim.
    async fn peer(reply: &'static [u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peer.sock");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            // The request itself does not matter, and failures show on the
            // client's side, which the test checks.
            let _request = s.read(&mut buf).await;
            s.write_all(reply).await.ok();
            s.shutdown().await.ok();
        });
        (dir, path)
    }

    #[tokio::test]
    async fn a_missing_socket_says_whether_approvald_is_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let err = ApiClient::new(&path)
            .call(Method::GET, "/v1/requests", None)
            .await
            .unwrap_err();
        assert!(err.is_unavailable());
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot connect to {}: is approvald running?",
                path.display()
            )),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_peer_that_never_answers_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silent.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let err = ApiClient::new(&path)
            .with_timeout(Duration::from_millis(200))
            .call(Method::GET, "/v1/requests", None)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
        assert!(err.is_unavailable());
    }

    /// A test case: name, raw answer, and the result or the error kind.
    type AnswerCase = (
        &'static str,
        &'static [u8],
        Result<(u16, Value), &'static str>,
    );

    #[tokio::test]
    async fn answers_are_read_or_refused_by_what_they_are() {
        let cases: &[AnswerCase] = &[
            (
                "json",
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{\"a\": 1}\n",
                Ok((200, serde_json::json!({"a": 1}))),
            ),
            (
                "empty",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                Ok((204, Value::Null)),
            ),
            (
                "plain text",
                b"HTTP/1.1 500 Oops\r\ncontent-length: 4\r\n\r\noops",
                Err("not json"),
            ),
            ("garbage", b"SMTP ready\r\n\r\n", Err("http")),
        ];
        for (name, reply, want) in cases {
            let (_dir, path) = peer(reply).await;
            let got = ApiClient::new(&path).call(Method::GET, "/", None).await;
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{name}"),
                (Err(ClientError::NotJson { status, .. }), Err("not json")) => {
                    assert_eq!(status, 500, "{name}")
                }
                (Err(ClientError::Http { .. }), Err("http")) => {}
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a+b@x.test"), "a%2Bb%40x.test");
        assert_eq!(percent_encode("pending"), "pending");
    }
}
