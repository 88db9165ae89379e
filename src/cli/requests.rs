//! The request commands: each one call (or, for lists, one call per page)
//! to the API, through its typed client.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::args::{socket_from_config, ListFormat, RequestAction, RequestCommand};
use super::render::{clean, line, pretty, request_view, summary};
use super::{Failure, DEFAULT_SOCKET, EXIT_API_ERROR, EXIT_CONFIG};
use crate::api::client::ApiClient;
use crate::api::views::{ErrorBody, ListView, RequestView};

/// Runs `cmd` at time `now`, returning what to print on stdout.
pub(super) async fn execute(cmd: RequestCommand, now: DateTime<Utc>) -> Result<String, Failure> {
    let socket = socket_of(&cmd.target)?;
    let client = ApiClient::new(socket);
    let act = |verb: &'static str, a: &super::args::ActArgs, status: Option<&str>| {
        let body = match status {
            Some(status) => serde_json::json!({ "by": a.by, "reason": a.reason, "status": status }),
            None => serde_json::json!({ "by": a.by, "reason": a.reason }),
        };
        (verb, body)
    };
    let (verb, body, args) = match &cmd.action {
        RequestAction::Cancel(a) => {
            let (v, b) = act("cancel", a, None);
            (v, b, a)
        }
        RequestAction::Revoke(a) => {
            let (v, b) = act("revoke", a, None);
            (v, b, a)
        }
        RequestAction::Override { act: a, status } => {
            let (v, b) = act("override", a, Some(status));
            (v, b, a)
        }
        _ => return execute_read(cmd.action, &client, now).await,
    };
    let answer = expect(client.act(&args.id, verb, body).await?)?;
    if args.json {
        return pretty(&answer);
    }
    let view = request_view(answer)?;
    Ok(format!("{}  {}\n", clean(&view.id), clean(&view.status)))
}

/// Resolves the socket the commands talk to.
pub(super) fn socket_of(target: &super::args::Target) -> Result<PathBuf, Failure> {
    match (&target.socket, &target.config) {
        (Some(socket), _) => Ok(socket.clone()),
        (None, Some(config)) => {
            socket_from_config(config).map_err(|e| Failure::new(EXIT_CONFIG, e))
        }
        (None, None) => Ok(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// The commands that submit or read.
async fn execute_read(
    action: RequestAction,
    client: &ApiClient,
    now: DateTime<Utc>,
) -> Result<String, Failure> {
    match action {
        RequestAction::Submit(args) => {
            let body = args
                .body(now)
                .map_err(|e| Failure::new(EXIT_API_ERROR, e))?;
            let answer = expect(client.submit(&body).await?)?;
            if args.json {
                return pretty(&answer);
            }
            let view = request_view(answer)?;
            Ok(format!("{}\n", clean(&view.id)))
        }
        RequestAction::Show { id, json } => {
            let answer = expect(client.get_request(&id).await?)?;
            if json {
                return pretty(&answer);
            }
            Ok(summary(&request_view(answer)?))
        }
        RequestAction::List(args) => {
            let format = if args.json {
                ListFormat::Json
            } else {
                args.format
            };
            let filters = args.query();
            let csv = format == ListFormat::Csv;
            // The API answers in pages; the CLI lists them all.
            let mut all: Vec<Value> = Vec::new();
            let mut csv_text = String::new();
            let mut cursor: Option<String> = None;
            loop {
                let (status, body, next_csv) = client
                    .list_requests(&filters, cursor.as_deref(), csv)
                    .await?;
                let answer = expect((status, body))?;
                let next = if csv {
                    let text = answer.as_str().unwrap_or_default();
                    // The header row once, from the first page.
                    let rows = match csv_text.is_empty() {
                        true => text,
                        false => text.split_once("\r\n").map_or("", |(_, rest)| rest),
                    };
                    csv_text.push_str(rows);
                    next_csv
                } else {
                    let list: ListView = serde_json::from_value(answer.clone()).map_err(|e| {
                        Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}"))
                    })?;
                    if let Some(requests) = answer.get("requests").and_then(|r| r.as_array()) {
                        all.extend(requests.iter().cloned());
                    }
                    list.next_cursor
                };
                match next {
                    Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => break,
                }
            }
            match format {
                ListFormat::Csv => Ok(csv_text),
                ListFormat::Json => pretty(&serde_json::json!({ "requests": all })),
                ListFormat::Table => {
                    let views: Vec<RequestView> = all
                        .into_iter()
                        .map(serde_json::from_value)
                        .collect::<Result<_, _>>()
                        .map_err(|e| {
                            Failure::new(EXIT_API_ERROR, format!("unexpected answer: {e}"))
                        })?;
                    Ok(views.iter().map(line).collect())
                }
            }
        }
        RequestAction::Cancel(_) | RequestAction::Revoke(_) | RequestAction::Override { .. } => {
            Err(Failure::new(EXIT_API_ERROR, "not a read command"))
        }
    }
}

/// The answer's body when the status is a success, or the failure it reports.
pub(super) fn expect((status, body): (u16, Value)) -> Result<Value, Failure> {
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
        writeln!(f.message, "  {}: {}", clean(&fe.field), clean(&fe.error)).ok();
    }
    if e.errors.is_empty() {
        if let Some(field) = &e.field {
            writeln!(f.message, "  (field: {})", clean(field)).ok();
        }
    }
    Err(f)
}
