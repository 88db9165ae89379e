//! The API socket's connections: each is served with the caller's peer
//! credentials attached (who is asking decides what they may submit), with
//! a bound on how long request headers may take and on a connection's life,
//! so a client that connects and says nothing cannot hold a slot forever.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::UnixListener;
use tokio::task::JoinSet;

use crate::approvals::Caller;

/// How long a request's headers may take to arrive, including the wait
/// for the next request on a kept-alive connection.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest life of one connection, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// How long requests in progress get to finish once stopping.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown`, then lets requests in
/// progress finish (for at most [`DRAIN`]).
pub(super) async fn serve(
    listener: UnixListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        // No credentials, no service: every submission needs to know who.
        let caller = match stream.peer_cred() {
            Ok(cred) => Caller::Local { uid: cred.uid() },
            Err(e) => {
                tracing::warn!(error = %e, "API connection without peer credentials refused");
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone().layer(Extension(caller)));
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::time::timeout(CONNECTION_LIFETIME, async {
                tokio::select! {
                    r = conn.as_mut() => r,
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                        conn.as_mut().graceful_shutdown();
                        conn.as_mut().await
                    }
                }
            })
            .await;
            match served {
                Ok(Err(e)) => tracing::debug!(error = %e, "API connection ended with an error"),
                Err(_) => tracing::debug!("API connection closed after its lifetime"),
                Ok(Ok(())) => {}
            }
        });
    }
    stop_tx.send_replace(true);
    if tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        connections.abort_all();
    }
    Ok(())
}
