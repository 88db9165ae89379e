//! TLS client settings for the mail servers and webhook receivers: the
//! system's trusted roots plus, optionally, the certificates of a private CA
//! (`ca_file`, which adds to the system's roots and replaces none of them).
//!
//! The system's roots are read with rustls-native-certs: `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` when set, else the distribution's bundle (on Debian
//! /etc/ssl/certs/ca-certificates.crt, which `update-ca-certificates`
//! maintains), so a CA the operator adds or distrusts there is added or
//! distrusted here too. They are read when the settings are built: at start
//! (and by `check-config`), not on reload.
//!
//! The ring provider is named explicitly: tokio-rustls and lettre could each
//! pull in a different default provider, and rustls refuses to guess when
//! two are compiled in.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// What the system's trust store gave.
pub(crate) struct SystemRoots {
    /// The certificates found (none when the store is missing or empty).
    pub(crate) certs: Vec<CertificateDer<'static>>,
    /// Why some could not be read: the error message when none were found,
    /// since an empty store is otherwise a mystery.
    pub(crate) problems: Vec<String>,
}

impl SystemRoots {
    /// Reads the system's trust store (see the module's documentation).
    pub(crate) fn load() -> SystemRoots {
        let found = rustls_native_certs::load_native_certs();
        SystemRoots {
            certs: found.certs,
            problems: found.errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The error when neither the system nor `ca_file` gives a root: every
    /// server certificate would be refused, so it is refused at start.
    pub(crate) fn none_trusted(&self) -> String {
        let why = if self.problems.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.problems.join("; "))
        };
        format!(
            "no trusted CA certificates: the system store has none{why} and no ca_file is set; install ca-certificates (or point SSL_CERT_FILE at a bundle), or set ca_file"
        )
    }
}

/// Client settings for IMAP and webhooks (tokio-rustls): the system's roots
/// plus every certificate in `ca_file`, TLS 1.2 and 1.3, no client
/// certificate.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    client_config_with(SystemRoots::load(), ca_file)
}

/// [`client_config`] with the system's roots given.
fn client_config_with(
    system: SystemRoots,
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, String> {
    let config = builder()?
        .with_root_certificates(roots_with(system, ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The trusted roots: the system's plus every certificate in `ca_file`;
/// none at all is an error.
pub(crate) fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    roots_with(SystemRoots::load(), ca_file)
}

fn roots_with(system: SystemRoots, ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    // Leniently: one odd certificate in a distribution's bundle must not
    // stop the daemon, and it could not have verified anything anyway.
    roots.add_parsable_certificates(system.certs.iter().cloned());
    if let Some(path) = ca_file {
        for cert in ca_certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err(system.none_trusted());
    }
    Ok(roots)
}

/// A client configuration builder with the ring provider and TLS 1.2/1.3.
pub(crate) fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, String>
{
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))
}

/// The certificates in the PEM file `path`.
///
/// A file without any certificate is refused: it is a misconfiguration (a
/// key file, a DER file, the wrong path) that would otherwise surface only
/// as a puzzling verification failure at the first connection.
pub(crate) fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = || path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", shown()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", shown()))?;
    if certs.is_empty() {
        return Err(format!("{}: contains no PEM certificate", shown()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{PrivateKeyDer, ServerName};
    use rustls::{ClientConnection, ServerConfig, ServerConnection};
    use std::io::Write;

    /// A throwaway test CA (self-signed, P-256, valid until 2126).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBkDCCATWgAwIBAgIUeyDwOe6ZNqEwJ1z/bFuN8p0sLDcwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVGVzdCBDQSBhcHByb3ZhbGQwIBcNMjYxMTIxMDcwMzM0WhgP
MjEyNjEwMjgwNzAzMzRaMBwxGjAYBgNVBAMMEVRlc3QgQ0EgYXBwcm92YWxkMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECyeSRb3ovSj0HNj0rLVDSEtUzHgbmvy8
kvP5sih5mQilpBthgNGRr2yjx6K+Yn0yjXI1O1BjPeF8XLlXjAJaiaNTMFEwHQYD
VR0OBBYEFH9ekEJzPtQVfNox6AGsbPci6iyXMB8GA1UdIwQYMBaAFH9ekEJzPtQV
fNox6AGsbPci6iyXMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIh
ALfYPrLGvkcJVqx32WckaERTTJplsfvtkF0qWQO5ui7bAiEAi3YuDyZVO44xGCQZ
Y8zynW+XPokdtMZ+ZhOHEgZlZCg=
-----END CERTIFICATE-----
";

    /// A server certificate for mail.example.test signed by `TEST_CA`.
    const TEST_LEAF: &str = "-----BEGIN CERTIFICATE-----
MIIByzCCAXGgAwIBAgIUTuovGQ5+5QEv2DobUuV2Eo0aqlcwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVGVzdCBDQSBhcHByb3ZhbGQwIBcNMjYxMTIxMDcwMzQxWhgP
MjEyNjEwMjgwNzAzNDFaMBwxGjAYBgNVBAMMEW1haWwuZXhhbXBsZS50ZXN0MFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEiY0vtVtI/Qkhy6CBUPnI0hsRIPXNUHiw
jRxm6c1T/kl10Wy+CykoIn5QvqVvjCjlgcvT1f2Co3eLxoTX0NpUgaOBjjCBizAc
BgNVHREEFTATghFtYWlsLmV4YW1wbGUudGVzdDAJBgNVHRMEAjAAMAsGA1UdDwQE
AwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQUyprX1cSHOAFB8uPY
x3qqhg2mOtMwHwYDVR0jBBgwFoAUf16QQnM+1BV82jHoAaxs9yLqLJcwCgYIKoZI
zj0EAwIDSAAwRQIhAOX4dpJn/elNGkYW8WF/kwMXMqGwADCiWSSCpsBdTgOnAiAQ
6Qq2rBibppD/aveC9mF00dVvaCA6ECBdg8rq4mwyJw==
-----END CERTIFICATE-----
";

    /// The throwaway key of `TEST_LEAF`; it protects nothing.
    const TEST_LEAF_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglkagHDxAKnWnwm6W
QecCM/lUPfkJT3mBYEOc5paVVPahRANCAASJjS+1W0j9CSHLoIFQ+cjSGxEg9c1Q
eLCNHGbpzVP+SXXRbL4LKSgiflC+pW+MKOWBy9PV/YKjd4vGhNfQ2lSB
-----END PRIVATE KEY-----
";

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    /// Runs a TLS handshake in memory between a client using `client` and a
    /// server presenting `TEST_LEAF`.
    fn handshake(client: Arc<ClientConfig>) -> Result<(), rustls::Error> {
        let key = PrivateKeyDer::from_pem_slice(TEST_LEAF_KEY.as_bytes()).unwrap();
        let chain = vec![CertificateDer::from_pem_slice(TEST_LEAF.as_bytes()).unwrap()];
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        let mut s = ServerConnection::new(Arc::new(server)).unwrap();
        let name = ServerName::try_from("mail.example.test").unwrap();
        let mut c = ClientConnection::new(client, name).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    fn system(certs: &[&str], problems: &[&str]) -> SystemRoots {
        SystemRoots {
            certs: certs
                .iter()
                .map(|pem| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
                .collect(),
            problems: problems.iter().map(ToString::to_string).collect(),
        }
    }

    /// How a server certificate from `TEST_CA` fares.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Trusted,
        Refused,
        NoRootsAtAll,
    }

    #[test]
    fn roots_come_from_the_system_store_and_ca_file_adds_to_them() {
        let ca = file(TEST_CA);
        let other_ca = file(TEST_LEAF);
        let cases: [(&str, SystemRoots, Option<&Path>, Outcome); 6] = [
            (
                "CA only in the system store",
                system(&[TEST_CA], &[]),
                None,
                Outcome::Trusted,
            ),
            (
                "CA only in ca_file",
                system(&[TEST_LEAF], &[]),
                Some(ca.path()),
                Outcome::Trusted,
            ),
            (
                "empty system store, CA in ca_file",
                system(&[], &[]),
                Some(ca.path()),
                Outcome::Trusted,
            ),
            (
                "CA nowhere",
                system(&[TEST_LEAF], &[]),
                None,
                Outcome::Refused,
            ),
            (
                "CA nowhere, another in ca_file",
                system(&[TEST_LEAF], &[]),
                Some(other_ca.path()),
                Outcome::Refused,
            ),
            (
                "no roots at all",
                system(&[], &[]),
                None,
                Outcome::NoRootsAtAll,
            ),
        ];
        for (case, system, ca_file, want) in cases {
            let got = match client_config_with(system, ca_file) {
                Err(e) => {
                    assert!(e.contains("no trusted CA certificates"), "{case}: {e}");
                    Outcome::NoRootsAtAll
                }
                Ok(config) => match handshake(config) {
                    Ok(()) => Outcome::Trusted,
                    Err(rustls::Error::InvalidCertificate(_)) => Outcome::Refused,
                    Err(e) => panic!("{case}: {e:?}"),
                },
            };
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn an_empty_system_store_is_explained() {
        let err = client_config_with(system(&[], &["/etc/ssl/certs: Permission denied"]), None)
            .err()
            .unwrap_or_default();
        for wanted in ["no ca_file is set", "Permission denied", "ca-certificates"] {
            assert!(err.contains(wanted), "{wanted}: {err}");
        }
    }

    /// The machine running the tests has a system store (ca-certificates,
    /// installed by scripts/install-deps); this is the path production takes.
    #[test]
    fn the_system_store_of_this_machine_is_read() {
        let roots = SystemRoots::load();
        assert!(
            roots.certs.len() > 10,
            "{} roots: {:?}",
            roots.certs.len(),
            roots.problems
        );
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn several_certificates_in_one_file_are_all_read() {
        let ca = file(&format!("{TEST_LEAF}\n{TEST_CA}"));
        assert_eq!(ca_certificates(ca.path()).unwrap().len(), 2);
        assert_eq!(handshake(client_config(Some(ca.path())).unwrap()), Ok(()));
    }

    #[test]
    fn unusable_ca_files_are_refused_with_the_path() {
        let missing = std::path::PathBuf::from("/nonexistent/ca.pem");
        let key_only = file(TEST_LEAF_KEY);
        let empty = file("");
        let truncated = file(&TEST_CA[..TEST_CA.len() - 30]);
        let garbage_der = file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let cases: [(&str, &Path, &str); 5] = [
            ("missing file", &missing, "No such file"),
            (
                "key instead of certificate",
                key_only.path(),
                "no PEM certificate",
            ),
            ("empty file", empty.path(), "no PEM certificate"),
            (
                "truncated PEM",
                truncated.path(),
                "not a PEM certificate file",
            ),
            (
                "not a certificate inside",
                garbage_der.path(),
                "not a usable CA certificate",
            ),
        ];
        for (name, path, want) in cases {
            let err = client_config(Some(path)).err().unwrap_or_default();
            assert!(err.contains(want), "{name}: {err}");
            assert!(err.contains(&path.display().to_string()), "{name}: {err}");
        }
    }
}
