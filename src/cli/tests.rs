use std::path::PathBuf;

use clap::Parser;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::args::{parse_time, socket_from_config, RequestAction};
use super::render::is_terminal_control;
use super::requests::execute;
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
