//! TLS client settings for the mail servers: the Mozilla root certificates
//! plus, optionally, the certificates of a private CA.
//!
//! The ring provider is named explicitly: tokio-rustls and lettre could each
//! pull in a different default provider, and rustls refuses to guess when
//! two are compiled in.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Client settings for IMAP (tokio-rustls): Mozilla roots plus every
/// certificate in `ca_file`, TLS 1.2 and 1.3, no client certificate.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let config = builder()?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The trusted roots: the default roots plus every certificate in
/// `ca_file`.
pub(crate) fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in ca_certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
        }
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

    #[test]
    fn private_ca_in_ca_file_is_trusted() {
        let ca = file(TEST_CA);
        let config = client_config(Some(ca.path())).unwrap();
        assert_eq!(handshake(config), Ok(()));
    }

    #[test]
    fn server_from_unknown_ca_is_refused_without_ca_file() {
        let config = client_config(None).unwrap();
        let err = handshake(config).unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
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
