//! The SMTP client: pooled, timed connections to the submission server
//! (opened by [`super::connector`], kept by [`super::pool`]), and what its
//! answers mean (this mail refused for good, or the server unavailable for
//! now).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use rustls::pki_types::ServerName;

use super::connector::{lettre_error, Connector, Security};
use super::message::{build_message, from_mailbox};
use super::pool::{Pool, Taken};
use super::worker::Deliver;
use super::SEND_CONCURRENCY;
use crate::config::{SmtpConfig, TlsMode};
use crate::domain::clock::Clock;
use crate::domain::ids::Address;
use crate::mail::tls::{ca_certificates, client_config, SystemRoots};
use crate::records::OutboundMail;

/// How long connecting (TCP, TLS, EHLO, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one whole send may take, connecting included; a server that
/// stalls mid-transaction must not stall the outbox forever.
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

/// The SMTP client: pooled connections to the configured submission
/// server, sending as one fixed From mailbox.
pub(crate) struct Mailer {
    /// Opens connections with TCP_NODELAY, TLS and login as configured.
    connector: Connector,
    /// Idle connections; pooling saves a TLS handshake and login per mail
    /// when several mails go out together.
    pool: Pool,
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
    /// No connection is made until the first send.
    pub(crate) fn new(
        cfg: &SmtpConfig,
        from_name: &str,
        address: &Address,
        clock: Arc<dyn Clock>,
    ) -> Result<Mailer, String> {
        let ep = &cfg.endpoint;
        let (security, from) = Mailer::parts(cfg, from_name, address)?;
        let credentials = cfg
            .credentials
            .as_ref()
            .map(|(user, password)| Credentials::new(user.clone(), password.expose().clone()));
        Ok(Mailer {
            connector: Connector::new(&ep.host, ep.port, security, credentials, CONNECT_TIMEOUT),
            pool: Pool::new(SEND_CONCURRENCY),
            from,
            send_timeout: SEND_TIMEOUT,
            clock,
        })
    }

    /// Builds what [`Mailer::new`] builds from the configuration — TLS
    /// settings (roots, CA file, the host as a TLS name) and the From
    /// address — so that `check-config` refuses what would stop `serve`.
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
    ) -> Result<(Security, Mailbox), String> {
        let ep = &cfg.endpoint;
        let security = match ep.tls {
            TlsMode::None => Security::None,
            TlsMode::Implicit => Security::Implicit {
                config: client_config(ep.ca_file.as_deref())?,
                name: ServerName::try_from(ep.host.clone())
                    .map_err(|e| format!("SMTP host {:?} as a TLS name: {e}", ep.host))?,
            },
            TlsMode::StartTls => {
                Security::StartTls(tls_parameters(&ep.host, ep.ca_file.as_deref())?)
            }
        };
        Ok((security, from_mailbox(from_name, address)?))
    }

    /// Sends one mail and waits for the server's verdict.
    pub(crate) async fn send(&self, m: &OutboundMail) -> Result<(), SendError> {
        let message = build_message(&self.from, m, SystemTime::from(self.clock.now()))?;
        let raw = message.formatted();
        // On timeout the transaction is dropped with its connection, which
        // therefore never returns to the pool half-way through a mail.
        match tokio::time::timeout(self.send_timeout, self.transmit(message.envelope(), &raw)).await
        {
            Err(_) => Err(SendError::Transient {
                why: format!(
                    "no answer from the SMTP server within {} ms",
                    self.send_timeout.as_millis()
                ),
                outage: true,
            }),
            Ok(result) => result,
        }
    }

    /// One SMTP transaction on a pooled or new connection; the connection
    /// goes back to the pool only after a transaction that succeeded (lettre
    /// closes it on any failure).
    async fn transmit(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let mut conn = self.connection().await?;
        conn.send(envelope, raw).await.map_err(lettre_error)?;
        self.pool.put(conn);
        Ok(())
    }

    /// An idle connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, SendError> {
        while let Some(Taken {
            mut conn,
            needs_check,
        }) = self.pool.take()
        {
            if !needs_check || conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        self.connector.connect().await
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
pub(super) fn classify(code: Option<String>, why: String) -> SendError {
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
    use std::sync::Mutex;
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
        let (port, accepted, _) = smtp_server_counting(script).await;
        (port, accepted)
    }

    /// [`smtp_server`], also counting the connections accepted so far.
    async fn smtp_server_counting(script: Script) -> (u16, Arc<Mutex<u32>>, Arc<Mutex<u32>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0u32));
        let counter = accepted.clone();
        let opened = Arc::new(Mutex::new(0u32));
        let opened_counter = opened.clone();
        tokio::spawn(async move {
            let mut connections = 0;
            while let Ok((sock, _)) = listener.accept().await {
                connections += 1;
                *opened_counter.lock().unwrap() += 1;
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
        (port, accepted, opened)
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

    /// Nagle's algorithm held each mail for a delayed ACK (about 40 ms on
    /// Linux) while lettre opened its own sockets: the socket mail goes
    /// over must have it off.
    #[tokio::test]
    async fn the_socket_mail_goes_over_has_tcp_nodelay() {
        let (port, _) = smtp_server(Script::Accept).await;
        for tls in [TlsMode::None, TlsMode::StartTls, TlsMode::Implicit] {
            let m = Mailer::new(
                &smtp_config(port, tls, None),
                "Access approvals",
                &addr("approvals@example.test"),
                Arc::new(SystemClock),
            )
            .unwrap();
            let tcp = m.connector.tcp().await.unwrap();
            assert!(tcp.nodelay().unwrap(), "{tls:?}");
        }
    }

    #[tokio::test]
    async fn mails_in_a_row_share_one_pooled_connection() {
        let (port, accepted, opened) = smtp_server_counting(Script::Accept).await;
        let m = mailer(port);
        for n in 0..20 {
            assert_eq!(m.send(&mail(n)).await, Ok(()), "mail {n}");
        }
        assert_eq!(*accepted.lock().unwrap(), 20);
        assert_eq!(*opened.lock().unwrap(), 1, "one connection for all");
        assert_eq!(m.pool.len(), 1);
    }

    #[tokio::test]
    async fn a_refused_mail_does_not_leave_its_connection_in_the_pool() {
        let (port, _, opened) =
            smtp_server_counting(Script::RcptReply("550 5.1.1 <x>: User unknown\r\n")).await;
        let m = mailer(port);
        for n in 0..2 {
            let got = m.send(&mail(n)).await;
            assert!(matches!(got, Err(SendError::Permanent(_))), "{got:?}");
            assert_eq!(m.pool.len(), 0);
        }
        assert_eq!(*opened.lock().unwrap(), 2);
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
