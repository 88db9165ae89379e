//! `approvald audit export` and `approvald audit verify`.

use std::io::{BufRead, BufReader, Write};

use axum::http::Method;

use super::args::{AuditAction, AuditCommand};
use super::requests::{expect, socket_of};
use super::{Failure, EXIT_API_ERROR};
use crate::api::client::ApiClient;
use crate::audit::read_back::{read_line, LineKind};
use crate::audit::verify::Verifier;

/// Events asked for per call.
const PAGE: usize = 5000;

/// Runs `cmd`, writing what it prints to `out`.
pub(super) async fn execute(cmd: AuditCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match cmd.action {
        AuditAction::Export { since } => {
            let client = ApiClient::new(socket_of(&cmd.target)?);
            let mut written = Ok(());
            fetch(&client, since, |line| {
                if written.is_ok() {
                    written = writeln!(out, "{line}");
                }
            })
            .await?;
            written.map_err(|e| Failure::new(EXIT_API_ERROR, format!("cannot write: {e}")))
        }
        AuditAction::Verify { files } => {
            let mut v = Verifier::default();
            let mut foreign = 0u64;
            let mut at = 0u64;
            let mut check = |line: &str| {
                at += 1;
                match read_line(line) {
                    LineKind::Event(e) => v.feed(e.link, &e.sealed),
                    LineKind::Foreign => foreign += 1,
                    LineKind::Damaged(why) => v.damaged(at, why),
                }
            };
            if files.is_empty() {
                let client = ApiClient::new(socket_of(&cmd.target)?);
                fetch(&client, 1, &mut check).await?;
            } else {
                for f in &files {
                    let file = std::fs::File::open(f).map_err(|e| {
                        Failure::new(EXIT_API_ERROR, format!("{}: {e}", f.display()))
                    })?;
                    for line in BufReader::new(file).lines() {
                        let line = line.map_err(|e| {
                            Failure::new(EXIT_API_ERROR, format!("{}: {e}", f.display()))
                        })?;
                        check(&line);
                    }
                }
            }
            report(&v, foreign, out)
        }
    }
}

/// Reads every event from `since` on through the API, one JSON line each.
async fn fetch(client: &ApiClient, since: u64, mut each: impl FnMut(&str)) -> Result<(), Failure> {
    let mut since = since;
    loop {
        let path = format!("/v1/audit?since={since}&limit={PAGE}");
        let page = expect(client.call(Method::GET, &path, None).await?)?;
        let events = page
            .get("events")
            .and_then(|e| e.as_array())
            .cloned()
            .unwrap_or_default();
        for e in &events {
            each(&e.to_string());
        }
        match page.get("next").and_then(|n| n.as_u64()) {
            Some(next) if next > since => since = next,
            _ => return Ok(()),
        }
    }
}

fn report(v: &Verifier, foreign: u64, out: &mut dyn Write) -> Result<(), Failure> {
    let range = match v.range() {
        Some((first, last)) => format!("events {first} to {last}"),
        None => "no events".to_string(),
    };
    let mut text = format!("checked {} {range}", v.events);
    if v.repeats > 0 {
        text.push_str(&format!(", {} identical repeat(s)", v.repeats));
    }
    if foreign > 0 {
        text.push_str(&format!(", {foreign} other line(s) skipped"));
    }
    if let Some((seq, hash)) = v.head() {
        text.push_str(&format!(
            "\nlast event {seq}, hash {}",
            crate::records::audit_chain::hex(&hash)
        ));
    }
    if v.findings.is_empty() && v.events > 0 {
        writeln!(out, "{text}\nintact").ok();
        return Ok(());
    }
    let mut problems = text;
    if v.events == 0 {
        problems.push_str("\nno event of approvald's was found");
    }
    for f in &v.findings {
        problems.push_str(&format!("\n{f}"));
    }
    writeln!(out, "{problems}\nNOT INTACT").ok();
    Err(Failure {
        code: EXIT_API_ERROR,
        message: String::new(),
    })
}
