//! Timers: deadlines expire undecided requests, once.

use super::*;

#[tokio::test]
async fn expiry_closes_due_requests_once_and_tells_the_requester() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.take_audit();

    f.advance(deadline() - Duration::minutes(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0, "expired early");
    assert_eq!(f.request(r.id).status, Status::Pending);

    f.advance(Duration::minutes(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 1);
    let after = f.request(r.id);
    assert_eq!(after.status, Status::Expired);
    assert_eq!(after.closed_at, Some(r.deadline));
    let outcome = f.take_outbox();
    assert_eq!(outcome.len(), 3, "{outcome:#?}");
    let told: Vec<_> = outcome[1..]
        .iter()
        .map(|m| (m.purpose, m.to.to_string()))
        .collect();
    assert_eq!(
        told,
        [
            (MailPurpose::Notice, ALICE.to_owned()),
            (MailPurpose::Notice, BOB.to_owned())
        ],
        "the open level's approvers hear it expired"
    );
    assert_eq!(outcome[0].purpose, MailPurpose::Decided);
    assert_eq!(outcome[0].to, addr(DAVE));
    assert!(
        outcome[0].subject.contains("Expired"),
        "{}",
        outcome[0].subject
    );
    let audit = f.take_audit();
    assert_eq!(kinds(&audit), [EventKind::Expired]);
    assert_eq!(audit[0].request.as_deref(), Some("AR-1"));
    assert_eq!(audit[0].outcome, "expired");

    f.advance(Duration::hours(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0, "expired twice");
    assert!(f.take_outbox().is_empty());
    assert!(f.take_audit().is_empty());
    assert_eq!(f.request(r.id), after);
}

#[tokio::test]
async fn expiry_leaves_decided_requests_alone() {
    let f = Fixture::standard();
    let (r, mails) = f.submit().await;
    f.answer(ask(&mails, BOB), BOB, "DISAPPROVE");
    let decided = f.request(r.id);
    f.take_outbox();
    f.take_audit();
    f.advance(deadline() + Duration::hours(1));
    assert_eq!(f.svc.apply_due().await.unwrap(), 0);
    assert_eq!(f.request(r.id), decided);
    assert!(f.take_outbox().is_empty());
    assert!(f.take_audit().is_empty());
}

/// The timer worker over the fixture's service and clock, running.
fn spawn_worker(f: &Fixture) -> (crate::shutdown::Stopper, tokio::task::JoinHandle<()>) {
    let (stopper, shutdown) = crate::shutdown::channel();
    let clock: Arc<dyn Clock> = f.clock.clone();
    let worker = tokio::spawn(crate::daemon::timers::run_timers(
        f.svc.clone(),
        clock,
        crate::health::Heartbeat::detached(),
        shutdown,
    ));
    (stopper, worker)
}

/// Runs the timer worker over the fixture until `done` holds (real store,
/// paused tokio time so its sleeps can be skipped through).
async fn run_worker_until(f: &Fixture, done: impl Fn(&Fixture) -> bool) {
    let (stopper, worker) = spawn_worker(f);
    for _ in 0..100 {
        if done(f) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stopper.stop();
    worker.await.unwrap();
}

#[tokio::test]
async fn worker_applies_what_became_due_while_it_was_not_running_at_once() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.advance(deadline() + Duration::hours(3));
    run_worker_until(&f, |f| f.request(r.id).status == Status::Expired).await;
    assert_eq!(f.request(r.id).status, Status::Expired);
    assert_eq!(f.request(r.id).closed_at, Some(f.now()));
}

#[tokio::test(start_paused = true)]
async fn worker_sleeps_until_the_next_deadline_and_expires_it_then() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    f.advance(deadline() - Duration::seconds(10));
    let (stopper, worker) = spawn_worker(&f);
    // Nine seconds on, nothing is due yet.
    f.advance(Duration::seconds(9));
    tokio::time::sleep(std::time::Duration::from_secs(9)).await;
    assert_eq!(f.request(r.id).status, Status::Pending, "expired early");
    // At the deadline the worker wakes by itself: no poll, no nudge.
    f.advance(Duration::seconds(1));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for _ in 0..100 {
        if f.request(r.id).status == Status::Expired {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(f.request(r.id).status, Status::Expired);
    assert_eq!(f.request(r.id).closed_at, Some(r.deadline));
    stopper.stop();
    worker.await.unwrap();
}

/// A clock that moves on by `step` at every reading, as the wall clock does
/// between two readings in one pass.
struct TickingClock(Mutex<DateTime<Utc>>, Duration);

impl Clock for TickingClock {
    fn now(&self) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap();
        let was = *now;
        *now += self.1;
        was
    }
}

/// The deadline came due between the pass (nothing due yet) and the
/// worker's look at the next due instant: it was taken for a record that
/// cannot be applied and left for 30 s. It is applied at once.
#[tokio::test(start_paused = true)]
async fn regression_a_deadline_coming_due_during_a_pass_is_not_left_for_the_stuck_pause() {
    let f = Fixture::standard();
    let (r, _) = f.submit().await;
    let clock: Arc<dyn Clock> = Arc::new(TickingClock(
        Mutex::new(r.deadline - Duration::milliseconds(1)),
        Duration::milliseconds(2),
    ));
    let (stopper, shutdown) = crate::shutdown::channel();
    let worker = tokio::spawn(crate::daemon::timers::run_timers(
        f.svc.clone(),
        clock,
        crate::health::Heartbeat::detached(),
        shutdown,
    ));
    for _ in 0..100 {
        if f.request(r.id).status == Status::Expired {
            break;
        }
        // Well under the 30 s pause, in paused time.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(f.request(r.id).status, Status::Expired);
    stopper.stop();
    worker.await.unwrap();
}
