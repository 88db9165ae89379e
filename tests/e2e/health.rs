//! Running it as admins run services: readiness and the watchdog as systemd
//! sees them (`NOTIFY_SOCKET`, `WATCHDOG_USEC`), `/v1/health` and
//! `/metrics`, with the IMAP server hanging and with a worker stalled.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::flow::{group, start_with, People, WAIT};
use crate::support::daemon_config::Level;
use crate::support::hang_proxy::HangProxy;
use crate::support::notify::{has_line, statuses, NotifyListener};
use crate::support::stack::{skip_without_stack, Stack};

/// systemd's watchdog interval in these tests: pings every second.
const WATCHDOG_USEC: &str = "2000000";

fn watchdog_env() -> (String, String) {
    ("WATCHDOG_USEC".into(), WATCHDOG_USEC.into())
}

/// `GET path` over TCP: status, headers (lower-case names) and body.
async fn http_get(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An IMAP server that accepts connections and never answers: the daemon
/// still gets ready (saying the login fails), its IMAP worker keeps
/// retrying and keeps beating, so the watchdog keeps being pinged — a
/// restart would not cure the server — while `/v1/health` answers 503.
/// Once the server answers again, the daemon connects, says so, and is
/// healthy.
#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_imap_server_degrades_the_daemon_but_does_not_stop_the_watchdog() {
    if skip_without_stack() {
        return;
    }
    let proxy = HangProxy::start(Stack::shared().imap_port, true).await;
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifyListener::bind(dir.path());
    let p = People::new("imap_hangs");
    let mut s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.stack.imap_port = proxy.port;
        c.env.push(notify.env());
        c.env.push(watchdog_env());
        c.env.push(("APPROVALD__IMAP__TIMEOUT".into(), "2s".into()));
    })
    .await;

    let started = notify.until(|l| l == "READY=1", WAIT).await;
    let status = statuses(&started);
    assert_eq!(
        status.first().map(String::as_str),
        Some("starting: store open, API listening; logging in to IMAP"),
        "{started:?}"
    );
    let ready = status.last().unwrap();
    assert!(
        ready.starts_with("ready; IMAP login failing, retrying: ") && ready.contains("timed out"),
        "{ready}"
    );

    let (code, health) = s.daemon.request("GET", "/v1/health", None).await;
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["imap"]["state"], "failing", "{health}");
    assert!(
        health["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["state"] == "ok"),
        "the IMAP worker retries, it is not stalled: {health}"
    );
    // Pings go on while the server hangs: several retries' worth of them.
    for _ in 0..4 {
        notify.until(|l| l == "WATCHDOG=1", WAIT).await;
    }

    proxy.hang(false);
    notify
        .until(
            |l| l == "STATUS=ready; IMAP connected",
            Duration::from_secs(90),
        )
        .await;
    let (code, health) = s.daemon.request("GET", "/v1/health", None).await;
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["imap"]["state"], "connected", "{health}");
    notify.until(|l| l == "WATCHDOG=1", WAIT).await;

    assert!(s.daemon.terminate().await.success(), "{}", s.daemon.log());
    notify.until(|l| l == "STOPPING=1", WAIT).await;
}

/// A worker blocked where nothing bounds it (the IMAP worker, made to stall
/// by the test hook) stops the watchdog's pings within its heartbeat bound,
/// says so in `STATUS=`, and turns `/v1/health` to 503 naming it. It does
/// not recover by itself: that is what the watchdog's restart is for.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_worker_stops_the_watchdog_pings_and_fails_the_health_check() {
    if skip_without_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifyListener::bind(dir.path());
    let stall = dir.path().join("stall");
    let p = People::new("worker_stalls");
    let mut s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.env.push(notify.env());
        c.env.push(watchdog_env());
        c.env.push((
            "APPROVALD_TEST_STALL_FILE".into(),
            stall.display().to_string(),
        ));
        // Polling every second, so the worker passes its stall point often;
        // a 2 s step timeout makes its heartbeat bound 10 s.
        c.env.push(("APPROVALD__IMAP__IDLE".into(), "false".into()));
        c.env.push(("APPROVALD__IMAP__TIMEOUT".into(), "2s".into()));
    })
    .await;
    let started = notify.until(|l| l == "READY=1", WAIT).await;
    assert!(
        has_line(&started, "STATUS=ready; IMAP connected"),
        "{started:?}"
    );
    notify.until(|l| l == "WATCHDOG=1", WAIT).await;
    let (code, health) = s.daemon.request("GET", "/v1/health", None).await;
    assert_eq!(code, 200, "{health}");

    std::fs::write(&stall, b"").unwrap();
    notify
        .until(
            |l| l.starts_with("STATUS=stalled, watchdog not pinged: worker imap stalled"),
            WAIT,
        )
        .await;
    let (code, health) = s.daemon.request("GET", "/v1/health", None).await;
    assert_eq!(code, 503, "{health}");
    let imap = health["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "imap")
        .unwrap()
        .clone();
    assert_eq!(imap["state"], "stalled", "{health}");
    assert!(
        health["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("worker imap stalled"),
        "{health}"
    );
    // Three ping intervals, and not one ping.
    let after = notify.collect(Duration::from_secs(3)).await;
    assert!(
        !has_line(&after, "WATCHDOG=1"),
        "pinged while stalled: {after:?}"
    );

    assert!(s.daemon.terminate().await.success(), "{}", s.daemon.log());
    notify.until(|l| l == "STOPPING=1", WAIT).await;
}

/// `/metrics` scraped over the loopback listener after a request went
/// round (a refused reply, then an approval) shows the counters and
/// gauges; `/v1/health` answers there and on the socket; nothing else is
/// served on that listener.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_over_the_loopback_listener_count_what_went_round() {
    if skip_without_stack() {
        return;
    }
    let port = free_port();
    let p = People::new("metrics");
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.tables_extra
            .push(format!("[metrics]\nlisten = \"127.0.0.1:{port}\""));
    })
    .await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    s.reply(&ask, &p.mallory, "APPROVE").await;
    s.syslog
        .wait_for(|l| l.contains(" reply-refused "), WAIT)
        .await;
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;

    let want = [
        "approvald_decisions_total{channel=\"email\"} 1",
        "approvald_replies_refused_total{reason=\"sender\"} 1",
        "approvald_requests{status=\"approved\"} 1",
        "approvald_requests{status=\"pending\"} 0",
        "approvald_imap_state{state=\"connected\"} 1",
        "approvald_imap_state{state=\"failing\"} 0",
        "approvald_build_info{version=\"0.1.0\"} 1",
        "approvald_alive 1",
    ];
    // The counters move just after the commit the API shows: read until
    // they have.
    let deadline = std::time::Instant::now() + WAIT;
    let (headers, text) = loop {
        let (code, headers, text) = http_get(port, "/metrics").await;
        assert_eq!(code, 200, "{text}");
        if want.iter().all(|w| text.lines().any(|l| l == *w)) {
            break (headers, text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing some of {want:#?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    let last_poll: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("approvald_imap_last_poll_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(last_poll > 1_700_000_000, "{text}");
    for spool in ["outbox", "audit", "webhooks"] {
        let depth = format!("approvald_spool_depth{{spool=\"{spool}\"}} ");
        let age = format!("approvald_spool_oldest_age_seconds{{spool=\"{spool}\"}} ");
        assert!(
            text.lines().any(|l| l.starts_with(&depth)),
            "{depth}\n{text}"
        );
        assert!(text.lines().any(|l| l.starts_with(&age)), "{age}\n{text}");
    }
    for worker in ["imap", "outbox", "audit", "webhooks", "timers"] {
        let line = format!("approvald_worker_heartbeat_age_seconds{{worker=\"{worker}\"}} ");
        assert!(text.lines().any(|l| l.starts_with(&line)), "{line}\n{text}");
    }

    let (code, _, body) = http_get(port, "/v1/health").await;
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let (code, health) = s.daemon.request("GET", "/v1/health", None).await;
    assert_eq!(code, 200, "{health}");
    let (code, scraped) = s.daemon.request("GET", "/metrics", None).await;
    assert_eq!(code, 200);
    assert!(
        scraped
            .as_str()
            .unwrap()
            .contains("approvald_decisions_total{channel=\"email\"} 1"),
        "{scraped}"
    );
    let (code, _, body) = http_get(port, &format!("/v1/requests/{id}")).await;
    assert_eq!(code, 404, "the metrics listener serves the API: {body}");
}
