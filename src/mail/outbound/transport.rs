//! The SMTP client: a pooled, timed connection to the submission server,
//! and what its answers mean (this mail refused for good, or the server
//! unavailable for now).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::{build_message, from_mailbox};
use super::worker::Deliver;
use super::SEND_CONCURRENCY;
use crate::config::{SmtpConfig, TlsMode};
use crate::domain::clock::Clock;
use crate::domain::ids::Address;
use crate::mail::tls::{ca_certificates, SystemRoots};
use crate::records::OutboundMail;

/// How long connecting (TCP, TLS, EHLO, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one whole send may take. lettre's own timeout covers only
/// connecting; a server that stalls mid-transaction must not stall the
/// outbox forever.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a mail was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SendError {
    /// It will never be accepted (bad recipient, content refused): retrying
    /// is pointless.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// It may be accepted later.
    #[error("not sent for now: {why}")]
    Transient {
        /// The server's or the network's words.
        why: String,
        /// The failure concerns the server or the connection, not this
        /// mail: other mails would fail the same way right now.
        outage: bool,
    },
}

/// The SMTP client: a pooled connection to the configured submission
/// server, sending as one fixed From mailbox.
pub(crate) struct Mailer {
    /// Kept to build a fresh transport after a send was abandoned.
    builder: AsyncSmtpTransportBuilder,
    /// lettre's pooled transport; pooling saves a TLS handshake and login
    /// per mail when several mails go out together. Replaced when a send
    /// times out: lettre would put the abandoned connection, possibly in the
    /// middle of a transaction, back into the pool, and the next mail's
    /// commands would then be paired with stale replies. The lock is only
    /// held to clone or swap the handle, never across an await.
    transport: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    /// `from_name <address>` on every mail.
    from: Mailbox,
    /// Bound on one whole send; see [`SEND_TIMEOUT`].
    send_timeout: Duration,
    /// Dates each mail.
    clock: Arc<dyn Clock>,
}

impl Mailer {
    /// Builds the client for `cfg`, sending as `from_name <address>`.
    ///
    /// Reads and checks the CA file now, so a bad one is a startup error.
    /// No connection is made until the first send. Must be called within
    /// the Tokio runtime (the pool starts a housekeeping task).
    pub(crate) fn new(
        cfg: &SmtpConfig,
        from_name: &str,
        address: &Address,
        clock: Arc<dyn Clock>,
    ) -> Result<Mailer, String> {
        let ep = &cfg.endpoint;
        let (tls, from) = Mailer::parts(cfg, from_name, address)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ep.host.as_str())
            .port(ep.port)
            .tls(tls)
            .timeout(Some(CONNECT_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(u32::try_from(SEND_CONCURRENCY).unwrap_or(4)));
        if let Some((user, password)) = &cfg.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
        }
        Ok(Mailer {
            transport: Mutex::new(builder.clone().build()),
            builder,
            from,
            send_timeout: SEND_TIMEOUT,
            clock,
        })
    }

    /// Builds what [`Mailer::new`] builds from the configuration — TLS
    /// settings (roots, CA file, the host as a TLS name) and the From
    /// address — without the connection pool, which needs a runtime: so
    /// that `check-config` refuses what would stop `serve`.
    pub(crate) fn check(
        cfg: &SmtpConfig,
        from_name: &str,
        address: &Address,
    ) -> Result<(), String> {
        Mailer::parts(cfg, from_name, address).map(|_| ())
    }

    fn parts(
        cfg: &SmtpConfig,
        from_name: &str,
        address: &Address,
    ) -> Result<(Tls, Mailbox), String> {
        let ep = &cfg.endpoint;
        let tls = match ep.tls {
            TlsMode::None => Tls::None,
            TlsMode::Implicit => Tls::Wrapper(tls_parameters(&ep.host, ep.ca_file.as_deref())?),
            TlsMode::StartTls => Tls::Required(tls_parameters(&ep.host, ep.ca_file.as_deref())?),
        };
        Ok((tls, from_mailbox(from_name, address)?))
    }

    /// Sends one mail and waits for the server's verdict.
    pub(crate) async fn send(&self, m: &OutboundMail) -> Result<(), SendError> {
        let message = build_message(&self.from, m, SystemTime::from(self.clock.now()))?;
        let transport = self.transport().clone();
        match tokio::time::timeout(self.send_timeout, transport.send(message)).await {
            Err(_) => {
                *self.transport() = self.builder.clone().build();
                Err(SendError::Transient {
                    why: format!(
                        "no answer from the SMTP server within {} ms",
                        self.send_timeout.as_millis()
                    ),
                    outage: true,
                })
            }
            Ok(Err(e)) => Err(classify(e.status().map(|c| c.to_string()), e.to_string())),
            Ok(Ok(_)) => Ok(()),
        }
    }

    fn transport(&self) -> std::sync::MutexGuard<'_, AsyncSmtpTransport<Tokio1Executor>> {
        // A panic elsewhere cannot leave the handle half-written: recover it.
        self.transport.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// lettre's TLS settings: the system's roots plus the private CA, if any
/// (as [`crate::mail::tls::client_config`] for IMAP). lettre builds its own
/// rustls configuration (with the ring provider), so the trust anchors are
/// handed over rather than a `ClientConfig`.
fn tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, String> {
    tls_parameters_with(host, SystemRoots::load(), ca_file)
}

/// [`tls_parameters`] with the system's roots given.
fn tls_parameters_with(
    host: &str,
    system: SystemRoots,
    ca_file: Option<&std::path::Path>,
) -> Result<TlsParameters, String> {
    let mut private = Vec::new();
    if let Some(path) = ca_file {
        private = ca_certificates(path)?;
    }
    if system.certs.is_empty() && private.is_empty() {
        return Err(system.none_trusted());
    }
    // None: lettre's own roots would be webpki-roots, which are not built
    // in; every root it trusts is one of these.
    let mut builder =
        TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::None);
    for der in system.certs {
        // From the system: an unreadable one is skipped, as for IMAP.
        if let Ok(cert) = Certificate::from_der(der.to_vec()) {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(path) = ca_file {
        for der in private {
            let cert = Certificate::from_der(der.to_vec())
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("SMTP TLS settings: {e}"))
}

/// Sorts an SMTP failure into permanent or transient, from the reply code
/// (`None` when no reply was received at all) and the error text, which
/// carries the enhanced status code (RFC 3463) when the server sent one.
fn classify(code: Option<String>, why: String) -> SendError {
    let Some(code) = code.and_then(|c| c.parse::<u16>().ok()) else {
        return SendError::Transient { why, outage: true };
    };
    match code {
        500..=599 if refuses_this_mail(code, &why) => SendError::Permanent(why),
        // Service closing, TLS or authentication temporarily unavailable,
        // and every other 5xx: about the server or our configuration.
        421 | 432 | 454 | 500..=599 => SendError::Transient { why, outage: true },
        _ => SendError::Transient { why, outage: false },
    }
}

/// Whether a 5xx reply is about this mail (its recipient, the mailbox, its
/// content) rather than about the server or our configuration (relay
/// denied, authentication, sender not allowed), which must not cost mails.
fn refuses_this_mail(code: u16, why: &str) -> bool {
    match enhanced_status(why) {
        Some((5, 1, detail)) => matches!(detail, 1 | 2 | 3 | 6 | 10),
        Some((5, 2, _)) | Some((5, 3, 4)) | Some((5, 6, _)) => true,
        Some(_) => false,
        // Without an enhanced code, RFC 5321's mailbox replies.
        None => matches!(code, 550..=553),
    }
}

/// The first `class.subject.detail` enhanced status code in `text`.
fn enhanced_status(text: &str) -> Option<(u8, u16, u16)> {
    text.split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .find_map(|word| {
            let mut parts = word.split('.');
            let class = parts.next()?.parse::<u8>().ok()?;
            let subject = parts.next()?.parse::<u16>().ok()?;
            let detail = parts.next()?.parse::<u16>().ok()?;
            (parts.next().is_none()
                && matches!(class, 2 | 4 | 5)
                && subject < 1000
                && detail < 1000)
                .then_some((class, subject, detail))
        })
}

impl Deliver for Mailer {
    fn deliver(&self, m: &OutboundMail) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send(m)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::config::Endpoint;
    use crate::secret::Secret;
    use crate::system_clock::SystemClock;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::time::Instant;

    #[test]
    fn smtp_failure_classification_table() {
        let outage = |w: &str| SendError::Transient {
            why: w.into(),
            outage: true,
        };
        let later = |w: &str| SendError::Transient {
            why: w.into(),
            outage: false,
        };
        let perm = |w: &str| SendError::Permanent(w.into());
        let cases: Vec<(Option<&str>, &str, SendError)> = vec![
            (
                None,
                "network error: Connection refused",
                outage("network error: Connection refused"),
            ),
            (
                None,
                "tls error: invalid peer certificate",
                outage("tls error: invalid peer certificate"),
            ),
            (
                Some("550"),
                "5.1.1 <x@y>: Recipient address rejected: User unknown",
                perm("5.1.1 <x@y>: Recipient address rejected: User unknown"),
            ),
            (
                Some("552"),
                "5.2.2 mailbox full",
                perm("5.2.2 mailbox full"),
            ),
            (
                Some("552"),
                "5.3.4 Message size exceeds fixed limit",
                perm("5.3.4 Message size exceeds fixed limit"),
            ),
            (
                Some("554"),
                "5.6.0 content rejected",
                perm("5.6.0 content rejected"),
            ),
            (Some("553"), "5.1.10 null MX", perm("5.1.10 null MX")),
            (
                Some("550"),
                "mailbox unavailable",
                perm("mailbox unavailable"),
            ),
            // Configuration or server problems: keep every mail.
            (
                Some("554"),
                "5.7.1 <x@y>: Relay access denied",
                outage("5.7.1 <x@y>: Relay access denied"),
            ),
            (
                Some("553"),
                "5.7.1 <a@b>: Sender address rejected: not owned by user",
                outage("5.7.1 <a@b>: Sender address rejected: not owned by user"),
            ),
            (
                Some("553"),
                "5.1.8 sender domain unknown",
                outage("5.1.8 sender domain unknown"),
            ),
            (
                Some("535"),
                "5.7.8 Error: authentication failed",
                outage("5.7.8 Error: authentication failed"),
            ),
            (
                Some("530"),
                "Authentication required",
                outage("Authentication required"),
            ),
            (
                Some("554"),
                "Transaction failed",
                outage("Transaction failed"),
            ),
            (
                Some("502"),
                "Command not implemented",
                outage("Command not implemented"),
            ),
            (
                Some("421"),
                "4.3.2 Service shutting down",
                outage("4.3.2 Service shutting down"),
            ),
            (
                Some("454"),
                "4.7.0 TLS not available",
                outage("4.7.0 TLS not available"),
            ),
            (Some("450"), "4.2.0 greylisted", later("4.2.0 greylisted")),
            (
                Some("451"),
                "4.3.0 temporary lookup failure",
                later("4.3.0 temporary lookup failure"),
            ),
            (
                Some("452"),
                "4.5.3 too many recipients",
                later("4.5.3 too many recipients"),
            ),
            (Some("nonsense"), "garbled", outage("garbled")),
        ];
        for (code, why, want) in cases {
            assert_eq!(
                classify(code.map(str::to_string), why.to_string()),
                want,
                "{code:?} {why}"
            );
        }
    }

    #[test]
    fn enhanced_status_table() {
        type Status = Option<(u8, u16, u16)>;
        let cases: [(&str, Status); 7] = [
            ("5.1.1 <x>: unknown", Some((5, 1, 1))),
            ("permanent error (550): 5.7.1 denied", Some((5, 7, 1))),
            ("Relay denied 5.7.1", Some((5, 7, 1))),
            ("version 1.2.3 of the server", None),
            ("5.1 short", None),
            ("5.1.1.1 long", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(enhanced_status(text), want, "{text:?}");
        }
    }

    // ---- A scripted SMTP server, to check what lettre reports ----

    /// How the scripted server behaves.
    #[derive(Clone, Copy)]
    enum Script {
        /// Accepts every mail.
        Accept,
        /// Answers RCPT TO with this reply.
        RcptReply(&'static str),
        /// Never says anything.
        Stall,
        /// On the first connection, never answers the end of DATA; later
        /// connections accept.
        StallFirstData,
    }

    /// Serves SMTP on 127.0.0.1 per `script`; returns the port and the
    /// number of messages accepted so far.
    async fn smtp_server(script: Script) -> (u16, Arc<Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0u32));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut connections = 0;
            while let Ok((sock, _)) = listener.accept().await {
                connections += 1;
                let stall_data = matches!(script, Script::StallFirstData) && connections == 1;
                let counter = counter.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    if matches!(script, Script::Stall) {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                if stall_data {
                                    tokio::time::sleep(Duration::from_secs(60)).await;
                                    return;
                                }
                                in_data = false;
                                *counter.lock().unwrap() += 1;
                                w.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match (verb.as_str(), script) {
                            ("EHLO", _) => b"250-test\r\n250 8BITMIME\r\n",
                            ("RCPT", Script::RcptReply(r)) => r.as_bytes(),
                            ("DATA", _) => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            ("QUIT", _) => {
                                w.write_all(b"221 bye\r\n").await.ok();
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        w.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        (port, accepted)
    }

    fn smtp_config(port: u16, tls: TlsMode, ca_file: Option<std::path::PathBuf>) -> SmtpConfig {
        SmtpConfig {
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
                tls,
                ca_file,
            },
            credentials: None,
        }
    }

    fn mailer(port: u16) -> Mailer {
        Mailer::new(
            &smtp_config(port, TlsMode::None, None),
            "Access approvals",
            &addr("approvals@example.test"),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn mailer_reports_what_the_server_said() {
        type Check = fn(&Result<(), SendError>) -> bool;
        let cases: [(&str, Script, Check); 4] = [
            ("accepted", Script::Accept, |r| r.is_ok()),
            (
                "unknown user",
                Script::RcptReply("550 5.1.1 <x>: User unknown\r\n"),
                |r| matches!(r, Err(SendError::Permanent(w)) if w.contains("5.1.1")),
            ),
            (
                "greylisted",
                Script::RcptReply("450 4.2.0 try later\r\n"),
                |r| matches!(r, Err(SendError::Transient { outage: false, .. })),
            ),
            (
                "relay denied",
                Script::RcptReply("554 5.7.1 Relay access denied\r\n"),
                |r| matches!(r, Err(SendError::Transient { outage: true, .. })),
            ),
        ];
        for (name, script, ok) in cases {
            let (port, accepted) = smtp_server(script).await;
            let got = mailer(port).send(&mail(1)).await;
            assert!(ok(&got), "{name}: {got:?}");
            let want = u32::from(matches!(script, Script::Accept));
            assert_eq!(*accepted.lock().unwrap(), want, "{name}");
        }
    }

    #[tokio::test]
    async fn no_server_and_stalled_server_are_outages() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = free.local_addr().unwrap().port();
        drop(free);
        let got = mailer(closed_port).send(&mail(1)).await;
        assert!(
            matches!(got, Err(SendError::Transient { outage: true, .. })),
            "{got:?}"
        );

        let (port, _) = smtp_server(Script::Stall).await;
        let mut m = mailer(port);
        m.send_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let got = m.send(&mail(1)).await;
        assert!(
            matches!(got, Err(SendError::Transient { outage: true, .. })),
            "{got:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the send timeout bounds a stalled server"
        );
    }

    #[tokio::test]
    async fn connection_abandoned_by_the_send_timeout_is_not_reused() {
        let (port, accepted) = smtp_server(Script::StallFirstData).await;
        let mut m = mailer(port);
        m.send_timeout = Duration::from_millis(300);
        let first = m.send(&mail(1)).await;
        assert!(
            matches!(first, Err(SendError::Transient { outage: true, .. })),
            "{first:?}"
        );
        // The worker backs off before retrying; meanwhile lettre would have
        // parked the abandoned connection, and reusing it would time out
        // again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = m.send(&mail(2)).await;
        assert_eq!(second, Ok(()));
        assert_eq!(*accepted.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn mailer_checks_the_ca_file_at_startup() {
        let from = addr("approvals@example.test");
        for tls in [TlsMode::Implicit, TlsMode::StartTls, TlsMode::None] {
            assert!(Mailer::new(
                &smtp_config(465, tls, None),
                "A",
                &from,
                Arc::new(SystemClock)
            )
            .is_ok());
        }
        let not_pem = tempfile::NamedTempFile::new().unwrap();
        for tls in [TlsMode::Implicit, TlsMode::StartTls] {
            let cfg = smtp_config(465, tls, Some(not_pem.path().to_path_buf()));
            let err = Mailer::new(&cfg, "A", &from, Arc::new(SystemClock))
                .err()
                .unwrap();
            assert!(err.contains("no PEM certificate"), "{err}");
        }
        let mut cfg = smtp_config(465, TlsMode::Implicit, None);
        cfg.credentials = Some(("user".into(), Secret::new("hunter2".into())));
        assert!(Mailer::new(&cfg, "A", &from, Arc::new(SystemClock)).is_ok());
    }

    #[test]
    fn smtp_settings_are_checked_as_serve_builds_them() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).unwrap();
        let with = |tls, ca: Option<&std::path::Path>, name: &str| {
            let cfg = smtp_config(465, tls, ca.map(std::path::Path::to_path_buf));
            Mailer::check(&cfg, name, &addr("approvals@example.test"))
        };
        // (case, the check's result, the error wanted or None)
        let cases = [
            ("plain", with(TlsMode::None, None, "A"), None),
            ("system roots", with(TlsMode::Implicit, None, "A"), None),
            ("no name", with(TlsMode::StartTls, None, ""), None),
            (
                "CA file without a certificate",
                with(TlsMode::Implicit, Some(&not_pem), "A"),
                Some("no PEM certificate"),
            ),
        ];
        for (case, got, want) in cases {
            match (got, want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{case}: {e}"),
                (got, _) => panic!("{case}: {got:?}"),
            }
        }
    }

    #[test]
    fn smtp_without_any_trusted_root_is_refused() {
        let none = SystemRoots {
            certs: Vec::new(),
            problems: Vec::new(),
        };
        let err = tls_parameters_with("smtp.example.test", none, None)
            .err()
            .unwrap_or_default();
        assert!(err.contains("no trusted CA certificates"), "{err}");
        let system = SystemRoots::load();
        assert!(tls_parameters_with("smtp.example.test", system, None).is_ok());
    }
}
