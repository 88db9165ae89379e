//! One daemon per bench part, with one requester and one approver of its
//! own: a single level, quorum 1, so one APPROVE decides a request and every
//! reply is exactly one decision.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::TestDaemon;
use crate::support::daemon_config::{DaemonConfig, Group, Level};
use crate::support::stack::Stack;
use crate::support::syslog::SyslogListener;
use crate::support::unique_address;

/// A running daemon and everything it needs to keep running.
pub(crate) struct Setup {
    /// Receives the audit log; the daemon would log send errors without it,
    /// and the outbound part counts its `mailed` events.
    pub(crate) syslog: SyslogListener,
    /// The daemon under test.
    pub(crate) daemon: TestDaemon,
    /// Holds the store, config and socket; deleted at the end.
    pub(crate) _dir: tempfile::TempDir,
    /// The one approver; approval mails land in this mailbox.
    pub(crate) approver: String,
    /// The one requester; receipts and outcomes land in this mailbox.
    pub(crate) requester: String,
}

/// Where the daemon's store goes: a real disk, since its fsyncs are part
/// of what is measured.
fn base_dir() -> PathBuf {
    std::env::var_os("APPROVALD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Starts a daemon for the bench part `part` (used in addresses, so runs
/// and parts never see each other's mail); `edit` adjusts the config.
pub(crate) async fn start(
    stack: &Stack,
    part: &str,
    edit: impl FnOnce(&mut DaemonConfig),
) -> Setup {
    let approver = unique_address("alice", part);
    let requester = unique_address("dave", part);
    let group = Group {
        name: "pki-operators".into(),
        members: vec![requester.clone()],
        actions: vec!["certificate.sign".into()],
        deadline: "24h".into(),
        max_window: "8h".into(),
        levels: vec![Level::new(&[&approver], 1)],
        extra: Vec::new(),
    };
    let syslog = SyslogListener::bind().await;
    // Short: the API socket path inside must stay under 108 bytes.
    let dir = tempfile::Builder::new()
        .prefix("ab.")
        .tempdir_in(base_dir())
        .expect("bench directory");
    let mut config = DaemonConfig::new(stack, &syslog, vec![group]);
    edit(&mut config);
    let daemon = TestDaemon::start(dir.path(), config).await;
    Setup {
        syslog,
        daemon,
        _dir: dir,
        approver,
        requester,
    }
}

/// A valid submission by `requester`, each for a resource of its own (one
/// pending request per requester, action and resource is the rule).
fn submission(requester: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    let end = start + chrono::Duration::hours(2);
    json!({
        "requester": requester,
        "action": "certificate.sign",
        "resource": format!("web-{n:05}.example.test"),
        "justification": "TLS certificate expires tomorrow",
        "reason": "Scheduled maintenance",
        "governance_code": "CHG-4711",
        "window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()},
    })
}

impl Setup {
    /// `POST /v1/requests`; the new id and how long the call took (it
    /// returns only once the request and its mails are on disk).
    pub(crate) async fn submit(&self) -> (String, Duration) {
        let started = Instant::now();
        let (status, body) = self.daemon.submit(&submission(&self.requester)).await;
        let took = started.elapsed();
        assert_eq!(status, 201, "submit answered {body}");
        let id = body["id"].as_str().expect("id").to_owned();
        (id, took)
    }
}
