//! The audit event: one record per thing a security reviewer may ask about.
//!
//! Events are serialised into the store's trail before they are sent to
//! syslog, so the format must stay readable across releases: optional
//! fields default when missing, and unknown kinds decode as
//! [`EventKind::Unknown`] instead of failing the whole trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit_chain::Link;

/// One audited occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditEvent {
    /// When it happened (not when it was sent: the queue may delay sending).
    pub(crate) at: DateTime<Utc>,
    /// What happened; drives severity and the syslog MSGID.
    pub(crate) kind: EventKind,
    /// Request id text such as "AR-42", so a SIEM can join all events of
    /// one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<String>,
    /// Who acted (requester, approver address, or the daemon itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor: Option<String>,
    /// The access being requested, as the requester named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) action: Option<String>,
    /// The resource the access applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<String>,
    /// Approval level concerned, when the event belongs to one level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) level: Option<u8>,
    /// Machine-readable result ("accepted", "refused", "pending",
    /// "approved", …) for SIEM rules that should not parse prose.
    pub(crate) outcome: String,
    /// Why, when the outcome needs explaining (refusal cause, approver
    /// comment, mail error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Human-readable sentence for people reading the raw log.
    #[serde(default)]
    pub(crate) message: String,
    /// Its place in the audit trail (sequence number and hash chain),
    /// assigned by the store in the transaction that records it; `None`
    /// only for events not recorded yet, or spooled by a build without
    /// the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<Link>,
    /// The process that recorded the event: a line shipped after a restart
    /// still names the process it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pid: Option<u32>,
}

impl AuditEvent {
    /// An event with only the mandatory fields; add the rest with the
    /// `with_*` methods.
    pub(crate) fn new(
        at: DateTime<Utc>,
        kind: EventKind,
        outcome: impl Into<String>,
        message: impl Into<String>,
    ) -> AuditEvent {
        AuditEvent {
            at,
            kind,
            request: None,
            actor: None,
            action: None,
            resource: None,
            level: None,
            outcome: outcome.into(),
            reason: None,
            message: message.into(),
            link: None,
            pid: Some(std::process::id()),
        }
    }

    /// Sets the request id text.
    pub(crate) fn with_request(mut self, request: impl Into<String>) -> AuditEvent {
        self.request = Some(request.into());
        self
    }

    /// Sets who acted.
    pub(crate) fn with_actor(mut self, actor: impl Into<String>) -> AuditEvent {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the requested action.
    pub(crate) fn with_action(mut self, action: impl Into<String>) -> AuditEvent {
        self.action = Some(action.into());
        self
    }

    /// Sets the resource.
    pub(crate) fn with_resource(mut self, resource: impl Into<String>) -> AuditEvent {
        self.resource = Some(resource.into());
        self
    }

    /// Sets the approval level.
    pub(crate) fn with_level(mut self, level: u8) -> AuditEvent {
        self.level = Some(level);
        self
    }

    /// Sets the reason.
    pub(crate) fn with_reason(mut self, reason: impl Into<String>) -> AuditEvent {
        self.reason = Some(reason.into());
        self
    }
}

/// What happened. Serialised kebab-case; the same text is the syslog MSGID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum EventKind {
    /// A request was accepted by the API.
    Submitted,
    /// An approval mail was handed to the SMTP server.
    Mailed,
    /// Sending an approval or notification mail failed.
    MailFailed,
    /// A reply with a valid token from the expected approver was applied.
    DecisionAccepted,
    /// A reply was refused (bad token, wrong sender, unknown request,
    /// decision already taken, …).
    ReplyRefused,
    /// A message was skipped without a decision because it was automated
    /// (out-of-office, bounce, mailing-list traffic).
    ReplyIgnored,
    /// A level reached its quorum and the next level was asked.
    LevelAdvanced,
    /// The request was approved at its last level.
    Approved,
    /// The request was rejected.
    Rejected,
    /// The request timed out without a final decision.
    Expired,
    /// An approver tried to approve their own request.
    SelfApprovalRefused,
    /// The configuration was reloaded.
    ConfigReloaded,
    /// A configuration reload was refused; the old configuration stays.
    ConfigReloadFailed,
    /// The daemon started.
    DaemonStarted,
    /// The daemon stopped.
    DaemonStopped,
    /// Break-glass access was granted without approval: every approver
    /// is told, and the SIEM should page someone.
    EmergencyGranted,
    /// A justification-only request was granted on its justification.
    JustificationGranted,
    /// A granted request's window began: access is live.
    WindowStarted,
    /// A granted request's window is over: the credential may be rotated.
    WindowEnded,
    /// A pending request was withdrawn.
    Cancelled,
    /// Granted access was taken back.
    Revoked,
    /// An administrator decided a pending request over the approvers.
    Overridden,
    /// An integrator asked whether a requester may act now.
    GrantChecked,
    /// A cancel, revoke, override or other admin call was refused.
    ActionRefused,
    /// The open level's approvers were reminded.
    Reminded,
    /// A webhook receiver accepted a call.
    WebhookDelivered,
    /// A webhook call failed (deferred for a retry, or refused for good).
    WebhookFailed,
    /// A level waited long enough and its escalation approvers were asked.
    Escalated,
    /// A kind written by a newer release; keeps old spools readable after
    /// a downgrade.
    #[serde(other)]
    Unknown,
}

/// RFC 5424 severity levels (section 6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[expect(
    dead_code,
    reason = "the full RFC 5424 table, though not every level is used yet"
)]
pub(crate) enum Severity {
    /// System is unusable.
    Emergency = 0,
    /// Action must be taken immediately.
    Alert = 1,
    /// Critical conditions.
    Critical = 2,
    /// Error conditions.
    Error = 3,
    /// Warning conditions.
    Warning = 4,
    /// Normal but significant condition.
    Notice = 5,
    /// Informational messages.
    Informational = 6,
    /// Debug-level messages.
    Debug = 7,
}

impl Severity {
    /// The numeric code that goes into PRI.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// The keyword syslog tools print for it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Severity::Emergency => "emerg",
            Severity::Alert => "alert",
            Severity::Critical => "crit",
            Severity::Error => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Informational => "info",
            Severity::Debug => "debug",
        }
    }
}

impl EventKind {
    /// Every kind, so tests can check all of them.
    #[cfg(test)]
    pub(crate) const ALL: [EventKind; 29] = [
        EventKind::Submitted,
        EventKind::Mailed,
        EventKind::MailFailed,
        EventKind::DecisionAccepted,
        EventKind::ReplyRefused,
        EventKind::ReplyIgnored,
        EventKind::LevelAdvanced,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Expired,
        EventKind::SelfApprovalRefused,
        EventKind::ConfigReloaded,
        EventKind::ConfigReloadFailed,
        EventKind::DaemonStarted,
        EventKind::DaemonStopped,
        EventKind::EmergencyGranted,
        EventKind::JustificationGranted,
        EventKind::WindowStarted,
        EventKind::WindowEnded,
        EventKind::Cancelled,
        EventKind::Revoked,
        EventKind::Overridden,
        EventKind::GrantChecked,
        EventKind::ActionRefused,
        EventKind::Reminded,
        EventKind::Escalated,
        EventKind::WebhookDelivered,
        EventKind::WebhookFailed,
        EventKind::Unknown,
    ];

    /// How loudly the SIEM should treat this kind: refusals are warnings
    /// because they may be attacks; routine traffic is informational.
    pub(crate) fn severity(self) -> Severity {
        match self {
            EventKind::EmergencyGranted => Severity::Alert,
            EventKind::MailFailed | EventKind::ConfigReloadFailed | EventKind::WebhookFailed => {
                Severity::Error
            }
            EventKind::ReplyRefused
            | EventKind::SelfApprovalRefused
            | EventKind::Overridden
            | EventKind::Revoked
            | EventKind::ActionRefused => Severity::Warning,
            EventKind::Mailed
            | EventKind::ReplyIgnored
            | EventKind::GrantChecked
            | EventKind::WebhookDelivered
            | EventKind::Reminded => Severity::Informational,
            EventKind::JustificationGranted
            | EventKind::WindowStarted
            | EventKind::WindowEnded
            | EventKind::Escalated
            | EventKind::Cancelled => Severity::Notice,
            EventKind::Submitted
            | EventKind::DecisionAccepted
            | EventKind::LevelAdvanced
            | EventKind::Approved
            | EventKind::Rejected
            | EventKind::Expired
            | EventKind::ConfigReloaded
            | EventKind::DaemonStarted
            | EventKind::DaemonStopped
            | EventKind::Unknown => Severity::Notice,
        }
    }

    /// The RFC 5424 MSGID: at most 32 printable ASCII characters, equal to
    /// the serde name so log and spool use the same vocabulary.
    pub(crate) fn msgid(self) -> &'static str {
        match self {
            EventKind::Submitted => "submitted",
            EventKind::Mailed => "mailed",
            EventKind::MailFailed => "mail-failed",
            EventKind::DecisionAccepted => "decision-accepted",
            EventKind::ReplyRefused => "reply-refused",
            EventKind::ReplyIgnored => "reply-ignored",
            EventKind::LevelAdvanced => "level-advanced",
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Expired => "expired",
            EventKind::SelfApprovalRefused => "self-approval-refused",
            EventKind::ConfigReloaded => "config-reloaded",
            EventKind::ConfigReloadFailed => "config-reload-failed",
            EventKind::DaemonStarted => "daemon-started",
            EventKind::DaemonStopped => "daemon-stopped",
            EventKind::EmergencyGranted => "emergency-granted",
            EventKind::JustificationGranted => "justification-granted",
            EventKind::WindowStarted => "window-started",
            EventKind::WindowEnded => "window-ended",
            EventKind::Cancelled => "cancelled",
            EventKind::Revoked => "revoked",
            EventKind::Overridden => "overridden",
            EventKind::GrantChecked => "grant-checked",
            EventKind::ActionRefused => "action-refused",
            EventKind::Reminded => "reminded",
            EventKind::Escalated => "escalated",
            EventKind::WebhookDelivered => "webhook-delivered",
            EventKind::WebhookFailed => "webhook-failed",
            EventKind::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
    }

    #[test]
    fn msgid_equals_serde_name_and_fits_rfc5424() {
        for kind in EventKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.msgid()));
            let id = kind.msgid();
            assert!(!id.is_empty() && id.len() <= 32, "{id}");
            assert!(id.bytes().all(|b| (33..=126).contains(&b)), "{id}");
        }
    }

    #[test]
    fn all_lists_every_kind_once() {
        let mut ids: Vec<&str> = EventKind::ALL.iter().map(|k| k.msgid()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), EventKind::ALL.len());
    }

    #[test]
    fn severity_table() {
        let cases = [
            (EventKind::Submitted, Severity::Notice),
            (EventKind::DecisionAccepted, Severity::Notice),
            (EventKind::Approved, Severity::Notice),
            (EventKind::Mailed, Severity::Informational),
            (EventKind::MailFailed, Severity::Error),
            (EventKind::ReplyRefused, Severity::Warning),
            (EventKind::SelfApprovalRefused, Severity::Warning),
            (EventKind::ReplyIgnored, Severity::Informational),
            (EventKind::EmergencyGranted, Severity::Alert),
            (EventKind::Overridden, Severity::Warning),
            (EventKind::Revoked, Severity::Warning),
            (EventKind::WindowEnded, Severity::Notice),
        ];
        for (kind, sev) in cases {
            assert_eq!(kind.severity(), sev, "{kind:?}");
        }
        assert_eq!(Severity::Notice.code(), 5);
        assert_eq!(Severity::Emergency.code(), 0);
        assert_eq!(Severity::Debug.code(), 7);
    }

    #[test]
    fn json_roundtrip_omits_absent_fields() {
        let e = AuditEvent::new(t0(), EventKind::DecisionAccepted, "accepted", "ok")
            .with_request("AR-42")
            .with_level(1);
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("actor"), "{json}");
        assert!(json.contains("\"kind\":\"decision-accepted\""), "{json}");
        assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), e);
    }

    #[test]
    fn old_spool_entry_without_optional_fields_still_decodes() {
        let json = r#"{"at":"2026-11-21T10:00:00Z","kind":"approved","outcome":"approved"}"#;
        let e: AuditEvent = serde_json::from_str(json).unwrap();
        let mut want = AuditEvent::new(t0(), EventKind::Approved, "approved", "");
        want.pid = None;
        assert_eq!(e, want);
    }

    #[test]
    fn newer_kind_decodes_as_unknown_instead_of_failing() {
        let json =
            r#"{"at":"2026-11-21T10:00:00Z","kind":"quorum-changed","outcome":"x","extra":1}"#;
        let e: AuditEvent = serde_json::from_str(json).unwrap();
        assert_eq!(e.kind, EventKind::Unknown);
    }
}
