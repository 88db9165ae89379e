//! The workflow beyond levels, end to end: emergency and
//! justification-only access, the grants check across a window's life,
//! revoke, cancel with a late reply, and override — each seen in the real
//! mailboxes, the audit trail and the API.

use std::time::Instant;

use serde_json::{json, Value};

use crate::flow::{group, start, submission, People, Setup, WAIT};
use crate::support::cli::approvald;
use crate::support::daemon_config::Level;
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::stack::skip_without_stack;

async fn post(s: &Setup, path: &str, body: Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(&body).unwrap();
    s.daemon.request("POST", path, Some(&bytes)).await
}

async fn grants(s: &Setup, requester: &str, action: &str) -> Value {
    let q = format!(
        "/v1/grants?requester={}&action={action}&resource=web-01.example.test",
        requester.replace('+', "%2B").replace('@', "%40")
    );
    let (status, body) = s.daemon.request("GET", &q, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A submission whose window starts now and lasts `secs` seconds.
fn starting_now(requester: &str, action: &str, secs: i64) -> Value {
    let mut body = submission(requester);
    let start = chrono::Utc::now();
    body["action"] = json!(action);
    body["window"] = json!({
        "start": start.to_rfc3339(),
        "end": (start + chrono::Duration::seconds(secs)).to_rfc3339(),
    });
    body
}

async fn mail_to(s: &Setup, who: &str, id: &str, subject_part: &str) -> Mail {
    let tag = format!("[{id}]");
    Mailbox::new(s.stack, who)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&tag) && m.subject().contains(subject_part),
            WAIT,
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn emergency_access_is_granted_at_once_every_approver_is_mailed_and_a_revoke_ends_it() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("emergency");
    let mut on_call = group(
        &p,
        vec![
            Level::new(&[&p.alice, &p.bob], 1),
            Level::new(&[&p.carol], 1),
        ],
    );
    on_call.extra.push("emergency = true".into());
    let s = start(vec![on_call]).await;

    let mut body = starting_now(&p.dave, "certificate.sign", 3600);
    body["emergency"] = json!(true);
    let (status, created) = s.daemon.submit(&body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active", "{created}");
    assert_eq!(created["emergency"], true);
    let id = created["id"].as_str().unwrap().to_owned();

    for who in [&p.alice, &p.bob, &p.carol] {
        let notice = mail_to(&s, who, &id, "Emergency access used").await;
        assert!(
            notice.subject().contains("EMERGENCY"),
            "{}",
            notice.subject()
        );
        assert!(
            notice.text().contains("TLS certificate expires tomorrow"),
            "the full request:\n{}",
            notice.text()
        );
    }
    let granted = mail_to(&s, &p.dave, &id, "Approved").await;
    assert!(
        granted.subject().contains("EMERGENCY"),
        "{}",
        granted.subject()
    );
    let g = grants(&s, &p.dave, "certificate.sign").await;
    assert_eq!(
        (g["allowed"].clone(), g["emergency"].clone()),
        (json!(true), json!(true)),
        "{g}"
    );
    assert_eq!(g["request"], id.as_str());
    // Severity alert (1) in facility auth (10): PRI 81.
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" emergency-granted ") && l.contains(&id),
            WAIT,
        )
        .await;
    assert!(line.starts_with("<81>"), "{line}");

    let (status, revoked) = post(
        &s,
        &format!("/v1/requests/{id}/revoke"),
        json!({"by": "alice", "reason": "not an incident"}),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["interventions"][0]["kind"], "revoke");
    let g = grants(&s, &p.dave, "certificate.sign").await;
    assert_eq!(g["allowed"], false, "{g}");
    mail_to(&s, &p.dave, &id, "Access revoked").await;
    mail_to(&s, &p.carol, &id, "Access revoked").await;
    s.syslog
        .wait_for(|l| l.contains(" revoked ") && l.contains(&id), WAIT)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn emergency_on_a_group_without_it_is_refused_naming_the_field() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("noemergency");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let mut body = starting_now(&p.dave, "certificate.sign", 3600);
    body["emergency"] = json!(true);
    let (status, answer) = s.daemon.submit(&body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["field"], "emergency", "{answer}");
    let (_, all) = s.daemon.list("").await;
    assert_eq!(all["requests"].as_array().unwrap().len(), 0);
    let (status, answer) = s.daemon.submit(&json!({"emergency": "yes"})).await;
    assert_eq!(status, 422);
    assert!(
        answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "emergency"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn justification_only_grants_at_once_and_mails_no_approver() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("justify");
    let mut proxy = group(&p, vec![]);
    proxy.extra.push("approval = \"justification\"".into());
    let s = start(vec![proxy]).await;
    let (status, created) = s
        .daemon
        .submit(&starting_now(&p.dave, "certificate.sign", 3600))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active");
    assert_eq!(created["route"], "justification");
    let id = created["id"].as_str().unwrap().to_owned();
    mail_to(&s, &p.dave, &id, "Request received").await;
    mail_to(&s, &p.dave, &id, "Approved").await;
    s.syslog
        .wait_for(
            |l| {
                l.contains(" justification-granted ")
                    && l.contains("TLS certificate expires tomorrow")
            },
            WAIT,
        )
        .await;
    assert_eq!(
        grants(&s, &p.dave, "certificate.sign").await["allowed"],
        true
    );
}

/// Denied while pending, allowed once approved inside the window, denied
/// again when the window's timer ends it — through the API and the CLI.
/// Prints how late the end was applied.
#[tokio::test(flavor = "multi_thread")]
async fn the_grants_check_denies_pending_allows_active_and_denies_after_the_window() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("grants");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let (status, created) = s
        .daemon
        .submit(&starting_now(&p.dave, "certificate.sign", 12))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let end: chrono::DateTime<chrono::Utc> =
        created["window"]["end"].as_str().unwrap().parse().unwrap();
    let g = grants(&s, &p.dave, "certificate.sign").await;
    assert_eq!(
        (g["allowed"].clone(), g["reason"].clone()),
        (json!(false), json!("pending approval")),
        "{g}"
    );
    assert_eq!(g["request"], id.as_str());

    let socket = s.daemon.socket().display().to_string();
    let cli = |json: bool| {
        let mut args = vec![
            "grants",
            "check",
            "--socket",
            &socket,
            "--requester",
            &p.dave,
            "--action",
            "certificate.sign",
            "--resource",
            "web-01.example.test",
        ];
        if json {
            args.push("--json");
        }
        approvald(&args)
    };
    let denied = cli(false);
    assert_eq!(denied.status.code(), Some(1), "{denied:?}");
    assert!(String::from_utf8_lossy(&denied.stdout).contains("pending approval"));

    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "active", WAIT).await;
    let g = grants(&s, &p.dave, "certificate.sign").await;
    assert_eq!(g["allowed"], true, "{g}");
    assert_eq!(
        g["until"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        end
    );
    let allowed = cli(true);
    assert_eq!(allowed.status.code(), Some(0), "{allowed:?}");
    let answer: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(answer["allowed"], true);

    s.daemon.wait_for_status(&id, "ended", WAIT).await;
    let seen_ended = chrono::Utc::now();
    assert_eq!(
        grants(&s, &p.dave, "certificate.sign").await["allowed"],
        false
    );
    assert_eq!(cli(false).status.code(), Some(1));
    let line = s
        .syslog
        .wait_for(|l| l.contains(" window-ended ") && l.contains(&id), WAIT)
        .await;
    assert!(line.contains("may be rotated"), "{line}");
    // The audit event's own time is when the timer applied the end.
    let applied: chrono::DateTime<chrono::Utc> = line
        .split(' ')
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {line}"));
    let late = (applied - end).num_microseconds().unwrap_or_default();
    assert!(late >= 0, "ended before the window's end: {line}");
    eprintln!(
        "timer accuracy: window end -> ended applied after {late} us; observed through the API after {} ms (polled every 100 ms)",
        (seen_ended - end).num_milliseconds()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_tells_those_asked_and_a_late_reply_is_refused_as_cancelled() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("cancel");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice, &p.bob], 2)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let (status, dup) = s.daemon.submit(&submission(&p.dave)).await;
    assert_eq!(
        status, 409,
        "a second pending request for the same thing: {dup}"
    );
    assert!(dup["error"].as_str().unwrap().contains(&id), "{dup}");

    let (status, cancelled) = post(
        &s,
        &format!("/v1/requests/{id}/cancel"),
        json!({"by": "dave", "reason": "wrong window"}),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    for who in [&p.alice, &p.bob, &p.dave] {
        mail_to(&s, who, &id, "Request cancelled").await;
    }
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let line = s
        .syslog
        .wait_for(|l| l.contains(" reply-refused ") && l.contains(&id), WAIT)
        .await;
    assert!(line.contains("cancelled"), "{line}");
    assert_eq!(s.get(&id).await["status"], "cancelled");
    let (status, _) = s.daemon.submit(&submission(&p.dave)).await;
    assert_eq!(status, 201, "resubmitted at once");

    let (status, again) = post(
        &s,
        &format!("/v1/requests/{id}/cancel"),
        json!({"by": "dave", "reason": "twice"}),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    let (status, unknown) = post(
        &s,
        &format!("/v1/requests/{id}/cancel"),
        json!({"by": "dave", "reason": "x", "extra": 1}),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused: {unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn override_decides_over_the_approvers_audited_as_a_warning_and_mailed() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("override");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    s.approval_mail(&p.alice, &id).await;
    let (status, bad) = post(
        &s,
        &format!("/v1/requests/{id}/override"),
        json!({"by": "root", "reason": "x", "status": "active"}),
    )
    .await;
    assert_eq!(
        (status, bad["field"].clone()),
        (422, json!("status")),
        "{bad}"
    );
    let started = Instant::now();
    let (status, done) = post(
        &s,
        &format!("/v1/requests/{id}/override"),
        json!({"by": "root on call", "reason": "CAB approved by phone", "status": "rejected"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "rejected");
    assert_eq!(done["interventions"][0]["channel"], "override");
    assert_eq!(done["interventions"][0]["by"], "root on call");
    mail_to(&s, &p.alice, &id, "Rejected by an administrator").await;
    mail_to(&s, &p.dave, &id, "Rejected by an administrator").await;
    // Severity warning (4) in facility auth (10): PRI 84.
    let line = s
        .syslog
        .wait_for(|l| l.contains(" overridden ") && l.contains(&id), WAIT)
        .await;
    assert!(
        line.starts_with("<84>") && line.contains("CAB approved by phone"),
        "{line}"
    );
    assert!(started.elapsed() < WAIT);
}

/// Quorum 2 of a named approver group, then the reports: filters, paging,
/// CSV through the API (by parameter and by Accept) and the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn quorum_of_a_named_group_then_reports_filter_page_and_export_csv() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("reports");
    let leads = format!("[approver_groups]\nleads = [{:?}, {:?}]", p.alice, p.bob);
    let s = crate::flow::start_with(
        vec![group(
            &p,
            vec![Level {
                approvers: vec!["@leads".into()],
                quorum: 2,
                extra: String::new(),
            }],
        )],
        |c| c.tables_extra.push(leads),
    )
    .await;
    let id = s.submit(&p.dave).await;
    let from_alice = s.approval_mail(&p.alice, &id).await;
    let from_bob = s.approval_mail(&p.bob, &id).await;
    s.reply(&from_alice, &p.alice, "APPROVE").await;
    s.inbox().wait_for_count("Processed", 1, WAIT).await;
    let mid = s.get(&id).await;
    assert_eq!(mid["status"], "pending", "one of two: {mid}");
    assert_eq!(mid["approval_levels"][0]["quorum"], 2);
    assert_eq!(mid["approval_levels"][0]["answered"], json!([p.alice]));
    s.reply(&from_bob, &p.bob, "APPROVE, checked").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
    let second = s.submit(&p.dave).await;

    let (status, page) = s.daemon.request("GET", "/v1/requests?limit=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["requests"][0]["id"], id.as_str());
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = s
        .daemon
        .request(
            "GET",
            &format!("/v1/requests?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(page2["requests"][0]["id"], second.as_str());
    assert!(page2["next_cursor"].is_null(), "{page2}");

    let approver = p.bob.replace('+', "%2B").replace('@', "%40");
    let (_, mine) = s
        .daemon
        .request(
            "GET",
            &format!("/v1/requests?approver={approver}&status=approved"),
            None,
        )
        .await;
    let ids: Vec<_> = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(id)], "my approvals, approved: {mine}");
    let (_, none) = s
        .daemon
        .request("GET", "/v1/requests?emergency=true", None)
        .await;
    assert_eq!(none["requests"], json!([]));
    let (status, bad) = s
        .daemon
        .request("GET", "/v1/requests?format=xml", None)
        .await;
    assert_eq!((status, bad["field"].clone()), (400, json!("format")));

    let (status, csv) = s
        .daemon
        .request("GET", "/v1/requests?format=csv", None)
        .await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_owned();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("id,status,emergency,requester,action,resource"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("\"{id}\",\"approved\",\"false\",\"{}\"", p.dave)),
        "{csv}"
    );
    assert!(
        lines[1].contains(&format!("L1 {} approve; L1 {} approve", p.alice, p.bob)),
        "{csv}"
    );

    let socket = s.daemon.socket().display().to_string();
    let out = approvald(&[
        "request", "list", "--socket", &socket, "--format", "csv", "--status", "pending",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[1].starts_with(&format!("\"{second}\",\"pending\"")),
        "{text}"
    );
}

/// Nobody reads the request: it expires at its deadline, the requester,
/// the open level's approvers and the group's watchers are all told.
#[tokio::test(flavor = "multi_thread")]
async fn expiry_is_mailed_to_requester_approvers_and_watchers_without_anyone_reading() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("expiry");
    let mut g = group(&p, vec![Level::new(&[&p.alice, &p.bob], 1)]);
    g.deadline = "4s".into();
    g.extra.push(format!("notify = [{:?}]", p.mallory));
    let s = start(vec![g]).await;
    let id = s.submit(&p.dave).await;
    s.daemon.wait_for_status(&id, "expired", WAIT).await;
    mail_to(&s, &p.dave, &id, "Expired").await;
    for who in [&p.alice, &p.bob] {
        let told = mail_to(&s, who, &id, "No longer needs your answer").await;
        assert!(told.text().contains("nothing to do"), "{}", told.text());
    }
    mail_to(&s, &p.mallory, &id, "Expired").await;
    s.syslog
        .wait_for(|l| l.contains(" expired ") && l.contains(&id), WAIT)
        .await;
}

/// Any approver takes granted access back by replying REVOKE to the grant
/// notice, from their own mailbox.
#[tokio::test(flavor = "multi_thread")]
async fn an_approver_revokes_by_replying_revoke_to_the_grant_notice() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("revokereply");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice, &p.bob], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
    let notice = mail_to(&s, &p.bob, &id, "Approved: access granted").await;
    assert!(notice.text().contains("REVOKE"), "{}", notice.text());
    s.reply(&notice, &p.bob, "REVOKE - the change was cancelled")
        .await;
    let done = s.daemon.wait_for_status(&id, "revoked", WAIT).await;
    assert_eq!(done["interventions"][0]["by"], p.bob.as_str());
    assert_eq!(done["interventions"][0]["channel"], "email");
    assert_eq!(
        done["interventions"][0]["reason"],
        "the change was cancelled"
    );
    mail_to(&s, &p.dave, &id, "Access revoked").await;
    s.syslog
        .wait_for(|l| l.contains(" revoked ") && l.contains(&id), WAIT)
        .await;
}

/// A reminder reaches the approver before the deadline, in the same thread
/// with the same token; then the level escalates and the escalation
/// approver decides for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_comes_before_the_deadline_then_escalation_lets_another_decide() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("remind");
    let mut level = Level::new(&[&p.alice], 1);
    level.extra = format!(", escalation = [{:?}], escalate_after = \"8s\"", p.carol);
    let mut g = group(&p, vec![level]);
    g.deadline = "30s".into();
    g.extra.push("reminders = [\"10%\"]".into());
    let s = start(vec![g]).await;
    let id = s.submit(&p.dave).await;
    let first = s.approval_mail(&p.alice, &id).await;
    let reminder = mail_to(&s, &p.alice, &id, "Reminder:").await;
    assert!(
        reminder
            .header("In-Reply-To")
            .unwrap_or_default()
            .contains(&first.message_id().unwrap()),
        "threaded under the first mail"
    );
    assert_eq!(reminder.reply_to(), first.reply_to(), "the same token");
    s.syslog
        .wait_for(|l| l.contains(" reminded ") && l.contains(&id), WAIT)
        .await;
    assert_eq!(
        s.get(&id).await["status"],
        "pending",
        "a reminder decides nothing"
    );

    let to_carol = s.approval_mail(&p.carol, &id).await;
    s.syslog
        .wait_for(|l| l.contains(" escalated ") && l.contains(&id), WAIT)
        .await;
    s.reply(&to_carol, &p.carol, "APPROVE").await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"][0]["approver"], p.carol.as_str());
}

/// An HTTP receiver on 127.0.0.1 standing for the vault: it records each
/// request body, answers 503 to the first call and 204 to the rest.
struct Receiver {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            let mut calls = 0;
            while let Ok((mut conn, _)) = listener.accept().await {
                calls += 1;
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                loop {
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            seen.lock().unwrap().push(body.to_owned());
                            break;
                        }
                    }
                }
                let status = if calls == 1 {
                    "503 Service Unavailable"
                } else {
                    "204 No Content"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                conn.write_all(answer.as_bytes()).await.ok();
            }
        });
        Receiver { port, bodies }
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.bodies.lock().unwrap().clone();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// When the window ends, the group's `on_end` receiver is called with the
/// request; a 503 is retried until it takes it.
#[tokio::test(flavor = "multi_thread")]
async fn the_on_end_webhook_is_called_when_the_window_ends_and_retried_after_a_503() {
    if skip_without_stack() {
        return;
    }
    let receiver = Receiver::start().await;
    let p = People::new("onend");
    let mut g = group(&p, vec![Level::new(&[&p.alice], 1)]);
    g.extra.push(format!(
        "on_end = \"http://127.0.0.1:{}/rotate\"",
        receiver.port
    ));
    let s = start(vec![g]).await;
    let (status, created) = s
        .daemon
        .submit(&starting_now(&p.dave, "certificate.sign", 6))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "ended", WAIT).await;
    let bodies = receiver.wait_for(2).await;
    assert_eq!(bodies.len(), 2, "one 503, one retry: {bodies:?}");
    assert_eq!(bodies[0], bodies[1], "a retry sends the same bytes");
    let body: Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(body["event"], "access-ended");
    assert_eq!(body["request"], id.as_str());
    assert_eq!(body["requester"], p.dave.as_str());
    assert_eq!(body["status"], "ended");
    s.syslog
        .wait_for(|l| l.contains(" webhook-failed ") && l.contains(&id), WAIT)
        .await;
    s.syslog
        .wait_for(
            |l| l.contains(" webhook-delivered ") && l.contains(&id),
            WAIT,
        )
        .await;
}

/// Percent-decodes a mailto component (RFC 6068).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The one-tap buttons: the Approve button's `mailto:` URL, taken from the
/// HTML as a phone's mail app would, opens a reply; sending exactly what it
/// encodes (from the approver's own mailbox) approves. The text part
/// carries the same URLs.
#[tokio::test(flavor = "multi_thread")]
async fn the_approve_button_opens_a_reply_that_approves_when_sent_as_encoded() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("mailto");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let html = ask.html().unwrap();
    let href = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .find(|h| h.contains("body=APPROVE"))
        .expect("an Approve button");
    assert!(ask.text().contains(&href), "the text part has the same URL");
    let (to, query) = href
        .strip_prefix("mailto:")
        .unwrap()
        .split_once('?')
        .unwrap();
    let mut subject = String::new();
    let mut body = String::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap();
        match k {
            "subject" => subject = percent_decode(v),
            "body" => body = percent_decode(v),
            other => panic!("unexpected field {other}"),
        }
    }
    assert_eq!(to, ask.reply_to().unwrap(), "to the plus-address");
    assert!(
        subject.starts_with("Re: ") && subject.contains(&id),
        "{subject}"
    );
    assert_eq!(body, "APPROVE\r\n\r\n");
    crate::support::smtp::Smtp::new(s.stack)
        .send_text(&p.alice, to, &subject, &body)
        .await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"][0]["approver"], p.alice.as_str());
}
