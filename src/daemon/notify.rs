//! Telling the service manager where the daemon is in its life (sd_notify):
//! a status while it starts, ready once it serves and the first IMAP login
//! is settled, reloading while a new configuration is read, watchdog pings
//! while every worker makes progress, stopping when it winds down. Without
//! `NOTIFY_SOCKET` (not started by systemd) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// A status line alone (`systemctl status` shows it).
pub(super) fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// The store is open, the configuration valid, the API socket listening,
/// the workers started, and the first IMAP login done or failing (and
/// retried in the background): `status` says which.
pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload has begun; [`ready`] follows when it is over, whatever its
/// outcome (a refused configuration leaves the old one serving).
pub(super) fn reloading() {
    // systemd 253 and newer want the monotonic time with RELOADING=1.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// The daemon is stopping.
pub(super) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Every worker makes progress.
pub(super) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog interval systemd set (`WatchdogSec=`), if any and if meant
/// for this process.
pub(super) fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}
