//! approvald: access approvals by email.
//!
//! The crate is a daemon; this library exists so that the binary, the
//! benchmarks and the fuzz targets share one build of the code. Everything
//! is crate-private except [`run`] and the [`entry`] points.

mod api;
mod approvals;
mod audit;
mod backoff;
mod cli;
mod config;
mod daemon;
mod domain;
pub mod entry;
mod health;
mod http;
mod mail;
mod metrics;
mod records;
mod secret;
mod shutdown;
mod store;
mod system_clock;
mod webhooks;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, LogFormat};
use crate::config::Config;

/// Exit code for an invalid configuration (as `check-config` documents).
const EXIT_CONFIG: u8 = 2;

/// Log lines: to journald with structured fields when systemd connected
/// standard error to the journal (`JOURNAL_STREAM` names it), else to
/// standard error, coloured only when it is a terminal (a log file must not
/// fill with escape codes), or JSON.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("APPROVALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if format == LogFormat::Text && stderr_is_the_journal() {
        if let Ok(journal) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(filter)
                .with(journal.with_syslog_identifier("approvald".into()))
                .init();
            return;
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// Whether standard error is the journal stream systemd set up: its
/// device and inode are the ones `JOURNAL_STREAM` names (a child whose
/// stderr was redirected inherits the variable but not the stream).
fn stderr_is_the_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    names_stream(&stream.to_string_lossy(), meta.dev(), meta.ino())
}

/// Whether `JOURNAL_STREAM`'s `DEVICE:INODE` is `dev`:`ino`.
fn names_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    journal_stream
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((dev, ino))
}

/// Runs the command line: what `main` does.
pub fn run() -> ExitCode {
    let matches = cli::assets::with_generate_command(Cli::command()).get_matches();
    if let Some(dir) = cli::assets::generate_requested(&matches) {
        return match cli::assets::generate(&dir) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("approvald: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("approvald: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config)
            .map_err(|problems| problems.to_string())
            .and_then(|c| daemon::check(c).map_err(|e| format!("{e}\n")))
        {
            Ok(()) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprint!("{problems}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Serve { config } => {
            let path = config;
            let config = match Config::load(&path) {
                Ok(c) => c,
                Err(problems) => {
                    eprint!("{problems}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            match runtime.block_on(daemon::run(config, &path)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("approvald: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Request(cmd) => runtime.block_on(cli::run_request_command(cmd)),
        Command::Grants(cmd) => runtime.block_on(cli::run_grants_command(cmd)),
        Command::Audit(cmd) => runtime.block_on(cli::run_audit_command(cmd)),
        Command::Store(cmd) => runtime.block_on(cli::run_store_command(cmd)),
        Command::ApiKey(cmd) => cli::run_api_key_command(cmd),
        Command::Config(cli::ConfigCommand::Show { config }) => match config::show(&config) {
            Ok(text) => {
                use std::io::Write as _;
                // A closed pipe (`| head`) is not an error worth a panic.
                std::io::stdout().lock().write_all(text.as_bytes()).ok();
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprint!("{problems}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::names_stream;

    #[test]
    fn journal_stream_must_name_this_very_stream() {
        let cases = [
            ("8:12345", 8, 12345, true),
            ("8:12345", 8, 12346, false),
            ("9:12345", 8, 12345, false),
            ("8:12345:1", 8, 12345, false),
            ("", 8, 12345, false),
            ("x:y", 8, 12345, false),
        ];
        for (var, dev, ino, want) in cases {
            assert_eq!(names_stream(var, dev, ino), want, "{var}");
        }
    }
}
