mod audit_queue;
mod batch;

use super::*;
use crate::domain::request::tests::{t0, two_level_request};
use crate::domain::request::Status;
use crate::records::MailPurpose;
use crate::records::{AuditEvent, Disposition, EventKind, Explained, MessageKey, Seen};

fn mail(n: u32) -> OutboundMail {
    OutboundMail {
        purpose: MailPurpose::ApprovalRequest,
        request: Some(RequestId::new(7)),
        to: "alice@example.test".parse().unwrap(),
        subject: format!("mail {n}"),
        text: "body".into(),
        html: None,
        message_id: format!("m{n}@example.test"),
        reply_to: None,
        in_reply_to: None,
        references: vec![],
        auto_submitted: "auto-generated".into(),
    }
}

/// Writes `r` as it is, with nothing else.
fn put(store: &Store, r: &Request) {
    store
        .commit(Some(r.id), |_| Change {
            request: Some(r.clone()),
            ..Change::nothing(())
        })
        .unwrap();
}

fn ev(msg: &str) -> AuditEvent {
    AuditEvent::new(t0(), EventKind::Submitted, "pending", msg)
}

fn seen(uid: u32, mid: Option<&str>) -> Seen {
    Seen {
        key: MessageKey {
            uidvalidity: 5,
            uid,
        },
        dedup_key: mid.map(String::from),
        disposition: Disposition::Processed,
        request: None,
        at: t0(),
    }
}

#[test]
fn a_change_writes_request_mail_audit_and_seen_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let r = two_level_request();
    store
        .commit(Some(r.id), |current| {
            assert!(current.is_none());
            Change {
                request: Some(r.clone()),
                mails: vec![mail(1), mail(2)],
                audit: vec![ev("a")],
                webhooks: vec![crate::records::OutboundWebhook {
                    request: r.id,
                    event: "access-ended".into(),
                    url: "https://vault.example.test/rotate".into(),
                    body: "{}".into(),
                }],
                seen: Some(seen(10, Some("x@y"))),
                explained: None,
                result: (),
            }
        })
        .unwrap();
    assert_eq!(store.request(r.id).unwrap(), Some(r.clone()));
    let out = store.outbox().peek(10).unwrap();
    assert_eq!(
        out.iter()
            .map(|(_, m)| m.subject.as_str())
            .collect::<Vec<_>>(),
        ["mail 1", "mail 2"]
    );
    assert_eq!(store.audit().peek(10).unwrap().len(), 1);
    assert_eq!(store.webhooks().peek(10).unwrap().len(), 1);
    assert!(store
        .seen(
            MessageKey {
                uidvalidity: 5,
                uid: 10
            },
            None
        )
        .unwrap()
        .is_some());
}

#[test]
fn message_seen_under_new_uidvalidity_is_recognised_by_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    store
        .commit(None, |_| Change {
            seen: Some(seen(10, Some("reply-1@mail.example.test"))),
            ..Change::nothing(())
        })
        .unwrap();
    let rescanned = MessageKey {
        uidvalidity: 6,
        uid: 1,
    };
    assert!(store
        .seen(rescanned, Some("reply-1@mail.example.test"))
        .unwrap()
        .is_some());
    assert!(store
        .seen(rescanned, Some("other@mail.example.test"))
        .unwrap()
        .is_none());
    assert!(store.seen(rescanned, None).unwrap().is_none());
}

#[test]
fn spooled_entries_leave_only_when_marked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    store
        .commit(None, |_| Change {
            mails: vec![mail(1), mail(2), mail(3)],
            audit: vec![ev("1"), ev("2")],
            ..Change::nothing(())
        })
        .unwrap();
    let out = store.outbox().peek(2).unwrap();
    assert_eq!(out.len(), 2, "limit respected");
    store.outbox().remove(out[0].0).unwrap();
    let left: Vec<_> = store
        .outbox()
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, m)| m.subject)
        .collect();
    assert_eq!(left, ["mail 2", "mail 3"]);
    // Audit events leave in trail order, once marked shipped.
    let queued = store.audit().peek(1).unwrap();
    assert_eq!(queued.len(), 1, "limit respected");
    store.audit().shipped(&[queued[0].0]).unwrap();
    let left: Vec<_> = store
        .audit()
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.message)
        .collect();
    assert_eq!(left, ["2"]);
    assert_eq!(store.audit().len(), 1);
}

#[test]
fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let r = two_level_request();
    {
        let store = Store::open_or_init(dir.path()).unwrap();
        put(&store, &r);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.flush()).unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.request(r.id).unwrap(), Some(r));
    let a = store.new_request_id().unwrap();
    assert_eq!(a, RequestId::new(1), "the first request is AR-1");
    let b = store.new_request_id().unwrap();
    assert!(b > a, "ids are never reused");
}

#[test]
fn record_of_unknown_version_is_refused_not_misread() {
    let bytes = br#"{"v":99,"anything":1}"#;
    match decode::<Request>(b"AR-1", bytes) {
        Err(StoreError::UnknownVersion { found: 99, .. }) => {}
        other => panic!("expected UnknownVersion, got {other:?}"),
    }
    assert!(matches!(
        decode::<Request>(b"AR-1", b"not json"),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn unreadable_spool_entry_is_quarantined_not_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    store
        .outbox
        .tree
        .insert(u64::MAX.to_be_bytes(), b"garbage".to_vec())
        .unwrap();
    store
        .commit(None, |_| Change {
            mails: vec![mail(1)],
            ..Change::nothing(())
        })
        .unwrap();
    let out = store.outbox().peek(10).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.subject, "mail 1");
    assert_eq!(store.db.open_tree("quarantine").unwrap().len(), 1);
}

#[test]
fn explanations_are_counted_per_sender_and_day_and_all_together_per_hour() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let at = t0();
    let explained = |sender: &str, at| {
        let x = Explained {
            sender: sender.into(),
            at,
        };
        store
            .commit(None, |_| Change {
                explained: Some(x.clone()),
                ..Change::nothing(())
            })
            .unwrap();
    };
    explained("alice@example.test", at);
    explained("alice@example.test", at + chrono::Duration::hours(2));
    explained("bob@example.test", at + chrono::Duration::minutes(30));
    assert_eq!(store.explained_to("alice@example.test", at).unwrap(), 2);
    let next_day = at + chrono::Duration::days(1);
    assert_eq!(
        store.explained_to("alice@example.test", next_day).unwrap(),
        0
    );
    assert_eq!(store.explained_to("bob@example.test", at).unwrap(), 1);
    assert_eq!(
        store.explained_in_hour(at).unwrap(),
        2,
        "alice and bob at 09:xx"
    );
    let later = at + chrono::Duration::hours(2);
    assert_eq!(store.explained_in_hour(later).unwrap(), 1);
    assert_eq!(store.explained_in_hour(next_day).unwrap(), 0);
}

#[tokio::test]
async fn workers_are_woken_only_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let ready = store.outbox().ready();
    store
        .commit(None, |_| Change {
            mails: vec![mail(1)],
            ..Change::nothing(())
        })
        .unwrap();
    let early = tokio::time::timeout(std::time::Duration::from_millis(50), ready.notified()).await;
    assert!(early.is_err(), "woken before the change was durable");
    store.flush().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(1), ready.notified())
        .await
        .expect("woken after the flush");
}

#[test]
fn one_unreadable_request_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let r = two_level_request();
    put(&store, &r);
    store
        .requests
        .insert(99u64.to_be_bytes(), br#"{"v":99}"#.to_vec())
        .unwrap();
    assert_eq!(store.requests(|_| true).unwrap(), vec![r]);
    assert!(
        store.request(RequestId::new(99)).is_err(),
        "read by id still fails loudly"
    );
}

#[test]
fn status_and_due_indexes_follow_the_request_through_its_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let pending = two_level_request();
    let id = pending.id;
    let write = |r: &Request| {
        let r = r.clone();
        store
            .commit(Some(id), move |_| Change {
                request: Some(r.clone()),
                ..Change::nothing(())
            })
            .unwrap()
    };
    write(&pending);
    assert_eq!(
        store.requests_with_status(Status::Pending).unwrap(),
        vec![pending.clone()]
    );
    assert!(store
        .requests_with_status(Status::Expired)
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due().unwrap(), Some(pending.deadline));
    let just_before = pending.deadline - chrono::Duration::milliseconds(1);
    assert!(store.due(just_before).unwrap().is_empty(), "not due early");
    assert_eq!(
        store.due(pending.deadline).unwrap(),
        vec![id],
        "due at the deadline"
    );

    let mut expired = pending.clone();
    assert_eq!(
        expired.advance(pending.deadline),
        vec![crate::domain::request::Tick::Expired]
    );
    write(&expired);
    assert!(store
        .requests_with_status(Status::Pending)
        .unwrap()
        .is_empty());
    assert_eq!(
        store.requests_with_status(Status::Expired).unwrap(),
        vec![expired]
    );
    assert_eq!(
        store.next_due().unwrap(),
        None,
        "a closed request has no timer"
    );
    assert!(store
        .due(pending.deadline + chrono::Duration::days(1))
        .unwrap()
        .is_empty());
}

#[test]
fn a_store_written_without_indexes_is_indexed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let r = two_level_request();
    {
        let store = Store::open_or_init(dir.path()).unwrap();
        put(&store, &r);
        // As an older build left it: requests, and no indexes at all.
        store.by_status.clear().unwrap();
        store.by_due.clear().unwrap();
        store.meta.remove(b"index_version").unwrap();
        store.db.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(
        store.requests_with_status(Status::Pending).unwrap(),
        vec![r.clone()]
    );
    assert_eq!(store.next_due().unwrap(), Some(r.deadline));
}

#[tokio::test]
async fn the_timer_is_woken_when_a_change_moves_the_next_due_instant() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let wake = store.due_changed();
    let r = two_level_request();
    put(&store, &r);
    tokio::time::timeout(std::time::Duration::from_secs(1), wake.notified())
        .await
        .expect("woken by a new due instant");
    // Rewriting the request without moving its instant wakes nobody.
    put(&store, &r);
    let idle = tokio::time::timeout(std::time::Duration::from_millis(50), wake.notified()).await;
    assert!(idle.is_err(), "woken though nothing moved");
}

#[test]
fn prune_forgets_only_what_can_no_longer_matter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let now = t0() + chrono::Duration::days(100);
    let cutoff = now - chrono::Duration::days(30);
    let old = cutoff - chrono::Duration::days(1);
    let mut open = two_level_request();
    open.id = RequestId::new(1);
    let mut closed_long_ago = two_level_request();
    closed_long_ago.id = RequestId::new(2);
    closed_long_ago.closed_at = Some(old);
    let mut closed_lately = two_level_request();
    closed_lately.id = RequestId::new(3);
    closed_lately.closed_at = Some(now - chrono::Duration::days(2));
    for r in [&open, &closed_long_ago, &closed_lately] {
        put(&store, r);
    }
    // (uid, handled at, request) and whether it must survive.
    let cases = [
        (1, old, None, false),
        (2, old, Some(open.id), true),
        (3, old, Some(closed_long_ago.id), false),
        (4, old, Some(closed_lately.id), true),
        (5, now, None, true),
        (6, old, Some(RequestId::new(99)), false),
    ];
    for (uid, at, request, _) in cases {
        let mut s = seen(uid, Some(&format!("m{uid}")));
        s.at = at;
        s.request = request;
        store
            .commit(None, |_| Change {
                seen: Some(s.clone()),
                ..Change::nothing(())
            })
            .unwrap();
    }
    for at in [old, now] {
        store
            .commit(None, |_| Change {
                explained: Some(Explained {
                    sender: "alice@example.test".into(),
                    at,
                }),
                ..Change::nothing(())
            })
            .unwrap();
    }
    store.prune(cutoff).unwrap();
    for (uid, _, _, keep) in cases {
        let key = MessageKey {
            uidvalidity: 5,
            uid,
        };
        let by_uid = store.seen(key, None).unwrap().is_some();
        let other_key = MessageKey {
            uidvalidity: 6,
            uid,
        };
        let by_dedup = store
            .seen(other_key, Some(&format!("m{uid}")))
            .unwrap()
            .is_some();
        assert_eq!((by_uid, by_dedup), (keep, keep), "uid {uid}");
    }
    assert_eq!(store.explained_to("alice@example.test", old).unwrap(), 0);
    assert_eq!(store.explained_in_hour(old).unwrap(), 0);
    assert_eq!(store.explained_to("alice@example.test", now).unwrap(), 1);
    assert_eq!(store.explained_in_hour(now).unwrap(), 1);
}

#[test]
fn pages_follow_ids_and_the_status_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    for n in 1..=5u64 {
        let mut r = two_level_request();
        r.id = RequestId::new(n);
        if n % 2 == 0 {
            assert!(!r.advance(r.deadline).is_empty());
        }
        put(&store, &r);
    }
    let ids = |rs: Vec<Request>| rs.iter().map(|r| r.id.get()).collect::<Vec<_>>();
    let page = |status, after: Option<u64>, limit| {
        ids(store
            .requests_page(status, after.map(RequestId::new), limit, |_| true)
            .unwrap())
    };
    assert_eq!(page(None, None, 2), [1, 2]);
    assert_eq!(page(None, Some(2), 2), [3, 4]);
    assert_eq!(page(None, Some(4), 2), [5]);
    assert_eq!(page(Some(Status::Pending), None, 10), [1, 3, 5]);
    assert_eq!(page(Some(Status::Pending), Some(1), 1), [3]);
    assert_eq!(page(Some(Status::Expired), Some(2), 10), [4]);
    assert_eq!(page(Some(Status::Approved), None, 10), Vec::<u64>::new());
    let odd = store
        .requests_page(None, None, 10, |r| r.id.get() > 3)
        .unwrap();
    assert_eq!(ids(odd), [4, 5], "the filter applies before the limit");
}

/// Regression guard: the subject index names open requests of exactly one
/// requester, action and resource; an entry that points at a record of
/// another subject (a bug, or damage) is skipped, never returned.
#[test]
fn an_index_entry_that_disagrees_with_its_record_is_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    let mut r = two_level_request();
    r.status = Status::Active;
    put(&store, &r);
    let mine = |s: &Store, action: &str| {
        s.open_for_subject(r.requester.as_str(), action, &r.resource)
            .unwrap()
            .len()
    };
    assert_eq!(mine(&store, &r.action), 1);
    // A stray entry filing the same record under another action.
    let mut stray = index::subject_prefix(r.requester.as_str(), "vault.read", &r.resource);
    stray.extend_from_slice(&r.id.get().to_be_bytes());
    store.by_subject.insert(stray, &[]).unwrap();
    assert_eq!(
        mine(&store, "vault.read"),
        0,
        "the record says certificate.sign"
    );
    // Closed: it leaves the index.
    r.status = Status::Revoked;
    put(&store, &r);
    assert_eq!(mine(&store, &r.action), 0);
}

/// The trail the store holds, checked as `audit verify` checks it.
fn verify_trail(store: &Store) -> crate::audit::verify::Verifier {
    let mut v = crate::audit::verify::Verifier::default();
    for e in store.audit_log(1, usize::MAX).unwrap() {
        let link = e.link.unwrap();
        let sealed = crate::records::audit_chain::Sealed::of(&e, link.seq);
        v.feed(link, &sealed);
    }
    v
}

/// The store's trail holds events 1 to `n`, unbroken, and its spool
/// holds them in trail order.
fn assert_unbroken_trail(store: &Store, n: u64) {
    let v = verify_trail(store);
    assert_eq!(v.findings, vec![]);
    assert_eq!(v.range(), Some((1, n)));
    let spooled: Vec<u64> = store
        .audit()
        .peek(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.link.unwrap().seq)
        .collect();
    assert_eq!(spooled, (1..=n).collect::<Vec<_>>(), "spool in trail order");
}

/// The messages of the store's trail, in order.
fn trail_messages(store: &Store) -> Vec<String> {
    store
        .audit_log(1, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

/// Opens the store in `dir` again once the previous handle's background
/// flusher let go of sled's file lock (it may take a moment on a busy
/// machine).
fn reopen(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open_or_init(dir) {
            Ok(s) => return s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("reopen {}: {e}", dir.display()),
        }
    }
}

#[test]
fn regression_audit_numbers_are_contiguous_across_reopening() {
    // Sequence numbers were sled ids shared with the outbox, jumping by a
    // million after a restart: a SIEM could not tell a lost line from one.
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let store = reopen(dir.path());
        for n in 0..4 {
            store
                .audit_only(ev(&format!("round {round} event {n}")))
                .unwrap();
            store
                .commit(None, |_| Change {
                    mails: vec![mail(n)],
                    ..Change::nothing(())
                })
                .unwrap();
        }
        store.db.flush().unwrap();
    }
    let store = reopen(dir.path());
    assert_unbroken_trail(&store, 12);
    assert_eq!(store.audit_head().unwrap().map(|h| h.0), Some(12));
}

#[test]
fn concurrent_changes_keep_one_unbroken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = store.clone();
            s.spawn(move || {
                for n in 0..50 {
                    store
                        .commit(None, |_| Change {
                            audit: vec![ev(&format!("{t}/{n} a")), ev(&format!("{t}/{n} b"))],
                            ..Change::nothing(())
                        })
                        .unwrap();
                }
            });
        }
    });
    assert_unbroken_trail(&store, 400);
}

#[test]
fn a_damaged_trail_head_refuses_to_record_rather_than_renumber() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_init(dir.path()).unwrap();
    store.audit_only(ev("one")).unwrap();
    store.meta.insert(AUDIT_HEAD, b"short".to_vec()).unwrap();
    assert!(store.audit_only(ev("two")).is_err());
    assert!(store.audit_head().is_err());
    assert_eq!(store.audit_log(1, 10).unwrap().len(), 1, "event 1 kept");
}

/// A store with a request, a queued mail, audit events (one shipped) and
/// a seen message, exported.
fn exported_store(dir: &std::path::Path) -> (Store, Vec<u8>) {
    let store = Store::init(dir).unwrap();
    let r = two_level_request();
    store
        .commit(Some(r.id), |_| Change {
            request: Some(r.clone()),
            mails: vec![mail(1)],
            audit: vec![ev("a"), ev("b")],
            seen: Some(seen(9, Some("<m@x>"))),
            ..Change::nothing(())
        })
        .unwrap();
    let (first, _) = store.audit().peek(1).unwrap().remove(0);
    store.audit().shipped(&[first]).unwrap();
    let mut out = Vec::new();
    store.export(t0(), &mut out).unwrap();
    (store, out)
}

#[test]
fn an_export_imports_into_a_new_store_that_carries_on() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (old, file) = exported_store(a.path());
    let target = b.path().join("restored");
    let new = Store::import(&target, &mut file.as_slice()).unwrap();
    assert_ne!(new.id(), old.id(), "a restored store has its own identity");
    let r = two_level_request();
    assert_eq!(new.request(r.id).unwrap(), Some(r.clone()));
    assert_eq!(
        new.requests_page(Some(r.status), None, 10, |_| true)
            .unwrap()
            .len(),
        1,
        "indexes rebuilt"
    );
    assert_eq!(new.outbox().peek(10).unwrap().len(), 1);
    let other_uid = MessageKey {
        uidvalidity: 6,
        uid: 1,
    };
    assert!(new.seen(other_uid, Some("<m@x>")).unwrap().is_some());
    // The unshipped event is still queued, and a new one follows it.
    new.audit_only(ev("c")).unwrap();
    let queued: Vec<u64> = new
        .audit()
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.link.unwrap().seq)
        .collect();
    assert_eq!(queued, [2, 3]);
    assert_eq!(verify_trail(&new).findings, vec![]);
    assert_eq!(new.new_request_id().unwrap(), old.new_request_id().unwrap());
    let report = new.check().unwrap();
    assert_eq!(report.problems, Vec::<String>::new());
}

#[test]
fn imports_that_must_be_refused() {
    let a = tempfile::tempdir().unwrap();
    let (_, file) = exported_store(a.path());
    let text = String::from_utf8(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n");
    let newer = text.replacen("\"record_version\":1", "\"record_version\":2", 1);
    let other_format = text.replacen("approvald-store-export", "something-else", 1);
    let unknown_tree = text.replacen("\"tree\":\"outbox\"", "\"tree\":\"elsewhere\"", 1);
    let miscounted = text.replacen("{\"end\":{\"entries\":", "{\"end\":{\"entries\":1", 1);
    let cases = [
        ("cut short", cut.as_str(), "cut short"),
        ("newer records", newer.as_str(), "newer build"),
        (
            "another format",
            other_format.as_str(),
            "not one this build reads",
        ),
        ("unknown tree", unknown_tree.as_str(), "unknown tree"),
        ("miscounted", miscounted.as_str(), "entries but holds"),
        ("empty", "", "empty"),
    ];
    for (name, input, why) in cases {
        let b = tempfile::tempdir().unwrap();
        let err = Store::import(&b.path().join("s"), &mut input.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{name} imported"));
        assert!(err.to_string().contains(why), "{name}: {err}");
        assert!(
            !b.path().join("s").join("db").exists(),
            "{name}: no store left behind"
        );
    }
    // An altered trail is refused after the records were written, and the
    // half-restored store is removed again.
    let altered = text.replacen("\"message\":\"a\"", "\"message\":\"A\"", 1);
    assert_ne!(altered, text);
    let b = tempfile::tempdir().unwrap();
    let err = Store::import(&b.path().join("s"), &mut altered.as_bytes())
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not check"), "{err}");
    assert!(
        !b.path().join("s").exists(),
        "the failed import was left behind"
    );
    // A file cannot give the restored store an identity of its choosing.
    let forged = text
        .replacen(
            "\n{\"end\":{",
            &format!(
                "\n{{\"tree\":\"meta\",\"key\":\"{}\",\"bytes\":\"{}\"}}\n{{\"end\":{{",
                data_encoding::HEXLOWER.encode(b"store_id"),
                data_encoding::HEXLOWER.encode(b"0000000000000000")
            ),
            1,
        )
        .replacen("{\"end\":{\"entries\":11}", "{\"end\":{\"entries\":12}", 1);
    let b = tempfile::tempdir().unwrap();
    let restored = Store::import(&b.path().join("s"), &mut forged.as_bytes()).unwrap();
    assert_ne!(restored.id(), "0000000000000000");
    // Never over an existing store.
    let err = Store::import(a.path(), &mut text.as_bytes()).err().unwrap();
    assert!(err.to_string().contains("already holds a store"), "{err}");
}

#[test]
fn open_refuses_where_there_is_no_store_and_init_where_there_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let err = Store::open(&path).err().unwrap();
    assert!(err.to_string().contains("no store in"), "{err}");
    assert!(!path.join("db").exists(), "open created nothing");
    let id = Store::init(&path).unwrap().id().to_string();
    assert_eq!(id.len(), 16);
    let err = Store::init(&path).err().unwrap();
    assert!(err.to_string().contains("already holds a store"), "{err}");
    assert_eq!(reopen(&path).id(), id, "the identity is kept");
}

#[test]
fn check_finds_an_unreadable_record_and_a_broken_chain() {
    let a = tempfile::tempdir().unwrap();
    let (store, _) = exported_store(a.path());
    assert_eq!(store.check().unwrap().problems, Vec::<String>::new());
    store.damage_request(two_level_request().id);
    store
        .audit_log
        .insert(
            2u64.to_be_bytes(),
            store.audit_log.get(1u64.to_be_bytes()).unwrap().unwrap(),
        )
        .unwrap();
    let problems = store.check().unwrap().problems.join("\n");
    assert!(problems.contains("requests/"), "{problems}");
    assert!(problems.contains("audit trail"), "{problems}");
}

/// Exports this and earlier builds wrote, committed: every later build
/// must keep importing them.
#[test]
fn committed_exports_of_this_and_the_pre_chain_layout_import() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for (name, queued_before) in [
        ("store-export-v1.jsonl", vec![Some(2)]),
        // Made before the audit chain and the spool counters: spool keys
        // from sled's id generator, events without a link.
        ("store-export-v1-pre-chain.jsonl", vec![None]),
    ] {
        let file = std::fs::read(format!("{fixtures}/{name}")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::import(&dir.path().join("s"), &mut file.as_slice())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = two_level_request();
        assert_eq!(
            store.request(r.id).unwrap().map(|r| r.id),
            Some(r.id),
            "{name}"
        );
        assert_eq!(store.outbox().peek(10).unwrap().len(), 1, "{name}");
        // A new event goes after what was queued, numbered on from the
        // imported trail (from 1 where there was none). The spooled go
        // first, then the trail: all of it, as the shipper would.
        store.audit_only(ev("after import")).unwrap();
        let mut queued: Vec<Option<u64>> = Vec::new();
        loop {
            let pass = store.audit().peek(10).unwrap();
            if pass.is_empty() {
                break;
            }
            let shipped: Vec<_> = pass.iter().map(|(q, _)| *q).collect();
            queued.extend(pass.into_iter().map(|(_, e)| e.link.map(|l| l.seq)));
            store.audit().shipped(&shipped).unwrap();
        }
        let next = queued_before[0].map_or(1, |s| s + 1);
        let mut want = queued_before.clone();
        want.push(Some(next));
        assert_eq!(queued, want, "{name}");
        assert_eq!(
            store.check().unwrap().problems,
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn status_counts_follow_every_change_and_survive_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("a")).unwrap();
    let mut r = two_level_request();
    put(&store, &r);
    let mut other = two_level_request();
    other.id = RequestId::new(8);
    put(&store, &other);
    assert_eq!(store.count_with_status(Status::Pending).unwrap(), 2);
    r.status = Status::Rejected;
    put(&store, &r);
    put(&store, &r);
    let counts = |s: &Store| {
        Status::ALL
            .iter()
            .map(|st| (st.as_str(), s.count_with_status(*st).unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(&store), [("pending", 1), ("rejected", 1)]);
    let mut file = Vec::new();
    store.export(t0(), &mut file).unwrap();
    let copy = Store::import(&dir.path().join("b"), &mut file.as_slice()).unwrap();
    assert_eq!(counts(&copy), counts(&store));
    // An older store, whose counts were never kept, is counted at open.
    store.meta.remove(COUNTS_KEPT).unwrap();
    store.meta.remove(count_key(Status::Pending)).unwrap();
    drop(store);
    let again = reopen(&dir.path().join("a"));
    assert_eq!(counts(&again), [("pending", 1), ("rejected", 1)]);
}
