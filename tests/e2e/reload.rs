//! SIGHUP (`systemctl reload`) re-reads the configuration: the new rules
//! apply to what starts afterwards, and a broken file changes nothing.

use crate::flow::{group, start, submission, People, WAIT};
use crate::support::daemon_config::Level;
use crate::support::notify::{has_line, statuses, NotifyListener};
use crate::support::stack::skip_without_stack;

#[tokio::test(flavor = "multi_thread")]
async fn sighup_puts_new_rules_in_force_and_a_broken_config_changes_nothing() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("reload");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let mut body = submission(&p.dave);
    body["reason"] = "Emergency patch".into();
    let (status, answer) = s.daemon.submit(&body).await;
    assert_eq!(status, 422, "not a registered reason yet: {answer}");

    s.daemon.config_mut().reasons.push("Emergency patch".into());
    s.daemon.reload();
    s.syslog
        .wait_for(|l| l.contains(" config-reloaded "), WAIT)
        .await;
    let (status, answer) = s.daemon.submit(&body).await;
    assert_eq!(
        status, 201,
        "the reloaded reason list is in force: {answer}"
    );

    s.daemon
        .reload_with("[store]\npath = \"/nonexistent\"\nno_such_setting = true\n");
    let refused = s
        .syslog
        .wait_for(|l| l.contains(" config-reload-failed "), WAIT)
        .await;
    assert!(
        refused.contains("no_such_setting"),
        "the audit line names the problem: {refused}"
    );
    body["resource"] = "web-02.example.test".into();
    let (status, answer) = s.daemon.submit(&body).await;
    assert_eq!(status, 201, "the previous config stays in force: {answer}");
    let (status, answer) = s.daemon.submit(&submission(&p.mallory)).await;
    assert_eq!(status, 422, "and still refuses who it refused: {answer}");

    assert!(s.daemon.terminate().await.success(), "{}", s.daemon.log());
}

/// The sd_notify protocol as systemd's `Type=notify` with `WatchdogSec=`
/// sees it, against a `NOTIFY_SOCKET` this test listens on: a status while
/// starting, READY=1 once the first IMAP login is done (the status says
/// so), WATCHDOG=1 at half of `WATCHDOG_USEC`, RELOADING=1 then READY=1
/// around a SIGHUP, STOPPING=1 on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_tells_the_service_manager_ready_reloading_and_stopping() {
    if skip_without_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifyListener::bind(dir.path());
    let p = People::new("notify");
    let mut s = crate::flow::start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.env.push(notify.env());
        c.env.push(("WATCHDOG_USEC".into(), "2000000".into()));
    })
    .await;
    let started = notify.until(|l| l == "READY=1", WAIT).await;
    assert_eq!(
        statuses(&started),
        [
            "starting: store open, API listening; logging in to IMAP",
            "ready; IMAP connected"
        ],
        "{started:?}"
    );
    // Pings at half the interval: two in a row, whatever else comes.
    notify.until(|l| l == "WATCHDOG=1", WAIT).await;
    notify.until(|l| l == "WATCHDOG=1", WAIT).await;
    s.daemon.reload();
    let reloading = notify.until(|l| l == "RELOADING=1", WAIT).await;
    let reloading = reloading.last().unwrap();
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let again = notify.until(|l| l == "READY=1", WAIT).await;
    assert!(
        has_line(&again, "STATUS=ready; IMAP connected"),
        "{again:?}"
    );
    assert!(s.daemon.terminate().await.success());
    notify.until(|l| l == "STOPPING=1", WAIT).await;
    // Standard error is a file here, as under systemd: no colour codes.
    let log = s.daemon.log();
    assert!(log.contains("approvald running"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a non-terminal log:\n{log}"
    );
}

/// `--log-format json`: every log line is one JSON object, for shippers.
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("json_logs");
    let mut s = crate::flow::start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.args = vec!["--log-format".into(), "json".into()];
    })
    .await;
    assert!(s.daemon.terminate().await.success());
    let log = s.daemon.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

/// Waits until the daemon audited its `n`th successful reload.
async fn reloaded(s: &crate::flow::Setup, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while s
        .syslog
        .lines()
        .iter()
        .filter(|l| l.contains(" config-reloaded "))
        .count()
        < n
    {
        assert!(
            std::time::Instant::now() < deadline,
            "reload {n} not audited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_key_rotation_new_mails_use_the_new_key_old_tokens_verify_until_the_old_key_goes() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("rotate");
    let mut s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    // Two requests asked under the first key.
    let a1 = s.submit(&p.dave).await;
    let a2 = s.submit(&p.dave).await;
    let ask_a1 = s.approval_mail(&p.alice, &a1).await;
    let ask_a2 = s.approval_mail(&p.alice, &a2).await;

    // Step 1: a new key, the old one still accepted.
    let old = s.daemon.config().token_key.clone();
    let mut new = vec![0u8; 32];
    getrandom::getrandom(&mut new).unwrap();
    s.daemon.config_mut().token_key = new;
    s.daemon.config_mut().previous_token_keys = vec![old];
    s.daemon.reload();
    reloaded(&s, 1).await;
    let b = s.submit(&p.dave).await;
    let ask_b = s.approval_mail(&p.alice, &b).await;
    let token = |m: &crate::support::mailbox::Mail| m.reply_to().unwrap_or_default();
    assert_ne!(token(&ask_b), token(&ask_a1));

    // An old token still verifies.
    s.reply(&ask_a1, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&a1, "approved", WAIT).await;

    // Step 2: the old key removed; its tokens no longer verify, the new
    // key's do.
    s.daemon.config_mut().previous_token_keys.clear();
    s.daemon.reload();
    reloaded(&s, 2).await;
    s.reply(&ask_a2, &p.alice, "APPROVE").await;
    s.syslog
        .wait_for(
            // The token cannot be verified, so nothing it names (the
            // request) is trusted into the audit line.
            |l| l.contains(" reply-refused ") && l.contains("unknown key id"),
            WAIT,
        )
        .await;
    assert_eq!(s.get(&a2).await["status"], "pending");
    s.reply(&ask_b, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&b, "approved", WAIT).await;
}
