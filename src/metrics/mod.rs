//! `GET /metrics` in the Prometheus text format: counters kept as things
//! happen ([`Counters`]), gauges read at each scrape from the store's
//! indexes and the health state — never by reading every request.

mod counters;
pub(crate) mod listener;
pub(crate) mod routes;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

pub(crate) use counters::Counters;
use counters::Label;

use crate::domain::request::Status;
use crate::health::{Health, LinkState};
use crate::store::Store;

/// A gauge of fractional values (seconds).
type Seconds = Gauge<f64, AtomicU64>;

/// The registry and the gauges refreshed before each scrape.
pub(crate) struct Metrics {
    /// Everything exposed, in registration order.
    registry: Registry,
    /// Requests by status, counted from the status index.
    requests: Family<Label, Gauge>,
    /// Entries waiting in each spool.
    spool_depth: Family<Label, Gauge>,
    /// Seconds the entry at each spool's head has been seen waiting.
    spool_oldest: Family<Label, Seconds>,
    /// 1 for the IMAP connection's current state, 0 for the others.
    imap_state: Family<Label, Gauge>,
    /// Unix time of the last complete read of the inbox.
    last_poll: Gauge,
    /// Seconds since each worker's last heartbeat.
    heartbeat_age: Family<Label, Seconds>,
    /// 1 while the watchdog would ping (every worker makes progress).
    alive: Gauge,
    /// Where the status index is.
    store: Store,
    /// Workers, IMAP state and spools.
    health: Health,
}

impl Metrics {
    pub(crate) fn new(store: Store, health: Health, counters: &Counters) -> Metrics {
        let mut registry = Registry::with_prefix("approvald");
        let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        registry.register("build_info", "The running build; always 1", build);
        let mut m = Metrics {
            registry,
            requests: Family::default(),
            spool_depth: Family::default(),
            spool_oldest: Family::default(),
            imap_state: Family::default(),
            last_poll: Gauge::default(),
            heartbeat_age: Family::default(),
            alive: Gauge::default(),
            store,
            health,
        };
        let r = &mut m.registry;
        r.register(
            "requests",
            "Requests by status (from the status index)",
            m.requests.clone(),
        );
        r.register(
            "decisions",
            "Answers and interventions that changed a request, by channel, since start",
            counters.decisions.clone(),
        );
        r.register(
            "replies_refused",
            "Answers refused and mails ignored, by reason, since start",
            counters.refused.clone(),
        );
        r.register(
            "spool_depth",
            "Entries waiting in the outbox, audit and webhook spools",
            m.spool_depth.clone(),
        );
        r.register(
            "spool_oldest_age_seconds",
            "Seconds the entry at the head of each spool has been seen waiting (0 when empty)",
            m.spool_oldest.clone(),
        );
        r.register(
            "imap_state",
            "1 for the IMAP connection's current state (connecting, connected, failing)",
            m.imap_state.clone(),
        );
        r.register(
            "imap_last_poll_timestamp_seconds",
            "Unix time the inbox was last read to its end (0: not yet)",
            m.last_poll.clone(),
        );
        r.register(
            "worker_heartbeat_age_seconds",
            "Seconds since each worker's last heartbeat",
            m.heartbeat_age.clone(),
        );
        r.register(
            "alive",
            "1 while every worker makes progress (the watchdog pings)",
            m.alive.clone(),
        );
        m
    }

    /// The text exposition at `now`, gauges refreshed first. Concurrent
    /// scrapes refresh the same gauges with the same values.
    pub(crate) fn render(&self, now: Instant) -> Result<String, String> {
        for status in Status::ALL {
            let n = self
                .store
                .count_with_status(status)
                .map_err(|e| e.to_string())?;
            self.requests
                .get_or_create(&[("status", status.as_str())])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for s in self.health.spools.sample(now) {
            self.spool_depth
                .get_or_create(&[("spool", s.name)])
                .set(i64::try_from(s.depth).unwrap_or(i64::MAX));
            self.spool_oldest
                .get_or_create(&[("spool", s.name)])
                .set(s.oldest.map_or(0.0, |d| d.as_secs_f64()));
        }
        let current = match self.health.imap.state().0 {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Failing(_) => "failing",
        };
        for state in ["connecting", "connected", "failing"] {
            self.imap_state
                .get_or_create(&[("state", state)])
                .set(i64::from(state == current));
        }
        self.last_poll
            .set(self.health.imap.last_poll().unwrap_or(0));
        let verdict = self.health.verdict(now);
        for w in verdict.workers.iter().filter(|w| w.beats) {
            self.heartbeat_age
                .get_or_create(&[("worker", w.name)])
                .set(w.silent.as_secs_f64());
        }
        self.alive.set(i64::from(verdict.alive));
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// What the monitoring routes serve from.
#[derive(Clone)]
pub(crate) struct Monitor {
    /// The metrics registry.
    pub(crate) metrics: Arc<Metrics>,
    /// The health state.
    pub(crate) health: Health,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::Channel;
    use crate::health::{ImapLink, Spools, Workers};
    use crate::system_clock::SystemClock;

    #[tokio::test]
    async fn the_exposition_names_every_metric_with_its_labels() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_init(dir.path()).unwrap();
        let health = Health {
            workers: Workers::default(),
            imap: ImapLink::new(Arc::new(SystemClock)),
            spools: Spools::new(store.clone()),
        };
        let _imap = health
            .workers
            .register("imap", Some(std::time::Duration::from_secs(10)));
        let _api = health.workers.register("api", None);
        health.imap.failing("IMAP: LOGIN refused".into());
        let counters = Counters::default();
        counters.decided(Channel::Email);
        counters.decided(Channel::Email);
        counters.refused("sender");
        let m = Metrics::new(store, health, &counters);
        let text = m.render(Instant::now()).unwrap();
        for line in [
            "approvald_build_info{version=\"0.1.0\"} 1",
            "approvald_requests{status=\"pending\"} 0",
            "approvald_decisions_total{channel=\"email\"} 2",
            "approvald_replies_refused_total{reason=\"sender\"} 1",
            "approvald_spool_depth{spool=\"outbox\"} 0",
            "approvald_spool_oldest_age_seconds{spool=\"webhooks\"} 0.0",
            "approvald_imap_state{state=\"failing\"} 1",
            "approvald_imap_state{state=\"connected\"} 0",
            "approvald_imap_last_poll_timestamp_seconds 0",
            "approvald_alive 1",
            "# TYPE approvald_decisions_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(
            text.contains("approvald_worker_heartbeat_age_seconds{worker=\"imap\"}"),
            "{text}"
        );
        assert!(
            !text.contains("worker=\"api\""),
            "an accept loop has no heartbeat to show: {text}"
        );
    }
}
