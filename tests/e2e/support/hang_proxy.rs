//! A TCP proxy in front of a real server that the test can make hang: while
//! hanging, it accepts connections and never says a word (nor passes on
//! what it hears), as a server stopped dead would; otherwise it forwards
//! bytes both ways. Connections held while hanging stay silent until the
//! client gives up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// The proxy; stopped when dropped.
pub(crate) struct HangProxy {
    /// The port it listens on, for the daemon's configuration.
    pub(crate) port: u16,
    /// Whether new connections hang.
    hanging: Arc<AtomicBool>,
    /// The accept loop.
    task: tokio::task::JoinHandle<()>,
}

impl HangProxy {
    /// A proxy to `127.0.0.1:upstream`, hanging from the start if `hanging`.
    pub(crate) async fn start(upstream: u16, hanging: bool) -> HangProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let flag = Arc::new(AtomicBool::new(hanging));
        let hanging = flag.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let hang = flag.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    if hang {
                        // Held open, read from, never answered.
                        let mut sink = tokio::io::sink();
                        tokio::io::copy(&mut client, &mut sink).await.ok();
                        return;
                    }
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server)
                            .await
                            .ok();
                    }
                });
            }
        });
        HangProxy {
            port,
            hanging,
            task,
        }
    }

    /// Makes new connections hang (`true`) or pass (`false`).
    pub(crate) fn hang(&self, hanging: bool) {
        self.hanging.store(hanging, Ordering::SeqCst);
    }
}

impl Drop for HangProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
