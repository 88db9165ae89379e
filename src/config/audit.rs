//! `[audit]`: where the trail goes, in which format, and how a TLS
//! collector is trusted.

use std::path::PathBuf;
use std::sync::Arc;

use super::endpoint::private_file;
use super::raw::RawAudit;
use super::Problems;
use crate::audit::format::{Format, DOCUMENTATION_ENTERPRISE};
use crate::audit::rfc5424::Facility;
use crate::audit::SyslogTarget;

/// The validated `[audit]` section.
#[derive(Debug, Clone)]
pub(crate) struct AuditConfig {
    /// Where lines go.
    pub(crate) target: SyslogTarget,
    /// Which line format.
    pub(crate) format: Format,
    /// The private enterprise number in approvald's SD-ID.
    pub(crate) enterprise: u32,
    /// The syslog facility of every line.
    pub(crate) facility: Facility,
    /// TLS settings, loaded now so that a bad CA or key file stops the
    /// configuration instead of the first connection; only for `tls://`.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

pub(super) fn audit(p: &mut Problems, raw: RawAudit) -> Option<AuditConfig> {
    let target = p.check("audit.syslog", raw.syslog.parse::<SyslogTarget>());
    let format = match raw.format.as_deref() {
        None => Some(Format::default()),
        Some(f) => p.check("audit.format", f.parse::<Format>()),
    };
    let facility = match raw.facility.as_deref() {
        None => Some(Facility::default()),
        Some(f) => p.check("audit.facility", f.parse::<Facility>()),
    };
    let enterprise = raw.enterprise_number.unwrap_or(DOCUMENTATION_ENTERPRISE);
    if enterprise == 0 {
        p.push(
            "audit.enterprise_number",
            "must be a private enterprise number (IANA), not 0",
        );
    }
    let identity = match (&raw.client_cert_file, &raw.client_key_file) {
        (Some(cert), Some(key)) => {
            p.check("audit.client_key_file", private_file(key));
            Some((PathBuf::from(cert), PathBuf::from(key)))
        }
        (None, None) => None,
        _ => {
            p.push(
                "audit.client_cert_file",
                "client_cert_file and client_key_file go together",
            );
            None
        }
    };
    let is_tls = matches!(target, Some(SyslogTarget::Tls(_)));
    let tls = if is_tls {
        p.check(
            "audit",
            crate::audit::tls::client_config(
                raw.ca_file.as_deref().map(std::path::Path::new),
                identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            ),
        )
    } else {
        if raw.ca_file.is_some() || identity.is_some() {
            // The operator believes the trail is protected: say it is not.
            p.push(
                "audit.ca_file",
                "TLS settings apply only to a tls:// syslog target; this one is not encrypted",
            );
        }
        None
    };
    Some(AuditConfig {
        target: target?,
        format: format?,
        enterprise,
        facility: facility?,
        tls: if is_tls { Some(tls?) } else { None },
    })
}
