//! The audit queue ships the trail from a cursor: in trail order, each
//! event once it is marked shipped, what an older build spooled first, and
//! past an event it cannot read without stalling the rest.

use super::*;
use crate::store::audit_queue::AUDIT_SHIPPED;
use crate::store::Queued;

fn messages(store: &Store) -> Vec<String> {
    store
        .audit()
        .peek(100)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.message)
        .collect()
}

fn ship(store: &Store, n: usize) {
    let queued: Vec<Queued> = store
        .audit()
        .peek(n)
        .unwrap()
        .into_iter()
        .map(|(q, _)| q)
        .collect();
    store.audit().shipped(&queued).unwrap();
}

#[test]
fn each_event_is_written_once_and_queued_until_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    for m in ["one", "two", "three"] {
        store.audit_only(ev(m)).unwrap();
    }
    // No second copy: the spool tree an older build wrote stays empty.
    assert_eq!(store.audit().spooled.len(), 0);
    assert_eq!(messages(&store), ["one", "two", "three"]);
    assert_eq!(store.audit().len(), 3);
    assert_eq!(store.audit().first_seq().unwrap(), Some(1));
    ship(&store, 2);
    assert_eq!(messages(&store), ["three"]);
    assert_eq!(store.audit().first_seq().unwrap(), Some(3));
    // Shipping is never undone by an older mark.
    store.audit().shipped(&[Queued::Trail(1)]).unwrap();
    assert_eq!(messages(&store), ["three"]);
    ship(&store, 1);
    assert!(messages(&store).is_empty());
    assert_eq!(store.audit().len(), 0);
    assert_eq!(store.audit().first_seq().unwrap(), None);
    // The trail keeps everything.
    assert_eq!(store.audit_log(1, 10).unwrap().len(), 3);
}

#[test]
fn what_was_shipped_stays_shipped_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_or_init(dir.path()).unwrap();
        for m in ["one", "two", "three"] {
            store.audit_only(ev(m)).unwrap();
        }
        ship(&store, 2);
        store.flush_blocking().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(messages(&store), ["three"]);
}

/// A store an older build wrote keeps every unshipped event in its spool
/// and has no cursor: its spool goes first, then what this build records;
/// nothing of its trail is shipped twice.
#[test]
fn a_store_from_a_build_that_spooled_each_event_ships_its_spool_then_the_trail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_or_init(dir.path()).unwrap();
        for m in ["shipped", "spooled 1", "spooled 2"] {
            store.audit_only(ev(m)).unwrap();
        }
        // As the older build left it: events 2 and 3 in its spool, under
        // their spool keys, and no cursor.
        let trail = store.audit_log(2, 2).unwrap();
        let spool = store.db.open_tree("audit").unwrap();
        for (key, e) in [10u64, 11].into_iter().zip(trail) {
            spool
                .insert(key.to_be_bytes(), codec::encode(&e).unwrap())
                .unwrap();
        }
        store.meta.remove(AUDIT_SHIPPED).unwrap();
        store.flush_blocking().unwrap();
    }
    let store = reopen(dir.path());
    store.audit_only(ev("new")).unwrap();
    let queued = |store: &Store| -> Vec<(Queued, String)> {
        store
            .audit()
            .peek(10)
            .unwrap()
            .into_iter()
            .map(|(q, e)| (q, e.message))
            .collect()
    };
    // The spool first, alone: the trail waits until it is empty, so the
    // events go out in trail order.
    assert_eq!(
        queued(&store),
        [
            (Queued::Spooled(10), "spooled 1".to_string()),
            (Queued::Spooled(11), "spooled 2".to_string()),
        ]
    );
    assert_eq!(store.audit().len(), 3);
    ship(&store, 10);
    assert_eq!(queued(&store), [(Queued::Trail(4), "new".to_string())]);
    ship(&store, 10);
    assert!(messages(&store).is_empty());
    assert_eq!(store.audit().spooled.len(), 0);
}

/// A cursor that is not a sequence number, or points past the trail, is
/// refused rather than trusted (it would skip events without a trace), and
/// `store check` names it.
#[test]
fn a_damaged_cursor_is_refused_and_reported() {
    for (name, cursor) in [
        ("beyond the trail", 9u64.to_be_bytes().to_vec()),
        ("not a number", b"x".to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_init(dir.path()).unwrap();
        store.audit_only(ev("one")).unwrap();
        store.meta.insert(AUDIT_SHIPPED, cursor).unwrap();
        assert!(store.audit().peek(10).is_err(), "{name}");
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("audit queue")),
            "{name}: {:?}",
            report.problems
        );
    }
}

/// An event the build cannot read is passed over once everything before
/// it left; the events after it still go.
#[test]
fn an_unreadable_trail_event_does_not_stall_the_ones_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    for m in ["one", "two", "three"] {
        store.audit_only(ev(m)).unwrap();
    }
    store
        .audit_log
        .insert(2u64.to_be_bytes(), br#"{"v":1,"damaged":"#.to_vec())
        .unwrap();
    // Event 1 waits before it: nothing is passed over yet.
    assert_eq!(messages(&store), ["one"]);
    ship(&store, 1);
    assert_eq!(messages(&store), ["three"]);
    ship(&store, 1);
    assert!(messages(&store).is_empty());
}
