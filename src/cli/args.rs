//! What can be typed: the command-line arguments, parsed by clap.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::api::submission::SubmitBody;
use crate::api::views::WindowView;
use crate::domain::ids::{Address, RequestId};

/// approvald: access approvals by email.
#[derive(Debug, Parser)]
#[command(name = "approvald", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
    /// How log lines are written to standard error: `text` (coloured only
    /// on a terminal) or `json` (one object per line, for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// The log line formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon.
    Serve {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a configuration file and exit: 0 when it is valid.
    CheckConfig {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Submit, look up, cancel, revoke and override access requests
    /// through a running daemon.
    Request(RequestCommand),
    /// Ask a running daemon whether a requester may act now.
    Grants(GrantsCommand),
    /// Make API keys for the HTTP listener.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Export and verify the audit trail (sequence numbers, hash chain).
    Audit(AuditCommand),
    /// Create, back up, restore and check the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `approvald config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration as TOML: the file with its
    /// APPROVALD__* environment overrides applied and defaults filled in,
    /// every secret redacted. Secret files are named, never read.
    Show {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `approvald store ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Create a new, empty store at `[store] path` (serve never creates
    /// one: a mistyped path must not start numbering again at AR-1).
    Init {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Write the running daemon's whole store to standard output as
    /// versioned JSON lines, one consistent moment.
    Export {
        /// Which daemon to talk to.
        #[command(flatten)]
        target: Target,
    },
    /// Create the store at `[store] path` from an export (the daemon
    /// stopped, no store there yet); the restored store gets a new
    /// identity.
    Import {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The export to restore.
        file: PathBuf,
    },
    /// Read every record of the store at `[store] path` (the daemon
    /// stopped) and check the audit chain: exit 0 when all is readable.
    Check {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `approvald audit ...`.
#[derive(Debug, Args)]
pub(crate) struct AuditCommand {
    /// Which daemon to talk to.
    #[command(flatten)]
    pub(crate) target: Target,
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: AuditAction,
}

/// The audit commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditAction {
    /// Write the daemon's recorded events as JSON lines, oldest first.
    Export {
        /// The first sequence number to write.
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        since: u64,
    },
    /// Check the hash chain and numbering: of the events the daemon still
    /// holds, or of FILEs (a collector's file of approvald's lines, in
    /// RFC 5424 or JSON format, or an export), read in the order given.
    /// Exit 0 when intact, 1 when anything is missing or altered.
    Verify {
        /// A file to check instead of the daemon's copy; repeat for
        /// rotated files, oldest first.
        #[arg(long = "file", value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `approvald api-key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Print a fresh key (shown once) and the [[api.keys]] lines that
    /// configure it; only its hash goes into the configuration.
    New {
        /// A name for the key, shown in the audit trail.
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_parser = ["integrator", "auditor", "admin"])]
        role: String,
    },
}

/// `approvald grants ...`.
#[derive(Debug, Args)]
pub(crate) struct GrantsCommand {
    /// Which daemon to talk to.
    #[command(flatten)]
    pub(crate) target: Target,
    /// What to ask it.
    #[command(subcommand)]
    pub(crate) action: GrantsAction,
}

/// The grants commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GrantsAction {
    /// Whether REQUESTER may run ACTION on RESOURCE now: exit 0 when
    /// allowed, 1 when denied.
    Check {
        /// Who wants to act.
        #[arg(long, value_name = "ADDRESS")]
        requester: Address,
        /// The privileged action.
        #[arg(long)]
        action: String,
        /// What it applies to.
        #[arg(long)]
        resource: String,
        /// Print the API's JSON instead of a line.
        #[arg(long)]
        json: bool,
    },
}

/// `approvald request ...`: a client of the daemon's API.
#[derive(Debug, Args)]
pub(crate) struct RequestCommand {
    /// Which daemon to talk to.
    #[command(flatten)]
    pub(crate) target: Target,
    /// What to ask it.
    #[command(subcommand)]
    pub(crate) action: RequestAction,
}

/// How the request commands find the daemon's socket.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The daemon's API socket [default: /run/approvald/api.sock].
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "config",
        help_heading = "Connection"
    )]
    pub(crate) socket: Option<PathBuf>,
    /// Read the socket path from this configuration file ([api] socket), so
    /// the CLI follows the daemon's configuration.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Connection")]
    pub(crate) config: Option<PathBuf>,
}

/// The request commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RequestAction {
    /// Submit a request; prints its id.
    // Boxed: the arguments are large and the other variants small.
    Submit(Box<SubmitArgs>),
    /// Show one request.
    Show {
        /// The request id: AR-7 or 7.
        id: RequestId,
        /// Print the API's JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List requests, oldest first, one per line ("my requests" is
    /// --requester ME, "my approvals" --approver ME).
    List(Box<ListArgs>),
    /// Cancel a pending request: its approval mails stop counting.
    Cancel(ActArgs),
    /// Revoke granted access (approved or active) at once.
    Revoke(ActArgs),
    /// Decide a pending request over the approvers (audited as a warning,
    /// mailed to everyone concerned).
    Override {
        #[command(flatten)]
        act: ActArgs,
        /// The decision to impose.
        #[arg(long, value_parser = ["approved", "rejected"])]
        status: String,
    },
}

/// `approvald request list`: filters and output format.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only requests with this status.
    #[arg(long, value_parser = ["pending", "approved", "active", "ended", "rejected", "expired", "cancelled", "revoked"])]
    pub(crate) status: Option<String>,
    /// Only requests by this requester.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) requester: Option<Address>,
    /// Only requests this address is asked to approve.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) approver: Option<Address>,
    /// Only requests for this action.
    #[arg(long)]
    pub(crate) action: Option<String>,
    /// Only requests for this resource.
    #[arg(long)]
    pub(crate) resource: Option<String>,
    /// Only emergency requests (true) or only the others (false).
    #[arg(long, value_name = "BOOL")]
    pub(crate) emergency: Option<bool>,
    /// Only requests created after this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) created_after: Option<DateTime<Utc>>,
    /// Only requests created before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) created_before: Option<DateTime<Utc>>,
    /// How to print them.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub(crate) format: ListFormat,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
}

/// Output formats of `request list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ListFormat {
    /// One line per request.
    Table,
    /// The API's JSON, all pages in one `requests` array.
    Json,
    /// CSV with a header row, as `GET /v1/requests?format=csv` gives it.
    Csv,
}

impl ListArgs {
    /// The filters as query parameters (not yet encoded).
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        [
            ("status", self.status.clone()),
            (
                "requester",
                self.requester.as_ref().map(ToString::to_string),
            ),
            ("approver", self.approver.as_ref().map(ToString::to_string)),
            ("action", self.action.clone()),
            ("resource", self.resource.clone()),
            ("emergency", self.emergency.map(|e| e.to_string())),
            ("created_after", self.created_after.as_ref().map(time)),
            ("created_before", self.created_before.as_ref().map(time)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

/// What every intervention needs: which request, who, and why.
#[derive(Debug, Args)]
pub(crate) struct ActArgs {
    /// The request id: AR-7 or 7.
    pub(crate) id: RequestId,
    /// Who acts, as a person (the local account is recorded too).
    #[arg(long, value_name = "NAME")]
    pub(crate) by: String,
    /// Why.
    #[arg(long)]
    pub(crate) reason: String,
    /// Print the API's JSON instead of the new status.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `approvald request submit`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("until").required(true).args(["end", "duration"])))]
pub(crate) struct SubmitArgs {
    /// Who asks: an email address of a group member.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) requester: String,
    /// The privileged action, e.g. certificate.sign.
    #[arg(long)]
    pub(crate) action: String,
    /// What the action applies to.
    #[arg(long)]
    pub(crate) resource: String,
    /// Why the access is needed.
    #[arg(long)]
    pub(crate) justification: String,
    /// One of the registered reasons.
    #[arg(long)]
    pub(crate) reason: String,
    /// The change or incident ticket.
    #[arg(long, value_name = "CODE")]
    pub(crate) governance_code: String,
    /// Start of the access window, RFC 3339 [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) start: Option<DateTime<Utc>>,
    /// End of the access window, RFC 3339.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) end: Option<DateTime<Utc>>,
    /// Length of the access window instead of --end, e.g. 2h or 90m.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Break-glass access: granted at once where the group allows it, and
    /// every approver is told.
    #[arg(long)]
    pub(crate) emergency: bool,
    /// Print the created request as JSON instead of its id.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2026-11-21T09:00:00Z)"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 2h, 90m)"))?;
    Duration::from_std(d).map_err(|_| format!("{s} is too long"))
}

impl SubmitArgs {
    /// The window asked for: from --start (or `now`) to --end or for --for.
    /// An inverted window is sent as is: the daemon refuses it with a
    /// message naming the field, like any other bad input.
    pub(super) fn window(&self, now: DateTime<Utc>) -> Result<WindowView, String> {
        let start = self.start.unwrap_or(now);
        let end = match (self.end, self.duration) {
            (Some(end), _) => end,
            (None, Some(d)) => start
                .checked_add_signed(d)
                .ok_or_else(|| "the window ends too far in the future".to_owned())?,
            (None, None) => return Err("give --end or --for".to_owned()),
        };
        Ok(WindowView { start, end })
    }

    pub(super) fn body(&self, now: DateTime<Utc>) -> Result<SubmitBody, String> {
        Ok(SubmitBody {
            requester: self.requester.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            justification: self.justification.clone(),
            reason: self.reason.clone(),
            governance_code: self.governance_code.clone(),
            window: self.window(now)?,
            emergency: self.emergency,
        })
    }
}

/// Reads `[api] socket` from a configuration file, with the same environment
/// overrides the daemon applies, so the CLI finds the socket the daemon uses.
pub(crate) fn socket_from_config(path: &Path) -> Result<PathBuf, String> {
    ::config::Config::builder()
        .add_source(::config::File::from(path).format(::config::FileFormat::Toml))
        .add_source(
            ::config::Environment::with_prefix("APPROVALD")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()
        .and_then(|c| c.get_string("api.socket"))
        .map(PathBuf::from)
        .map_err(|e| format!("{}: cannot read [api] socket: {e}", path.display()))
}
