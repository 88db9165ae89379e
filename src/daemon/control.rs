//! What the outside world asks of the running daemon: stop, or reload its
//! configuration. Signals become [`Control`] messages on one channel, so
//! the supervisor handles each in one place, in order.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// A request to the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Stop cleanly: SIGTERM (systemd, kill) or SIGINT (a terminal).
    Stop,
    /// Re-read the configuration: SIGHUP.
    Reload,
}

/// Installs the signal handlers and returns the channel their requests
/// arrive on. Called first thing, so that a signal during start-up is
/// handled, not the default instant death.
pub(crate) fn listen() -> std::io::Result<mpsc::Receiver<Control>> {
    let (tx, rx) = mpsc::channel(8);
    for (kind, control) in [
        (SignalKind::terminate(), Control::Stop),
        (SignalKind::interrupt(), Control::Stop),
        (SignalKind::hangup(), Control::Reload),
    ] {
        let mut signals = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while signals.recv().await.is_some() {
                if tx.send(control).await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}
