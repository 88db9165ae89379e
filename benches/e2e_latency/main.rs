//! End-to-end timings of the real approvald binary against the real mail
//! stack (Postfix delivering over LMTP into Dovecot): how long a reply takes
//! from the approver's SMTP submission to the decision in the API, with IMAP
//! IDLE and with polling, how fast a backlog of replies drains, and how
//! fast queued mail leaves the outbox next to a bare SMTP client.
//!
//! Needs a running stack (`scripts/mail-stack start DIR; source DIR/env`)
//! and runs only under `cargo bench` (the `--bench` argument): `cargo test
//! --all-targets` builds this target and runs it without that argument,
//! and it must not take minutes there. `scripts/bench` does all of it;
//! BENCHMARKS.md explains the figures.
//!
//! Tuning, all optional:
//! - `APPROVALD_BENCH_ONLY`: comma-separated parts to run, of `idle`,
//!   `poll`, `backlog`, `backlog-held`, `outbound` (default: all five).
//! - `APPROVALD_BENCH_SAMPLES`: replies per latency run (default 20).
//! - `APPROVALD_BENCH_POLL`: `poll_interval` of the polling run (default 1s).
//! - `APPROVALD_BENCH_BACKLOG`: replies in the backlog (default 10000).
//! - `APPROVALD_BENCH_OUTBOUND`: mails per sender in the outbound part
//!   (default 2000).
//! - `APPROVALD_BENCH_OUT`: a directory for the report and raw samples.
//! - `APPROVALD_BENCH_DIR`: where the daemon's store lives (default: the
//!   system temporary directory). It must be a real disk: the store fsyncs.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench fails by panicking with a message saying what it saw; the shared \
              end-to-end helpers work the same way"
)]
// Timings of a real daemon on real time.
#![expect(
    clippy::disallowed_methods,
    reason = "the benchmark runs against the real clock"
)]

mod backlog;
mod bare;
mod latency;
mod outbound;
mod people;
mod report;
mod stats;
#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::path::PathBuf;

use report::Report;
use support::stack::Stack;

/// Which parts to run and how big, from the environment.
#[derive(Debug)]
struct Plan {
    /// Run the IDLE latency part.
    idle: bool,
    /// Run the polling latency part.
    poll: bool,
    /// Run the backlog part.
    backlog: bool,
    /// Run the backlog part with outcome mails held back during the drain.
    backlog_held: bool,
    /// Run the outbound part.
    outbound: bool,
    /// Sequential replies per latency part.
    samples: usize,
    /// `[imap] poll_interval` of the polling part.
    poll_interval: String,
    /// Replies in the backlog.
    backlog_size: usize,
    /// Mails per sender in the outbound part.
    outbound_size: usize,
    /// Where the report and raw samples go, if anywhere.
    out: Option<PathBuf>,
}

impl Plan {
    fn from_env() -> Plan {
        let only = std::env::var("APPROVALD_BENCH_ONLY").unwrap_or_default();
        let wants = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}"))
                })
                .unwrap_or(default)
        };
        Plan {
            idle: wants("idle"),
            poll: wants("poll"),
            backlog: wants("backlog"),
            backlog_held: wants("backlog-held"),
            outbound: wants("outbound"),
            samples: number("APPROVALD_BENCH_SAMPLES", 20),
            poll_interval: std::env::var("APPROVALD_BENCH_POLL").unwrap_or_else(|_| "1s".into()),
            backlog_size: number("APPROVALD_BENCH_BACKLOG", 10_000),
            outbound_size: number("APPROVALD_BENCH_OUTBOUND", 2000),
            out: std::env::var_os("APPROVALD_BENCH_OUT").map(PathBuf::from),
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("e2e_latency: runs only under `cargo bench` (see scripts/bench)");
        return;
    }
    if std::env::var_os("APPROVALD_TEST_STACK_DIR").is_none() {
        eprintln!(
            "e2e_latency: skipped, no mail stack: run scripts/bench \
             (or scripts/mail-stack start DIR; source DIR/env)"
        );
        return;
    }
    let plan = Plan::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut report = Report::new(plan.out.clone());
    runtime.block_on(async {
        let stack = Stack::shared();
        if plan.idle {
            let run = latency::run(stack, latency::Mode::idle(), plan.samples).await;
            report.latency(&run);
        }
        if plan.poll {
            let mode = latency::Mode::poll(&plan.poll_interval);
            let run = latency::run(stack, mode, plan.samples).await;
            report.latency(&run);
        }
        if plan.backlog {
            let run = backlog::run(stack, plan.backlog_size, false).await;
            report.backlog(&run);
        }
        if plan.backlog_held {
            let run = backlog::run(stack, plan.backlog_size, true).await;
            report.backlog(&run);
        }
        if plan.outbound {
            let run = outbound::run(stack, plan.outbound_size).await;
            report.outbound(&run);
        }
    });
    report.finish();
}
