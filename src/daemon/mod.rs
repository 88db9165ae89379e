//! Wiring and supervision: builds every part from the validated
//! configuration, runs the workers, and answers control requests — stop
//! (SIGTERM, SIGINT) and reload (SIGHUP) — until told to stop.

mod control;
mod monitor;
mod notify;
pub(crate) mod timers;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::approvals::{Approvals, InboundSettings, Settings, SettingsHandle};
use crate::audit::format::Origin;
use crate::audit::rfc5424;
use crate::audit::shipper::run_shipper;
use crate::config::Config;
use crate::domain::clock::Clock;
use crate::domain::token::Keyring;
use crate::health::imap_link::status_line;
use crate::health::{beating, supervised, Health, ImapLink, Spools, Workers};
use crate::mail::compose::Composer;
use crate::mail::inbound::run_inbox;
use crate::mail::outbound::{run_outbox, Mailer};
use crate::mail::parse::InboxAddress;
use crate::mail::templates::Templates;
use crate::mail::tls;
use crate::records::{AuditEvent, EventKind};
use crate::secret::SecretBytes;
use crate::shutdown;
use crate::store::Store;
use crate::system_clock::SystemClock;
use control::Control;

/// How long running work gets to finish after a stop signal.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Longest wait for the first IMAP login's outcome before `READY=1` is sent
/// anyway (saying the login is still under way): well inside systemd's
/// default start timeout of 90 s, since the API serves meanwhile.
const LOGIN_WAIT: Duration = Duration::from_secs(30);

/// The audit shipper's heartbeat bound. It cannot beat itself, so it is
/// watched by how often the runtime polls it: at least every 60 s (its
/// longest backoff) plus one bounded send of 10 s when it is alive.
const AUDIT_STALL_BOUND: Duration = Duration::from_secs(120);

/// Runs the daemon until a stop signal. `path` is where `config` came
/// from, read again on reload.
pub(crate) async fn run(mut config: Config, path: &Path) -> Result<(), String> {
    let mut control = control::listen().map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(&config.store_path)
        .map_err(|e| format!("{}: {e}", config.store_path.display()))?;
    let keys = take_keys(&mut config);
    let settings = SettingsHandle::new(settings(&config, keys, store.id())?);
    let imap_tls = tls::client_config(config.imap.endpoint.ca_file.as_deref())?;
    let hook_tls = tls::client_config(config.webhook_ca_file.as_deref())
        .map_err(|e| format!("webhooks.ca_file: {e}"))?;
    let mailer = Mailer::new(
        &config.smtp,
        &config.from_name,
        &config.mail_address,
        clock.clone(),
    )
    .map_err(|e| format!("smtp: {e}"))?;
    let approvals = Arc::new(Approvals::new(
        store.clone(),
        settings.clone(),
        clock.clone(),
    ));
    let listener = crate::api::bind(&config.api_socket)
        .map_err(|e| format!("{}: {e}", config.api_socket.display()))?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("metrics.listen {addr}: {e}"))?,
        ),
        None => None,
    };
    notify::status("starting: store open, API listening; logging in to IMAP");
    let health = Health {
        workers: Workers::default(),
        imap: ImapLink::new(clock.clone()),
        spools: Spools::new(store.clone()),
    };
    let monitoring = crate::metrics::Monitor {
        metrics: Arc::new(crate::metrics::Metrics::new(
            store.clone(),
            health.clone(),
            &approvals.counters(),
        )),
        health: health.clone(),
    };

    let (stopper, shutdown) = shutdown::channel();
    let origin = Origin {
        host: rfc5424::local_hostname(),
        app: "approvald".into(),
        facility: config.audit.facility,
        enterprise: config.audit.enterprise,
        format: config.audit.format,
    };
    let mut tasks = tokio::task::JoinSet::new();
    let workers = &health.workers;
    let heart = workers.register("audit", Some(AUDIT_STALL_BOUND));
    tasks.spawn(supervised(
        heart.clone(),
        beating(
            heart,
            run_shipper(
                store.audit().clone(),
                config.audit.clone(),
                origin,
                shutdown.clone(),
            ),
        ),
    ));
    let heart = workers.register("outbox", Some(crate::mail::outbound::OUTBOX_STALL_BOUND));
    tasks.spawn(supervised(
        heart.clone(),
        run_outbox(
            store.clone(),
            mailer,
            clock.clone(),
            heart,
            shutdown.clone(),
        ),
    ));
    let heart = workers.register(
        "imap",
        Some(crate::mail::inbound::stall_bound(config.imap.timeout)),
    );
    tasks.spawn(supervised(
        heart.clone(),
        run_inbox(
            Arc::new(config.imap),
            imap_tls,
            approvals.clone(),
            crate::mail::inbound::InboxReports {
                heart,
                link: health.imap.clone(),
            },
            shutdown.clone(),
        ),
    ));
    {
        let approvals = approvals.clone();
        let shutdown = shutdown.clone();
        let routes = crate::metrics::routes::router(monitoring.clone());
        tasks.spawn(supervised(workers.register("api", None), async move {
            if let Err(e) = crate::api::serve(listener, approvals, routes, async move {
                shutdown.requested().await
            })
            .await
            {
                tracing::error!(error = %e, "API server failed");
            }
        }));
    }
    if let Some(listener) = metrics_listener {
        tracing::info!(listen = ?listener.local_addr().ok(), "serving /metrics and /v1/health over TCP");
        let routes = crate::metrics::routes::router(monitoring.clone());
        let shutdown = shutdown.clone();
        tasks.spawn(supervised(
            workers.register("metrics", None),
            crate::metrics::listener::serve(
                listener,
                routes,
                async move { shutdown.requested().await },
            ),
        ));
    }
    if let Some(http) = config.http.clone() {
        let tls = match &http.tls {
            Some((cert, key)) => {
                Some(crate::http::tls_acceptor(cert, key).map_err(|e| format!("http: {e}"))?)
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(http.listen)
            .await
            .map_err(|e| format!("http.listen {}: {e}", http.listen))?;
        tracing::info!(listen = %http.listen, public_url = %http.public_url, tls = tls.is_some(), "serving decision pages");
        let approvals = approvals.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(supervised(workers.register("http", None), async move {
            if let Err(e) = crate::http::serve(
                listener,
                tls,
                approvals,
                http.public_url,
                http.decide_by_link,
                async move { shutdown.requested().await },
            )
            .await
            {
                tracing::error!(error = %e, "HTTP listener failed");
            }
        }));
    }
    let heart = workers.register("webhooks", Some(crate::webhooks::WEBHOOK_STALL_BOUND));
    tasks.spawn(supervised(
        heart.clone(),
        crate::webhooks::run_webhooks(
            store.clone(),
            crate::webhooks::HookClient::new(hook_tls),
            clock.clone(),
            heart,
            shutdown.clone(),
        ),
    ));
    let heart = workers.register("timers", Some(timers::STALL_BOUND));
    tasks.spawn(supervised(
        heart.clone(),
        timers::run_timers(approvals.clone(), clock.clone(), heart, shutdown.clone()),
    ));
    record(
        &store,
        AuditEvent::new(
            clock.now(),
            EventKind::DaemonStarted,
            "ok",
            "approvald started",
        ),
    )
    .await;
    tracing::info!(socket = %config.api_socket.display(), "approvald running");
    // Ready once the first login is settled either way: a failing server
    // is retried in the background while the API serves, and says so.
    let early = tokio::select! {
        settled = tokio::time::timeout(LOGIN_WAIT, health.imap.settled()) => {
            if settled.is_err() {
                tracing::warn!(wait = ?LOGIN_WAIT, "no IMAP login outcome yet; ready anyway");
            }
            None
        }
        request = control.recv() => Some(request),
    };
    let status = status_line(&health.imap.state().0);
    notify::ready(&status);
    tasks.spawn(monitor::run_monitor(
        health.clone(),
        notify::watchdog_interval(),
        status,
        shutdown.clone(),
    ));
    let mut next = match early {
        Some(request) => request,
        None => control.recv().await,
    };
    while let Some(request) = next {
        match request {
            Control::Stop => break,
            Control::Reload => {
                notify::reloading();
                reload(path, &settings, &store, clock.as_ref()).await;
                let now = tokio::time::Instant::now();
                notify::ready(&monitor::status_for(
                    &health.verdict(now),
                    &health.imap.state().0,
                ));
            }
        }
        next = control.recv().await;
    }
    tracing::info!("stopping");
    notify::stopping();
    record(
        &store,
        AuditEvent::new(
            clock.now(),
            EventKind::DaemonStopped,
            "ok",
            "approvald stopping",
        ),
    )
    .await;
    stopper.stop();
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!(error = %e, "a task failed while stopping");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some tasks did not stop within {STOP_GRACE:?}; aborting them");
        tasks.abort_all();
    }
    store.flush().await.map_err(|e| e.to_string())?;
    if let Err(e) = std::fs::remove_file(&config.api_socket) {
        tracing::warn!(error = %e, "cannot remove the API socket");
    }
    Ok(())
}

/// Builds everything `serve` builds from `config` before it opens the store
/// or a connection — templates, keys, the inbox address, TLS roots and CA
/// files — so that a configuration `check-config` passes also starts.
pub(crate) fn check(mut config: Config) -> Result<(), String> {
    let keys = take_keys(&mut config);
    settings(&config, keys, "")?;
    tls::client_config(config.imap.endpoint.ca_file.as_deref())?;
    tls::client_config(config.webhook_ca_file.as_deref())
        .map_err(|e| format!("webhooks.ca_file: {e}"))?;
    if let Some((cert, key)) = config.http.as_ref().and_then(|h| h.tls.as_ref()) {
        crate::http::tls_acceptor(cert, key).map_err(|e| format!("http: {e}"))?;
    }
    // The SMTP settings as serve builds them (roots, CA file, From
    // address), not only its CA file.
    Mailer::check(&config.smtp, &config.from_name, &config.mail_address)
        .map_err(|e| format!("smtp: {e}"))?;
    Ok(())
}

/// The configuration-derived parts of the service.
fn settings(
    config: &Config,
    (current, previous): (SecretBytes, Vec<SecretBytes>),
    store_id: &str,
) -> Result<Settings, String> {
    let keyring = Keyring::new(current, previous).map_err(|e| format!("tokens: {e}"))?;
    let templates = Templates::load(config.templates.as_deref())
        .map_err(|e| format!("templates: {e}"))?
        .with_timezone(config.timezone);
    let composer = Composer::new(
        templates,
        config.from_name.clone(),
        config.mail_address.clone(),
    )?
    .with_decision_links(config.http.as_ref().map(|h| h.public_url.clone()))
    .with_store_id(store_id);
    let inbox = InboxAddress::new(config.mail_address.as_str())
        .map_err(|e| format!("mail.address: {e}"))?;
    Ok(Settings {
        retention: config.retention,
        submitters: config.submitters.clone(),
        admins: config.admins.clone(),
        api_keys: config.api_keys.clone(),
        policy: config.policy.clone(),
        keyring,
        composer,
        inbound: InboundSettings {
            inbox,
            sender_rule: config.inbound.sender_rule.clone(),
            max_message_size: config.inbound.max_message_size,
            explanations_per_hour: config.inbound.explanations_per_hour,
            timezone: config.timezone,
        },
    })
}

/// Re-reads the configuration and puts its policy, keys, templates and
/// inbound rules in force for everything that starts from now on (requests
/// in flight keep their snapshot). An invalid configuration changes
/// nothing: the one in force stays, and every problem is audited.
async fn reload(path: &Path, handle: &SettingsHandle, store: &Store, clock: &dyn Clock) {
    let loaded = Config::load(path)
        .map_err(|problems| problems.to_string())
        .and_then(|mut c| {
            let keys = take_keys(&mut c);
            settings(&c, keys, store.id())
        });
    let event = match loaded {
        Ok(new) => {
            handle.replace(new);
            tracing::info!(config = %path.display(), "configuration reloaded");
            AuditEvent::new(
                clock.now(),
                EventKind::ConfigReloaded,
                "ok",
                "configuration reloaded",
            )
        }
        Err(problems) => {
            tracing::error!(config = %path.display(), %problems, "configuration not reloaded; the previous one stays in force");
            AuditEvent::new(
                clock.now(),
                EventKind::ConfigReloadFailed,
                "refused",
                "configuration reload refused; the previous one stays in force",
            )
            .with_reason(problems.trim_end().replace('\n', "; "))
        }
    };
    record(store, event.with_actor(path.display().to_string())).await;
}

/// Moves the token keys out of `config`: they go into the keyring, and a
/// secret is never copied.
fn take_keys(config: &mut Config) -> (SecretBytes, Vec<SecretBytes>) {
    std::mem::replace(
        &mut config.token_keys,
        (SecretBytes::new(Vec::new()), Vec::new()),
    )
}

/// Records `event` and makes it durable at once: the daemon's own events
/// must survive a crash right after them.
async fn record(store: &Store, event: AuditEvent) {
    if let Err(e) = store.audit_only(event) {
        tracing::error!(error = %e, "cannot record audit event");
    }
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "cannot flush the audit event");
    }
}
