//! The yardstick for the backlog drain: a bare IMAP client that does only
//! what no drain can avoid — fetch every message whole and move it away —
//! and nothing approvald does besides (no parsing, no store, no fsync).
//!
//! It works on copies of the very replies the daemon drains, made with one
//! server-side `UID COPY` (Dovecot's maildir hard-links them), in mailboxes
//! of the same user on the same Dovecot, in the same run: once just before
//! the daemon starts and once just after it finished, so the daemon's figure
//! is bracketed by two bare ones taken under the same load.

use std::time::{Duration, Instant};

use futures::TryStreamExt;

use crate::backlog::append_session;
use crate::support::stack::Stack;

/// Messages fetched and moved per round trip, as approvald's worker does.
pub(crate) const BATCH: usize = 200;

/// Where the bare client moves what it fetched.
const DONE: &str = "BareDone";

/// Copies everything in `user`'s INBOX into each of `mailboxes`, on the
/// server. Setup, not timed.
pub(crate) async fn copy_inbox(stack: &Stack, user: &str, mailboxes: &[&str]) {
    let mut session = append_session(stack, user).await;
    session.select("INBOX").await.expect("SELECT INBOX");
    for name in mailboxes.iter().copied().chain([DONE]) {
        session.create(name).await.expect("CREATE");
    }
    for name in mailboxes {
        session.uid_copy("1:*", name).await.expect("UID COPY");
    }
    session.logout().await.ok();
}

/// Drains `mailbox` as a bare client: connect and log in, SELECT, one UID
/// SEARCH, then per batch of [`BATCH`] one `UID FETCH … (UID BODY.PEEK[])`
/// and one `UID MOVE`. Returns how many messages it moved and how long it
/// took, connecting included (approvald's figure includes its start).
pub(crate) async fn drain(stack: &Stack, user: &str, mailbox: &str) -> (usize, Duration) {
    let started = Instant::now();
    let mut session = append_session(stack, user).await;
    session.select(mailbox).await.expect("SELECT");
    let mut uids: Vec<u32> = session
        .uid_search("ALL")
        .await
        .expect("UID SEARCH")
        .into_iter()
        .collect();
    uids.sort_unstable();
    let mut moved = 0usize;
    for chunk in uids.chunks(BATCH) {
        let set = uid_set(chunk);
        let fetched: Vec<_> = session
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await
            .expect("UID FETCH")
            .try_collect()
            .await
            .expect("UID FETCH");
        // Every body really arrived: the client holds the bytes, as the
        // daemon does before it parses them.
        let bodies = fetched.iter().filter(|f| f.body().is_some()).count();
        assert_eq!(bodies, chunk.len(), "bodies fetched in one batch");
        session.uid_mv(&set, DONE).await.expect("UID MOVE");
        moved += chunk.len();
    }
    let took = started.elapsed();
    session.logout().await.ok();
    (moved, took)
}

/// UIDs as an IMAP sequence set with ranges (`1:5,9`).
fn uid_set(sorted: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}
