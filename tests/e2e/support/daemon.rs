//! The approvald binary run as a child process against the test stack, and
//! a client of its HTTP API on the Unix socket.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

use super::daemon_config::DaemonConfig;

/// How long the daemon may take to open its API socket.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the daemon may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on one API call.
const API_TIMEOUT: Duration = Duration::from_secs(20);

/// A running approvald (`approvald serve --config FILE`) with its own
/// store, socket and log in a directory of the test's. Killed on drop; when
/// the test failed, its log is printed then.
#[derive(Debug)]
pub(crate) struct TestDaemon {
    /// Config file, store, socket, secrets and log live here.
    dir: PathBuf,
    /// What the config file says; rewritten on every (re)start.
    config: DaemonConfig,
    /// `[api] socket`.
    socket: PathBuf,
    /// The daemon's stdout and stderr, appended across restarts.
    log_path: PathBuf,
    /// The running process; `None` after `terminate` or `kill`.
    child: Option<Child>,
}

impl TestDaemon {
    /// Writes the config into `dir`, starts the daemon and waits until its
    /// API socket accepts connections.
    pub(crate) async fn start(dir: &Path, config: DaemonConfig) -> TestDaemon {
        let mut daemon = TestDaemon {
            dir: dir.to_owned(),
            config,
            socket: dir.join("api.sock"),
            log_path: dir.join("approvald.log"),
            child: None,
        };
        daemon.spawn().await;
        daemon
    }

    /// The approvals inbox address (and IMAP login).
    pub(crate) fn address(&self) -> &str {
        &self.config.address
    }

    /// The config as last written.
    pub(crate) fn config(&self) -> &DaemonConfig {
        &self.config
    }

    /// Change the config for the next [`TestDaemon::restart`].
    pub(crate) fn config_mut(&mut self) -> &mut DaemonConfig {
        &mut self.config
    }

    /// The config file the daemon runs with.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.join("approvald.toml")
    }

    /// `[store] path`.
    pub(crate) fn store_path(&self) -> PathBuf {
        self.dir.join("store")
    }

    /// `[api] socket`.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// The process id while running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the daemon printed so far, across restarts.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "the daemon is already running");
        let toml = self.config.write(&self.dir);
        let config_path = self.config_path();
        std::fs::write(&config_path, toml)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log_path.display()));
        if self.config.init_store && !self.dir.join("store").join("db").exists() {
            let out = Command::new(env!("CARGO_BIN_EXE_approvald"))
                .args(["store", "init", "--config"])
                .arg(&config_path)
                .output()
                .unwrap_or_else(|e| panic!("store init: {e}"));
            assert!(out.status.success(), "store init: {out:?}");
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_approvald"));
        cmd.arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(&self.config.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // The test's own APPROVALD_TEST_* (and any stray APPROVALD__ config
        // overrides) must not leak into the daemon's config.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("APPROVALD") {
                cmd.env_remove(name);
            }
        }
        for (name, value) in &self.config.env {
            cmd.env(name, value);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", env!("CARGO_BIN_EXE_approvald")));
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    // Drop prints the log.
                    panic!(
                        "approvald exited during startup ({status}); config:\n{}",
                        std::fs::read_to_string(self.config_path()).unwrap_or_default()
                    );
                }
            }
            if UnixStream::connect(&self.socket).await.is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "approvald did not open {} within {STARTUP_TIMEOUT:?}",
                    self.socket.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rewrites the config file from [`TestDaemon::config`] and sends
    /// SIGHUP, as `systemctl reload` would.
    pub(crate) fn reload(&self) {
        self.rewrite_config(&self.config.write(&self.dir));
        self.signal("-HUP");
    }

    /// Replaces the config file with `toml` as it is (a broken config) and
    /// sends SIGHUP.
    pub(crate) fn reload_with(&self, toml: &str) {
        self.rewrite_config(toml);
        self.signal("-HUP");
    }

    fn rewrite_config(&self, toml: &str) {
        let path = self.config_path();
        std::fs::write(&path, toml)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    fn signal(&self, which: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("kill {which}: the daemon is not running"));
        let status = Command::new("kill")
            .arg(which)
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(status.success(), "kill {which} {pid} failed");
    }

    /// SIGTERM, then waits for the exit (fails the test after 20 s) and
    /// returns how it ended.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        let Some(child) = self.child.take() else {
            panic!("terminate: the daemon is not running");
        };
        super::terminate_child(child, "approvald", SHUTDOWN_TIMEOUT).await
    }

    /// Waits for the daemon to exit on its own (a crash the test provoked)
    /// and returns how it ended; fails the test when it still runs after
    /// `timeout`. Afterwards [`TestDaemon::restart`] starts it again.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(child) = self.child.as_mut() else {
                panic!("wait_exit: the daemon is not running");
            };
            if let Some(status) = child
                .try_wait()
                .unwrap_or_else(|e| panic!("waiting for approvald: {e}"))
            {
                self.child = None;
                return status;
            }
            if Instant::now() >= deadline {
                panic!("approvald still runs after {timeout:?}; it was expected to exit");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (a crash, a power cut): no chance to flush or clean up.
    pub(crate) async fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            panic!("kill: the daemon is not running");
        };
        child.kill().ok();
        child.wait().ok();
    }

    /// Stops the daemon (SIGTERM) if it runs, then starts it again with the
    /// same store and socket and the config as it is now.
    pub(crate) async fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.terminate().await;
            assert!(
                status.success(),
                "approvald exited with {status} on SIGTERM"
            );
        }
        self.spawn().await;
    }

    /// Sends one HTTP/1.1 request over the API socket and returns the status
    /// and the body as JSON (`Value::Null` when empty, a `Value::String`
    /// when not JSON).
    pub(crate) async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let call = async {
            let stream = UnixStream::connect(&self.socket)
                .await
                .map_err(|e| format!("connect {}: {e}", self.socket.display()))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("HTTP handshake: {e}"))?;
            tokio::spawn(connection);
            let mut builder = Request::builder()
                .method(method)
                .uri(path_and_query)
                .header("host", "localhost");
            if body.is_some() {
                builder = builder.header("content-type", "application/json");
            }
            let request = builder
                .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
                .map_err(|e| format!("bad request: {e}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("HTTP request: {e}"))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("HTTP body: {e}"))?
                .to_bytes();
            let value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            };
            Ok::<_, String>((status, value))
        };
        match tokio::time::timeout(API_TIMEOUT, call).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => panic!("{method} {path_and_query}: {e}"),
            Err(_) => panic!("{method} {path_and_query}: no answer within {API_TIMEOUT:?}"),
        }
    }

    /// `POST /v1/requests` with `body`.
    pub(crate) async fn submit(&self, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request("POST", "/v1/requests", Some(&bytes)).await
    }

    /// `GET /v1/requests/{id}`.
    pub(crate) async fn get(&self, id: &str) -> (u16, Value) {
        self.request("GET", &format!("/v1/requests/{id}"), None)
            .await
    }

    /// `GET /v1/requests?{query}`, every page of it: the answer's status
    /// (of the last page) and `{"requests": [...]}` with all of them.
    pub(crate) async fn list(&self, query: &str) -> (u16, Value) {
        let mut all: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut parts: Vec<String> = Vec::new();
            if !query.is_empty() {
                parts.push(query.to_owned());
            }
            parts.push("limit=1000".to_owned());
            if let Some(c) = &cursor {
                parts.push(format!("cursor={c}"));
            }
            let (code, body) = self
                .request("GET", &format!("/v1/requests?{}", parts.join("&")), None)
                .await;
            if code != 200 {
                return (code, body);
            }
            if let Some(page) = body["requests"].as_array() {
                all.extend(page.iter().cloned());
            }
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (code, serde_json::json!({ "requests": all })),
            }
        }
    }

    /// Polls `GET /v1/requests/{id}` until its `status` is `status` and
    /// returns the request; fails the test after `timeout`, showing the
    /// last answer.
    pub(crate) async fn wait_for_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (code, request) = self.get(id).await;
            if code == 200 && request.get("status").and_then(Value::as_str) == Some(status) {
                return request;
            }
            if Instant::now() >= deadline {
                panic!(
                    "request {id} not {status:?} after {timeout:?}; last answer {code}: {request:#}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- approvald log ({}) ----\n{}---- end of approvald log ----",
                self.log_path.display(),
                self.log()
            );
        }
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
