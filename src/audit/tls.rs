//! TLS settings for syslog over TLS (RFC 5425): the collector's certificate
//! checked against the trusted roots (plus `[audit] ca_file`), and an
//! optional client certificate for collectors that authenticate senders.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use rustls::ClientConfig;

use crate::mail::tls::{builder, ca_certificates, roots};

/// Client settings for `tls://` targets.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, String> {
    let with_roots = builder()?.with_root_certificates(roots(ca_file)?);
    let config = match identity {
        None => with_roots.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = ca_certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
            with_roots
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
    };
    Ok(Arc::new(config))
}
