//! The tamper-evident trail against a real rsyslogd: what it writes to its
//! files verifies with `approvald audit verify`, as do the daemon's own
//! copy and an export; an edited or missing line is found. Syslog over TLS
//! (RFC 5425) reaches rsyslog's OpenSSL driver, with and without a client
//! certificate, and a collector whose certificate is not trusted receives
//! nothing while every event stays recorded. The JSON format verifies too.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::audit::{approved_request, wait_for_request_events};
use crate::flow::{group, start_with, People, WAIT};
use crate::support::certs::Certs;
use crate::support::cli::{approvald, stdout};
use crate::support::daemon_config::Level;
use crate::support::rsyslog::{Proto, Rsyslog, TlsFiles};
use crate::support::stack::skip_without_stack;

/// `audit verify --file path`.
fn verify_file(path: &Path) -> Output {
    approvald(&["audit", "verify", "--file", path.to_str().unwrap()])
}

/// The lines of rsyslog's RFC 5424 file, once it holds at least as many
/// approvald lines as its raw file (both are written by one ruleset).
async fn protocol23_lines(server: &Rsyslog) -> Vec<String> {
    let wanted = server.lines().len();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(server.protocol23_path()).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains(" approvald "))
            .map(str::to_owned)
            .collect();
        if lines.len() >= wanted {
            return lines;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rsyslog wrote {} of {wanted} lines to its RFC 5424 file",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trail_verifies_from_rsyslogs_file_the_daemon_and_an_export_and_tampering_shows() {
    if skip_without_stack() {
        return;
    }
    let server = Rsyslog::start(Proto::Tcp, Rsyslog::free_port()).await;
    let p = People::new("chain");
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = server.url();
    })
    .await;
    let (id, mails) = approved_request(&s, &p).await;
    wait_for_request_events(&server, &id, mails).await;
    let socket = s.daemon.socket().to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();

    // What rsyslog wrote, in its own RFC 5424 file format.
    let lines = protocol23_lines(&server).await;
    let file = dir.path().join("syslog.log");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = verify_file(&file);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("\nintact"), "{out:?}");

    // The daemon's own copy, and an export of it.
    let out = approvald(&["audit", "verify", "--socket", &socket]);
    assert!(out.status.success(), "{out:?}");
    let export = approvald(&["audit", "export", "--socket", &socket]);
    assert!(export.status.success(), "{export:?}");
    let exported = stdout(&export);
    assert!(exported.lines().count() >= lines.len(), "{exported}");
    let export_file = dir.path().join("export.jsonl");
    std::fs::write(&export_file, &exported).unwrap();
    let out = verify_file(&export_file);
    assert!(out.status.success(), "{out:?}");
    let later = approvald(&["audit", "export", "--socket", &socket, "--since", "3"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&later).lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], 3, "{first}");

    // An approver's name changed in the collector's copy.
    let decision = lines
        .iter()
        .position(|l| l.contains(" decision-accepted ") && l.contains(&id))
        .unwrap();
    let mut edited = lines.clone();
    edited[decision] = edited[decision].replace(&p.alice, "mallory@example.test");
    assert_ne!(edited[decision], lines[decision]);
    std::fs::write(&file, edited.join("\n") + "\n").unwrap();
    let out = verify_file(&file);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("altered"), "{out:?}");

    // A line removed from it.
    let mut cut = lines.clone();
    cut.remove(decision);
    std::fs::write(&file, cut.join("\n") + "\n").unwrap();
    let out = verify_file(&file);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("gap: 1 event(s) missing"), "{out:?}");
}

/// Starts a TLS collector with `certs` (demanding a client certificate
/// when `client_auth`), a daemon trusting `trusted` (and presenting its
/// client certificate when `client_auth` and `present`), and lets a
/// request go round.
async fn over_tls(
    test: &str,
    certs: &Certs,
    trusted: &Certs,
    client_auth: bool,
    present: bool,
) -> (Rsyslog, crate::flow::Setup, String, usize) {
    let files = TlsFiles {
        ca: certs.ca.clone(),
        cert: certs.server_cert.clone(),
        key: certs.server_key.clone(),
    };
    let server = Rsyslog::start_tls(Rsyslog::free_port(), files, client_auth).await;
    let p = People::new(test);
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = server.url();
        c.audit_lines.push(format!("ca_file = {:?}", trusted.ca));
        if client_auth && present {
            c.audit_lines
                .push(format!("client_cert_file = {:?}", trusted.client_cert));
            c.audit_lines
                .push(format!("client_key_file = {:?}", trusted.client_key));
        }
    })
    .await;
    let (id, mails) = approved_request(&s, &p).await;
    (server, s, id, mails)
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_lines_reach_rsyslog_over_tls_with_a_client_certificate() {
    if skip_without_stack() {
        return;
    }
    let certs = Certs::new("tls-client-auth");
    let (server, _s, id, mails) = over_tls("tlsca", &certs, &certs, true, true).await;
    wait_for_request_events(&server, &id, mails).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), protocol23_lines(&server).await.join("\n")).unwrap();
    let out = verify_file(file.path());
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_lines_reach_rsyslog_over_tls_without_a_client_certificate() {
    if skip_without_stack() {
        return;
    }
    let certs = Certs::new("tls-anon");
    let (server, _s, id, mails) = over_tls("tlsanon", &certs, &certs, false, false).await;
    wait_for_request_events(&server, &id, mails).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_with_an_untrusted_certificate_gets_nothing_and_nothing_is_lost() {
    if skip_without_stack() {
        return;
    }
    let collector = Certs::new("impostor");
    let ours = Certs::new("trusted");
    let (server, s, id, _) = over_tls("tlsbad", &collector, &ours, false, false).await;
    // The request went round (approved, mails delivered); give the shipper
    // time for several attempts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        server.lines().iter().all(|l| !l.contains(" approvald ")),
        "an untrusted collector received audit lines: {:?}",
        server.lines()
    );
    // Every event is still recorded, chained, in the daemon.
    let socket = s.daemon.socket().to_str().unwrap().to_owned();
    let export = approvald(&["audit", "export", "--socket", &socket]);
    let exported = stdout(&export);
    assert!(
        exported.contains(&format!("\"request\":\"{id}\""))
            && exported.contains("\"kind\":\"approved\""),
        "{exported}"
    );
    let out = approvald(&["audit", "verify", "--socket", &socket]);
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_demanding_a_client_certificate_refuses_a_daemon_without_one() {
    if skip_without_stack() {
        return;
    }
    // The counterpart of the client-certificate test: it shows that this
    // collector does check, so that test's success means the daemon's
    // certificate was presented and accepted.
    let certs = Certs::new("tls-no-client");
    let (server, _s, _, _) = over_tls("tlsnocl", &certs, &certs, true, false).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        server.lines().iter().all(|l| !l.contains(" approvald ")),
        "{:?}",
        server.lines()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_format_lines_are_cee_for_rsyslog_and_verify() {
    if skip_without_stack() {
        return;
    }
    let server = Rsyslog::start(Proto::Tcp, Rsyslog::free_port()).await;
    let p = People::new("ceejson");
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.syslog = server.url();
        c.audit_lines.push("format = \"json\"".into());
        c.audit_lines.push("enterprise_number = 99999".into());
    })
    .await;
    let (id, _) = approved_request(&s, &p).await;
    let wanted = format!("\"request\":\"{id}\"");
    server
        .wait_for(
            |l| l.contains(&wanted) && l.contains("\"kind\":\"approved\""),
            Duration::from_secs(30),
        )
        .await;
    // rsyslog's RFC 5424 parser sees no structured data and a MSG that is
    // the CEE cookie and one JSON object.
    let parsed = server.parsed();
    let ours: Vec<_> = parsed.iter().filter(|v| v["app"] == "approvald").collect();
    assert!(!ours.is_empty());
    for v in &ours {
        assert_eq!(v["sd"], "-", "{v}");
        let msg = v["msg"].as_str().unwrap();
        let json = msg.strip_prefix("@cee:").unwrap_or_else(|| panic!("{msg}"));
        let o: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(o["software"], "approvald", "{o}");
        assert_eq!(o["enterpriseId"], 99999, "{o}");
        assert!(o["hash"].as_str().is_some_and(|h| h.len() == 64), "{o}");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), protocol23_lines(&server).await.join("\n")).unwrap();
    let out = verify_file(file.path());
    assert!(out.status.success(), "{out:?}");
}
