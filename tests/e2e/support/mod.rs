//! Helpers shared by the end-to-end tests.
//!
//! Every test uses its own addresses (see [`unique_address`]), so tests run
//! in parallel against one mail stack without seeing each other's mail.

#![expect(dead_code, reason = "each test module uses only some of the helpers")]

pub(crate) mod certs;
pub(crate) mod cli;
pub(crate) mod clients;
pub(crate) mod daemon;
pub(crate) mod daemon_config;
pub(crate) mod hang_proxy;
pub(crate) mod imap_ops;
pub(crate) mod mailbox;
pub(crate) mod notify;
pub(crate) mod rsyslog;
pub(crate) mod smtp;
pub(crate) mod stack;
pub(crate) mod syslog;

use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The only mail domain the test stack delivers for.
pub(crate) const DOMAIN: &str = "example.test";

/// A short tag, fixed for this test process, that makes addresses unique
/// across runs: a stack kept running between `cargo test` runs still holds
/// the mail of the previous run in the same-named mailboxes.
pub(crate) fn run_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mixed = u64::from(nanos) ^ (u64::from(std::process::id()) << 20);
        to_base36(mixed % 36u64.pow(5))
    })
}

/// `role-test-RUN@example.test`, an address (and mailbox) no other test and
/// no other run uses: `unique_address("alice", "quorum_of_two")`.
pub(crate) fn unique_address(role: &str, test: &str) -> String {
    let test = test.replace('_', "-");
    format!("{role}-{test}-{}@{DOMAIN}", run_tag())
}

/// A short, unique approvals inbox for `test`. Short because approvald
/// refuses an inbox whose plus-address with a token would exceed the 64
/// characters RFC 5321 allows before the @: the part before @ may have at
/// most 11 characters, so there is no room for the test's name.
pub(crate) fn inbox_address() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("ap{}{}@{DOMAIN}", run_tag(), to_base36(n % 36u64.pow(4)))
}

fn to_base36(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(char::from_digit((n % 36) as u32, 36).unwrap());
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.iter().rev().collect()
}

/// Sends SIGTERM to `child` (named `what` in failures) and waits up to
/// `timeout` for it to exit; kills it and fails the test if it does not.
pub(crate) async fn terminate_child(mut child: Child, what: &str, timeout: Duration) -> ExitStatus {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -TERM {} failed", child.id());
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"))
        {
            return status;
        }
        if Instant::now() >= deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("{what} did not exit within {timeout:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `lines` every `poll` until one matches `wanted` and returns the
/// first that does; fails the test after `timeout`, listing what `source`
/// received.
pub(crate) async fn wait_for_line(
    source: &str,
    poll: Duration,
    lines: impl Fn() -> Vec<String>,
    wanted: impl Fn(&str) -> bool,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let lines = lines();
        if let Some(line) = lines.iter().find(|l| wanted(l)) {
            return line.clone();
        }
        if Instant::now() >= deadline {
            panic!(
                "{source}: no matching line after {timeout:?}; {} received:\n{}",
                lines.len(),
                lines.join("\n")
            );
        }
        tokio::time::sleep(poll).await;
    }
}
