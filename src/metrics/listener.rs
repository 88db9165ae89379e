//! The metrics listener (`[metrics] listen`): plain HTTP on TCP for
//! Prometheus, which cannot scrape a Unix socket, and for load balancers'
//! health checks. It serves `/metrics` and `/v1/health` only, without
//! authentication, so it listens on the loopback interface unless the
//! configuration says otherwise in so many words.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a request's headers may take.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest life of one connection (one request: a scrape).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Most connections served at once; a scraper needs one.
const MAX_CONNECTIONS: usize = 16;

/// Serves `router` on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a metrics connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let service = TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            if tokio::time::timeout(CONNECTION_LIFETIME, conn)
                .await
                .is_err()
            {
                tracing::debug!("metrics connection closed after its lifetime");
            }
        });
    }
    connections.abort_all();
}
