//! The daemon's config file as a test describes it: groups, levels, TLS
//! modes, secrets, rendered to the TOML of `config/approvald.example.toml`.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::stack::Stack;
use super::syslog::SyslogListener;

/// One approval level of a group: `{ approvers = [...], quorum = N }`.
#[derive(Clone, Debug)]
pub(crate) struct Level {
    /// Who may decide at this level.
    pub(crate) approvers: Vec<String>,
    /// How many APPROVE this level needs.
    pub(crate) quorum: u32,
    /// More keys of the level's inline table, starting with ", ".
    pub(crate) extra: String,
}

impl Level {
    /// A level of `approvers` needing `quorum` approvals.
    pub(crate) fn new(approvers: &[&str], quorum: u32) -> Level {
        Level {
            approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
            quorum,
            extra: String::new(),
        }
    }
}

/// One `[[groups]]` table of the config.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// Shown in mails and the audit log.
    pub(crate) name: String,
    /// Requesters in this group.
    pub(crate) members: Vec<String>,
    /// Actions the group may request.
    pub(crate) actions: Vec<String>,
    /// Undecided requests expire after this ("24h", "5s").
    pub(crate) deadline: String,
    /// Longest access window a requester may ask for ("8h").
    pub(crate) max_window: String,
    /// Approval levels, in order.
    pub(crate) levels: Vec<Level>,
    /// More lines of the group's table as TOML (`emergency = true`).
    pub(crate) extra: Vec<String>,
}

/// How the daemon talks to a server of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Plain text on the plain port.
    None,
    /// STARTTLS on the plain port (both servers offer it), trusting the
    /// stack's CA.
    StartTls,
    /// TLS from the first byte on the TLS port, trusting the stack's CA.
    Implicit,
}

/// Everything that goes into the daemon's config file. Built with
/// [`DaemonConfig::new`]; fields are open so a test can change one before
/// starting (or, through [`TestDaemon::config_mut`], before a restart).
#[derive(Clone, Debug)]
pub(crate) struct DaemonConfig {
    /// The stack the daemon reads from and sends through.
    pub(crate) stack: Stack,
    /// The approvals inbox (and IMAP login), unique per test.
    pub(crate) address: String,
    /// `reasons`: what a requester may give as reason.
    pub(crate) reasons: Vec<String>,
    /// `[[groups]]`.
    pub(crate) groups: Vec<Group>,
    /// `[imap] mailbox`: the folder the daemon reads replies from. Mail
    /// is delivered into INBOX; a test that watches another folder files
    /// messages into it itself, as a server-side filter would.
    pub(crate) mailbox: String,
    /// `[imap] poll_interval`: short so tests do not wait.
    pub(crate) poll_interval: String,
    /// `[imap] tls` (and so the port).
    pub(crate) imap_tls: TlsMode,
    /// `[smtp] tls` (and so the port).
    pub(crate) smtp_tls: TlsMode,
    /// Log in to SMTP as `address` (SMTP AUTH through Dovecot) instead of
    /// relaying unauthenticated from 127.0.0.1.
    pub(crate) smtp_login: bool,
    /// `[audit] syslog`.
    pub(crate) syslog: String,
    /// Whether the daemon's first start is preceded by `approvald store
    /// init`, as an operator's is (off to test that serve refuses).
    pub(crate) init_store: bool,
    /// More `[audit]` lines, written as given (`format = "json"`,
    /// `ca_file = …`).
    pub(crate) audit_lines: Vec<String>,
    /// `[mail] templates`: a directory of template overrides.
    pub(crate) templates: Option<PathBuf>,
    /// The contents of `[tokens] key_file`.
    pub(crate) token_key: Vec<u8>,
    /// The contents of each of `[tokens] previous_key_files`.
    pub(crate) previous_token_keys: Vec<Vec<u8>>,
    /// Lines added to the `[api]` table (`submitters = [...]`).
    pub(crate) api_extra: Vec<String>,
    /// Tables appended after the groups (`[approver_groups]`, ...).
    pub(crate) tables_extra: Vec<String>,
    /// Extra command-line arguments after `serve --config FILE`.
    pub(crate) args: Vec<String>,
    /// Extra environment for the daemon process (test hooks such as
    /// `APPROVALD_TEST_CRASH_AFTER_COMMIT`, or `APPROVALD__…` overrides).
    pub(crate) env: Vec<(String, String)>,
}

impl DaemonConfig {
    /// A config for one test: approvals inbox
    /// a short unique inbox (see [`super::inbox_address`]), plain IMAP and SMTP, a 1 s poll,
    /// audit to `syslog`, a fresh random token key.
    pub(crate) fn new(stack: &Stack, syslog: &SyslogListener, groups: Vec<Group>) -> DaemonConfig {
        let mut token_key = vec![0u8; 32];
        getrandom::getrandom(&mut token_key).unwrap_or_else(|e| panic!("getrandom: {e}"));
        DaemonConfig {
            stack: stack.clone(),
            address: super::inbox_address(),
            reasons: ["Incident", "Scheduled maintenance", "Audit"]
                .map(str::to_owned)
                .to_vec(),
            groups,
            mailbox: "INBOX".to_owned(),
            poll_interval: "1s".to_owned(),
            imap_tls: TlsMode::None,
            smtp_tls: TlsMode::None,
            smtp_login: false,
            syslog: syslog.url(),
            audit_lines: Vec::new(),
            init_store: true,
            templates: None,
            token_key,
            previous_token_keys: Vec::new(),
            env: Vec::new(),
            api_extra: Vec::new(),
            tables_extra: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Writes the secret files into `dir` and returns the TOML.
    pub(crate) fn write(&self, dir: &Path) -> String {
        let imap_password = dir.join("imap.password");
        write_secret(
            &imap_password,
            format!("{}\n", self.stack.password).as_bytes(),
        );
        let key_file = dir.join("token.key");
        write_secret(&key_file, &self.token_key);
        let previous: Vec<PathBuf> = self
            .previous_token_keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let path = dir.join(format!("token.key.{i}"));
                write_secret(&path, key);
                path
            })
            .collect();

        let mut t = String::new();
        writeln!(t, "reasons = {}\n", list(&self.reasons)).unwrap();
        writeln!(t, "[store]\npath = {}\n", path(&dir.join("store"))).unwrap();
        writeln!(t, "[mail]\naddress = {}", s(&self.address)).unwrap();
        writeln!(t, "from_name = \"Access approvals\"").unwrap();
        if let Some(templates) = &self.templates {
            writeln!(t, "templates = {}", path(templates)).unwrap();
        }
        let (imap_port, imap_tls) = match self.imap_tls {
            TlsMode::None => (self.stack.imap_port, "none"),
            TlsMode::StartTls => (self.stack.imap_port, "starttls"),
            TlsMode::Implicit => (self.stack.imaps_port, "implicit"),
        };
        writeln!(t, "\n[imap]\nhost = \"127.0.0.1\"\nport = {imap_port}").unwrap();
        writeln!(t, "tls = \"{imap_tls}\"").unwrap();
        if self.imap_tls != TlsMode::None {
            writeln!(t, "ca_file = {}", path(&self.stack.ca_file)).unwrap();
        }
        writeln!(t, "username = {}", s(&self.address)).unwrap();
        writeln!(t, "password_file = {}", path(&imap_password)).unwrap();
        writeln!(t, "mailbox = {}", s(&self.mailbox)).unwrap();
        writeln!(t, "processed_mailbox = \"Processed\"").unwrap();
        writeln!(t, "rejected_mailbox = \"Rejected\"").unwrap();
        writeln!(t, "poll_interval = {}", s(&self.poll_interval)).unwrap();
        let (smtp_port, smtp_tls) = match self.smtp_tls {
            TlsMode::None => (self.stack.smtp_port, "none"),
            TlsMode::StartTls => (self.stack.smtp_port, "starttls"),
            TlsMode::Implicit => (self.stack.smtps_port, "implicit"),
        };
        writeln!(t, "\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}").unwrap();
        writeln!(t, "tls = \"{smtp_tls}\"").unwrap();
        if self.smtp_tls != TlsMode::None {
            writeln!(t, "ca_file = {}", path(&self.stack.ca_file)).unwrap();
        }
        if self.smtp_login {
            writeln!(t, "username = {}", s(&self.address)).unwrap();
            writeln!(t, "password_file = {}", path(&imap_password)).unwrap();
        }
        writeln!(t, "\n[tokens]\nkey_file = {}", path(&key_file)).unwrap();
        if !previous.is_empty() {
            let previous: Vec<String> = previous.iter().map(|p| path(p)).collect();
            writeln!(t, "previous_key_files = [{}]", previous.join(", ")).unwrap();
        }
        writeln!(t, "\n[api]\nsocket = {}", path(&dir.join("api.sock"))).unwrap();
        for line in &self.api_extra {
            writeln!(t, "{line}").unwrap();
        }
        writeln!(t, "\n[audit]\nsyslog = {}", s(&self.syslog)).unwrap();
        for line in &self.audit_lines {
            writeln!(t, "{line}").unwrap();
        }
        for g in &self.groups {
            writeln!(t, "\n[[groups]]\nname = {}", s(&g.name)).unwrap();
            writeln!(t, "members = {}", list(&g.members)).unwrap();
            writeln!(t, "actions = {}", list(&g.actions)).unwrap();
            writeln!(t, "deadline = {}", s(&g.deadline)).unwrap();
            writeln!(t, "max_window = {}", s(&g.max_window)).unwrap();
            for line in &g.extra {
                writeln!(t, "{line}").unwrap();
            }
            writeln!(t, "levels = [").unwrap();
            for level in &g.levels {
                writeln!(
                    t,
                    "  {{ approvers = {}, quorum = {}{} }},",
                    list(&level.approvers),
                    level.quorum,
                    level.extra
                )
                .unwrap();
            }
            writeln!(t, "]").unwrap();
        }
        for table in &self.tables_extra {
            writeln!(t, "\n{table}").unwrap();
        }
        t
    }
}

/// A TOML basic string: JSON's string escapes are all valid TOML escapes.
fn s(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

fn path(p: &Path) -> String {
    s(&p.to_string_lossy())
}

fn list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| s(v)).collect();
    format!("[{}]", items.join(", "))
}

/// Owner-only, as an operator would install a secret.
fn write_secret(path: &Path, contents: &[u8]) {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    file.write_all(contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
