//! Where the real mail stack is: the shared one `scripts/test` started, or a
//! private one a test starts for itself (to restart its servers without
//! disturbing the tests running beside it). Without one, the tests that need
//! it are skipped (see [`skip_without_stack`]).

use std::collections::HashMap;
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Once, OnceLock};

const HOW_TO_RUN: &str = "run scripts/test (or source DIR/env after scripts/mail-stack start DIR)";

/// Prefix of the variables naming the shared stack (see [`Stack::shared`]).
const STACK_VARS: &str = "APPROVALD_TEST_";

/// Set (to 1) by `scripts/test`: a missing stack then fails the tests that
/// need one instead of skipping them.
const REQUIRED: &str = "APPROVALD_E2E_REQUIRED";

/// Whether a test that needs the mail stack must return at once, without
/// testing anything, because no stack is configured (no `APPROVALD_TEST_*`
/// variable is set): `cargo test` on a machine without Postfix and Dovecot
/// runs everything else. Says so once per run on stderr. Every such test
/// starts with `if skip_without_stack() { return; }`.
///
/// Fails the test instead when `APPROVALD_E2E_REQUIRED` is set (not to 0),
/// as `scripts/test` does: there a missing stack is a broken setup, never a
/// reason to skip. A stack configured only in part fails in
/// [`Stack::shared`], naming what is missing.
pub(crate) fn skip_without_stack() -> bool {
    let configured = std::env::vars_os().any(|(name, _)| {
        name.to_str()
            .is_some_and(|name| name.starts_with(STACK_VARS))
    });
    if configured {
        return false;
    }
    let required = std::env::var(REQUIRED).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{REQUIRED} is set but no mail stack is configured (no {STACK_VARS}* variable): {HOW_TO_RUN}"
    );
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        let note = format!(
            "\nSKIPPED: the end-to-end tests that need the mail stack return without \
             testing anything, since none is configured (no {STACK_VARS}* variable). \
             To run them, {HOW_TO_RUN}.\n\n"
        );
        // Straight to stderr: the test harness captures eprintln! and shows
        // it only for failing tests.
        std::io::stderr().write_all(note.as_bytes()).ok();
    });
    true
}

/// Ports and credentials of a running mail stack (see `scripts/mail-stack`).
#[derive(Clone, Debug)]
pub(crate) struct Stack {
    /// The stack's directory: configs, logs, and the handle
    /// `scripts/mail-stack` needs to stop or restart it.
    pub(crate) dir: PathBuf,
    /// Postfix SMTP on 127.0.0.1: no AUTH needed from loopback, AUTH offered.
    pub(crate) smtp_port: u16,
    /// Postfix SMTP with implicit TLS (certificate signed by `ca_file`).
    pub(crate) smtps_port: u16,
    /// Dovecot IMAP, plain text (STARTTLS offered).
    pub(crate) imap_port: u16,
    /// Dovecot IMAP with implicit TLS (certificate signed by `ca_file`).
    pub(crate) imaps_port: u16,
    /// PEM of the private CA the TLS ports' certificate chains to, so TLS
    /// clients can trust the stack without turning verification off.
    pub(crate) ca_file: PathBuf,
    /// The password of every mailbox @example.test.
    pub(crate) password: String,
}

impl Stack {
    /// The stack named by the `APPROVALD_TEST_*` environment; fails the test
    /// with instructions when it is missing.
    pub(crate) fn shared() -> &'static Stack {
        static SHARED: OnceLock<Stack> = OnceLock::new();
        SHARED.get_or_init(|| {
            let vars: HashMap<String, String> = std::env::vars().collect();
            Stack::from_vars(&vars).unwrap_or_else(|e| panic!("{e}: {HOW_TO_RUN}"))
        })
    }

    /// Reads a stack from `APPROVALD_TEST_*` variables.
    fn from_vars(vars: &HashMap<String, String>) -> Result<Stack, String> {
        let get = |name: &str| {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| format!("{name} is not set"))
        };
        let port = |name: &str| {
            get(name)?
                .parse::<u16>()
                .map_err(|e| format!("{name} is not a port: {e}"))
        };
        Ok(Stack {
            dir: PathBuf::from(get("APPROVALD_TEST_STACK_DIR")?),
            smtp_port: port("APPROVALD_TEST_SMTP_PORT")?,
            smtps_port: port("APPROVALD_TEST_SMTPS_PORT")?,
            imap_port: port("APPROVALD_TEST_IMAP_PORT")?,
            imaps_port: port("APPROVALD_TEST_IMAPS_PORT")?,
            ca_file: PathBuf::from(get("APPROVALD_TEST_CA_FILE")?),
            password: get("APPROVALD_TEST_MAIL_PASSWORD")?,
        })
    }

    /// Reads the `export K=V` lines `scripts/mail-stack start` writes.
    fn from_env_file(path: &Path) -> Result<Stack, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let vars = text
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Stack::from_vars(&vars)
    }

    /// Stops and starts Dovecot only, on the same ports (about 3 s). Mail
    /// already delivered stays; Postfix queues new mail meanwhile and
    /// retries within seconds. Every IMAP session of every test on this
    /// stack breaks: use it on a [`PrivateStack`].
    pub(crate) fn restart_imap(&self) {
        run_mail_stack("restart-imap", &self.dir);
    }
}

/// A stack of its own for one test, stopped and deleted on drop.
#[derive(Debug)]
pub(crate) struct PrivateStack {
    /// Its ports and credentials.
    stack: Stack,
    /// Owns the stack's directory, deleted after the servers stop.
    dir: tempfile::TempDir,
}

impl PrivateStack {
    /// Starts a new stack on fresh ports (about 0.4 s; stopping takes
    /// about 3 s). Needs root, as `scripts/test` runs.
    pub(crate) fn start() -> PrivateStack {
        // Short and under /tmp whatever TMPDIR says: Unix socket paths in
        // the directory are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("as.")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("cannot create a stack directory in /tmp: {e}"));
        run_mail_stack("start", dir.path());
        let stack = Stack::from_env_file(&dir.path().join("env"))
            .unwrap_or_else(|e| panic!("private stack: {e}"));
        PrivateStack { stack, dir }
    }
}

impl Deref for PrivateStack {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let status = mail_stack_command("stop", self.dir.path()).status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "mail-stack stop {} failed: {status:?}",
                self.dir.path().display()
            );
        }
    }
}

fn mail_stack_command(verb: &str, dir: &Path) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mail-stack");
    let mut cmd = Command::new(script);
    cmd.arg(verb).arg(dir);
    // The shared stack's ports are in this process's environment; a private
    // stack must pick its own.
    for var in [
        "MAIL_STACK_SMTP_PORT",
        "MAIL_STACK_SMTPS_PORT",
        "MAIL_STACK_IMAP_PORT",
        "MAIL_STACK_IMAPS_PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(std::process::Stdio::null());
    cmd
}

fn run_mail_stack(verb: &str, dir: &Path) {
    let output = mail_stack_command(verb, dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/mail-stack {verb}: {e}"));
    assert!(
        output.status.success(),
        "scripts/mail-stack {verb} {} failed ({}):\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
