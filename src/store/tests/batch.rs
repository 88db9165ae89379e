//! A batch decides as its changes would one by one, writes all or nothing,
//! and keeps every other writer out while it is open.

use std::sync::mpsc;
use std::time::Duration;

use super::*;

fn key(uid: u32) -> MessageKey {
    MessageKey {
        uidvalidity: 5,
        uid,
    }
}

/// Changes that each read what the one before wrote: the request created,
/// then approved with an explanation counted, then an event alone.
fn the_changes(store: &Store, r: &Request) -> Result<(), StoreError> {
    store.commit(Some(r.id), |current| {
        assert!(current.is_none());
        Change {
            request: Some(r.clone()),
            audit: vec![ev("created")],
            mails: vec![mail(1)],
            seen: Some(seen(1, Some("first@client"))),
            ..Change::nothing(())
        }
    })?;
    let mut next = r.clone();
    next.status = Status::Approved;
    store.commit(Some(r.id), |current| {
        assert_eq!(
            current.as_ref(),
            Some(r),
            "the change sees the request as written"
        );
        Change {
            request: Some(next.clone()),
            audit: vec![ev("approved"), ev("mailed")],
            mails: vec![mail(2)],
            explained: Some(Explained {
                sender: "alice@example.test".into(),
                at: t0(),
            }),
            ..Change::nothing(())
        }
    })?;
    store.audit_only(ev("after"))
}

#[test]
fn a_batch_writes_what_the_same_changes_write_one_by_one() {
    let r = two_level_request();
    let dir = tempfile::tempdir().unwrap();
    let batched = Store::open_or_init(dir.path()).unwrap();
    batched
        .batched(|b| {
            the_changes(b, &r)?;
            // The batch's view reads its own writes: the request, the inbox
            // memory by UID and by dedup key, the explanation counters.
            assert_eq!(b.request(r.id)?.map(|r| r.status), Some(Status::Approved));
            assert!(b.seen(key(1), None)?.is_some());
            assert!(b.seen(key(99), Some("first@client"))?.is_some());
            assert_eq!(b.explained_to("alice@example.test", t0())?, 1);
            assert_eq!(b.explained_in_hour(t0())?, 1);
            // The store itself does not see them before the batch ends.
            assert_eq!(batched.request(r.id)?, None);
            Ok::<_, StoreError>(())
        })
        .unwrap();

    let dir2 = tempfile::tempdir().unwrap();
    let single = Store::open_or_init(dir2.path()).unwrap();
    the_changes(&single, &r).unwrap();

    // Every tree holds the same keys and values, except the store's own
    // identity.
    for (a, b) in batched.trees().iter().zip(single.trees()) {
        let dump = |t: &sled::Tree| {
            t.iter()
                .map(|kv| kv.unwrap())
                .filter(|(k, _)| k.as_ref() != STORE_ID)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            dump(a),
            dump(b),
            "tree {:?}",
            String::from_utf8_lossy(&a.name())
        );
    }
    assert_eq!(
        batched.request(r.id).unwrap().map(|r| r.status),
        Some(Status::Approved)
    );
    assert_unbroken_trail(&batched, 4);
}

#[test]
fn a_failed_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    store.audit_only(ev("before")).unwrap();
    let r = two_level_request();
    let failed: Result<(), StoreError> = store.batched(|b| {
        b.commit(Some(r.id), |_| Change {
            request: Some(r.clone()),
            audit: vec![ev("created")],
            mails: vec![mail(1)],
            seen: Some(seen(1, Some("m@client"))),
            ..Change::nothing(())
        })?;
        Err(StoreError::Flush("the batch's last message failed".into()))
    });
    assert!(failed.is_err());
    assert_eq!(store.request(r.id).unwrap(), None);
    assert!(store.seen(key(1), Some("m@client")).unwrap().is_none());
    assert!(store.outbox().peek(10).unwrap().is_empty());
    assert_eq!(store.audit_head().unwrap().map(|h| h.0), Some(1));
    // The store carries on numbering where it was.
    store.audit_only(ev("after")).unwrap();
    assert_unbroken_trail(&store, 2);
}

#[test]
fn a_change_refused_inside_a_batch_leaves_the_batch_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let r = two_level_request();
    put(&store, &r);
    store.damage_request(r.id);
    let mut other = two_level_request();
    other.id = RequestId::new(r.id.get() + 1);
    store
        .batched(|b| {
            b.audit_only(ev("first"))?;
            // Reading the damaged record aborts this change, after nothing
            // of it was kept.
            let refused = b.commit(Some(r.id), |_| Change {
                audit: vec![ev("never")],
                mails: vec![mail(9)],
                ..Change::nothing(())
            });
            assert!(refused.is_err_and(|e| e.is_unreadable_record()));
            b.commit(Some(other.id), |_| Change {
                request: Some(other.clone()),
                audit: vec![ev("second")],
                ..Change::nothing(())
            })
        })
        .unwrap();
    let messages = trail_messages(&store);
    assert_eq!(messages, ["first", "second"]);
    assert!(store.outbox().peek(10).unwrap().is_empty());
    assert_unbroken_trail(&store, 2);
    assert!(store.request(other.id).unwrap().is_some());
}

/// A writer that commits while a batch is open waits for it, then changes
/// the request as the batch left it: neither change is lost.
#[test]
fn other_writers_wait_for_an_open_batch_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let r = two_level_request();
    put(&store, &r);
    let (opened, wait_open) = mpsc::channel();
    let (committed, wait_committed) = mpsc::channel();
    std::thread::scope(|s| {
        let batch_store = store.clone();
        let batch = s.spawn(move || {
            batch_store.batched(|b| {
                b.commit(Some(r.id), |current| {
                    let mut next = current.unwrap();
                    next.justification.push_str(" +batch");
                    Change {
                        request: Some(next),
                        ..Change::nothing(())
                    }
                })?;
                opened.send(()).unwrap();
                // The other writer must still be waiting.
                assert!(
                    wait_committed
                        .recv_timeout(Duration::from_millis(300))
                        .is_err(),
                    "another writer committed inside the batch"
                );
                Ok::<_, StoreError>(())
            })
        });
        wait_open.recv().unwrap();
        let other = store.clone();
        let writer = s.spawn(move || {
            other
                .commit(Some(r.id), |current| {
                    let mut next = current.unwrap();
                    next.justification.push_str(" +api");
                    Change {
                        request: Some(next),
                        ..Change::nothing(())
                    }
                })
                .unwrap();
            committed.send(()).ok();
        });
        batch.join().unwrap().unwrap();
        writer.join().unwrap();
    });
    let after = store.request(r.id).unwrap().unwrap();
    assert!(
        after.justification.ends_with(" +batch +api"),
        "{}",
        after.justification
    );
}

#[test]
fn a_batch_view_kept_after_its_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let kept = store.batched(|b| Ok::<_, StoreError>(b.clone())).unwrap();
    assert!(kept.audit_only(ev("late")).is_err());
    assert!(kept.request(RequestId::new(1)).is_err());
    assert_eq!(store.audit_head().unwrap(), None);
}

/// A batch that panics keeps no later change from being written, and
/// nothing of it is written.
#[test]
fn a_batch_that_panics_ends_and_the_store_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.batched(|b| {
            b.audit_only(ev("first"))?;
            b.audit_only(ev("second"))?;
            let decision_panics = true;
            if decision_panics {
                panic!("a decision panicked");
            }
            Ok::<_, StoreError>(())
        })
    }));
    assert!(panicked.is_err());
    store.audit_only(ev("after")).unwrap();
    let messages = trail_messages(&store);
    assert_eq!(messages, ["after"]);
    assert_unbroken_trail(&store, 1);
}

/// A task on the runtime that commits while a batch is open waits without
/// holding its thread: the runtime's other tasks go on meanwhile (the
/// batch here ends only when they ran).
#[test]
fn a_writer_waiting_for_a_batch_does_not_stall_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (opened, wait_open) = mpsc::channel();
    let (ran, wait_ran) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let batch_store = store.clone();
        let batch = s.spawn(move || {
            batch_store.batched(|b| {
                b.audit_only(ev("in the batch"))?;
                opened.send(()).unwrap();
                let others_ran = wait_ran.recv_timeout(Duration::from_secs(10)).is_ok();
                Ok::<_, StoreError>(others_ran)
            })
        });
        wait_open.recv().unwrap();
        runtime.block_on(async {
            // As many waiting writers as the runtime has threads.
            let writers: Vec<_> = (0..2)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(async move { store.audit_only(ev(&format!("writer {n}"))) })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(50)).await;
            tokio::spawn(async move { ran.send(()).unwrap() })
                .await
                .unwrap();
            for w in writers {
                w.await.unwrap().unwrap();
            }
        });
        assert!(
            batch.join().unwrap().unwrap(),
            "the runtime's other tasks did not run while writers waited"
        );
    });
    assert_unbroken_trail(&store, 3);
}
