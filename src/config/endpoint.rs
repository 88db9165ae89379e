//! Mail server endpoints and secret files: where a server is, whether the
//! way to it is protected, and whether a key file is private.

use std::path::{Path, PathBuf};

use super::{Endpoint, Problems, TlsMode};

/// Whether `host` is this machine, where clear text never crosses a network.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a key file that anyone but its owner may read or write: a token
/// key lets its holder approve anything. systemd credentials
/// (`credential:NAME`) are private by construction and not checked.
pub(super) fn private_file(spec: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if spec.starts_with("credential:") {
        return Ok(());
    }
    let mode = std::fs::metadata(spec)
        .map_err(|e| format!("cannot read {spec}: {e}"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{spec} is accessible to group or others (mode {:o}); make it private: chmod 600 {spec}",
            mode & 0o777
        ));
    }
    Ok(())
}

pub(super) fn endpoint(
    p: &mut Problems,
    section: &str,
    host: String,
    port: u16,
    (tls, allow_plaintext): (&str, bool),
    ca_file: Option<String>,
) -> Option<Endpoint> {
    if host.trim().is_empty() {
        p.push(&format!("{section}.host"), "must not be empty");
    }
    if port == 0 {
        p.push(&format!("{section}.port"), "must not be 0");
    }
    let tls = match tls {
        "implicit" => TlsMode::Implicit,
        "starttls" => TlsMode::StartTls,
        "none" if !allow_plaintext && !is_loopback(&host) => {
            p.push(
                &format!("{section}.tls"),
                format!(
                    "\"none\" sends passwords and approvals in clear text to {host}; use \"implicit\" or \"starttls\", or set {section}.allow_plaintext = true if the network is trusted"
                ),
            );
            return None;
        }
        "none" => TlsMode::None,
        other => {
            p.push(
                &format!("{section}.tls"),
                format!("{other:?} is not one of \"implicit\", \"starttls\", \"none\""),
            );
            return None;
        }
    };
    // The name the certificate is checked against: a host that cannot be one
    // would otherwise fail every connection, long after the start.
    if tls != TlsMode::None
        && !host.trim().is_empty()
        && rustls::pki_types::ServerName::try_from(host.as_str()).is_err()
    {
        p.push(
            &format!("{section}.host"),
            format!(
                "{host:?} is not a name a TLS certificate can carry (a DNS name or an IP address)"
            ),
        );
    }
    if let Some(ca) = &ca_file {
        if !Path::new(ca).is_file() {
            p.push(
                &format!("{section}.ca_file"),
                format!("{ca} is not a readable file"),
            );
        }
    }
    Some(Endpoint {
        host,
        port,
        tls,
        ca_file: ca_file.map(PathBuf::from),
    })
}
