//! The approvald binary run as an operator runs it: a command, its output.

use std::process::{Command, Output, Stdio};

/// Runs `approvald ARGS` to completion, with no standard input and the
/// default log level (a test's `APPROVALD_LOG` must not change what the
/// command prints).
pub(crate) fn approvald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_approvald"))
        .args(args)
        .env_remove("APPROVALD_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("approvald {args:?}: {e}"))
}

/// A command's standard output as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
