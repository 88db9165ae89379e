//! The command line: the daemon's own commands, and the `request` commands
//! that talk to a running daemon through its API socket.
//!
//! `args` is what can be typed, `requests` runs the request commands over
//! the API client, `render` turns answers into text for people.

mod args;
pub(crate) mod assets;
mod audit;
mod grants;
mod render;
mod requests;
mod store;

use std::io::Write as _;
use std::process::ExitCode;

use crate::api::client::ClientError;
use crate::domain::clock::Clock;
use crate::system_clock::SystemClock;
use render::clean;
use requests::execute;

pub(crate) use args::{
    ApiKeyCommand, AuditCommand, Cli, Command, ConfigCommand, GrantsCommand, LogFormat,
    RequestCommand, StoreCommand,
};

/// Where the API socket is when neither `--socket` nor `--config` says.
pub(crate) const DEFAULT_SOCKET: &str = "/run/approvald/api.sock";

/// Exit code when the daemon answered with an error.
const EXIT_API_ERROR: u8 = 1;
/// Exit code when the daemon cannot be reached (sysexits EX_UNAVAILABLE), so
/// that scripts can tell "try again later" from "your input is wrong".
const EXIT_UNAVAILABLE: u8 = 69;
/// Exit code when the configuration file cannot give the socket path
/// (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

/// Runs a request command and prints its outcome: 0 on success, 1 when the
/// daemon refused or failed, 69 when it cannot be reached, 78 when the
/// configuration file cannot be read.
pub(crate) async fn run_request_command(cmd: RequestCommand) -> ExitCode {
    // Printing ignores errors: a closed pipe (`| head`) must not panic.
    match execute(cmd, SystemClock.now()).await {
        Ok(text) => {
            std::io::stdout().lock().write_all(text.as_bytes()).ok();
            ExitCode::SUCCESS
        }
        Err(f) => {
            std::io::stderr()
                .lock()
                .write_all(f.message.as_bytes())
                .ok();
            ExitCode::from(f.code)
        }
    }
}

/// Runs `grants check`: 0 when allowed, 1 when denied (or the daemon
/// refused the question), 69 when the daemon cannot be reached.
pub(crate) async fn run_grants_command(cmd: GrantsCommand) -> ExitCode {
    match grants::execute(cmd).await {
        Ok((text, allowed)) => {
            std::io::stdout().lock().write_all(text.as_bytes()).ok();
            if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_API_ERROR)
            }
        }
        Err(f) => {
            std::io::stderr()
                .lock()
                .write_all(f.message.as_bytes())
                .ok();
            ExitCode::from(f.code)
        }
    }
}

/// `audit export` and `audit verify`: 0 when done and intact, 1 when the
/// chain is broken or the daemon refused, 69 when it cannot be reached.
pub(crate) async fn run_audit_command(cmd: AuditCommand) -> ExitCode {
    exit_code(audit::execute(cmd, &mut std::io::stdout().lock()).await)
}

/// `store …`: 0 when done, 1 on failure (or problems found), 69 when the
/// daemon cannot be reached, 78 when the configuration cannot be read.
pub(crate) async fn run_store_command(cmd: StoreCommand) -> ExitCode {
    exit_code(store::execute(cmd, &mut std::io::stdout().lock()).await)
}

/// A command that printed its output itself: success, or its failure's
/// message on standard error and its code.
fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // Printing ignores errors: a closed pipe must not panic.
            std::io::stderr()
                .lock()
                .write_all(f.message.as_bytes())
                .ok();
            ExitCode::from(f.code)
        }
    }
}

/// `api-key new`: a fresh random key and its configuration lines.
pub(crate) fn run_api_key_command(cmd: ApiKeyCommand) -> ExitCode {
    let ApiKeyCommand::New { name, role } = cmd;
    let mut random = [0u8; 32];
    if let Err(e) = getrandom::getrandom(&mut random) {
        eprintln!("error: no randomness for a key: {e}");
        return ExitCode::FAILURE;
    }
    let (key, hash) = crate::domain::api_keys::new_key(random);
    let text = format!(
        "key (shown once; give it to the client, keep it nowhere else):\n{key}\n\nadd to the configuration, then reload:\n[[api.keys]]\nname = {name:?}\nrole = {role:?}\nhash = {hash:?}\n"
    );
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
    ExitCode::SUCCESS
}

/// A command's failure: what to tell the user, and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) code: u8,
    pub(super) message: String,
}

impl Failure {
    pub(super) fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Failure {
            code,
            message: format!("error: {}\n", clean(&message.to_string())),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = if e.is_unavailable() {
            EXIT_UNAVAILABLE
        } else {
            EXIT_API_ERROR
        };
        Failure::new(code, e)
    }
}

#[cfg(test)]
mod tests;
