//! Backup and restore as an operator does them: `serve` refuses a store
//! that is not there, `store export` runs against the live daemon, and a
//! store restored from it with `store import` resumes every pending
//! request under a new identity, so no Message-ID is ever sent twice.

use crate::flow::{group, start, People, WAIT};
use crate::support::cli::approvald;
use crate::support::daemon_config::Level;
use crate::support::mailbox::Mailbox;
use crate::support::stack::skip_without_stack;

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_a_store_that_does_not_exist() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("nostore");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    s.daemon.terminate().await;
    let config = s.daemon.config_path();
    // The path a typo would give.
    let text = std::fs::read_to_string(&config).unwrap();
    let store = s.daemon.store_path();
    let typo = store.with_file_name("stroe");
    std::fs::write(
        &config,
        text.replace(store.to_str().unwrap(), typo.to_str().unwrap()),
    )
    .unwrap();
    let out = approvald(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no store in") && err.contains("store init"),
        "{err}"
    );
    assert!(
        !typo.join("db").exists(),
        "serve created a store at {typo:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_exported_live_and_imported_resumes_its_pending_requests() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("restore");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let old_mid = ask.message_id().unwrap();

    let socket = s.daemon.socket().to_str().unwrap().to_owned();
    let export = approvald(&["store", "export", "--socket", &socket]);
    assert!(export.status.success(), "{export:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();

    // The disk is lost; the store comes back from the backup.
    s.daemon.terminate().await;
    let store = s.daemon.store_path();
    std::fs::rename(&store, dir.path().join("lost")).unwrap();
    let config = s.daemon.config_path();
    let config = config.to_str().unwrap();
    let import = approvald(&[
        "store",
        "import",
        "--config",
        config,
        file.to_str().unwrap(),
    ]);
    assert!(import.status.success(), "{import:?}");
    let check = approvald(&["store", "check", "--config", config]);
    assert!(check.status.success(), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("audit chain is intact"),
        "{check:?}"
    );
    // A second import over it is refused.
    let again = approvald(&[
        "store",
        "import",
        "--config",
        config,
        file.to_str().unwrap(),
    ]);
    assert!(!again.status.success(), "{again:?}");

    s.daemon.restart().await;
    assert_eq!(s.get(&id).await["status"], "pending");
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;

    // Mails of the restored store carry its new identity.
    let outcome = format!("[{id}] Approved");
    let mail = Mailbox::new(s.stack, &p.dave)
        .wait_for("INBOX", |m| m.subject().starts_with(&outcome), WAIT)
        .await;
    let new_mid = mail.message_id().unwrap();
    let store_of = |mid: &str| {
        mid.rsplit_once('@')
            .and_then(|(l, _)| l.rsplit_once('.'))
            .map(|(_, id)| id.to_owned())
    };
    assert_ne!(
        store_of(&old_mid),
        store_of(&new_mid),
        "{old_mid} vs {new_mid}"
    );
}
