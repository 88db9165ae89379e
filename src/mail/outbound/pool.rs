//! Idle SMTP connections kept for the next mail: a backlog goes out over a
//! few long-lived connections instead of paying TCP, TLS, EHLO and AUTH
//! per mail.
//!
//! A connection is in the pool only while nobody uses it: a send takes it
//! out and puts it back only when lettre saw the transaction through. A
//! send abandoned by its timeout drops its connection with it, so a
//! connection stuck mid-transaction can never be handed to the next mail.

use std::sync::Mutex;
use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::time::Instant;

/// Idle longer than this and the server may have given up on it (Postfix
/// waits 300 s by default, others less): not reused.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Idle longer than this and a connection is checked with NOOP before a
/// mail is entrusted to it; within a burst the check would only cost a
/// round trip per mail.
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// A connection waiting for the next mail.
struct Idle {
    /// The connection, between transactions.
    conn: AsyncSmtpConnection,
    /// When it was put back, for [`IDLE_LIMIT`] and [`CHECK_AFTER`].
    since: Instant,
}

/// The idle connections.
pub(super) struct Pool {
    /// Most recently used last, so the warmest connection goes first. The
    /// lock is never held across an await.
    idle: Mutex<Vec<Idle>>,
    /// At most this many are kept; more in flight at once are closed when
    /// they come back.
    max_idle: usize,
}

/// A connection taken from the pool.
pub(super) struct Taken {
    /// The connection.
    pub(super) conn: AsyncSmtpConnection,
    /// Whether it sat idle long enough to deserve a NOOP first.
    pub(super) needs_check: bool,
}

impl Pool {
    pub(super) fn new(max_idle: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// The most recently used idle connection, if any; connections idle
    /// too long are dropped on the way.
    pub(super) fn take(&self) -> Option<Taken> {
        let now = Instant::now();
        let mut idle = self.lock();
        idle.retain(|i| now.saturating_duration_since(i.since) <= IDLE_LIMIT);
        idle.pop().map(|i| Taken {
            needs_check: now.saturating_duration_since(i.since) > CHECK_AFTER,
            conn: i.conn,
        })
    }

    /// Keeps `conn` for the next mail, unless it broke or the pool is full.
    pub(super) fn put(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// Idle connections right now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic elsewhere cannot leave the list half-written: recover it.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
