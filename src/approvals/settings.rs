//! The configuration-derived parts of the service, behind a handle a reload
//! can swap. Each use case takes one snapshot at its start, so a reload in
//! the middle of handling a message never mixes old and new rules.

use std::sync::{Arc, RwLock};

use crate::domain::policy::Policy;
use crate::domain::sender_rule::SenderRule;
use crate::domain::submitters::{Admins, Submitters};
use crate::domain::token::Keyring;
use crate::mail::compose::Composer;
use crate::mail::parse::InboxAddress;

/// Settings for reading replies.
pub(crate) struct InboundSettings {
    /// The approvals inbox, whose plus-addresses carry reply tokens.
    pub(crate) inbox: InboxAddress,
    /// How strongly a reply's sender must be proven.
    pub(crate) sender_rule: SenderRule,
    /// Larger messages are read only as far as their headers.
    pub(crate) max_message_size: usize,
    /// At most this many explanations per hour, to everyone together.
    pub(crate) explanations_per_hour: u32,
    /// Time zone approvers mean when they write `APPROVE until 18:00`.
    pub(crate) timezone: chrono_tz::Tz,
}

/// Everything a use case needs from the configuration.
pub(crate) struct Settings {
    /// Admission rules; requests in flight keep the levels they snapshotted.
    pub(crate) policy: Policy,
    /// Signs the tokens approvers reply with, and verifies them.
    pub(crate) keyring: Keyring,
    /// Renders every mail before it is queued, so the outbox holds exactly
    /// what will be sent.
    pub(crate) composer: Composer,
    /// How replies are read and whom they must come from.
    pub(crate) inbound: InboundSettings,
    /// How long handled-message records and explanation counters outlive
    /// the request they concern.
    pub(crate) retention: chrono::Duration,
    /// Which local accounts may submit for whom.
    pub(crate) submitters: Submitters,
    /// Which local accounts may cancel, revoke and override.
    pub(crate) admins: Admins,
    /// Keys for the API on the HTTP listener, with their roles.
    pub(crate) api_keys: crate::domain::api_keys::ApiKeys,
}

/// A shared, swappable [`Settings`].
#[derive(Clone)]
pub(crate) struct SettingsHandle {
    /// Readers clone the inner `Arc` and let go of the lock at once, so a
    /// swap never waits for a use case to finish.
    current: Arc<RwLock<Arc<Settings>>>,
}

impl SettingsHandle {
    pub(crate) fn new(settings: Settings) -> Self {
        SettingsHandle {
            current: Arc::new(RwLock::new(Arc::new(settings))),
        }
    }

    /// The settings in force now.
    pub(crate) fn current(&self) -> Arc<Settings> {
        // A writer cannot panic while holding the lock (it only assigns), so
        // a poisoned lock still holds a whole value.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Puts `settings` in force for every use case that starts from now on.
    pub(crate) fn replace(&self, settings: Settings) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(settings);
    }
}
