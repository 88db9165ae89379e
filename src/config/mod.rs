//! Configuration: read the TOML file (and `APPROVALD__SECTION__KEY`
//! environment overrides) into [`raw::RawConfig`], then validate it into
//! [`Config`], reporting every problem at once.

mod accounts;
mod audit;
pub(crate) mod endpoint;
mod groups;
mod raw;
mod required;
mod secrets;
mod show;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::ids::Address;
use crate::domain::policy::Policy;
use crate::domain::sender_rule::SenderRule;
use crate::domain::submitters::{Admins, Submitters};
use crate::domain::wire::PLUS_DELIMITER;
use crate::secret::{Secret, SecretBytes};
use endpoint::{endpoint, private_file};
use groups::policy;

pub(crate) use audit::AuditConfig;
pub(crate) use secrets::read_secret;
pub(crate) use show::show;

/// How a connection to a mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS before login.
    StartTls,
    /// No TLS: only sensible for a server on the loopback interface.
    None,
}

/// Where a mail server is and how to reach it safely.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// Host name; also the name the server's certificate must carry.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// How the connection is protected.
    pub(crate) tls: TlsMode,
    /// Extra trusted CA certificates (PEM) for a private CA.
    pub(crate) ca_file: Option<PathBuf>,
}

/// The approvals inbox.
#[derive(Debug)]
pub(crate) struct ImapConfig {
    /// Where the inbox is.
    pub(crate) endpoint: Endpoint,
    /// Login of the approvals inbox.
    pub(crate) username: String,
    /// Its password, never printed.
    pub(crate) password: Secret<String>,
    /// Mailbox replies arrive in.
    pub(crate) mailbox: String,
    /// Where used replies are moved.
    pub(crate) processed_mailbox: String,
    /// Where unusable messages are moved, their reason in the audit log.
    pub(crate) rejected_mailbox: String,
    /// Interval between checks when the server cannot notify us.
    pub(crate) poll_interval: Duration,
    /// Use IDLE when the server offers it; off forces polling.
    pub(crate) idle: bool,
    /// Most bytes of messages fetched and held at once: a backlog of large
    /// messages cannot exhaust memory.
    pub(crate) max_batch_bytes: usize,
    /// Bound on each IMAP step (connect, TLS, greeting, every command): a
    /// silent server is given up on after this long and retried, and the
    /// worker's heartbeat bound follows from it.
    pub(crate) timeout: Duration,
}

/// The submission server outgoing mail goes through.
#[derive(Debug)]
pub(crate) struct SmtpConfig {
    /// Where the submission server is.
    pub(crate) endpoint: Endpoint,
    /// Login, when the server requires SMTP AUTH.
    pub(crate) credentials: Option<(String, Secret<String>)>,
}

/// Settings for reading replies.
#[derive(Debug)]
pub(crate) struct InboundConfig {
    /// How strongly a reply's sender must be proven.
    pub(crate) sender_rule: SenderRule,
    /// Messages larger than this are not parsed beyond their headers.
    pub(crate) max_message_size: usize,
    /// At most this many explanations leave per hour, to everyone together:
    /// a flood of bad replies cannot turn into a flood of mail.
    pub(crate) explanations_per_hour: u32,
}

/// The validated configuration.
#[derive(Debug)]
pub(crate) struct Config {
    /// Directory of the sled database.
    pub(crate) store_path: PathBuf,
    /// Which local accounts may submit requests for whom, by the API
    /// socket's peer credentials.
    pub(crate) submitters: Submitters,
    /// Which local accounts may cancel, revoke and override.
    pub(crate) admins: Admins,
    /// Extra CA certificates for https webhook receivers (a private CA).
    pub(crate) webhook_ca_file: Option<PathBuf>,
    /// The HTTP listener for decision pages, when configured.
    pub(crate) http: Option<HttpConfig>,
    /// Where `/metrics` and `/v1/health` are served over TCP, when
    /// configured (they are always on the API socket).
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
    /// Keys for the API on the HTTP listener.
    pub(crate) api_keys: crate::domain::api_keys::ApiKeys,
    /// How long the memory of handled messages and explanation counters is
    /// kept after the request they concern closed: spam cannot grow the
    /// store without bound.
    pub(crate) retention: chrono::Duration,
    /// Address approvers reply to; tokens ride on its plus-address.
    pub(crate) mail_address: Address,
    /// Display name on every mail sent.
    pub(crate) from_name: String,
    /// The zone mails show times in and replies' `until 18:00` means.
    pub(crate) timezone: chrono_tz::Tz,
    /// Directory whose templates override the built-in ones.
    pub(crate) templates: Option<PathBuf>,
    /// The approvals inbox.
    pub(crate) imap: ImapConfig,
    /// The outgoing mail server.
    pub(crate) smtp: SmtpConfig,
    /// Current token key first, then keys still accepted for verification.
    pub(crate) token_keys: (SecretBytes, Vec<SecretBytes>),
    /// The API's Unix socket; its file mode is the access control.
    pub(crate) api_socket: PathBuf,
    /// Where audit lines go, and how.
    pub(crate) audit: AuditConfig,
    /// How replies are read.
    pub(crate) inbound: InboundConfig,
    /// Reasons and groups: who may ask for what, and who approves.
    pub(crate) policy: Policy,
}

/// Everything wrong with a configuration file.
#[derive(Debug)]
pub(crate) struct ConfigErrors(pub(crate) Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Only `[store] path` of `path` (with environment overrides), for the
    /// store commands: they must work outside the unit, where secrets given
    /// as systemd credentials cannot be read.
    pub(crate) fn store_path(path: &Path) -> Result<PathBuf, ConfigErrors> {
        let tree = merged(path, None)?;
        tree.get("store")
            .and_then(|s| s.get("path"))
            .and_then(|p| p.as_str())
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| ConfigErrors(vec!["store.path: is required".into()]))
    }

    /// Reads and validates `path`, with environment overrides applied.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let mut tree = merged(path, None)?;
        let missing = required::fill_missing(&mut tree);
        let mut problems: Vec<String> = missing
            .iter()
            .map(|key| format!("{key}: is required"))
            .collect();
        let raw = match serde_json::from_value::<raw::RawConfig>(tree) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                return Err(ConfigErrors(problems));
            }
        };
        match validate(raw) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigErrors(problems)),
            Err(ConfigErrors(more)) => {
                problems.extend(
                    more.into_iter()
                        .filter(|p| !required::caused_by_placeholder(p, &missing)),
                );
                Err(ConfigErrors(problems))
            }
        }
    }
}

/// The file at `path` with the `APPROVALD__SECTION__KEY` environment
/// overrides applied, as one tree: what both `serve` and `config show`
/// read. `env` replaces the process environment (for tests); `None` reads it.
fn merged(
    path: &Path,
    env: Option<::config::Map<String, String>>,
) -> Result<serde_json::Value, ConfigErrors> {
    ::config::Config::builder()
        .add_source(::config::File::from(path).format(::config::FileFormat::Toml))
        .add_source(
            ::config::Environment::with_prefix("APPROVALD")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env),
        )
        .build()
        .and_then(|c| c.try_deserialize::<serde_json::Value>())
        .map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))
}

fn validate(raw: raw::RawConfig) -> Result<Config, ConfigErrors> {
    let mut p = Problems::default();
    let mail_address = p.check("mail.address", raw.mail.address.parse::<Address>());
    if mail_address
        .as_ref()
        .is_some_and(|a| a.local().contains(PLUS_DELIMITER))
    {
        p.push(
            "mail.address",
            "must not itself contain '+': tokens ride on its plus-address",
        );
    }
    let imap_endpoint = endpoint(
        &mut p,
        "imap",
        raw.imap.host,
        raw.imap.port,
        (&raw.imap.tls, raw.imap.allow_plaintext),
        raw.imap.ca_file,
    );
    let imap_password = p.check(
        "imap.password_file",
        read_secret(&raw.imap.password_file).and_then(password),
    );
    let poll_interval = p.check(
        "imap.poll_interval",
        duration(&raw.imap.poll_interval).and_then(|d| d.to_std().map_err(|e| e.to_string())),
    );
    let imap_timeout = p
        .check(
            "imap.timeout",
            duration(&raw.imap.timeout).and_then(|d| d.to_std().map_err(|e| e.to_string())),
        )
        .unwrap_or(Duration::from_secs(60));
    if imap_timeout < Duration::from_secs(1) {
        p.push("imap.timeout", "must be at least 1s");
    }
    for (key, name) in [
        ("imap.mailbox", &raw.imap.mailbox),
        ("imap.processed_mailbox", &raw.imap.processed_mailbox),
        ("imap.rejected_mailbox", &raw.imap.rejected_mailbox),
    ] {
        if name.trim().is_empty() {
            p.push(key, "must not be empty");
        }
    }
    if raw.imap.processed_mailbox == raw.imap.mailbox
        || raw.imap.rejected_mailbox == raw.imap.mailbox
    {
        p.push(
            "imap",
            "processed_mailbox and rejected_mailbox must differ from mailbox",
        );
    }
    let smtp_endpoint = endpoint(
        &mut p,
        "smtp",
        raw.smtp.host,
        raw.smtp.port,
        (&raw.smtp.tls, raw.smtp.allow_plaintext),
        raw.smtp.ca_file,
    );
    let smtp_credentials = match (raw.smtp.username, raw.smtp.password_file) {
        (None, None) => Some(None),
        (Some(user), Some(file)) => p
            .check("smtp.password_file", read_secret(&file).and_then(password))
            .map(|pw| Some((user, pw))),
        _ => {
            p.push("smtp", "username and password_file go together");
            None
        }
    };
    let current_key = p.check(
        "tokens.key_file",
        private_file(&raw.tokens.key_file).and_then(|()| read_secret(&raw.tokens.key_file)),
    );
    let previous_keys: Vec<SecretBytes> = raw
        .tokens
        .previous_key_files
        .iter()
        .filter_map(|f| {
            p.check(
                "tokens.previous_key_files",
                private_file(f).and_then(|()| read_secret(f)),
            )
        })
        .collect();
    if let Some(k) = &current_key {
        if k.expose().len() < 32 {
            p.push(
                "tokens.key_file",
                "the key must be at least 32 bytes of random data",
            );
        }
    }
    let syslog = audit::audit(&mut p, raw.audit);
    let sender_policy = match (
        raw.inbound.sender_policy.as_deref(),
        raw.inbound.authserv_id,
    ) {
        (None | Some("token+from"), _) => Some(SenderRule::TokenAndFrom),
        (Some("token"), _) => Some(SenderRule::Token),
        (Some("token+from+dmarc"), Some(id)) if !id.trim().is_empty() => {
            Some(SenderRule::TokenFromDmarc { authserv_id: id })
        }
        (Some("token+from+dmarc"), _) => {
            p.push(
                "inbound.authserv_id",
                "is required by sender_policy = \"token+from+dmarc\"",
            );
            None
        }
        (Some(other), _) => {
            p.push(
                "inbound.sender_policy",
                format!("{other:?} is not one of \"token\", \"token+from\", \"token+from+dmarc\""),
            );
            None
        }
    };
    let max_message_size = raw.inbound.max_message_size.unwrap_or(1024 * 1024);
    let max_message_size = usize::try_from(max_message_size).unwrap_or(usize::MAX);
    if max_message_size < 4096 {
        p.push("inbound.max_message_size", "must be at least 4096 bytes");
    }
    let explanations_per_hour = raw.inbound.explanations_per_hour.unwrap_or(60);
    let submitters = accounts::submitters(&mut p, raw.api.submitters);
    let admins = accounts::admins(&mut p, raw.api.admins);
    let http = raw.http.and_then(|h| http_config(&mut p, h));
    let metrics_listen = raw.metrics.and_then(|m| metrics_listen(&mut p, m));
    let api_keys = api_keys(&mut p, raw.api.keys);
    let timezone = match raw.mail.timezone.as_deref() {
        None => chrono_tz::Tz::UTC,
        Some(name) => {
            match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    p.push(
                    "mail.timezone",
                    format!("{name:?} is not an IANA time zone name (e.g. \"Europe/Oslo\", \"UTC\")"),
                );
                    chrono_tz::Tz::UTC
                }
            }
        }
    };
    let retention = p
        .check(
            "store.retention",
            duration(raw.store.retention.as_deref().unwrap_or("30d")),
        )
        .unwrap_or_else(|| chrono::Duration::days(30));
    if retention < chrono::Duration::days(1) {
        p.push("store.retention", "must be at least 1d");
    }
    let max_batch_bytes = raw.imap.max_batch_bytes.unwrap_or(32 * 1024 * 1024);
    let max_batch_bytes = usize::try_from(max_batch_bytes).unwrap_or(usize::MAX);
    if max_batch_bytes < max_message_size {
        p.push(
            "imap.max_batch_bytes",
            "must be at least inbound.max_message_size, so that every message fits in a batch",
        );
    }
    let policy = policy(&mut p, raw.reasons, raw.groups, &raw.approver_groups);
    if raw.store.path.trim().is_empty() {
        p.push("store.path", "must not be empty");
    }
    if raw.api.socket.trim().is_empty() {
        p.push("api.socket", "must not be empty");
    }
    if !p.0.is_empty() {
        return Err(ConfigErrors(p.0));
    }
    // Every Option below is Some when no problem was recorded.
    let (
        Some(mail_address),
        Some(imap_endpoint),
        Some(imap_password),
        Some(poll_interval),
        Some(smtp_endpoint),
        Some(smtp_credentials),
        Some(current_key),
        Some(syslog),
        Some(sender_policy),
    ) = (
        mail_address,
        imap_endpoint,
        imap_password,
        poll_interval,
        smtp_endpoint,
        smtp_credentials,
        current_key,
        syslog,
        sender_policy,
    )
    else {
        return Err(ConfigErrors(vec!["configuration incomplete".into()]));
    };
    Ok(Config {
        store_path: PathBuf::from(raw.store.path),
        submitters,
        admins,
        webhook_ca_file: raw.webhooks.ca_file.map(PathBuf::from),
        http,
        metrics_listen,
        api_keys,
        retention,
        mail_address,
        from_name: raw.mail.from_name,
        timezone,
        templates: raw.mail.templates.map(PathBuf::from),
        imap: ImapConfig {
            endpoint: imap_endpoint,
            username: raw.imap.username,
            password: imap_password,
            mailbox: raw.imap.mailbox,
            processed_mailbox: raw.imap.processed_mailbox,
            rejected_mailbox: raw.imap.rejected_mailbox,
            poll_interval,
            idle: raw.imap.idle,
            max_batch_bytes,
            timeout: imap_timeout,
        },
        smtp: SmtpConfig {
            endpoint: smtp_endpoint,
            credentials: smtp_credentials,
        },
        token_keys: (current_key, previous_keys),
        api_socket: PathBuf::from(raw.api.socket),
        audit: syslog,
        inbound: InboundConfig {
            sender_rule: sender_policy,
            max_message_size,
            explanations_per_hour,
        },
        policy,
    })
}

/// Collected problems, each prefixed with the key at fault.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn push(&mut self, key: &str, why: impl std::fmt::Display) {
        self.0.push(format!("{key}: {why}"));
    }

    pub(super) fn check<T, E: std::fmt::Display>(
        &mut self,
        key: &str,
        r: Result<T, E>,
    ) -> Option<T> {
        r.map_err(|e| self.push(key, e)).ok()
    }
}

fn password(bytes: SecretBytes) -> Result<Secret<String>, String> {
    let text =
        std::str::from_utf8(bytes.expose()).map_err(|_| "the password is not UTF-8".to_string())?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err("the password file is empty".into());
    }
    Ok(Secret::new(line))
}

pub(super) fn duration(s: &str) -> Result<chrono::Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like \"30s\", \"8h\": {e}"))
        .and_then(|d| chrono::Duration::from_std(d).map_err(|e| e.to_string()))
        .and_then(|d| {
            if d <= chrono::Duration::zero() {
                Err("must be longer than zero".into())
            } else {
                Ok(d)
            }
        })
}

#[cfg(test)]
mod tests;

/// `[http]`: where decision pages are served and under which address mails
/// link to them.
#[derive(Clone, Debug)]
pub(crate) struct HttpConfig {
    pub(crate) listen: std::net::SocketAddr,
    /// `https://host[:port]` (no trailing slash) as approvers reach it.
    pub(crate) public_url: String,
    /// Certificate chain and key files, for TLS on the listener itself.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    /// Whether the page's form may approve or disapprove. A link is a
    /// bearer credential (whoever holds the mail may use it), so this is
    /// off unless the administrator says so; revoking is always allowed.
    pub(crate) decide_by_link: bool,
}

fn http_config(p: &mut Problems, raw: raw::RawHttp) -> Option<HttpConfig> {
    let listen = p.check(
        "http.listen",
        raw.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| format!("{:?} is not an address:port: {e}", raw.listen)),
    );
    let tls = match (raw.tls_cert_file, raw.tls_key_file) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        _ => {
            p.push("http", "tls_cert_file and tls_key_file go together");
            None
        }
    };
    if let Some(addr) = listen.filter(|a| tls.is_none() && !a.ip().is_loopback()) {
        p.push(
            "http.listen",
            format!("{addr}: plain HTTP is served on the loopback interface only (a reverse proxy in front terminates TLS); give tls_cert_file and tls_key_file to listen elsewhere"),
        );
    }
    // As a browser writes an Origin: lower case, no trailing slash.
    let url = raw.public_url.trim_end_matches('/').to_ascii_lowercase();
    let public_url = match url.parse::<hyper::Uri>() {
        Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() && u.path() == "/" => {
            Some(url)
        }
        Ok(u)
            if u.scheme_str() == Some("http")
                && u.host().is_some_and(endpoint::is_loopback)
                && u.path() == "/" =>
        {
            Some(url)
        }
        _ => {
            p.push(
                "http.public_url",
                format!("{:?}: must be https://HOST[:PORT] (http:// only for a loopback host), without a path", raw.public_url),
            );
            None
        }
    };
    Some(HttpConfig {
        listen: listen?,
        public_url: public_url?,
        tls,
        decide_by_link: raw.decide_by_link,
    })
}

/// `[metrics] listen`: an address:port on the loopback interface, or
/// elsewhere only with `allow_non_loopback = true` — the listener has no
/// authentication, so exposing it must be a decision, never a typo.
fn metrics_listen(p: &mut Problems, raw: raw::RawMetrics) -> Option<std::net::SocketAddr> {
    let addr = p.check(
        "metrics.listen",
        raw.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|e| format!("{:?} is not an address:port: {e}", raw.listen)),
    )?;
    if !addr.ip().is_loopback() && !raw.allow_non_loopback {
        p.push(
            "metrics.listen",
            format!("{addr} is not a loopback address: the metrics listener has no authentication and shows the daemon's state to whoever connects, so it listens on 127.0.0.1 or ::1 unless allow_non_loopback = true says that exposing it is intended (then restrict it with a firewall)"),
        );
        return None;
    }
    Some(addr)
}

/// `[[api.keys]]`: name, `sha256:HEX` hash and role of each key.
fn api_keys(p: &mut Problems, raw: Vec<raw::RawApiKey>) -> crate::domain::api_keys::ApiKeys {
    use crate::domain::api_keys::{parse_hash, ApiKey, ApiKeys, Role};
    let mut keys: Vec<ApiKey> = Vec::new();
    for (i, k) in raw.into_iter().enumerate() {
        let key = format!("api.keys[{}]", i + 1);
        if k.name.trim().is_empty() || k.name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            p.push(
                &format!("{key}.name"),
                "a name without spaces or control characters",
            );
        }
        if keys.iter().any(|o| o.name == k.name) {
            p.push(
                &format!("{key}.name"),
                format!("{:?} is used twice", k.name),
            );
        }
        let role = Role::parse(&k.role);
        if role.is_none() {
            p.push(
                &format!("{key}.role"),
                format!("{:?} is not one of integrator, auditor, admin", k.role),
            );
        }
        let hash = p.check(&format!("{key}.hash"), parse_hash(&k.hash));
        if keys.iter().any(|o| Some(o.hash) == hash) {
            p.push(&format!("{key}.hash"), "the same key is configured twice");
        }
        if let (Some(role), Some(hash)) = (role, hash) {
            keys.push(ApiKey {
                name: k.name,
                role,
                hash,
            });
        }
    }
    ApiKeys::new(keys)
}
