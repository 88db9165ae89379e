//! One webhook POST over HTTP/1.1, on a connection of its own: TLS (the
//! system's roots plus an optional CA file) for https, plain for loopback
//! http. Bounded in time; the answer's body is not read beyond its status.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Longest a call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookError {
    /// Worth retrying: no connection, a timeout, a 5xx, 408 or 429.
    #[error("{0}")]
    Transient(String),
    /// The receiver refused the request itself (400, 405, 410, 413, 415,
    /// 422): retrying sends the same bytes to the same answer.
    #[error("{0}")]
    Refused(String),
}

/// Makes webhook calls.
#[derive(Clone)]
pub(crate) struct HookClient {
    /// TLS settings for https receivers.
    tls: Arc<ClientConfig>,
}

impl HookClient {
    pub(crate) fn new(tls: Arc<ClientConfig>) -> Self {
        HookClient { tls }
    }

    /// POSTs `body` (JSON) to `url`.
    pub(crate) async fn post(&self, url: &str, body: &str) -> Result<u16, HookError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.exchange(url, body)).await {
            Ok(result) => result,
            Err(_) => Err(HookError::Transient(format!(
                "no answer within {}s",
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn exchange(&self, url: &str, body: &str) -> Result<u16, HookError> {
        let transient =
            |what: &str, e: &dyn std::fmt::Display| HookError::Transient(format!("{what}: {e}"));
        let uri: Uri = url
            .parse()
            .map_err(|e| HookError::Refused(format!("bad URL: {e}")))?;
        let host = uri
            .host()
            .ok_or_else(|| HookError::Refused("no host".into()))?
            .trim_matches(['[', ']'])
            .to_owned();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| transient("connect", &e))?;
        tcp.set_nodelay(true).ok();
        let path = uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_owned());
        let request = Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("approvald/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|e| HookError::Refused(format!("bad request: {e}")))?;
        let status = if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| HookError::Refused(format!("bad host name: {e}")))?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| transient("TLS", &e))?;
            send(TokioIo::new(tls), request).await?
        } else {
            send(TokioIo::new(tcp), request).await?
        };
        // Anything else (a redirect, 401, 403, 404 from a proxy being
        // reconfigured, 5xx) is retried: an access-ended call is dropped only
        // when the receiver says the call itself is wrong.
        match status {
            200..=299 => Ok(status),
            400 | 405 | 410 | 413 | 415 | 422 => {
                Err(HookError::Refused(format!("answered {status}")))
            }
            _ => Err(HookError::Transient(format!("answered {status}"))),
        }
    }
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<u16, HookError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| HookError::Transient(format!("HTTP: {e}")))?;
    let driver = tokio::spawn(async move {
        connection.await.ok();
    });
    let answer = sender
        .send_request(request)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| HookError::Transient(format!("HTTP: {e}")));
    driver.abort();
    answer
}
