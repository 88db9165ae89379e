//! Secrets come from files, never from the configuration itself, so that the
//! TOML can be world-readable and secrets can be systemd credentials.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::secret::SecretBytes;

/// Reads a secret from `spec`: a file path, or `credential:NAME` for the file
/// `NAME` in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
pub(crate) fn read_secret(spec: &str) -> Result<SecretBytes, String> {
    read_secret_from(spec, std::env::var_os("CREDENTIALS_DIRECTORY").as_deref())
}

/// [`read_secret`] with the credentials directory given, not read from the
/// environment.
fn read_secret_from(spec: &str, credentials: Option<&OsStr>) -> Result<SecretBytes, String> {
    let path = match spec.strip_prefix("credential:") {
        Some(name) => {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(format!("{spec:?}: a credential name is a plain file name"));
            }
            let dir = credentials.ok_or_else(|| {
                format!(
                    "{spec:?}: $CREDENTIALS_DIRECTORY is not set (is LoadCredential= configured?)"
                )
            })?;
            PathBuf::from(dir).join(name)
        }
        None => PathBuf::from(spec),
    };
    std::fs::read(&path)
        .map(SecretBytes::new)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_files_or_systemd_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("imap"), b"from-credential").unwrap();
        std::fs::write(dir.path().join("plain"), b"from-file").unwrap();
        let creds = Some(dir.path().as_os_str());
        let plain = dir.path().join("plain").display().to_string();
        let read = |spec: &str, creds| read_secret_from(spec, creds).map(|s| s.expose().clone());
        assert_eq!(
            read("credential:imap", creds),
            Ok(b"from-credential".to_vec())
        );
        assert_eq!(read(&plain, None), Ok(b"from-file".to_vec()));
        let refused: &[(&str, Option<&OsStr>, &str)] = &[
            ("credential:imap", None, "CREDENTIALS_DIRECTORY is not set"),
            ("credential:../plain", creds, "plain file name"),
            ("credential:", creds, "plain file name"),
            ("credential:missing", creds, "cannot read"),
            ("/nonexistent/secret", None, "cannot read"),
        ];
        for (spec, creds, why) in refused {
            let err = read(spec, *creds).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }
}
