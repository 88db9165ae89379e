//! Secrets come from files, never from the configuration itself, so that the
//! TOML can be world-readable and secrets can be systemd credentials.

use crate::secret::SecretBytes;

/// Reads a secret from `spec`: a file path, or `credential:NAME` for the file
/// `NAME` in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
pub(crate) fn read_secret(spec: &str) -> Result<SecretBytes, String> {
    let path = match spec.strip_prefix("credential:") {
        Some(name) => {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(format!("{spec:?}: a credential name is a plain file name"));
            }
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                format!(
                    "{spec:?}: $CREDENTIALS_DIRECTORY is not set (is LoadCredential= configured?)"
                )
            })?;
            std::path::Path::new(&dir).join(name)
        }
        None => std::path::PathBuf::from(spec),
    };
    std::fs::read(&path)
        .map(SecretBytes::new)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}
