//! CPU cost of reading a reply, without any I/O: the reply-text parser on
//! replies shaped as real clients write them, and the whole raw-message
//! parser (MIME, headers, tokens, body) on the fixture mails.
//!
//! `cargo bench --bench parse`; see BENCHMARKS.md. Measurement is kept short
//! (3 s per benchmark, 30 samples) so the whole run stays under a minute:
//! these are microsecond-scale functions, and the point is the order of
//! magnitude next to the milliseconds of IMAP and fsync, not the third digit.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench fails loudly on bad fixtures; that is its whole error handling"
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Inbound size limit as configured by default (`[inbound] max_message_size`).
const MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// The approval mail's text as approvald sends it (templates/request.txt).
const APPROVAL_MAIL: &str = "##- Please type your reply above this line -##

Approval needed: AR-1043, level 1 of 2

dave@example.test asks to run certificate.sign on web-01.example.test.

HOW TO ANSWER
Reply with APPROVE or DISAPPROVE on the first line; anything after the word is your comment. You may narrow the window: APPROVE 2h, or APPROVE until 18:00.
Times are UTC. Reply to this mail; do not forward it.

THE REQUEST
Requester: dave@example.test
Action: certificate.sign
Resource: web-01.example.test
Reason: Scheduled maintenance
Governance code: CHG-4711
Group: pki-operators
Window: 2026-11-21 10:00 to 2026-11-21 12:00 (2h)
Level: 1 of 2, needs 1 approval
Deadline: 2026-11-22 10:00

Justification:
  TLS certificate expires tomorrow

DECISIONS SO FAR
None yet.

Access approvals
Approval token: aso7grea65oji74k3lhxtqbnwyeznfffe72lydzd3utdnucxhsxa
";

/// "> " before each line, ">" alone on an empty one, as clients quote.
fn quote(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                ">\n".to_owned()
            } else {
                format!("> {l}\n")
            }
        })
        .collect()
}

/// Gmail web: short answer, a wrapped attribution line, the quoted mail.
fn gmail_reply() -> String {
    format!(
        "APPROVE looks good, go ahead\n\nOn Sat, Nov 21, 2026 at 10:02 AM Access approvals <\napprovals@example.test> wrote:\n\n{}",
        quote(APPROVAL_MAIL)
    )
}

/// Outlook desktop: a signature, the rule, the From/Sent/To/Subject block,
/// then the original unquoted.
fn outlook_reply() -> String {
    format!(
        "DISAPPROVE not during the change freeze, please resubmit on Monday.\n\n\
         Best regards,\nCarol Example\nHead of PKI operations | Example Corp\n+49 30 1234567\n\n\
         ________________________________\n\
         From: Access approvals <approvals@example.test>\n\
         Sent: Saturday, November 21, 2026 10:02 AM\n\
         To: Carol Example <carol@example.test>\n\
         Subject: Approval needed: AR-1043 certificate.sign on web-01.example.test\n\n{APPROVAL_MAIL}"
    )
}

/// A long thread: a comment on top, then twelve rounds of discussion, each
/// quoting the whole thread before it (about 8 KB, most of it quoted).
fn long_thread_reply() -> String {
    let mut thread = APPROVAL_MAIL.to_owned();
    for round in 1..=12 {
        thread = format!(
            "Round {round}: see my notes below, and the ticket CHG-4711 for the history.\n\
             We discussed this in the change advisory board meeting on Thursday. The\n\
             certificate on web-01 expires tomorrow at 09:00 UTC, and the renewal has to\n\
             go through the offline CA, which only the PKI operators can reach. Dave has\n\
             done this twice before; the runbook is linked in the ticket.\n\n\
             Kind regards,\nPerson {round}\n\n\
             On Fri, Nov 20, 2026 at {round}:15 PM Person <person{round}@example.test> wrote:\n{}",
            quote(&thread)
        );
    }
    format!(
        "APPROVE until 18:00\n\nThe window is narrowed because the backup job runs at 18:30.\n\
         The runbook is linked from the change ticket.\n\n{thread}"
    )
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// Every `.eml` fixture, by file name, sorted for a stable order.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/mail")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn reply_text(c: &mut Criterion) {
    let replies = [
        ("gmail", gmail_reply()),
        ("outlook_header_block", outlook_reply()),
        ("long_quoted_thread", long_thread_reply()),
    ];
    let mut group = c.benchmark_group("parse_reply_text");
    for (name, text) in &replies {
        // Measure the path the daemon takes for a good reply, not an early
        // refusal: every sample reply must parse to a verb.
        let verb = approvald::entry::parse_reply_text(text)
            .unwrap_or_else(|why| panic!("{name} does not parse: {why}"));
        eprintln!("{name}: {} bytes, {verb}", text.len());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| approvald::entry::parse_reply_text(black_box(text)))
        });
    }
    group.finish();
}

fn raw_message(c: &mut Criterion) {
    let all = fixtures();
    assert!(
        !all.is_empty(),
        "no fixtures in {}",
        fixtures_dir().display()
    );
    let mut group = c.benchmark_group("parse_message");
    for name in ["gmail_web_reply", "outlook_desktop_reply"] {
        let (_, raw) = all
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("fixture {name}.eml is missing"));
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| approvald::entry::parse_message(black_box(raw), MAX_MESSAGE_SIZE))
        });
    }
    // Every fixture once per iteration, bounces and auto-replies included:
    // the mix an inbox really sees.
    group.throughput(Throughput::Elements(all.len() as u64));
    group.bench_function(format!("all_{}_fixtures", all.len()), |b| {
        b.iter(|| {
            for (_, raw) in &all {
                drop(black_box(approvald::entry::parse_message(
                    black_box(raw),
                    MAX_MESSAGE_SIZE,
                )));
            }
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = reply_text, raw_message
}
criterion_main!(benches);
