//! Opening an SMTP connection: TCP with Nagle's algorithm off, TLS as
//! configured, EHLO, STARTTLS and AUTH, then handed to lettre.
//!
//! lettre 0.11 opens its own sockets without `TCP_NODELAY`. Its client
//! writes a command and then waits for the reply, and the end of DATA
//! goes out as a small segment after the message body; with Nagle on, that
//! segment waits for the server's delayed ACK, about 40 ms on Linux, so
//! each mail cost some 40 ms of doing nothing. Here the socket is opened
//! by us, `TCP_NODELAY` is set on it, and lettre's
//! [`AsyncSmtpConnection::connect_with_transport`] runs the SMTP
//! conversation over it: the protocol, STARTTLS and AUTH stay lettre's.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::transport::{classify, SendError};

/// How the connection is secured.
#[derive(Clone)]
pub(super) enum Security {
    /// Plain text (a relay on the same host or a trusted network).
    None,
    /// TLS from the first byte (submissions, port 465), with the same
    /// rustls settings and roots as IMAP: lettre cannot start TLS on a
    /// socket it did not open before reading the greeting, so this
    /// handshake is ours.
    Implicit {
        /// Roots and protocol versions.
        config: Arc<rustls::ClientConfig>,
        /// The name the certificate must carry.
        name: ServerName<'static>,
    },
    /// Plain text upgraded with STARTTLS before anything else is sent;
    /// lettre's own upgrade, with these settings.
    StartTls(TlsParameters),
}

/// Opens authenticated SMTP connections to one server.
#[derive(Clone)]
pub(super) struct Connector {
    /// Server host name or address, as configured.
    host: String,
    /// Server port.
    port: u16,
    /// TLS, as configured.
    security: Security,
    /// The EHLO name: the host name, as lettre would send it.
    hello: ClientId,
    /// AUTH user and password, if the server wants a login.
    credentials: Option<Credentials>,
    /// Bound on opening one connection, from TCP connect to AUTH.
    timeout: Duration,
}

impl Connector {
    pub(super) fn new(
        host: &str,
        port: u16,
        security: Security,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Connector {
        Connector {
            host: host.to_string(),
            port,
            security,
            hello: ClientId::default(),
            credentials,
            timeout,
        }
    }

    /// A TCP connection to the server with Nagle's algorithm off.
    pub(super) async fn tcp(&self) -> Result<TcpStream, SendError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                outage(format!(
                    "cannot connect to {}:{}: {e}",
                    self.host, self.port
                ))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| outage(format!("cannot set TCP_NODELAY: {e}")))?;
        Ok(tcp)
    }

    /// A connection ready for MAIL FROM: greeted, secured, logged in.
    pub(super) async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(outage(format!(
                "connecting to {}:{} took longer than {} ms",
                self.host,
                self.port,
                self.timeout.as_millis()
            ))),
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = self.tcp().await?;
        let mut conn = match &self.security {
            Security::Implicit { config, name } => {
                let tls = TlsConnector::from(Arc::clone(config))
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| outage(format!("TLS with {}: {e}", self.host)))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), &self.hello)
                    .await
            }
            Security::None | Security::StartTls(_) => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await
            }
        }
        .map_err(lettre_error)?;
        if let Security::StartTls(params) = &self.security {
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(lettre_error)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(lettre_error)?;
        }
        Ok(conn)
    }
}

/// A TLS stream lettre can speak SMTP over: lettre accepts any stream
/// that can tell its peer's address.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A server-side failure: other mails would fail the same way right now.
fn outage(why: String) -> SendError {
    SendError::Transient { why, outage: true }
}

/// Sorts a lettre failure as [`classify`] does for sends.
pub(super) fn lettre_error(e: lettre::transport::smtp::Error) -> SendError {
    classify(e.status().map(|c| c.to_string()), e.to_string())
}
