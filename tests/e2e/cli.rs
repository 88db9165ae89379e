//! The admin CLI as an operator uses it: the real binary, against a running
//! daemon's socket, and `check-config` on good and broken files.

use std::process::{Command, Output};

use crate::flow::{group, start, People};
use crate::support::cli::{approvald, stdout};
use crate::support::daemon_config::Level;
use crate::support::stack::skip_without_stack;

/// `approvald request submit` of a two-hour request with `reason`.
fn cli_submit(socket: &str, requester: &str, reason: &str) -> Output {
    approvald(&[
        "request",
        "submit",
        "--socket",
        socket,
        "--requester",
        requester,
        "--action",
        "certificate.sign",
        "--resource",
        "web-01",
        "--justification",
        "renewal",
        "--reason",
        reason,
        "--governance-code",
        "CHG-1",
        "--for",
        "2h",
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_submits_shows_and_lists_through_the_daemon_socket() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("cli");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let socket = s.daemon.socket().display().to_string();
    let submit = cli_submit(&socket, &p.dave, "Audit");
    assert!(submit.status.success(), "{submit:?}");
    let id = stdout(&submit).trim().to_string();
    assert!(id.starts_with("AR-"), "submit prints the id: {id:?}");

    let show = approvald(&["request", "show", &id, "--socket", &socket, "--json"]);
    assert!(show.status.success(), "{show:?}");
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(json["id"], id.as_str());
    assert_eq!(json["status"], "pending");
    assert_eq!(json["requester"], p.dave.as_str());

    let list = approvald(&[
        "request", "list", "--status", "pending", "--socket", &socket,
    ]);
    assert!(list.status.success(), "{list:?}");
    assert!(stdout(&list).contains(&id), "{}", stdout(&list));

    let refused = cli_submit(&socket, &p.dave, "Because");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("reason"));

    let missing = approvald(&["request", "show", "AR-999", "--socket", &socket]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");

    let down = approvald(&["request", "list", "--socket", "/nonexistent/api.sock"]);
    assert_eq!(down.status.code(), Some(69), "daemon unreachable: {down:?}");
}

#[test]
fn check_config_accepts_the_example_shape_and_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("pw"), "secret\n").unwrap();
    std::fs::write(dir.path().join("key"), [9u8; 32]).unwrap();
    // A token key must be private to its owner.
    std::fs::set_permissions(
        dir.path().join("key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let good = format!(
        r#"reasons = ["Audit"]
[store]
path = "{d}/store"
[mail]
address = "approvals@example.test"
[imap]
host = "127.0.0.1"
port = 143
tls = "none"
username = "approvals@example.test"
password_file = "{d}/pw"
[smtp]
host = "127.0.0.1"
port = 25
tls = "none"
[tokens]
key_file = "{d}/key"
[api]
socket = "{d}/api.sock"
[audit]
syslog = "udp://127.0.0.1:514"
[[groups]]
name = "pki"
members = ["dave@example.test"]
actions = ["certificate.sign"]
deadline = "24h"
max_window = "8h"
levels = [ {{ approvers = ["alice@example.test"], quorum = 1 }} ]
"#
    );
    let path = dir.path().join("good.toml");
    std::fs::write(&path, &good).unwrap();
    let ok = approvald(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(ok.status.success(), "{ok:?}");

    // What serve loads beyond the file is checked too: a template override
    // that does not parse fails check-config, not the start.
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("request.txt"), "{{ unclosed").unwrap();
    let with_templates = good.replace(
        "[mail]\n",
        &format!("[mail]\ntemplates = \"{}\"\n", templates.display()),
    );
    let path_t = dir.path().join("templates.toml");
    std::fs::write(&path_t, &with_templates).unwrap();
    let bad_t = approvald(&["check-config", "--config", path_t.to_str().unwrap()]);
    assert_eq!(bad_t.status.code(), Some(2), "{bad_t:?}");
    assert!(
        String::from_utf8_lossy(&bad_t.stderr).contains("templates"),
        "{bad_t:?}"
    );

    let broken = good
        .replace("port = 143", "port = 0")
        .replace(
            r#"tls = "none"
[tokens]"#,
            r#"tls = "sometimes"
[tokens]"#,
        )
        .replace("quorum = 1", "quorum = 2")
        .replace(
            r#"address = "approvals@example.test""#,
            r#"address = "not an address""#,
        );
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, broken).unwrap();
    let bad = approvald(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let problems = String::from_utf8_lossy(&bad.stderr);
    for key in ["imap.port", "smtp.tls", "quorum", "mail.address"] {
        assert!(problems.contains(key), "{key} missing from:\n{problems}");
    }
}

#[test]
fn config_show_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("pw"), "PASSWORD-IN-FILE\n").unwrap();
    std::fs::write(dir.path().join("key"), "KEY-IN-FILE").unwrap();
    let config = format!(
        r#"reasons = ["Audit"]
[store]
path = "{d}/store"
[mail]
address = "approvals@example.test"
[imap]
host = "imap.example.test"
port = 993
tls = "implicit"
username = "approvals@example.test"
password_file = "{d}/pw"
[smtp]
host = "smtp.example.test"
port = 465
tls = "implicit"
[tokens]
key_file = "{d}/key"
[api]
socket = "{d}/api.sock"
keys = [{{ name = "ci", role = "integrator", hash = "HASH-IN-CONFIG" }}]
[audit]
syslog = "udp://127.0.0.1:514"
"#
    );
    let path = dir.path().join("approvald.toml");
    std::fs::write(&path, &config).unwrap();
    let show = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_approvald"))
            .args(["config", "show", "--config", path.to_str().unwrap()])
            .env("APPROVALD__IMAP__PORT", "1993")
            .output()
            .unwrap()
    };
    let out = show(&path);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    for wanted in [
        "port = 1993",
        "processed_mailbox = \"Processed\"",
        "hash = \"<redacted>\"",
    ] {
        assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
    }
    for secret in ["PASSWORD-IN-FILE", "KEY-IN-FILE", "HASH-IN-CONFIG"] {
        assert!(!text.contains(secret), "{secret} shown:\n{text}");
    }

    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        config.replace("[smtp]\n", "[smtp]\npassword = \"x\"\n"),
    )
    .unwrap();
    let refused = show(&unknown);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(stdout(&refused).is_empty(), "{refused:?}");
}
