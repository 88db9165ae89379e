//! What happened since start, counted where it happens: decisions by
//! channel and refused replies by reason. Prometheus computes rates from
//! these; a restart starts them again at zero, which it expects.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::domain::request::Channel;

/// A metric's label set: one name, one value.
pub(super) type Label = [(&'static str, &'static str); 1];

/// The counters, shared by the service (which counts) and the exposition
/// (which reads).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Answers and interventions that changed a request, by channel.
    pub(super) decisions: Family<Label, Counter>,
    /// Replies and page answers refused (or mails ignored), by reason.
    pub(super) refused: Family<Label, Counter>,
}

impl Counters {
    /// An answer or an intervention changed a request.
    pub(crate) fn decided(&self, channel: Channel) {
        self.decisions
            .get_or_create(&[("channel", channel_name(channel))])
            .inc();
    }

    /// An answer was refused (or a mail ignored) for `reason`, one of a
    /// fixed set of words, so the label's values stay few.
    pub(crate) fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&[("reason", reason)]).inc();
    }

    /// How many decisions came through `channel`, for tests.
    #[cfg(test)]
    pub(crate) fn decisions(&self, channel: Channel) -> u64 {
        self.decisions
            .get_or_create(&[("channel", channel_name(channel))])
            .get()
    }

    /// How many refusals were counted for `reason`, for tests.
    #[cfg(test)]
    pub(crate) fn refusals(&self, reason: &'static str) -> u64 {
        self.refused.get_or_create(&[("reason", reason)]).get()
    }
}

/// The label value of a channel.
fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Link => "link",
        Channel::Api => "api",
        Channel::Override => "override",
    }
}
