//! SIGHUP (`systemctl reload`) re-reads the configuration: the new rules
//! apply to what starts afterwards, and a broken file changes nothing.

use crate::flow::{group, start, submission, People, WAIT};
use crate::support::daemon_config::Level;
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
    let (status, answer) = s.daemon.submit(&body).await;
    assert_eq!(status, 201, "the previous config stays in force: {answer}");
    let (status, answer) = s.daemon.submit(&submission(&p.mallory)).await;
    assert_eq!(status, 422, "and still refuses who it refused: {answer}");

    assert!(s.daemon.terminate().await.success(), "{}", s.daemon.log());
}
