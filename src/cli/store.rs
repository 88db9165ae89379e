//! `approvald store init|export|import|check`.
//!
//! Export goes through the running daemon (sled lets one process open a
//! store); init, import and check open the store themselves and so need
//! the daemon stopped, which sled's lock enforces.

use std::io::Write;
use std::path::Path;

use axum::http::Method;

use super::args::StoreCommand;
use super::requests::socket_of;
use super::{Failure, EXIT_API_ERROR, EXIT_CONFIG};
use crate::api::client::ApiClient;
use crate::config::Config;
use crate::store::Store;

/// Runs `cmd`, printing to `out`.
pub(super) async fn execute(cmd: StoreCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match cmd {
        StoreCommand::Init { config } => {
            let dir = store_path(&config)?;
            let store = Store::init(&dir).map_err(fail)?;
            say(
                out,
                &format!("created store {} in {}", store.id(), dir.display()),
            );
            Ok(())
        }
        StoreCommand::Export { target } => {
            // A large store takes a while to write out.
            let client = ApiClient::new(socket_of(&target)?)
                .with_timeout(std::time::Duration::from_secs(3600));
            let (status, _, bytes) = client
                .call_raw_with_headers(Method::GET, "/v1/store/export")
                .await?;
            if status != 200 {
                return Err(Failure::new(
                    EXIT_API_ERROR,
                    format!(
                        "the daemon refused ({status}): {}",
                        String::from_utf8_lossy(&bytes)
                    ),
                ));
            }
            out.write_all(bytes.as_ref())
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(EXIT_API_ERROR, format!("cannot write: {e}")))
        }
        StoreCommand::Import { config, file } => {
            let dir = store_path(&config)?;
            let f = std::fs::File::open(&file)
                .map_err(|e| Failure::new(EXIT_API_ERROR, format!("{}: {e}", file.display())))?;
            let store = Store::import(&dir, &mut std::io::BufReader::new(f)).map_err(fail)?;
            let report = store.check().map_err(fail)?;
            say(
                out,
                &format!(
                    "restored {} into {} as store {}: {}",
                    file.display(),
                    dir.display(),
                    store.id(),
                    counts(&report.counts)
                ),
            );
            Ok(())
        }
        StoreCommand::Check { config } => {
            let dir = store_path(&config)?;
            let store = Store::open(&dir).map_err(fail)?;
            let report = store.check().map_err(fail)?;
            let mut text = format!(
                "store {} in {}: {}",
                store.id(),
                dir.display(),
                counts(&report.counts)
            );
            if report.problems.is_empty() {
                text.push_str("\nevery record is readable; the audit chain is intact");
                say(out, &text);
                return Ok(());
            }
            for p in &report.problems {
                text.push_str(&format!("\n{p}"));
            }
            say(out, &text);
            Err(Failure::new(
                EXIT_API_ERROR,
                format!("{} problem(s)", report.problems.len()),
            ))
        }
    }
}

fn say(out: &mut dyn Write, text: &str) {
    writeln!(out, "{text}").ok();
}

fn counts(counts: &[(String, u64)]) -> String {
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fail(e: crate::store::StoreError) -> Failure {
    Failure::new(EXIT_API_ERROR, e)
}

/// `[store] path` of the configuration file.
fn store_path(config: &Path) -> Result<std::path::PathBuf, Failure> {
    Config::store_path(config).map_err(|problems| Failure::new(EXIT_CONFIG, problems))
}
