//! A syslog receiver inside the test: the daemon's audit events arrive here
//! over UDP, one RFC 5424 line per datagram.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// How often [`SyslogListener::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Collects every datagram sent to 127.0.0.1:`port` while it lives.
#[derive(Debug)]
pub(crate) struct SyslogListener {
    /// The port the kernel picked; goes into the daemon's config.
    port: u16,
    /// Every line received so far, in arrival order.
    lines: Arc<Mutex<Vec<String>>>,
    /// The receiving task, stopped on drop.
    task: JoinHandle<()>,
}

impl SyslogListener {
    /// Binds 127.0.0.1 on a free port and starts collecting.
    pub(crate) async fn bind() -> SyslogListener {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a UDP syslog port: {e}"));
        let port = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("UDP syslog port: {e}"))
            .port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let task = tokio::spawn(async move {
            // Larger than any datagram a syslog sender may send.
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = socket.recv(&mut buf).await {
                let line = String::from_utf8_lossy(buf.get(..n).unwrap_or_default())
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                sink.lock().unwrap().push(line);
            }
        });
        SyslogListener { port, lines, task }
    }

    /// The UDP port lines are received on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `udp://127.0.0.1:PORT`, as `[audit] syslog` takes it.
    pub(crate) fn url(&self) -> String {
        format!("udp://127.0.0.1:{}", self.port)
    }

    /// Every line received so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a received line matches `wanted` and returns the first
    /// that does; fails the test after `timeout`, listing what arrived.
    pub(crate) async fn wait_for(
        &self,
        wanted: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        super::wait_for_line("syslog listener", POLL, || self.lines(), wanted, timeout).await
    }
}

impl Drop for SyslogListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
