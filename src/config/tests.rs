use super::*;
use std::io::Write;

/// Writes a secret file only its owner may read, as a key file must be.
fn private_write(path: &Path, contents: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(contents).unwrap();
}

/// A directory holding a valid configuration and its secret files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("imap.pw"), "imap-secret\n").unwrap();
        private_write(&dir.path().join("token.key"), &[7u8; 32]);
        Fixture { dir }
    }

    fn write(&self, toml: &str) -> PathBuf {
        let path = self.dir.path().join("approvald.toml");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(
            toml.replace("DIR", &self.dir.path().display().to_string())
                .as_bytes(),
        )
        .unwrap();
        path
    }
}

const VALID: &str = r#"
reasons = ["Incident"]
[store]
path = "DIR/store"
[mail]
address = "approvals@example.test"
[imap]
host = "127.0.0.1"
port = 143
tls = "none"
username = "approvals@example.test"
password_file = "DIR/imap.pw"
[smtp]
host = "127.0.0.1"
port = 25
tls = "none"
[tokens]
key_file = "DIR/token.key"
[api]
socket = "DIR/api.sock"
[audit]
syslog = "udp://127.0.0.1:514"
[[groups]]
name = "pki"
members = ["dave@example.test"]
actions = ["certificate.sign"]
deadline = "24h"
max_window = "8h"
levels = [ { approvers = ["alice@example.test"], quorum = 1 } ]
"#;

#[test]
fn valid_configuration_loads_with_defaults() {
    let f = Fixture::new();
    let c = Config::load(&f.write(VALID)).unwrap();
    assert_eq!(c.imap.mailbox, "INBOX");
    assert_eq!(c.imap.processed_mailbox, "Processed");
    assert_eq!(c.imap.poll_interval, Duration::from_secs(30));
    assert_eq!(c.imap.password.expose(), "imap-secret");
    assert_eq!(c.inbound.sender_rule, SenderRule::TokenAndFrom);
    assert_eq!(c.inbound.max_message_size, 1024 * 1024);
    assert_eq!(
        c.policy.groups[0].levels[0].approvers[0].as_str(),
        "alice@example.test"
    );
    assert!(
        !format!("{c:?}").contains("imap-secret"),
        "secrets never in Debug"
    );
}

#[test]
fn unknown_key_is_an_error() {
    let f = Fixture::new();
    let err = Config::load(&f.write(&VALID.replace("[api]", "[api]\nsocekt = \"x\""))).unwrap_err();
    assert!(err.to_string().contains("socekt"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let f = Fixture::new();
    let broken = VALID
        .replace("tls = \"none\"\nusername", "tls = \"maybe\"\nusername")
        .replace("DIR/token.key", "DIR/missing.key")
        .replace("quorum = 1", "quorum = 3")
        .replace("max_window = \"8h\"", "max_window = \"eight hours\"")
        .replace("udp://127.0.0.1:514", "carrier-pigeon://x");
    let err = Config::load(&f.write(&broken)).unwrap_err();
    let text = err.to_string();
    for key in [
        "imap.tls",
        "tokens.key_file",
        "quorum",
        "max_window",
        "audit.syslog",
    ] {
        assert!(text.contains(key), "missing {key} in:\n{text}");
    }
    assert!(err.0.len() >= 5, "{text}");
}

#[test]
fn short_token_key_is_refused() {
    let f = Fixture::new();
    private_write(&f.dir.path().join("token.key"), b"short");
    let err = Config::load(&f.write(VALID)).unwrap_err();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
}

#[test]
fn dmarc_policy_needs_authserv_id() {
    let f = Fixture::new();
    let cfg = format!("{VALID}\n[inbound]\nsender_policy = \"token+from+dmarc\"\n");
    let err = Config::load(&f.write(&cfg)).unwrap_err();
    assert!(err.to_string().contains("authserv_id"), "{err}");
}

#[test]
fn an_approver_listed_at_two_levels_is_refused() {
    let f = Fixture::new();
    let cfg = VALID.replace(
        "levels = [ { approvers = [\"alice@example.test\"], quorum = 1 } ]",
        "levels = [ { approvers = [\"alice@example.test\"], quorum = 1 }, { approvers = [\"bob@example.test\", \"Alice@example.test\"], quorum = 1 } ]",
    );
    let err = Config::load(&f.write(&cfg)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("alice@example.test is an approver at levels 1 and 2"),
        "{text}"
    );
}

#[test]
fn missing_keys_are_reported_together_with_every_other_problem() {
    let f = Fixture::new();
    let broken = VALID
        .replace("address = \"approvals@example.test\"\n", "")
        .replace("port = 25\n", "")
        .replace("deadline = \"24h\"\n", "")
        .replace("quorum = 1", "quorum = 3")
        .replace("udp://127.0.0.1:514", "carrier-pigeon://x")
        .replace("tls = \"none\"\nusername", "tls = \"maybe\"\nusername");
    let err = Config::load(&f.write(&broken)).unwrap_err();
    let text = err.to_string();
    for wanted in [
        "mail.address: is required",
        "smtp.port: is required",
        "groups[1].deadline: is required",
        "imap.tls",
        "audit.syslog",
    ] {
        assert!(text.contains(wanted), "missing {wanted:?} in:\n{text}");
    }
    // Placeholders put in for the missing keys cause no problems of their own.
    assert!(!text.contains("smtp.port: must not be 0"), "{text}");
    assert!(!text.contains("mail.address: \"\""), "{text}");
}

#[test]
fn clear_text_to_another_host_needs_allow_plaintext() {
    let f = Fixture::new();
    let remote = VALID.replace(
        "host = \"127.0.0.1\"\nport = 143",
        "host = \"imap.example.test\"\nport = 143",
    );
    let err = Config::load(&f.write(&remote)).unwrap_err();
    assert!(err.to_string().contains("imap.tls"), "{err}");
    assert!(err.to_string().contains("allow_plaintext"), "{err}");
    let allowed = remote.replace("[smtp]", "allow_plaintext = true\n[smtp]");
    assert!(Config::load(&f.write(&allowed)).is_ok());
    for host in ["localhost", "127.0.0.2", "::1", "[::1]"] {
        let local = VALID.replace(
            "host = \"127.0.0.1\"\nport = 143",
            &format!("host = \"{host}\"\nport = 143"),
        );
        assert!(Config::load(&f.write(&local)).is_ok(), "{host}");
    }
}

#[test]
fn a_token_key_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let key = f.dir.path().join("token.key");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = Config::load(&f.write(VALID)).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{mode:o}: {err}");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(Config::load(&f.write(VALID)).is_ok());
}

/// `@name` in a level's approvers: expanded to the group's members, each
/// person counted once, unknown names and impossible quorums refused.
#[test]
fn approver_groups_table() {
    const LEVELS: &str = "levels = [ { approvers = [\"alice@example.test\"], quorum = 1 } ]";
    let groups = "[approver_groups]\npki_leads = [\"alice@example.test\", \"bob@example.test\"]\n";
    type Row = (
        &'static str,
        &'static str,
        Result<Vec<&'static str>, &'static str>,
    );
    let rows: Vec<Row> = vec![
        (
            "a group",
            "levels = [ { approvers = [\"@pki_leads\"], quorum = 2 } ]",
            Ok(vec!["alice@example.test", "bob@example.test"]),
        ),
        (
            "a group and one of its members: one person",
            "levels = [ { approvers = [\"@pki_leads\", \"bob@example.test\", \"carol@example.test\"], quorum = 3 } ]",
            Ok(vec!["alice@example.test", "bob@example.test", "carol@example.test"]),
        ),
        (
            "quorum above the distinct people",
            "levels = [ { approvers = [\"@pki_leads\", \"alice@example.test\"], quorum = 3 } ]",
            Err("number of distinct approvers (2)"),
        ),
        (
            "an unknown group",
            "levels = [ { approvers = [\"@pki_lead\"], quorum = 1 } ]",
            Err("no approver group \"pki_lead\""),
        ),
        (
            "the same address twice",
            "levels = [ { approvers = [\"carol@example.test\", \"carol@example.test\"], quorum = 1 } ]",
            Err("an approver is listed twice"),
        ),
    ];
    for (name, levels, want) in rows {
        let f = Fixture::new();
        let cfg = format!("{}{groups}", VALID.replace(LEVELS, levels));
        match (Config::load(&f.write(&cfg)), want) {
            (Ok(c), Ok(people)) => {
                let got: Vec<&str> = c.policy.groups[0].levels[0]
                    .approvers
                    .iter()
                    .map(|a| a.as_str())
                    .collect();
                assert_eq!(got, people, "{name}");
            }
            (Err(e), Err(part)) => assert!(e.to_string().contains(part), "{name}: {e}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_justification_group_has_no_levels_and_an_unknown_approval_is_refused() {
    let f = Fixture::new();
    let cfg = VALID.replace(
        "levels = [ { approvers = [\"alice@example.test\"], quorum = 1 } ]",
        "approval = \"justification\"\nemergency = true\nrequire_comment = true",
    );
    let c = Config::load(&f.write(&cfg)).unwrap();
    let g = &c.policy.groups[0];
    assert!(g.justification_only && g.emergency && g.require_comment && g.levels.is_empty());
    let cfg = VALID.replace(
        "max_window = \"8h\"",
        "max_window = \"8h\"\napproval = \"whatever\"",
    );
    let err = Config::load(&f.write(&cfg)).unwrap_err();
    assert!(err.to_string().contains("groups.pki.approval"), "{err}");
}

/// The shipped example is a configuration that loads, every documented
/// option included, once its secret files exist.
#[test]
fn the_example_configuration_loads() {
    let f = Fixture::new();
    let example = include_str!("../../config/approvald.example.toml")
        .replace("/etc/approvald/imap.password", "DIR/imap.pw")
        .replace("/etc/approvald/smtp.password", "DIR/imap.pw")
        .replace("/etc/approvald/token.key", "DIR/token.key")
        .replace("/var/lib/approvald", "DIR/store")
        .replace("/run/approvald/api.sock", "DIR/api.sock");
    let c = Config::load(&f.write(&example)).unwrap_or_else(|e| panic!("{e}"));
    let g = &c.policy.groups[0];
    assert_eq!(g.levels[0].approvers.len(), 2, "@pki_leads expanded");
    assert_eq!(g.reminders, vec![50, 90]);
    assert_eq!(g.escalations.len(), 1);
}

/// `[http]`: plain HTTP only on loopback, an https public URL (http only
/// for a loopback host), no path, certificate and key together.
#[test]
fn http_listener_table() {
    let rows = [
        ("listen = \"127.0.0.1:8443\"\npublic_url = \"https://approvals.example.test\"", None),
        ("listen = \"127.0.0.1:8443\"\npublic_url = \"https://approvals.example.test/\"", None),
        ("listen = \"[::1]:8443\"\npublic_url = \"http://127.0.0.1:8443\"", None),
        ("listen = \"0.0.0.0:8443\"\npublic_url = \"https://approvals.example.test\"", Some("loopback interface only")),
        ("listen = \"127.0.0.1:8443\"\npublic_url = \"http://approvals.example.test\"", Some("http.public_url")),
        ("listen = \"127.0.0.1:8443\"\npublic_url = \"https://approvals.example.test/approve\"", Some("without a path")),
        ("listen = \"localhost\"\npublic_url = \"https://approvals.example.test\"", Some("http.listen")),
        ("listen = \"127.0.0.1:8443\"\npublic_url = \"https://a.example.test\"\ntls_cert_file = \"x\"", Some("go together")),
    ];
    for (table, want) in rows {
        let f = Fixture::new();
        let cfg = format!("{VALID}\n[http]\n{table}\n");
        match (Config::load(&f.write(&cfg)), want) {
            (Ok(c), None) => assert!(c.http.is_some(), "{table}"),
            (Err(e), Some(part)) => assert!(e.to_string().contains(part), "{table}: {e}"),
            (got, want) => panic!("{table}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_tls_host_must_be_a_name_a_certificate_can_carry() {
    let f = Fixture::new();
    // (host, TLS mode, accepted)
    let cases = [
        ("imap.example.test", "implicit", true),
        ("127.0.0.1", "starttls", true),
        ("::1", "implicit", true),
        ("imap example.test", "implicit", false),
        ("imap_example!", "starttls", false),
        ("[::1]", "implicit", false),
        // Without TLS no certificate is checked (loopback only, as above).
        ("[::1]", "none", true),
    ];
    for (host, tls, accepted) in cases {
        let config = VALID.replace(
            "host = \"127.0.0.1\"\nport = 143\ntls = \"none\"",
            &format!("host = \"{host}\"\nport = 143\ntls = \"{tls}\""),
        );
        let result = Config::load(&f.write(&config));
        match result {
            Ok(_) => assert!(accepted, "{host} with {tls} was accepted"),
            Err(e) => {
                assert!(!accepted, "{host} with {tls}: {e}");
                assert!(e.to_string().contains("imap.host"), "{host}: {e}");
            }
        }
    }
}

/// `[metrics]`: loopback unless exposing it is said in so many words; the
/// IMAP timeout has a floor.
#[test]
fn metrics_listener_and_imap_timeout_table() {
    let rows = [
        ("[metrics]\nlisten = \"127.0.0.1:9187\"", None),
        ("[metrics]\nlisten = \"[::1]:9187\"", None),
        (
            "[metrics]\nlisten = \"0.0.0.0:9187\"",
            Some("allow_non_loopback = true"),
        ),
        (
            "[metrics]\nlisten = \"192.0.2.7:9187\"\nallow_non_loopback = true",
            None,
        ),
        (
            "[metrics]\nlisten = \"localhost:9187\"",
            Some("metrics.listen"),
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:9187\"\nopen = true",
            Some("open"),
        ),
    ];
    for (table, want) in rows {
        let f = Fixture::new();
        let cfg = format!("{VALID}\n{table}\n");
        match (Config::load(&f.write(&cfg)), want) {
            (Ok(c), None) => assert!(c.metrics_listen.is_some(), "{table}"),
            (Err(e), Some(part)) => assert!(e.to_string().contains(part), "{table}: {e}"),
            (got, want) => panic!("{table}: got {got:?}, want {want:?}"),
        }
    }
    let f = Fixture::new();
    let c = Config::load(&f.write(VALID)).unwrap();
    assert_eq!(c.imap.timeout, Duration::from_secs(60));
    assert!(c.metrics_listen.is_none());
    let short = VALID.replace(
        "tls = \"none\"\nusername",
        "tls = \"none\"\ntimeout = \"100ms\"\nusername",
    );
    let err = Config::load(&f.write(&short)).unwrap_err();
    assert!(
        err.to_string()
            .contains("imap.timeout: must be at least 1s"),
        "{err}"
    );
}
