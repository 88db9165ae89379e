//! The store at scale: a million requests (mostly closed, 100 pending)
//! written through the store's own transactions, then the release daemon
//! started on it: how long until its API answers, how much memory it holds,
//! and how fast it lists the pending requests (a status index, not a scan).
//! Also the idle memory of a daemon on an empty store.
//!
//! No mail stack is needed: IMAP and SMTP point at a closed local port, so
//! the daemon serves its API while it retries them (as it does when a mail
//! server is down). Runs only under `cargo bench`; `scripts/bench` runs it
//! and BENCHMARKS.md has the figures.
//!
//! - `APPROVALD_BENCH_SCALE`: requests in the big store (default 1,000,000).
//! - `APPROVALD_BENCH_DIR`: where the stores go (a real disk).
//! - `APPROVALD_BENCH_OUT`: a directory for `scale.md`.
//! - `APPROVALD_BENCH_SCALE_KEEP`: a directory to keep the big store in and
//!   reuse on the next run (writing a million requests takes minutes).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench fails by panicking with a message saying what it saw"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "the benchmark runs against the real clock"
)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pending requests among the many.
const PENDING: u64 = 100;
/// Listing calls timed.
const CALLS: usize = 200;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("store_scale: runs only under `cargo bench` (see scripts/bench)");
        return;
    }
    let total: u64 = std::env::var("APPROVALD_BENCH_SCALE")
        .ok()
        .map(|v| v.parse().expect("APPROVALD_BENCH_SCALE is a number"))
        .unwrap_or(1_000_000);
    let base =
        std::env::var_os("APPROVALD_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(base).unwrap();
    let mut out = String::new();
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    out.push_str(&format!("load average before: {}", load()));

    // An empty store: the daemon's floor.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    approvald::entry::populate_store(&empty.join("store"), 0, 0, chrono::Utc::now()).unwrap();
    let mut d = Daemon::start(&empty);
    let ready = d.wait_ready();
    std::thread::sleep(Duration::from_secs(2));
    let (idle_rss, idle_hwm) = d.memory();
    out.push_str(&format!(
        "\n| empty store | ready in {} ms | idle RSS {:.1} MB (peak {:.1} MB) |\n",
        ready.as_millis(),
        idle_rss,
        idle_hwm
    ));
    d.stop();

    // The big store, written through the store's transactions.
    let big = std::env::var_os("APPROVALD_BENCH_SCALE_KEEP")
        .map_or_else(|| dir.path().join("big"), PathBuf::from);
    std::fs::create_dir_all(&big).unwrap();
    let t = Instant::now();
    if !big.join("store").join("db").exists() {
        approvald::entry::populate_store(&big.join("store"), total, PENDING, chrono::Utc::now())
            .unwrap();
    }
    let fill = t.elapsed();
    let size = du(&big.join("store"));
    eprintln!("store_scale: {total} requests written in {fill:?}, {size:.0} MB on disk");

    // sled 0.34 replays its whole log since the last snapshot when it
    // opens, and writes a snapshot only then: the first start after the
    // store was written is the worst case, a later one the usual case.
    let mut d = Daemon::start(&big);
    let first_ready = d.wait_ready();
    d.stop();
    let mut d = Daemon::start(&big);
    let ready = d.wait_ready();
    let (rss_ready, _) = d.memory();
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        let body = d.get("/v1/requests?status=pending");
        times.push(t.elapsed());
        let n = body.matches("\"id\":\"AR-").count();
        assert_eq!(n as u64, PENDING, "{}", &body[..body.len().min(300)]);
    }
    let (rss, hwm) = d.memory();
    d.stop();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    out.push_str(&format!(
        "| {total} requests ({PENDING} pending) | written in {:.1} s ({:.0}/s), {size:.0} MB on disk |\n\
         | first start after writing them → API answers | {} ms |\n\
         | next start → API answers | {} ms |\n\
         | RSS when ready | {rss_ready:.1} MB |\n\
         | RSS after {CALLS} listings | {rss:.1} MB (peak {hwm:.1} MB) |\n\
         | GET /v1/requests?status=pending ({PENDING} of {total}) | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |\n",
        fill.as_secs_f64(),
        total as f64 / fill.as_secs_f64(),
        first_ready.as_millis(),
        ready.as_millis(),
        ms(p(0.5)),
        ms(p(0.99)),
        ms(*times.last().unwrap()),
    ));
    out.push_str(&format!("load average after: {}", load()));
    println!("{out}");
    if let Some(dir) = std::env::var_os("APPROVALD_BENCH_OUT") {
        std::fs::write(Path::new(&dir).join("scale.md"), &out).unwrap();
    }
}

/// Megabytes under `path`.
fn du(path: &Path) -> f64 {
    let mut total = 0u64;
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            (du(&e.path()) * 1e6) as u64
        } else {
            m.len()
        };
    }
    total as f64 / 1e6
}

/// The release daemon on the store in `dir/store`.
struct Daemon {
    child: Child,
    socket: PathBuf,
    started: Instant,
}

impl Daemon {
    fn start(dir: &Path) -> Daemon {
        let secret = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            p
        };
        let key = secret("token.key", &[7u8; 32]);
        let pw = secret("imap.password", b"unused\n");
        let socket = dir.join("api.sock");
        let config = dir.join("approvald.toml");
        let uid = std::fs::metadata("/proc/self").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid()
        });
        std::fs::write(
            &config,
            format!(
                r#"reasons = ["Maintenance"]
[store]
path = "{store}"
[mail]
address = "approvals@example.test"
from_name = "Access approvals"
[imap]
host = "127.0.0.1"
port = 1
tls = "none"
username = "approvals@example.test"
password_file = "{pw}"
mailbox = "INBOX"
processed_mailbox = "Processed"
rejected_mailbox = "Rejected"
poll_interval = "30s"
idle = true
[smtp]
host = "127.0.0.1"
port = 1
tls = "none"
[tokens]
key_file = "{key}"
[api]
socket = "{socket}"
submitters = [{{ uid = {uid}, requesters = ["*"] }}]
[audit]
syslog = "tcp://127.0.0.1:1"
[[groups]]
name = "pki"
members = ["*@example.test"]
actions = ["certificate.sign"]
deadline = "24h"
max_window = "8h"
levels = [{{ approvers = ["alice@example.test", "bob@example.test"], quorum = 1 }}]
"#,
                store = dir.join("store").display(),
                pw = pw.display(),
                key = key.display(),
                socket = socket.display(),
                uid = uid.unwrap_or(0),
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_approvald"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("APPROVALD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("approvald.log")).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            socket,
            started: Instant::now(),
        }
    }

    /// Time from start until the API answers a listing.
    fn wait_ready(&mut self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self
                .try_get("/v1/requests?status=pending&limit=1")
                .is_some()
            {
                return self.started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the API did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn try_get(&self, path: &str) -> Option<String> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.starts_with("HTTP/1.1 200").then_some(text)
    }

    fn get(&self, path: &str) -> String {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} failed"))
    }

    /// VmRSS and VmHWM in MB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
    }

    fn stop(mut self) {
        Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill the daemon");
        self.child.wait().expect("the daemon's exit");
    }
}
