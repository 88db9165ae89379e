//! Wiring: builds every part from the validated configuration, runs the
//! workers, and stops them cleanly on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Offset, Utc};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast;

use crate::approvals::{Approvals, InboundSettings};
use crate::audit::rfc5424::{self, Facility};
use crate::audit::shipper::{run_shipper, Origin};
use crate::audit::{AuditEvent, EventKind};
use crate::config::Config;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::token::Keyring;
use crate::mail::compose::Composer;
use crate::mail::inbound::run_inbox;
use crate::mail::outbound::{run_outbox, Mailer};
use crate::mail::parse::InboxAddress;
use crate::mail::templates::Templates;
use crate::mail::tls;
use crate::store::Store;

/// How often undecided requests are checked against their deadline.
const EXPIRY_SWEEP: Duration = Duration::from_secs(30);

/// How long running work gets to finish after a stop signal.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs the daemon until a stop signal.
pub(crate) async fn run(config: Config) -> Result<(), String> {
    // Installed first, so that a stop signal during start-up is a clean
    // stop, not the default instant death.
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(&config.store_path)
        .map_err(|e| format!("{}: {e}", config.store_path.display()))?;
    let (current, previous) = config.token_keys;
    let keyring = Keyring::new(current, previous).map_err(|e| format!("tokens: {e}"))?;
    let templates =
        Templates::load(config.templates.as_deref()).map_err(|e| format!("templates: {e}"))?;
    let composer = Composer::new(
        templates,
        config.from_name.clone(),
        config.mail_address.clone(),
    )?;
    let inbox = InboxAddress::new(config.mail_address.as_str())
        .map_err(|e| format!("mail.address: {e}"))?;
    let imap_tls = tls::client_config(config.imap.endpoint.ca_file.as_deref())?;
    let mailer = Mailer::new(&config.smtp, &config.from_name, &config.mail_address)
        .map_err(|e| format!("smtp: {e}"))?;
    let inbound = InboundSettings {
        inbox,
        sender_policy: config.inbound.sender_policy.clone(),
        max_message_size: config.inbound.max_message_size,
        offset: Utc.fix(),
    };
    let approvals = Arc::new(Approvals::new(
        store.clone(),
        config.policy,
        keyring,
        composer,
        inbound,
        clock.clone(),
    ));
    let listener = crate::api::bind(&config.api_socket)
        .map_err(|e| format!("{}: {e}", config.api_socket.display()))?;

    let (stop, _) = broadcast::channel::<()>(1);
    let origin = Origin {
        host: rfc5424::local_hostname(),
        app: "approvald".into(),
        facility: Facility::Authpriv,
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(run_shipper(
        store.clone(),
        config.syslog.clone(),
        origin,
        stop.subscribe(),
    ));
    tasks.spawn(run_outbox(store.clone(), mailer, stop.subscribe()));
    tasks.spawn(run_inbox(
        Arc::new(config.imap),
        imap_tls,
        approvals.clone(),
        stop.subscribe(),
    ));
    {
        let mut rx = stop.subscribe();
        let approvals = approvals.clone();
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = rx.recv().await;
            };
            if let Err(e) = crate::api::serve(listener, approvals, shutdown).await {
                tracing::error!(error = %e, "API server failed");
            }
        });
    }
    tasks.spawn(run_expiry(approvals.clone(), stop.subscribe()));
    record(
        &store,
        clock.as_ref(),
        EventKind::DaemonStarted,
        "approvald started",
    )
    .await;
    tracing::info!(socket = %config.api_socket.display(), "approvald running");

    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping");
    record(
        &store,
        clock.as_ref(),
        EventKind::DaemonStopped,
        "approvald stopping",
    )
    .await;
    let _ = stop.send(());
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
    let _ = std::fs::remove_file(&config.api_socket);
    Ok(())
}

async fn record(store: &Store, clock: &dyn Clock, kind: EventKind, message: &str) {
    let ev = AuditEvent::new(clock.now(), kind, "ok", message).with_actor("approvald");
    if let Err(e) = store.audit_only(ev) {
        tracing::error!(error = %e, "cannot record audit event");
    }
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "cannot flush the audit spool");
    }
}

/// Expires undecided requests once their deadline passes. A minute's
/// resolution is plenty: tokens carry the deadline too, so a late answer is
/// refused even before the sweep closes the request.
async fn run_expiry(approvals: Arc<Approvals>, mut stop: broadcast::Receiver<()>) {
    loop {
        match approvals.expire_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired undecided requests"),
            Err(e) => tracing::error!(error = %e, "cannot expire requests"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EXPIRY_SWEEP) => {}
            _ = stop.recv() => return,
        }
    }
}
