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

/// Log lines to standard error: coloured only when it is a terminal (a
/// journal or a log file must not fill with escape codes), or JSON.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("APPROVALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
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
