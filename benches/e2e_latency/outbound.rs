//! Outbound mail: how fast does approvald hand a backlog of mails to the
//! submission server, next to a bare SMTP client sending the same mails to
//! the same Postfix in the same run?
//!
//! approvald: `n / 2` requests are submitted while the daemon's SMTP port
//! points at a closed port, so every mail (an approval request to the
//! approver and a receipt to the requester per request) waits in the
//! outbox. The daemon is stopped, pointed at Postfix and started again;
//! timed from the start until the last `mailed` audit event arrives (the
//! daemon records it after Postfix's final 250), and until Dovecot holds
//! every mail.
//!
//! Bare client: raw SMTP over tokio TCP with Nagle's algorithm off, one
//! command at a time as lettre sends them (no pipelining), the same two
//! mails as approvald delivered them (read back from the mailboxes, the
//! delivery headers taken off) to the same recipients, `n` in all: once
//! over one connection, once over four. Timed from the first connection
//! attempt until the last 250 (acceptance), and until Dovecot holds every
//! mail.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::people;
use crate::support::mailbox::Mailbox;
use crate::support::stack::Stack;

/// How often the audit lines and mailboxes are looked at.
const POLL: Duration = Duration::from_millis(10);

/// One measured way of sending `n` mails.
#[derive(Debug)]
pub(crate) struct Sender {
    /// What sent them.
    pub(crate) name: String,
    /// Start until Postfix accepted the last one.
    pub(crate) accepted: Duration,
    /// Start until Dovecot holds every one.
    pub(crate) delivered: Duration,
}

/// Everything one outbound run measured.
#[derive(Debug)]
pub(crate) struct OutboundRun {
    /// Mails per sender.
    pub(crate) n: usize,
    /// Average size of one mail as submitted, in bytes.
    pub(crate) mail_bytes: usize,
    /// approvald first, then the bare client over 1 and over 4 connections.
    pub(crate) senders: Vec<Sender>,
    /// Load average (1 minute) when the part started and when it ended.
    pub(crate) load: (String, String),
}

/// Runs the outbound bench with `n` mails per sender (rounded up to even).
pub(crate) async fn run(stack: &Stack, n: usize) -> OutboundRun {
    let requests = n.div_ceil(2).max(1);
    let n = 2 * requests;
    eprintln!("e2e_latency: outbound, {n} mails per sender");
    let load_before = load_average();
    let closed = closed_port();
    let mut setup = people::start(stack, "bench-outbound", |c| c.stack.smtp_port = closed).await;
    let approver_box = Mailbox::new(stack, &setup.approver);
    let requester_box = Mailbox::new(stack, &setup.requester);
    let patience = Duration::from_secs(120).max(Duration::from_millis(200) * n as u32);

    for _ in 0..requests {
        setup.submit().await;
    }
    let exit = setup.daemon.terminate().await;
    assert!(exit.success(), "approvald exited with {exit}");
    assert_eq!(mailed(&setup), 0, "nothing can have been sent");
    setup.daemon.config_mut().stack.smtp_port = stack.smtp_port;

    let started = Instant::now();
    setup.daemon.restart().await;
    let accepted = wait_until(started, patience, "mailed audit events", || {
        let have = mailed(&setup);
        async move { have >= n }
    })
    .await;
    let delivered = wait_delivered(&[&approver_box, &requester_box], n, started, patience).await;
    let exit = setup.daemon.terminate().await;
    assert!(exit.success(), "approvald exited with {exit}");
    eprintln!(
        "  approvald: {n} accepted after {:.2} s, delivered after {:.2} s",
        accepted.as_secs_f64(),
        delivered.as_secs_f64()
    );
    let mut senders = vec![Sender {
        name: "approvald (outbox worker)".into(),
        accepted,
        delivered,
    }];

    // The same two mails, as approvald submitted them.
    let templates = [
        (setup.approver.clone(), sample(&approver_box).await),
        (setup.requester.clone(), sample(&requester_box).await),
    ];
    let mail_bytes = templates.iter().map(|(_, m)| m.len()).sum::<usize>() / templates.len();
    let from = setup.daemon.address().to_owned();
    for connections in [1usize, 4] {
        let before = [
            approver_box.count("INBOX").await,
            requester_box.count("INBOX").await,
        ];
        let started = Instant::now();
        let jobs = (0..connections).map(|c| {
            let mine: Vec<&(String, Vec<u8>)> = (0..n)
                .filter(|i| i % connections == c)
                .filter_map(|i| templates.get(i % 2))
                .collect();
            let from = from.as_str();
            async move { send_bare(stack.smtp_port, from, &mine).await }
        });
        futures::future::join_all(jobs).await;
        let accepted = started.elapsed();
        let delivered = wait_delivered_beyond(
            &[(&approver_box, before[0]), (&requester_box, before[1])],
            n,
            started,
            patience,
        )
        .await;
        let name = format!(
            "bare SMTP client, {connections} connection{}",
            if connections == 1 { "" } else { "s" }
        );
        eprintln!(
            "  {name}: {n} accepted after {:.2} s, delivered after {:.2} s",
            accepted.as_secs_f64(),
            delivered.as_secs_f64()
        );
        senders.push(Sender {
            name,
            accepted,
            delivered,
        });
    }
    OutboundRun {
        n,
        mail_bytes,
        senders,
        load: (load_before, load_average()),
    }
}

/// A port on 127.0.0.1 nothing listens on (for a while, at least).
fn closed_port() -> u16 {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    free.local_addr().expect("local address").port()
}

/// The 1-minute load average, as the kernel prints it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// `mailed` audit events received so far.
fn mailed(setup: &people::Setup) -> usize {
    setup
        .syslog
        .lines()
        .iter()
        .filter(|l| l.contains("kind=\"mailed\""))
        .count()
}

/// Polls `done` until it holds; the time since `started`.
async fn wait_until<F, Fut>(started: Instant, patience: Duration, what: &str, done: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if done().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < patience, "no {what} after {patience:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the INBOXes of `boxes` hold `n` messages together.
async fn wait_delivered(
    boxes: &[&Mailbox],
    n: usize,
    started: Instant,
    patience: Duration,
) -> Duration {
    let from_zero: Vec<(&Mailbox, usize)> = boxes.iter().map(|b| (*b, 0)).collect();
    wait_delivered_beyond(&from_zero, n, started, patience).await
}

/// Waits until the INBOXes of `boxes` hold `n` messages more than the
/// counts given with them.
async fn wait_delivered_beyond(
    boxes: &[(&Mailbox, usize)],
    n: usize,
    started: Instant,
    patience: Duration,
) -> Duration {
    let mut sessions = Vec::new();
    for (b, _) in boxes {
        sessions.push(b.session().await);
    }
    let base: usize = boxes.iter().map(|(_, c)| c).sum();
    loop {
        let mut have = 0usize;
        for s in &mut sessions {
            let mb = s.status("INBOX", "(MESSAGES)").await.expect("STATUS");
            have += mb.exists as usize;
        }
        if have >= base + n {
            let at = started.elapsed();
            for mut s in sessions {
                s.logout().await.ok();
            }
            return at;
        }
        assert!(
            started.elapsed() < patience,
            "{} of {n} mails delivered after {patience:?}",
            have.saturating_sub(base)
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The first message in `mailbox`'s INBOX as it was submitted: without the
/// headers delivery added in front (Return-Path, Delivered-To, Received).
async fn sample(mailbox: &Mailbox) -> Vec<u8> {
    let mail = mailbox
        .fetch_all("INBOX")
        .await
        .into_iter()
        .next()
        .expect("a delivered mail");
    let text = String::from_utf8(mail.raw).expect("7-bit or UTF-8 mail");
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.peek() {
        let added = ["Return-Path:", "Delivered-To:", "Received:"]
            .iter()
            .any(|h| line.starts_with(h));
        if !added {
            break;
        }
        lines.next();
        while lines
            .peek()
            .is_some_and(|l| l.starts_with(' ') || l.starts_with('\t'))
        {
            lines.next();
        }
    }
    lines.collect::<String>().into_bytes()
}

/// Sends `mails` (recipient, message) over one SMTP connection, one
/// command at a time.
async fn send_bare(port: u16, from: &str, mails: &[&(String, Vec<u8>)]) {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("SMTP connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (r, mut w) = tcp.into_split();
    let mut r = BufReader::new(r);
    expect_reply(&mut r, "220").await;
    w.write_all(b"EHLO bench.example.test\r\n")
        .await
        .expect("EHLO");
    expect_reply(&mut r, "250").await;
    for (to, message) in mails {
        w.write_all(format!("MAIL FROM:<{from}>\r\n").as_bytes())
            .await
            .expect("MAIL");
        expect_reply(&mut r, "250").await;
        w.write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())
            .await
            .expect("RCPT");
        expect_reply(&mut r, "250").await;
        w.write_all(b"DATA\r\n").await.expect("DATA");
        expect_reply(&mut r, "354").await;
        w.write_all(&dot_stuffed(message)).await.expect("message");
        expect_reply(&mut r, "250").await;
    }
    w.write_all(b"QUIT\r\n").await.expect("QUIT");
    expect_reply(&mut r, "221").await;
}

/// `message` with CRLF line ends, leading dots doubled and the final
/// `.` line, as DATA takes it.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let mut out = String::with_capacity(message.len() + 16);
    for line in text.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out.into_bytes()
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect_reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).await.expect("SMTP reply");
        assert!(n > 0, "SMTP server closed the connection");
        assert!(line.starts_with(code), "wanted {code}, got {line:?}");
        // `250-` continues, `250 ` ends.
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}
