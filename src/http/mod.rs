//! The HTTP listener (`[http]`): the decision pages approval mails link to.
//! TCP, with TLS from `tls_cert_file`/`tls_key_file`, or plain HTTP on the
//! loopback interface only, for a reverse proxy in front. Off unless
//! configured; the API stays on its Unix socket.

mod pages;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::approvals::Approvals;

pub(crate) use pages::Peer;

/// How long a request's headers (and a TLS handshake) may take.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest life of one connection (one request, its body included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;

/// TLS server settings from a PEM certificate chain and key.
pub(crate) fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: contains no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS settings: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves the decision pages on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    approvals: Arc<Approvals>,
    public_url: String,
    decide_by_link: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // The pages have no fallback of their own: unknown paths get the
    // API's JSON 404.
    let router = pages::router(approvals.clone(), public_url, decide_by_link, tls.is_some())
        .merge(crate::api::key_router(approvals));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        stream.set_nodelay(true).ok();
        let service = TowerToHyperService::new(router.clone().layer(Extension(Peer(peer))));
        let tls = tls.clone();
        connections.spawn(async move {
            let served = tokio::time::timeout(CONNECTION_LIFETIME, async move {
                // One request per connection: a client cannot hold a slot
                // by keeping it alive.
                let builder = {
                    let mut b = http1::Builder::new();
                    b.timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .keep_alive(false);
                    b
                };
                match tls {
                    Some(acceptor) => {
                        let Ok(Ok(stream)) =
                            tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                        else {
                            return;
                        };
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                            .ok();
                    }
                    None => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                            .ok();
                    }
                }
            })
            .await;
            if served.is_err() {
                tracing::debug!(%peer, "HTTP connection closed after its lifetime");
            }
        });
    }
    connections.abort_all();
    Ok(())
}
