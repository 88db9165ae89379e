//! `approvald config show`: the configuration as the daemon reads it — the
//! file, its `APPROVALD__*` environment overrides, the defaults — written
//! back as TOML with every secret redacted, for an operator to read or
//! attach to a ticket.
//!
//! Secrets stay out in two ways: secret files (passwords, token keys,
//! systemd credentials) are named in the configuration and never opened
//! here, and the values that may be secret themselves are marked in
//! [`super::raw`] with the serializers below.

use std::path::Path;

use serde::Serializer;

use super::raw::RawConfig;
use super::{merged, ConfigErrors};

/// What a redacted value is shown as: a string, so the output stays valid
/// TOML, and one no real value would be.
pub(crate) const REDACTED: &str = "<redacted>";

/// The effective configuration of the file at `path` as TOML.
///
/// The tree must have the configuration's shape (unknown keys are refused,
/// as `serve` refuses them): a value of no known field could not be known
/// not to be a secret. Values are not validated further; `check-config`
/// does that.
pub(crate) fn show(path: &Path) -> Result<String, ConfigErrors> {
    show_with(path, None)
}

/// [`show`] with the environment given (`None`: the process's).
fn show_with(
    path: &Path,
    env: Option<::config::Map<String, String>>,
) -> Result<String, ConfigErrors> {
    let tree = merged(path, env)?;
    let raw: RawConfig = serde_json::from_value(tree)
        .map_err(|e| ConfigErrors(vec![format!("{}: {e}", path.display())]))?;
    let body = toml::to_string(&raw).map_err(|e| {
        ConfigErrors(vec![format!(
            "{}: cannot write as TOML: {e}",
            path.display()
        )])
    })?;
    Ok(format!(
        "# Effective configuration of {} (environment overrides and defaults applied, secrets redacted)\n{body}",
        path.display()
    ))
}

/// Serializes any value as [`REDACTED`].
pub(crate) fn redacted<T, S: Serializer>(_: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(REDACTED)
}

/// Serializes a URL as its scheme and host only, the rest (user and
/// password, path, query) replaced by [`REDACTED`]; a value that is not
/// `scheme://…` is redacted whole.
pub(crate) fn redacted_url<S: Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        None => s.serialize_none(),
        Some(url) => s.serialize_str(&url_without_secrets(url)),
    }
}

fn url_without_secrets(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return REDACTED.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or_default();
    // The user part ends at the last '@' of the authority.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let user = if host.len() < authority.len() {
        format!("{REDACTED}@")
    } else {
        String::new()
    };
    let tail = if end < rest.len() {
        format!("/{REDACTED}")
    } else {
        String::new()
    };
    format!("{scheme}://{user}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Environment variables a case sets.
    type Env = &'static [(&'static str, &'static str)];

    /// A configuration setting every key there is, with secret files
    /// holding `FILE-SECRET-*` and secret values `INLINE-SECRET-*`.
    fn full_config(dir: &Path) -> String {
        let file = |name: &str| {
            let path = dir.join(name);
            std::fs::write(&path, format!("FILE-SECRET-{name}")).unwrap();
            path.display().to_string()
        };
        let (imap_pw, smtp_pw, key, old_key) = (
            file("imap.password"),
            file("smtp.password"),
            file("token.key"),
            file("old.key"),
        );
        format!(
            r#"
reasons = ["Audit"]
[store]
path = "/var/lib/approvald"
retention = "30d"
[mail]
address = "approvals@example.test"
from_name = "Approvals"
templates = "/etc/approvald/templates"
timezone = "Europe/Oslo"
[imap]
host = "imap.example.test"
port = 993
tls = "implicit"
ca_file = "/etc/approvald/ca.pem"
username = "approvals@example.test"
password_file = "{imap_pw}"
mailbox = "INBOX"
processed_mailbox = "Processed"
rejected_mailbox = "Rejected"
poll_interval = "30s"
idle = true
max_batch_bytes = 1000000
allow_plaintext = false
[smtp]
host = "smtp.example.test"
port = 465
tls = "implicit"
ca_file = "/etc/approvald/ca.pem"
username = "approvals@example.test"
password_file = "{smtp_pw}"
allow_plaintext = false
[tokens]
key_file = "{key}"
previous_key_files = ["{old_key}"]
[api]
socket = "/run/approvald/api.sock"
submitters = [{{ user = "deploy", uid = 1001, requesters = ["dave@example.test"] }}]
admins = [{{ user = "root", uid = 0 }}]
keys = [{{ name = "ci", role = "integrator", hash = "INLINE-SECRET-hash" }}]
[audit]
syslog = "tls://127.0.0.1:6514"
format = "json"
enterprise_number = 99999
facility = "local3"
ca_file = "/etc/approvald/syslog-ca.pem"
client_cert_file = "/etc/approvald/syslog.pem"
client_key_file = "/etc/approvald/syslog.key"
[metrics]
listen = "127.0.0.1:9187"
allow_non_loopback = false
[inbound]
sender_policy = "dkim"
authserv_id = "mx.example.test"
max_message_size = 1000000
explanations_per_hour = 10
[approver_groups]
security = ["carol@example.test"]
[webhooks]
ca_file = "/etc/approvald/hooks-ca.pem"
[http]
listen = "127.0.0.1:8080"
public_url = "https://approvals.example.test"
tls_cert_file = "/etc/approvald/cert.pem"
tls_key_file = "/etc/approvald/key.pem"
decide_by_link = true
[[groups]]
name = "ops"
members = ["dave@example.test"]
actions = ["certificate.sign"]
deadline = "4h"
max_window = "8h"
emergency = true
approval = "levels"
require_comment = true
notify = ["audit@example.test"]
reminders = ["1h"]
on_end = "https://hook-user:INLINE-SECRET-password@hooks.example.test/INLINE-SECRET-path?token=INLINE-SECRET-query"
[[groups.levels]]
approvers = ["alice@example.test"]
quorum = 1
escalation = ["@security"]
escalate_after = "2h"
"#
        )
    }

    fn shown(config: &str, env: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvald.toml");
        std::fs::write(&path, config).unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        show_with(&path, Some(env)).unwrap()
    }

    #[test]
    fn no_secret_appears_whatever_way_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let full = full_config(dir.path());
        // (case, environment, a secret that must not appear, what must)
        let cases: [(&str, Env, &str, &str); 8] = [
            (
                "imap password file",
                &[],
                "FILE-SECRET-imap",
                "imap.password\"",
            ),
            (
                "smtp password file",
                &[],
                "FILE-SECRET-smtp",
                "smtp.password\"",
            ),
            ("token key file", &[], "FILE-SECRET-token", "token.key\""),
            ("previous token key", &[], "FILE-SECRET-old", "old.key\""),
            ("api key hash", &[], "INLINE-SECRET-hash", "name = \"ci\""),
            (
                "webhook password, path and query",
                &[],
                "INLINE-SECRET",
                "on_end = \"https://<redacted>@hooks.example.test/<redacted>\"",
            ),
            (
                "password file named from the environment",
                &[("APPROVALD__IMAP__PASSWORD_FILE", "credential:imap-password")],
                "FILE-SECRET-imap",
                "password_file = \"credential:imap-password\"",
            ),
            (
                "environment override of a plain value",
                &[("APPROVALD__IMAP__PORT", "1993")],
                "INLINE-SECRET",
                "port = 1993",
            ),
        ];
        for (case, env, secret, wanted) in cases {
            let text = shown(&full, env);
            assert!(!text.contains(secret), "{case}: {secret} shown:\n{text}");
            assert!(text.contains(wanted), "{case}: no {wanted:?} in:\n{text}");
        }
    }

    #[test]
    fn the_output_reads_back_as_the_same_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let text = shown(&full_config(dir.path()), &[]);
        let again = shown(&text, &[]);
        // Only the comment line (it names the file) differs.
        let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(body(&text), body(&again));
    }

    /// Every key the configuration has, with its treatment: a new field
    /// fails this test until someone decides whether it can be a secret.
    #[test]
    fn every_key_is_either_shown_or_redacted_on_purpose() {
        const REDACTED_KEYS: &[&str] = &["api.keys.hash", "groups.on_end"];
        const SHOWN_KEYS: &[&str] = &[
            "api.admins.uid",
            "api.admins.user",
            "api.keys.name",
            "api.keys.role",
            "api.socket",
            "api.submitters.requesters",
            "api.submitters.uid",
            "api.submitters.user",
            "approver_groups.security",
            "audit.ca_file",
            "audit.client_cert_file",
            "audit.client_key_file",
            "audit.enterprise_number",
            "audit.facility",
            "audit.format",
            "audit.syslog",
            "groups.actions",
            "groups.approval",
            "groups.deadline",
            "groups.emergency",
            "groups.levels.approvers",
            "groups.levels.escalate_after",
            "groups.levels.escalation",
            "groups.levels.quorum",
            "groups.max_window",
            "groups.members",
            "groups.name",
            "groups.notify",
            "groups.reminders",
            "groups.require_comment",
            "http.decide_by_link",
            "http.listen",
            "http.public_url",
            "http.tls_cert_file",
            "http.tls_key_file",
            "imap.allow_plaintext",
            "imap.ca_file",
            "imap.host",
            "imap.idle",
            "imap.mailbox",
            "imap.max_batch_bytes",
            "imap.password_file",
            "imap.poll_interval",
            "imap.port",
            "imap.processed_mailbox",
            "imap.rejected_mailbox",
            "imap.timeout",
            "imap.tls",
            "imap.username",
            "inbound.authserv_id",
            "inbound.explanations_per_hour",
            "inbound.max_message_size",
            "inbound.sender_policy",
            "mail.address",
            "mail.from_name",
            "mail.templates",
            "mail.timezone",
            "metrics.allow_non_loopback",
            "metrics.listen",
            "reasons",
            "smtp.allow_plaintext",
            "smtp.ca_file",
            "smtp.host",
            "smtp.password_file",
            "smtp.port",
            "smtp.tls",
            "smtp.username",
            "store.path",
            "store.retention",
            "tokens.key_file",
            "tokens.previous_key_files",
            "webhooks.ca_file",
        ];
        fn leaves(prefix: &str, v: &toml::Value, out: &mut BTreeSet<String>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        leaves(&key, v, out);
                    }
                }
                toml::Value::Array(a) if a.iter().all(toml::Value::is_table) && !a.is_empty() => {
                    for v in a {
                        leaves(prefix, v, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_owned());
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let text = shown(&full_config(dir.path()), &[]);
        let value: toml::Value = toml::from_str(&text).unwrap();
        let mut found = BTreeSet::new();
        leaves("", &value, &mut found);
        let known: BTreeSet<String> = REDACTED_KEYS
            .iter()
            .chain(SHOWN_KEYS)
            .map(|k| k.to_string())
            .collect();
        assert_eq!(found, known);
        for key in REDACTED_KEYS {
            let last = key.rsplit('.').next().unwrap_or_default();
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{last} = ")) && l.contains(REDACTED)),
                "{key} not redacted:\n{text}"
            );
        }
    }

    #[test]
    fn urls_keep_only_scheme_and_host() {
        let cases = [
            ("https://hooks.example.test", "https://hooks.example.test"),
            (
                "https://hooks.example.test:8443/services/T0/B0/XYZ",
                "https://hooks.example.test:8443/<redacted>",
            ),
            (
                "https://u:p@hooks.example.test?x=1",
                "https://<redacted>@hooks.example.test/<redacted>",
            ),
            (
                "http://a@b@[::1]:80#frag",
                "http://<redacted>@[::1]:80/<redacted>",
            ),
            ("not a url with secret", "<redacted>"),
        ];
        for (url, want) in cases {
            assert_eq!(url_without_secrets(url), want, "{url}");
        }
    }

    #[test]
    fn a_key_of_no_known_field_is_refused_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let full = full_config(dir.path());
        let in_file = full.replace("[smtp]", "[smtp]\npassword = \"INLINE-SECRET\"");
        let cases: [(&str, &str, Env); 2] = [
            ("in the file", &in_file, &[]),
            (
                "from the environment",
                &full,
                &[("APPROVALD__IMAP__PASSWORD", "INLINE-SECRET")],
            ),
        ];
        for (case, config, env) in cases {
            let path = dir.path().join("approvald.toml");
            std::fs::write(&path, config).unwrap();
            let env = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let err = show_with(&path, Some(env)).unwrap_err().to_string();
            assert!(err.contains("unknown field `password`"), "{case}: {err}");
            assert!(!err.contains("INLINE-SECRET"), "{case}: {err}");
        }
    }
}
