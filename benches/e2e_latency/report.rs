//! The results as Markdown tables (printed at the end, and saved with the
//! raw samples as CSV when an output directory is given).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::backlog::{BacklogRun, APPEND_CONNECTIONS, SUBMIT_CONCURRENCY};
use crate::latency::{ms, LatencyRun};
use crate::outbound::OutboundRun;
use crate::stats::{summarize, Summary};

/// Accumulates the report while the parts run.
pub(crate) struct Report {
    /// Markdown so far.
    text: String,
    /// Where to save the report and the raw data.
    out: Option<PathBuf>,
}

impl Report {
    pub(crate) fn new(out: Option<PathBuf>) -> Report {
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        }
        Report {
            text: String::new(),
            out,
        }
    }

    /// Adds a latency run: its table, and its samples as CSV.
    pub(crate) fn latency(&mut self, run: &LatencyRun) {
        let s = &run.samples;
        let inbox: Vec<f64> = s.iter().map(|x| ms(x.inbox)).collect();
        let decided: Vec<f64> = s.iter().map(|x| ms(x.decided)).collect();
        let share: Vec<f64> = s.iter().map(|x| ms(x.decided) - ms(x.inbox)).collect();
        let told: Vec<f64> = s.iter().filter_map(|x| x.notified).map(ms).collect();
        let after_told: Vec<f64> = s
            .iter()
            .filter_map(|x| x.notified.map(|n| ms(x.decided) - ms(n)))
            .collect();
        let submits: Vec<f64> = run.submits.iter().copied().map(ms).collect();
        let t = &mut self.text;
        writeln!(
            t,
            "### {}: {} sequential replies\n",
            run.mode.title,
            s.len()
        )
        .unwrap();
        writeln!(
            t,
            "| milliseconds after Postfix accepted the reply | median | p95 | min | mean | max |"
        )
        .unwrap();
        writeln!(t, "|---|---:|---:|---:|---:|---:|").unwrap();
        row(
            t,
            "stored in the approvals INBOX (Postfix, LMTP, Dovecot)",
            &inbox,
        );
        row(
            t,
            &format!(
                "an IDLE session of the bench told `EXISTS` ({} of {})",
                told.len(),
                s.len()
            ),
            &told,
        );
        row(t, "**decision visible in the API**", &decided);
        row(
            t,
            "decision minus stored (notification or poll wait, plus approvald)",
            &share,
        );
        // Only meaningful when the daemon itself waits for that
        // notification; when polling, the rows that have one are a biased
        // subset (the replies that waited long enough to get one).
        if run.mode.idle {
            row(t, "decision minus IDLE notification", &after_told);
        }
        writeln!(t).unwrap();
        if let Some(sub) = summarize(&submits) {
            writeln!(
                t,
                "`POST /v1/requests` (returns after its fsync): median {:.1} ms, p95 {:.1} ms over {}.\n",
                sub.median, sub.p95, sub.n
            ).unwrap();
        }
        let mut csv = String::from("request,smtp_ms,inbox_ms,idle_told_ms,decided_ms\n");
        for x in s {
            writeln!(
                csv,
                "{},{:.2},{:.2},{},{:.2}",
                x.id,
                ms(x.smtp),
                ms(x.inbox),
                x.notified
                    .map(|n| format!("{:.2}", ms(n)))
                    .unwrap_or_default(),
                ms(x.decided)
            )
            .unwrap();
        }
        self.save(&format!("latency-{}.csv", run.mode.key), &csv);
    }

    /// Adds the backlog run: its table, and its progress as CSV.
    pub(crate) fn backlog(&mut self, run: &BacklogRun) {
        let n = run.n;
        let t = &mut self.text;
        let held = if run.held {
            ", outcome mails held back during the drain"
        } else {
            ""
        };
        writeln!(
            t,
            "### Backlog drain: {n} replies waiting in the INBOX{held}\n"
        )
        .unwrap();
        writeln!(t, "| | time | rate |").unwrap();
        writeln!(t, "|---|---:|---:|").unwrap();
        let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        let per_s = |count: usize, d: Duration| format!("{:.0} /s", count as f64 / d.as_secs_f64());
        writeln!(
            t,
            "| setup: {n} submissions over the API ({} at a time) | {} | {} |",
            SUBMIT_CONCURRENCY,
            secs(run.submit),
            per_s(n, run.submit)
        )
        .unwrap();
        writeln!(
            t,
            "| setup: until the outbox had delivered all {} mails | {} | {} |",
            2 * n,
            secs(run.outbox_fill),
            per_s(2 * n, run.outbox_fill)
        )
        .unwrap();
        writeln!(
            t,
            "| setup: IMAP APPEND of {n} replies ({} bytes each, {} connections) | {} | {} |",
            run.reply_bytes,
            APPEND_CONNECTIONS,
            secs(run.append),
            per_s(n, run.append)
        )
        .unwrap();
        writeln!(
            t,
            "| start → API socket answers | {} | |",
            secs(run.startup)
        )
        .unwrap();
        writeln!(
            t,
            "| **approvald: start → INBOX empty (every decision committed and flushed)** | **{}** | **{}** |",
            secs(run.drained),
            per_s(n, run.drained)
        )
        .unwrap();
        writeln!(
            t,
            "| same, counted from the API answering | {} | {:.0} /s |",
            secs(run.drained - run.startup),
            run.rate_after_startup()
        )
        .unwrap();
        writeln!(
            t,
            "| bare client, just before: UID FETCH BODY.PEEK[] + UID MOVE, {} per batch | {} | {} |",
            crate::bare::BATCH,
            secs(run.bare_before),
            per_s(n, run.bare_before)
        )
        .unwrap();
        let after = if run.held {
            "bare client, just after"
        } else {
            "bare client, just after (outbox still sending)"
        };
        writeln!(
            t,
            "| {after} | {} | {} |",
            secs(run.bare_after),
            per_s(n, run.bare_after)
        )
        .unwrap();
        writeln!(
            t,
            "| **approvald ÷ bare client (mean of the two bare rates)** | | **{:.2}×** |",
            run.ratio()
        )
        .unwrap();
        writeln!(
            t,
            "| start → API lists no pending request | {} | |",
            secs(run.applied)
        )
        .unwrap();
        if !run.held {
            writeln!(
                t,
                "| outcome mails delivered when the INBOX was empty | {} of {n} | |",
                run.outcomes_at_drain
            )
            .unwrap();
            writeln!(
                t,
                "| start → all {n} outcome mails delivered (outbox, concurrent) | {} | {} |",
                secs(run.outbox_done),
                per_s(n, run.outbox_done)
            )
            .unwrap();
        }
        writeln!(t).unwrap();
        let marks: Vec<String> = run
            .progress
            .iter()
            .map(|(at, left)| format!("{at:.1} s: {left}"))
            .collect();
        writeln!(t, "Messages left in the INBOX: {}.\n", marks.join(", ")).unwrap();
        writeln!(t, "Overall: {:.0} replies/s.\n", run.rate()).unwrap();
        writeln!(
            t,
            "approvald {:.0} replies/s, bare client {:.0} /s: ratio {:.2}×. \
             Load average before the drain {}, after the second bare drain {}.\n",
            run.rate(),
            run.bare_rate(),
            run.ratio(),
            run.load_before,
            run.load_after
        )
        .unwrap();
        let mut csv = String::from("seconds,left\n");
        for (at, left) in &run.progress {
            writeln!(csv, "{at:.2},{left}").unwrap();
        }
        let name = if run.held {
            "backlog-held-progress.csv"
        } else {
            "backlog-progress.csv"
        };
        self.save(name, &csv);
    }

    /// Adds an outbound run: approvald and the bare client side by side,
    /// each rate also as a ratio to the bare client on one connection.
    pub(crate) fn outbound(&mut self, run: &OutboundRun) {
        let n = run.n;
        let t = &mut self.text;
        writeln!(
            t,
            "### Outbound: {n} mails ({} bytes on average) to Postfix\n",
            run.mail_bytes
        )
        .unwrap();
        writeln!(
            t,
            "| sender | accepted by Postfix | mails/s | × bare, 1 connection | in Dovecot | mails/s |"
        )
        .unwrap();
        writeln!(t, "|---|---:|---:|---:|---:|---:|").unwrap();
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let reference = run
            .senders
            .iter()
            .find(|s| s.name.contains("1 connection"))
            .map(|s| rate(s.accepted));
        let mut csv = String::from("sender,mails,accepted_s,delivered_s\n");
        for s in &run.senders {
            let ratio = reference.map_or("–".into(), |r| format!("{:.2}×", rate(s.accepted) / r));
            writeln!(
                t,
                "| {} | {:.2} s | {:.0} | {ratio} | {:.2} s | {:.0} |",
                s.name,
                s.accepted.as_secs_f64(),
                rate(s.accepted),
                s.delivered.as_secs_f64(),
                rate(s.delivered)
            )
            .unwrap();
            writeln!(
                csv,
                "{},{n},{:.3},{:.3}",
                s.name,
                s.accepted.as_secs_f64(),
                s.delivered.as_secs_f64()
            )
            .unwrap();
        }
        writeln!(
            t,
            "\nLoad average (1 min): {} at the start of this part, {} at its end.\n",
            run.load.0, run.load.1
        )
        .unwrap();
        self.save("outbound.csv", &csv);
    }

    /// Prints the report and saves it.
    pub(crate) fn finish(self) {
        println!("{}", self.text);
        self.save("results.md", &self.text);
    }

    fn save(&self, name: &str, contents: &str) {
        if let Some(dir) = &self.out {
            let path = dir.join(name);
            std::fs::write(&path, contents)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
}

/// One table row: `label | median | p95 | min | mean | max`.
fn row(t: &mut String, label: &str, values: &[f64]) {
    match summarize(values) {
        Some(Summary {
            median,
            p95,
            min,
            mean,
            max,
            ..
        }) => {
            writeln!(
                t,
                "| {label} | {median:.1} | {p95:.1} | {min:.1} | {mean:.1} | {max:.1} |"
            )
            .unwrap();
        }
        None => {
            writeln!(t, "| {label} | – | – | – | – | – |").unwrap();
        }
    }
}
