//! The command line: the daemon's own commands, and the `request` commands
//! that talk to a running daemon through its API socket.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand};
use hyper::Method;
use serde_json::Value;

use crate::domain::clock::Clock;

use crate::system_clock::SystemClock;

use crate::api::client::{ApiClient, ClientError};
use crate::api::dto::{ErrorBody, ListView, RequestView, SubmitBody, WindowView};
use crate::domain::ids::{Address, RequestId};

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

/// approvald: access approvals by email.
#[derive(Debug, Parser)]
#[command(name = "approvald", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
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
    /// Submit and look up access requests through a running daemon.
    Request(RequestCommand),
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
    /// List requests, oldest first, one per line.
    List {
        /// Only requests with this status.
        #[arg(long, value_parser = ["pending", "approved", "rejected", "expired"])]
        status: Option<String>,
        /// Only requests by this requester.
        #[arg(long, value_name = "ADDRESS")]
        requester: Option<Address>,
        /// Print the API's JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
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
    /// Print the created request as JSON instead of its id.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
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
    fn window(&self, now: DateTime<Utc>) -> Result<WindowView, String> {
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

    fn body(&self, now: DateTime<Utc>) -> Result<SubmitBody, String> {
        Ok(SubmitBody {
            requester: self.requester.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            justification: self.justification.clone(),
            reason: self.reason.clone(),
            governance_code: self.governance_code.clone(),
            window: self.window(now)?,
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

/// Runs a request command and prints its outcome: 0 on success, 1 when the
/// daemon refused or failed, 69 when it cannot be reached, 78 when the
/// configuration file cannot be read.
pub(crate) async fn run_request_command(cmd: RequestCommand) -> ExitCode {
    // Printing ignores errors: a closed pipe (`| head`) must not panic.
    match execute(cmd, SystemClock.now()).await {
        Ok(text) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(f) => {
            let _ = std::io::stderr().lock().write_all(f.message.as_bytes());
            ExitCode::from(f.code)
        }
    }
}

/// A command's failure: what to tell the user, and the exit code.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl std::fmt::Display) -> Self {
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

/// Runs `cmd` at time `now`, returning what to print on stdout.
async fn execute(cmd: RequestCommand, now: DateTime<Utc>) -> Result<String, Failure> {
    let socket = match (&cmd.target.socket, &cmd.target.config) {
        (Some(socket), _) => socket.clone(),
        (None, Some(config)) => {
            socket_from_config(config).map_err(|e| Failure::new(EXIT_CONFIG, e))?
        }
        (None, None) => PathBuf::from(DEFAULT_SOCKET),
    };
    let client = ApiClient::new(socket);
    match cmd.action {
        RequestAction::Submit(args) => {
            let body = args
                .body(now)
                .map_err(|e| Failure::new(EXIT_API_ERROR, e))?;
            let body = serde_json::to_value(body).map_err(|e| Failure::new(EXIT_API_ERROR, e))?;
            let answer = expect(
                client
                    .call(Method::POST, "/v1/requests", Some(body))
                    .await?,
            )?;
            if args.json {
                return pretty(&answer);
            }
            let view = request_view(answer)?;
            Ok(format!("{}\n", clean(&view.id)))
        }
        RequestAction::Show { id, json } => {
            let answer = expect(
                client
                    .call(Method::GET, &format!("/v1/requests/{id}"), None)
                    .await?,
            )?;
            if json {
                return pretty(&answer);
            }
            Ok(summary(&request_view(answer)?))
        }
        RequestAction::List {
            status,
            requester,
            json,
        } => {
            let mut query = Vec::new();
            if let Some(s) = status {
                query.push(format!("status={}", percent_encode(&s)));
            }
            if let Some(a) = requester {
                query.push(format!("requester={}", percent_encode(a.as_str())));
            }
            // The API answers in pages; the CLI lists them all.
            let mut all: Vec<serde_json::Value> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut page_query = query.clone();
                if let Some(c) = &cursor {
                    page_query.push(format!("cursor={}", percent_encode(c)));
                }
                let path = match page_query.is_empty() {
                    true => "/v1/requests".to_owned(),
                    false => format!("/v1/requests?{}", page_query.join("&")),
                };
                let answer = expect(client.call(Method::GET, &path, None).await?)?;
                let list: ListView = serde_json::from_value(answer.clone())
                    .map_err(|e| Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}")))?;
                if let Some(requests) = answer.get("requests").and_then(|r| r.as_array()) {
                    all.extend(requests.iter().cloned());
                }
                match list.next_cursor {
                    Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => break,
                }
            }
            if json {
                return pretty(&serde_json::json!({ "requests": all }));
            }
            let views: Vec<RequestView> = all
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()
                .map_err(|e| Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}")))?;
            Ok(views.iter().map(line).collect())
        }
    }
}

/// The answer's body when the status is a success, or the failure it reports.
fn expect((status, body): (u16, Value)) -> Result<Value, Failure> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let Ok(e) = serde_json::from_value::<ErrorBody>(body) else {
        return Err(Failure::new(
            EXIT_API_ERROR,
            format!("approvald answered {status}"),
        ));
    };
    let mut f = Failure::new(EXIT_API_ERROR, &e.error);
    for fe in &e.errors {
        let _ = writeln!(f.message, "  {}: {}", clean(&fe.field), clean(&fe.error));
    }
    if e.errors.is_empty() {
        if let Some(field) = &e.field {
            let _ = writeln!(f.message, "  (field: {})", clean(field));
        }
    }
    Err(f)
}

fn request_view(answer: Value) -> Result<RequestView, Failure> {
    serde_json::from_value(answer)
        .map_err(|e| Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}")))
}

fn pretty(v: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Failure::new(EXIT_API_ERROR, e))
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn window(w: &WindowView) -> String {
    format!("{} to {}", time(&w.start), time(&w.end))
}

/// One line of `request list`.
fn line(r: &RequestView) -> String {
    format!(
        "{}  {}  {}/{}  {}  {}  {}  {}\n",
        clean(&r.id),
        clean(&r.status),
        r.level,
        r.levels,
        clean(&r.requester),
        clean(&r.action),
        clean(&r.resource),
        window(&r.window),
    )
}

/// The human summary of `request show`.
fn summary(r: &RequestView) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {}  level {}/{}",
        clean(&r.id),
        clean(&r.status),
        r.level,
        r.levels
    );
    let mut field = |name: &str, value: String| {
        let _ = writeln!(s, "  {:<15} {}", format!("{name}:"), value);
    };
    field("requester", clean(&r.requester));
    field("action", clean(&r.action));
    field("resource", clean(&r.resource));
    field("reason", clean(&r.reason));
    field("governance", clean(&r.governance_code));
    field("group", clean(&r.group));
    field("justification", clean(&r.justification));
    field("window", window(&r.window));
    if r.granted_window != r.window {
        field("granted", window(&r.granted_window));
    }
    field("created", time(&r.created_at));
    field("deadline", time(&r.deadline));
    if let Some(closed) = &r.closed_at {
        field("closed", time(closed));
    }
    if r.decisions.is_empty() {
        field("decisions", "none".to_owned());
    } else {
        field("decisions", String::new());
    }
    for d in &r.decisions {
        let _ = write!(
            s,
            "    level {}  {:<10}  {}  {}  via {}",
            d.level,
            clean(&d.verb),
            clean(&d.approver),
            time(&d.at),
            clean(&d.channel)
        );
        if let Some(w) = &d.window {
            let _ = write!(s, "  window {}", window(w));
        }
        if !d.comment.is_empty() {
            let _ = write!(s, "  \"{}\"", clean(&d.comment));
        }
        s.push('\n');
    }
    s
}

/// Makes text from the daemon safe to print on a terminal: control
/// characters (which could move the cursor or rewrite earlier lines, and
/// comments come from mail anyone can send) and bidirectional overrides are
/// shown escaped.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_terminal_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that act on a terminal instead of showing: controls, and
/// the overrides that reverse the order in which text is displayed.
fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Percent-encodes a query value: everything but unreserved characters, so
/// that `+` in an address is not read as a space.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{Mode, Server};
    use clap::CommandFactory;
    use proptest::prelude::*;

    const SUBMIT: &[&str] = &[
        "approvald",
        "request",
        "submit",
        "--requester",
        "dave@example.test",
        "--action",
        "certificate.sign",
        "--resource",
        "web-01",
        "--justification",
        "expiring",
        "--reason",
        "Incident",
        "--governance-code",
        "CHG-9",
    ];

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(args)
    }

    fn submit_with(extra: &[&str]) -> Vec<String> {
        SUBMIT.iter().chain(extra).map(|s| s.to_string()).collect()
    }

    fn request(args: &[String]) -> RequestCommand {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Request(r) => r,
            other => panic!("not a request command: {other:?}"),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_line_table() {
        let ok: &[&[&str]] = &[
            &[
                "approvald",
                "serve",
                "--config",
                "/etc/approvald/approvald.toml",
            ],
            &["approvald", "check-config", "--config", "a.toml"],
            &["approvald", "request", "show", "AR-7"],
            &[
                "approvald",
                "request",
                "show",
                "7",
                "--json",
                "--socket",
                "/run/approvald/api.sock",
            ],
            &[
                "approvald",
                "request",
                "--config",
                "a.toml",
                "list",
                "--status",
                "pending",
            ],
            &[
                "approvald",
                "request",
                "list",
                "--requester",
                "dave@example.test",
                "--json",
            ],
        ];
        for args in ok {
            assert!(parse(args).is_ok(), "{args:?}: {:?}", parse(args).err());
        }
        let bad: &[&[&str]] = &[
            &["approvald", "serve"],
            &["approvald", "request", "show", "AR-x"],
            &["approvald", "request", "list", "--status", "open"],
            &["approvald", "request", "list", "--requester", "dave"],
            &[
                "approvald",
                "request",
                "list",
                "--socket",
                "s",
                "--config",
                "c",
            ],
        ];
        for args in bad {
            assert!(parse(args).is_err(), "{args:?} was accepted");
        }
        let submit_bad: &[&[&str]] = &[
            &[],
            &["--end", "2026-11-21T12:00:00Z", "--for", "2h"],
            &["--end", "tomorrow"],
            &["--for", "a while"],
            &["--start", "2026-11-21 10:00", "--for", "2h"],
        ];
        for extra in submit_bad {
            assert!(
                Cli::try_parse_from(submit_with(extra)).is_err(),
                "{extra:?} was accepted"
            );
        }
    }

    #[test]
    fn submit_window_from_end_or_duration() {
        let now = at("2026-11-21T09:00:00Z");
        let cases: &[(&[&str], (&str, &str))] = &[
            (
                &["--for", "2h"],
                ("2026-11-21T09:00:00Z", "2026-11-21T11:00:00Z"),
            ),
            (
                &["--start", "2026-11-21T10:00:00+01:00", "--for", "90m"],
                ("2026-11-21T09:00:00Z", "2026-11-21T10:30:00Z"),
            ),
            (
                &[
                    "--start",
                    "2026-11-21T10:00:00Z",
                    "--end",
                    "2026-11-21T12:00:00Z",
                ],
                ("2026-11-21T10:00:00Z", "2026-11-21T12:00:00Z"),
            ),
        ];
        for (extra, (start, end)) in cases {
            let RequestAction::Submit(args) = request(&submit_with(extra)).action else {
                panic!("not submit");
            };
            let w = args.window(now).unwrap();
            assert_eq!((w.start, w.end), (at(start), at(end)), "{extra:?}");
        }
    }

    #[test]
    fn socket_comes_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("approvald.conf");
        std::fs::write(&config, "reasons = []\n[api]\nsocket = \"/srv/a.sock\"\n").unwrap();
        assert_eq!(
            socket_from_config(&config),
            Ok(PathBuf::from("/srv/a.sock"))
        );
        std::fs::write(&config, "[store]\npath = \"/x\"\n").unwrap();
        assert!(socket_from_config(&config)
            .unwrap_err()
            .contains("api.socket"));
        assert!(socket_from_config(&dir.path().join("missing.toml")).is_err());
    }

    async fn run(server: &Server, args: &[&str]) -> Result<String, Failure> {
        let socket = server.socket.to_string_lossy().into_owned();
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--socket".to_owned(), socket]);
        execute(request(&all), at("2026-11-21T09:00:00Z")).await
    }

    #[tokio::test]
    async fn submit_prints_the_id_or_the_json() {
        let server = Server::start(Mode::Working).await;
        let args = submit_with(&["--start", "2026-11-21T10:00:00Z", "--for", "2h"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(run(&server, &args).await, Ok("AR-8\n".to_owned()));
        let mut json_args = args.clone();
        json_args.push("--json");
        let out = run(&server, &json_args).await.unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"], "AR-9");
        assert_eq!(v["window"]["end"], "2026-11-21T12:00:00Z");
    }

    #[tokio::test]
    async fn show_and_list_print_summaries() {
        let server = Server::start(Mode::Working).await;
        let out = run(&server, &["approvald", "request", "show", "AR-7"])
            .await
            .unwrap();
        assert!(out.starts_with("AR-7  pending  level 1/2\n"), "{out}");
        assert!(
            out.contains("  window:         2026-11-21T10:00:00Z to 2026-11-21T14:00:00Z\n"),
            "{out}"
        );
        assert!(out.contains("  decisions:      none\n"), "{out}");
        let out = run(
            &server,
            &["approvald", "request", "list", "--status", "pending"],
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            "AR-7  pending  1/2  dave@example.test  certificate.sign  web-01  2026-11-21T10:00:00Z to 2026-11-21T14:00:00Z\n"
        );
        let out = run(
            &server,
            &["approvald", "request", "list", "--status", "approved"],
        )
        .await
        .unwrap();
        assert_eq!(out, "");
    }

    #[tokio::test]
    async fn show_escapes_terminal_controls_from_mail() {
        let server = Server::start(Mode::Working).await;
        if let Ok(mut all) = server.fake.requests.lock() {
            let r = &mut all[0];
            r.decisions.push(crate::domain::request::Decision {
                level: 1,
                approver: "alice@example.test".parse().unwrap(),
                verb: crate::domain::verb::Verb::Disapprove,
                comment: "no\u{1b}[2J\u{202E}way".into(),
                at: r.created_at,
                channel: crate::domain::request::Channel::Email,
                window: None,
            });
        }
        let out = run(&server, &["approvald", "request", "show", "7"])
            .await
            .unwrap();
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202E}'),
            "{out:?}"
        );
        assert!(out.contains("disapprove  alice@example.test"), "{out}");
        assert!(out.contains(r#""no\u{1b}[2J\u{202e}way""#), "{out}");
    }

    #[tokio::test]
    async fn failures_have_their_exit_codes_and_messages() {
        let working = Server::start(Mode::Working).await;
        let refusing = Server::start(Mode::Refusing).await;
        let broken = Server::start(Mode::Broken).await;
        let submit = submit_with(&["--for", "2h"]);
        let submit: Vec<&str> = submit.iter().map(String::as_str).collect();
        let cases: Vec<(&str, &Server, Vec<&str>, u8, &str)> = vec![
            ("unknown id", &working, vec!["approvald", "request", "show", "AR-9"], 1,
             "error: no request AR-9\n"),
            ("policy refusal", &refusing, submit.clone(), 1,
             "error: \"Because\" is not a registered reason\n  reason: \"Because\" is not a registered reason\n  window: the window is too long\n"),
            ("store failure", &broken, vec!["approvald", "request", "list"], 1, "error: internal error\n"),
        ];
        for (name, server, args, code, message) in cases {
            let got = run(server, &args).await.unwrap_err();
            assert_eq!(
                got,
                Failure {
                    code,
                    message: message.to_owned()
                },
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_daemon_exits_69() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let args = ["approvald", "request", "list", "--socket"].map(String::from);
        let mut args = args.to_vec();
        args.push(socket.to_string_lossy().into_owned());
        let got = execute(request(&args), SystemClock.now())
            .await
            .unwrap_err();
        assert_eq!(got.code, EXIT_UNAVAILABLE);
        assert!(
            got.message.contains("is approvald running?"),
            "{}",
            got.message
        );
    }

    #[tokio::test]
    async fn an_unreadable_config_exits_78() {
        let args = [
            "approvald",
            "request",
            "list",
            "--config",
            "/nonexistent/approvald.toml",
        ]
        .map(String::from);
        let got = execute(request(&args), SystemClock.now())
            .await
            .unwrap_err();
        assert_eq!(got.code, EXIT_CONFIG);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a+b@x.test"), "a%2Bb%40x.test");
        assert_eq!(percent_encode("pending"), "pending");
    }

    #[tokio::test]
    async fn a_plus_address_filter_reaches_the_daemon_intact() {
        let server = Server::start(Mode::Working).await;
        let args = submit_with(&["--for", "2h"]);
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args[4] = "dave+ops@example.test";
        run(&server, &args).await.unwrap();
        let out = run(
            &server,
            &[
                "approvald",
                "request",
                "list",
                "--requester",
                "dave+ops@example.test",
            ],
        )
        .await
        .unwrap();
        assert!(out.starts_with("AR-8  pending"), "{out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }

    proptest! {
        /// Nothing from the daemon can reach the terminal as a control
        /// character or a bidirectional override.
        #[test]
        fn cleaned_text_has_no_terminal_controls(s in any::<String>()) {
            let shown = clean(&s);
            prop_assert!(!shown.chars().any(is_terminal_control));
        }
    }
}
