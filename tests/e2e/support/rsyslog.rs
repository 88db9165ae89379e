//! A real syslog server for the audit tests: Debian's rsyslogd, run in the
//! foreground with a throw-away config that listens on one 127.0.0.1 port
//! and writes every message it receives to two files, once as received
//! (`%rawmsg%`) and once as rsyslog's own RFC 5424 parser understood it.
//!
//! The second file is what makes these tests worth more than the in-test
//! [`super::syslog::SyslogListener`]: a line that is not valid RFC 5424, or
//! a TCP frame that is split or merged, shows up there with the wrong
//! version, MSGID or structured data.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long rsyslogd may take to start listening and write a first line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long rsyslogd may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the output files are read again while waiting.
const POLL: Duration = Duration::from_millis(100);
/// APP-NAME of the lines [`Rsyslog::start`] sends to learn that rsyslogd
/// receives and writes; [`Rsyslog::lines`] leaves them out.
const PROBE_APP: &str = "rsyslog-probe";

/// How the daemon's audit lines reach rsyslogd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    /// imtcp, which reads RFC 6587 octet-counted frames (and LF-delimited
    /// ones: it tells them apart by the first byte of each frame).
    Tcp,
    /// imudp, one message per datagram.
    Udp,
}

impl Proto {
    /// The scheme `[audit] syslog` uses for this protocol.
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A running (or stopped, between [`Rsyslog::stop`] and
/// [`Rsyslog::restart`]) rsyslogd with its config and output in a
/// directory of its own. Killed on drop; when the test failed, its own
/// output and what it received are printed then.
#[derive(Debug)]
pub(crate) struct Rsyslog {
    /// Which input module listens.
    proto: Proto,
    /// The 127.0.0.1 port it listens on; stays the same across restarts
    /// so the daemon's `[audit] syslog` keeps pointing at it.
    port: u16,
    /// Config, pid file, work directory and output; kept across restarts
    /// so the output accumulates.
    dir: tempfile::TempDir,
    /// The running process; `None` once stopped.
    child: Option<Child>,
    /// Distinguishes the probe lines of successive starts.
    starts: u32,
    /// For a TLS collector: its certificate files, whether it demands a
    /// client certificate, and the plain TCP port its probes use (a probe
    /// proves rsyslogd writes; the TLS port is then checked to accept).
    tls: Option<(TlsFiles, bool, u16)>,
}

/// A TLS collector's files.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// The CA that signed the server's (and the client's) certificate.
    pub(crate) ca: PathBuf,
    /// The server's certificate.
    pub(crate) cert: PathBuf,
    /// The server's key.
    pub(crate) key: PathBuf,
}

impl Rsyslog {
    /// Starts rsyslogd listening on 127.0.0.1:`port` and waits until a
    /// probe message sent there has been written to its output.
    pub(crate) async fn start(proto: Proto, port: u16) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("rsyslog tempdir: {e}"));
        let mut rsyslog = Rsyslog {
            proto,
            port,
            dir,
            child: None,
            starts: 0,
            tls: None,
        };
        rsyslog.spawn().await;
        rsyslog
    }

    /// Starts rsyslogd receiving RFC 5425 (syslog over TLS, OpenSSL stream
    /// driver) on 127.0.0.1:`port`; with `client_auth` it accepts only
    /// senders whose certificate `files.ca` signed.
    pub(crate) async fn start_tls(port: u16, files: TlsFiles, client_auth: bool) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("rsyslog tempdir: {e}"));
        let mut rsyslog = Rsyslog {
            proto: Proto::Tcp,
            port,
            dir,
            child: None,
            starts: 0,
            tls: Some((files, client_auth, Rsyslog::free_port())),
        };
        rsyslog.spawn().await;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd's TLS input on {port} does not accept:\n{}",
                rsyslog.own_output()
            );
            tokio::time::sleep(POLL).await;
        }
        rsyslog
    }

    /// Every message as written by rsyslog's own RFC 5424 file template
    /// (RSYSLOG_SyslogProtocol23Format), the file an operator would hand
    /// to `approvald audit verify`.
    pub(crate) fn protocol23_path(&self) -> PathBuf {
        self.dir.path().join("protocol23.log")
    }

    /// A port on 127.0.0.1 that nothing uses for TCP or UDP right now and
    /// that no other test of this process was given. Below the kernel's
    /// ephemeral range (32768 and up), so no outgoing connection takes it
    /// while a test keeps it free on purpose, and a client connecting to
    /// it while nothing listens never ends up connected to itself.
    pub(crate) fn free_port() -> u16 {
        static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
        let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
        for _ in 0..1000 {
            let mut bytes = [0u8; 2];
            getrandom::getrandom(&mut bytes).unwrap_or_else(|e| panic!("getrandom: {e}"));
            let port = 20000 + u16::from_le_bytes(bytes) % 12000;
            let free = TcpListener::bind(("127.0.0.1", port)).is_ok()
                && UdpSocket::bind(("127.0.0.1", port)).is_ok();
            if free && given.lock().unwrap().insert(port) {
                return port;
            }
        }
        panic!("no free port between 20000 and 32000");
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `tcp://127.0.0.1:PORT` or `udp://…`, as `[audit] syslog` takes it.
    pub(crate) fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("tls://127.0.0.1:{}", self.port),
            None => url(self.proto, self.port),
        }
    }

    /// Every message received so far, as received (the frame's payload for
    /// TCP, the datagram for UDP), one per line, in arrival order; without
    /// the probes.
    pub(crate) fn lines(&self) -> Vec<String> {
        complete_lines(&self.raw_path())
            .into_iter()
            .filter(|l| !l.contains(&format!(" {PROBE_APP} ")))
            .collect()
    }

    /// Every message received so far as rsyslog's RFC 5424 parser saw it:
    /// one JSON object per message with the fields `pri`, `version`,
    /// `timestamp`, `hostname`, `app`, `procid`, `msgid`, `sd` and `msg`.
    /// A message rsyslog could not parse as RFC 5424 still appears, with
    /// `version` "0" (it fell back to the BSD format). Without the probes.
    pub(crate) fn parsed(&self) -> Vec<Value> {
        complete_lines(&self.parsed_path())
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("rsyslog wrote a line that is not JSON ({e}): {l}"))
            })
            .filter(|v| v["app"] != PROBE_APP)
            .collect()
    }

    /// Waits until a received line matches `wanted` and returns the first
    /// that does; fails the test after `timeout`, listing what arrived.
    pub(crate) async fn wait_for(
        &self,
        wanted: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        super::wait_for_line("rsyslog", POLL, || self.lines(), wanted, timeout).await
    }

    /// Waits until `done` holds for the lines received so far and returns
    /// them; fails the test after `timeout`, listing what arrived.
    pub(crate) async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[String]) -> bool,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if done(&lines) {
                return lines;
            }
            if Instant::now() >= deadline {
                panic!(
                    "rsyslog: {what} not received after {timeout:?}; {} received:\n{}",
                    lines.len(),
                    lines.join("\n")
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGTERM, then waits for the exit (rsyslogd writes out what it has
    /// queued before exiting). The output stays readable.
    pub(crate) async fn stop(&mut self) {
        let Some(child) = self.child.take() else {
            panic!("rsyslog stop: not running");
        };
        let status = super::terminate_child(child, "rsyslogd", SHUTDOWN_TIMEOUT).await;
        assert!(
            status.success(),
            "rsyslogd exited with {status} on SIGTERM:\n{}",
            self.own_output()
        );
    }

    /// Starts it again after [`Rsyslog::stop`], on the same port, appending
    /// to the same output.
    pub(crate) async fn restart(&mut self) {
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "rsyslogd is already running");
        let dir = self.dir.path();
        let config = dir.join("rsyslog.conf");
        std::fs::write(&config, self.config())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.own_output_path())
            .unwrap_or_else(|e| panic!("rsyslogd output file: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("rsyslogd output file: {e}"));
        let child = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&config)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (scripts/install-deps installs it)",
                    rsyslogd().display()
                )
            });
        self.child = Some(child);
        self.starts += 1;
        self.wait_ready().await;
    }

    /// Sends probes until one is written: then rsyslogd listens, and its
    /// whole path from socket to file works.
    async fn wait_ready(&mut self) {
        let token = format!("probe-{}", self.starts);
        let probe = format!("<191>1 - - {PROBE_APP} - {token} - ready");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "rsyslogd exited during startup ({status}):\n{}\nconfig:\n{}",
                        self.own_output(),
                        self.config()
                    );
                }
            }
            let probe_port = self.tls.as_ref().map_or(self.port, |t| t.2);
            send_probe(self.proto, probe_port, &probe);
            tokio::time::sleep(POLL).await;
            if complete_lines(&self.raw_path())
                .iter()
                .any(|l| l.contains(&format!(" {PROBE_APP} - {token} ")))
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "rsyslogd did not receive on {} within {STARTUP_TIMEOUT:?}:\n{}",
                    self.url(),
                    self.own_output()
                );
            }
        }
    }

    /// The config: one input on 127.0.0.1, bound to a ruleset that writes
    /// the two output files; nothing else (no kernel log, no local socket,
    /// no system files).
    fn config(&self) -> String {
        let dir = self.dir.path();
        let (module, input) = match self.proto {
            Proto::Tcp => ("imtcp", "imtcp"),
            Proto::Udp => ("imudp", "imudp"),
        };
        let inputs = match &self.tls {
            None => format!(
                r#"input(type="{input}" address="127.0.0.1" port="{port}" ruleset="audit")"#,
                port = self.port
            ),
            Some((files, client_auth, probe_port)) => format!(
                r#"input(type="imtcp" address="127.0.0.1" port="{probe_port}" ruleset="audit")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="audit"
  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="{auth}"
  streamDriver.CAFile="{ca}" streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")"#,
                port = self.port,
                auth = if *client_auth {
                    "x509/certvalid"
                } else {
                    "anon"
                },
                ca = files.ca.display(),
                cert = files.cert.display(),
                key = files.key.display(),
            ),
        };
        format!(
            r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="{module}")
{inputs}
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="list") {{
  constant(value="{{\"pri\":\"") property(name="pri" format="json")
  constant(value="\",\"version\":\"") property(name="protocol-version" format="json")
  constant(value="\",\"timestamp\":\"") property(name="timereported" dateFormat="rfc3339" format="json")
  constant(value="\",\"hostname\":\"") property(name="hostname" format="json")
  constant(value="\",\"app\":\"") property(name="app-name" format="json")
  constant(value="\",\"procid\":\"") property(name="procid" format="json")
  constant(value="\",\"msgid\":\"") property(name="msgid" format="json")
  constant(value="\",\"sd\":\"") property(name="structured-data" format="json")
  constant(value="\",\"msg\":\"") property(name="msg" format="json")
  constant(value="\"}}\n")
}}
ruleset(name="audit") {{
  action(type="omfile" file="{raw}" template="raw")
  action(type="omfile" file="{parsed}" template="parsed")
  action(type="omfile" file="{p23}" template="RSYSLOG_SyslogProtocol23Format")
}}
"#,
            work = dir.display(),
            p23 = self.protocol23_path().display(),
            raw = self.raw_path().display(),
            parsed = self.parsed_path().display(),
        )
    }

    fn raw_path(&self) -> PathBuf {
        self.dir.path().join("raw.log")
    }

    fn parsed_path(&self) -> PathBuf {
        self.dir.path().join("parsed.jsonl")
    }

    fn own_output_path(&self) -> PathBuf {
        self.dir.path().join("rsyslogd.out")
    }

    /// What rsyslogd itself printed (start-up errors, config complaints).
    fn own_output(&self) -> String {
        std::fs::read_to_string(self.own_output_path()).unwrap_or_default()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- rsyslogd on {} ----\n{}---- received ----\n{}\n---- end of rsyslogd ----",
                self.url(),
                self.own_output(),
                self.lines().join("\n")
            );
        }
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// `[audit] syslog` for `proto` on 127.0.0.1:`port`.
pub(crate) fn url(proto: Proto, port: u16) -> String {
    format!("{}://127.0.0.1:{port}", proto.scheme())
}

/// rsyslogd lives in /usr/sbin, which is not on every user's PATH.
fn rsyslogd() -> PathBuf {
    let sbin = Path::new("/usr/sbin/rsyslogd");
    if sbin.exists() {
        sbin.to_owned()
    } else {
        PathBuf::from("rsyslogd")
    }
}

/// One probe message; errors (nothing listens yet) are expected and
/// ignored, the caller tries again.
fn send_probe(proto: Proto, port: u16, probe: &str) {
    match proto {
        Proto::Tcp => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                stream
                    .write_all(format!("{} {probe}", probe.len()).as_bytes())
                    .ok();
            }
        }
        Proto::Udp => {
            if let Ok(socket) = UdpSocket::bind("127.0.0.1:0") {
                socket.send_to(probe.as_bytes(), ("127.0.0.1", port)).ok();
            }
        }
    }
}

/// The lines of `path` that rsyslogd finished writing: a last line without
/// its newline is still being written and is left for the next read.
fn complete_lines(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return Vec::new(),
    };
    complete.split('\n').map(str::to_owned).collect()
}
