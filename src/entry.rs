//! Public entry points into the pure parsers, for benchmarks and fuzz
//! targets. They return summaries, not internal types, so the internals stay
//! free to change.

use crate::domain::reply;
use crate::domain::token::Token;
use crate::mail::parse::{parse_inbound, InboxAddress};

/// Reads a reply text; `Ok(verb)` or `Err(reason)`.
pub fn parse_reply_text(text: &str) -> Result<&'static str, String> {
    reply::parse_reply(text)
        .map(|d| d.verb.as_str())
        .map_err(|r| r.explain())
}

/// Parses a raw message as the inbox worker would; returns how many token
/// candidates it found, or the parse error.
pub fn parse_message(raw: &[u8], max_size: usize) -> Result<usize, String> {
    let inbox = InboxAddress::new("approvals@example.test").map_err(|e| e.to_string())?;
    parse_inbound(raw, &inbox, max_size)
        .map(|m| m.token_candidates.len())
        .map_err(|e| e.to_string())
}

/// Decodes a token's text form without verifying it.
pub fn decode_token(text: &str) -> Result<u64, String> {
    Token::parse(text)
        .map(|t| t.claims().request)
        .map_err(|e| e.to_string())
}

/// Fills a new store in `dir` with `total` requests through the store's
/// own transactions, as the daemon would have written them: `pending` of
/// them waiting for approval (deadline a month after `now`), the rest
/// closed (approved and ended, rejected, or expired) over the past year.
/// For the store-scale benchmark.
pub fn populate_store(
    dir: &std::path::Path,
    total: u64,
    pending: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    use crate::domain::access_window::AccessWindow;
    use crate::domain::request::{Channel, Decision, Level, Request, Route, Status};
    use crate::domain::verb::Verb;
    use crate::store::{Change, Store};
    use chrono::Duration;

    let store = Store::init(dir).map_err(|e| e.to_string())?;
    let address = |s: String| s.parse::<crate::domain::ids::Address>();
    let alice = address("alice@example.test".into()).map_err(|e| e.to_string())?;
    let bob = address("bob@example.test".into()).map_err(|e| e.to_string())?;
    let closed_count = total.saturating_sub(pending);
    for n in 0..total {
        let (id, nonce) = store.new_request_identity().map_err(|e| e.to_string())?;
        let open = n >= closed_count;
        // Closed requests spread over the past year, oldest first.
        let age = if open {
            Duration::minutes(5)
        } else {
            Duration::seconds(
                i64::try_from((closed_count - n) * 31_536_000 / closed_count.max(1)).unwrap_or(0),
            ) + Duration::days(1)
        };
        let created = now - age;
        let window = AccessWindow::new(created + Duration::hours(1), created + Duration::hours(3))
            .map_err(|e| e.to_string())?;
        let requester =
            address(format!("user{}@example.test", n % 5000)).map_err(|e| e.to_string())?;
        let (status, decisions, closed_at) = if open {
            (Status::Pending, vec![], None)
        } else {
            let (status, verb) = match n % 10 {
                0 => (Status::Rejected, Verb::Disapprove),
                1 => (Status::Expired, Verb::Approve),
                _ => (Status::Ended, Verb::Approve),
            };
            let decisions = if status == Status::Expired {
                vec![]
            } else {
                vec![Decision {
                    level: 1,
                    approver: alice.clone(),
                    verb,
                    comment: "ok".into(),
                    at: created + Duration::minutes(20),
                    channel: Channel::Email,
                    window: None,
                }]
            };
            (status, decisions, Some(created + Duration::hours(3)))
        };
        let r = Request {
            id,
            nonce,
            requester,
            action: "certificate.sign".into(),
            resource: format!("host-{n}.example.test"),
            justification: "renewal of the service certificate".into(),
            reason: "Maintenance".into(),
            governance_code: "CHG-1".into(),
            group: "pki".into(),
            requested_window: window,
            granted_window: window,
            levels: vec![Level {
                approvers: vec![alice.clone(), bob.clone()],
                quorum: 1,
            }],
            status,
            level: 1,
            decisions,
            created_at: created,
            deadline: if open {
                now + Duration::days(30)
            } else {
                created + Duration::hours(24)
            },
            closed_at,
            route: Route::Approvers,
            interventions: vec![],
            require_comment: false,
            notify: vec![],
            reminders: Vec::new(),
            reminders_sent: 0,
            escalations: Vec::new(),
            level_opened_at: open.then_some(created),
            escalated: Vec::new(),
            on_end: None,
        };
        store
            .commit(Some(r.id), |_| Change {
                request: Some(r.clone()),
                ..Change::nothing(())
            })
            .map_err(|e| e.to_string())?;
    }
    store.flush_blocking().map_err(|e| e.to_string())
}
