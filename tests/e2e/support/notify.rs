//! The service manager's side of sd_notify: a Unix datagram socket the
//! daemon is pointed at with `NOTIFY_SOCKET`, read one notification at a
//! time, as systemd reads them for `Type=notify` and `WatchdogSec=`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;

/// Listens for the daemon's notifications.
pub(crate) struct NotifyListener {
    /// The bound socket.
    socket: UnixDatagram,
    /// Its path, for `NOTIFY_SOCKET`.
    path: PathBuf,
}

impl NotifyListener {
    /// Binds `notify.sock` in `dir`.
    pub(crate) fn bind(dir: &Path) -> NotifyListener {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path)
            .unwrap_or_else(|e| panic!("cannot bind {}: {e}", path.display()));
        NotifyListener { socket, path }
    }

    /// The value for `NOTIFY_SOCKET`.
    pub(crate) fn env(&self) -> (String, String) {
        ("NOTIFY_SOCKET".into(), self.path.display().to_string())
    }

    /// The next notification, or `None` when none comes within `timeout`.
    pub(crate) async fn next_within(&self, timeout: Duration) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(timeout, self.socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                Some(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned())
            }
            Ok(Err(e)) => panic!("reading notifications: {e}"),
            Err(_) => None,
        }
    }

    /// Reads notifications until one has a line `matches` accepts, and
    /// returns everything read up to and including it; fails the test after
    /// `timeout`, showing what came instead.
    pub(crate) async fn until(
        &self,
        matches: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(message) = self.next_within(left).await else {
                panic!("no matching notification within {timeout:?}; got {seen:#?}");
            };
            let hit = message.lines().any(&matches);
            seen.push(message);
            if hit {
                return seen;
            }
        }
    }

    /// Everything that arrives within `window`, in order.
    pub(crate) async fn collect(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        while let Some(message) = self
            .next_within(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            seen.push(message);
        }
        seen
    }
}

/// Whether `messages` hold a line equal to `line`.
pub(crate) fn has_line(messages: &[String], line: &str) -> bool {
    messages.iter().any(|m| m.lines().any(|l| l == line))
}

/// The `STATUS=` lines of `messages`, in order.
pub(crate) fn statuses(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m.lines())
        .filter_map(|l| l.strip_prefix("STATUS="))
        .map(str::to_owned)
        .collect()
}
