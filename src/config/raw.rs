//! The configuration file as written: plain serde structs that reject unknown
//! keys, so a typo is an error instead of a silently ignored setting.
//!
//! They serialize too, for `config show`: every value that may be a secret
//! is marked here, next to its field, with a `serialize_with` from
//! [`super::show`], so that a new secret field is redacted where it is
//! declared.

use serde::{Deserialize, Serialize};

use super::show::{redacted, redacted_url};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) reasons: Vec<String>,
    pub(crate) store: RawStore,
    pub(crate) mail: RawMail,
    pub(crate) imap: RawImap,
    pub(crate) smtp: RawSmtp,
    pub(crate) tokens: RawTokens,
    pub(crate) api: RawApi,
    pub(crate) audit: RawAudit,
    #[serde(default)]
    pub(crate) inbound: RawInbound,
    #[serde(default)]
    pub(crate) groups: Vec<RawGroup>,
    #[serde(default)]
    pub(crate) approver_groups: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) webhooks: RawWebhooks,
    #[serde(default)]
    pub(crate) http: Option<RawHttp>,
    #[serde(default)]
    pub(crate) metrics: Option<RawMetrics>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub(crate) listen: String,
    #[serde(default)]
    pub(crate) allow_non_loopback: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub(crate) listen: String,
    pub(crate) public_url: String,
    #[serde(default)]
    pub(crate) tls_cert_file: Option<String>,
    #[serde(default)]
    pub(crate) tls_key_file: Option<String>,
    #[serde(default)]
    pub(crate) decide_by_link: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhooks {
    #[serde(default)]
    pub(crate) ca_file: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) retention: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMail {
    pub(crate) address: String,
    #[serde(default = "default_from_name")]
    pub(crate) from_name: String,
    #[serde(default)]
    pub(crate) templates: Option<String>,
    #[serde(default)]
    pub(crate) timezone: Option<String>,
}

fn default_from_name() -> String {
    "Access approvals".into()
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImap {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: String,
    #[serde(default)]
    pub(crate) ca_file: Option<String>,
    pub(crate) username: String,
    pub(crate) password_file: String,
    #[serde(default = "default_mailbox")]
    pub(crate) mailbox: String,
    #[serde(default = "default_processed")]
    pub(crate) processed_mailbox: String,
    #[serde(default = "default_rejected")]
    pub(crate) rejected_mailbox: String,
    #[serde(default = "default_poll")]
    pub(crate) poll_interval: String,
    #[serde(default = "default_true")]
    pub(crate) idle: bool,
    #[serde(default)]
    pub(crate) max_batch_bytes: Option<u64>,
    #[serde(default)]
    pub(crate) allow_plaintext: bool,
    #[serde(default = "default_imap_timeout")]
    pub(crate) timeout: String,
}

fn default_imap_timeout() -> String {
    "60s".into()
}

fn default_true() -> bool {
    true
}

fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_processed() -> String {
    "Processed".into()
}
fn default_rejected() -> String {
    "Rejected".into()
}
fn default_poll() -> String {
    "30s".into()
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSmtp {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: String,
    #[serde(default)]
    pub(crate) ca_file: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password_file: Option<String>,
    #[serde(default)]
    pub(crate) allow_plaintext: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokens {
    pub(crate) key_file: String,
    #[serde(default)]
    pub(crate) previous_key_files: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApi {
    pub(crate) socket: String,
    #[serde(default)]
    pub(crate) submitters: Option<Vec<RawSubmitter>>,
    #[serde(default)]
    pub(crate) admins: Option<Vec<RawAccount>>,
    #[serde(default)]
    pub(crate) keys: Vec<RawApiKey>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApiKey {
    pub(crate) name: String,
    /// Not the key, but enough to try guesses against offline.
    #[serde(serialize_with = "redacted")]
    pub(crate) hash: String,
    pub(crate) role: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) uid: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSubmitter {
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) uid: Option<u32>,
    #[serde(default)]
    pub(crate) requesters: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub(crate) syslog: String,
    #[serde(default)]
    pub(crate) format: Option<String>,
    #[serde(default)]
    pub(crate) enterprise_number: Option<u32>,
    #[serde(default)]
    pub(crate) facility: Option<String>,
    #[serde(default)]
    pub(crate) ca_file: Option<String>,
    #[serde(default)]
    pub(crate) client_cert_file: Option<String>,
    #[serde(default)]
    pub(crate) client_key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInbound {
    #[serde(default)]
    pub(crate) sender_policy: Option<String>,
    #[serde(default)]
    pub(crate) authserv_id: Option<String>,
    #[serde(default)]
    pub(crate) max_message_size: Option<u64>,
    #[serde(default)]
    pub(crate) explanations_per_hour: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
    pub(crate) actions: Vec<String>,
    pub(crate) deadline: String,
    pub(crate) max_window: String,
    #[serde(default)]
    pub(crate) levels: Vec<RawLevel>,
    #[serde(default)]
    pub(crate) emergency: bool,
    #[serde(default)]
    pub(crate) approval: Option<String>,
    #[serde(default)]
    pub(crate) require_comment: bool,
    #[serde(default)]
    pub(crate) notify: Vec<String>,
    #[serde(default)]
    pub(crate) reminders: Vec<String>,
    /// Webhook URLs often carry their secret in the path or query (or a
    /// password in the user part): only the scheme and host are shown.
    #[serde(default, serialize_with = "redacted_url")]
    pub(crate) on_end: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevel {
    pub(crate) approvers: Vec<String>,
    pub(crate) quorum: u8,
    #[serde(default)]
    pub(crate) escalation: Vec<String>,
    #[serde(default)]
    pub(crate) escalate_after: Option<String>,
}
