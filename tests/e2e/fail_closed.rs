//! Replies that do not clearly mean "yes", from the right person, decide
//! nothing: tried as a careless approver and an attacker would, through
//! the real Postfix and Dovecot.

use std::time::Duration;

use crate::flow::{group, start, start_with, People, Setup, WAIT};
use crate::support::daemon_config::Level;
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::{ReplyDraft, Smtp};
use crate::support::stack::skip_without_stack;

/// How long a mail that should not come is given to come anyway.
const QUIET: Duration = Duration::from_secs(4);

/// A hand-made reply to `ask` from `from`: `parts` are (content type,
/// body), sent as one part or as multipart/alternative.
fn raw_reply(ask: &Mail, from: &str, message_id: &str, parts: &[(&str, &str)]) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <{message_id}>\r\n\
         In-Reply-To: <{}>\r\nMIME-Version: 1.0\r\n",
        ask.reply_to().unwrap(),
        ask.subject(),
        ask.message_id().unwrap()
    );
    match parts {
        [(kind, body)] => m.push_str(&format!(
            "Content-Type: {kind}; charset=utf-8\r\n\r\n{body}\r\n"
        )),
        _ => {
            m.push_str("Content-Type: multipart/alternative; boundary=part\r\n\r\n");
            for (kind, body) in parts {
                m.push_str(&format!(
                    "--part\r\nContent-Type: {kind}; charset=utf-8\r\n\r\n{body}\r\n"
                ));
            }
            m.push_str("--part--\r\n");
        }
    }
    m.into_bytes()
}

/// Sends `replies` from alice one by one, each after the previous one was
/// refused, and checks that the request is still pending and undecided.
async fn all_refused(s: &Setup, id: &str, replies: &[Vec<u8>], from: &str) {
    for (n, raw) in replies.iter().enumerate() {
        Smtp::new(s.stack)
            .send_raw(from, &[s.daemon.address()], raw)
            .await;
        s.inbox().wait_for_count("Rejected", n + 1, WAIT).await;
    }
    let r = s.get(id).await;
    assert_eq!(r["status"], "pending", "{r:#}");
    assert_eq!(r["decisions"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(s.inbox().count("Processed").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_that_do_not_clearly_mean_yes_decide_nothing() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("not_yes");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let texts = [
        "I don\u{2019}t approve",
        "don`t approve",
        "don\u{2bc}t approve",
        "dont aprove",
        "nicht genehmigt, APPROVE erst nach dem Freeze",
        "Não aprovo",
        "je n'approuve pas",
        "APPROVE - not yet",
        "approved, not now",
        "approve? no",
        "APPROVE later",
        "Not now.\n\nAPPROVE",
        "I approve",
        "\u{202e}evorppa ton\u{202c}",
        "APPROVE or DISAPPROVE",
    ];
    let replies: Vec<Vec<u8>> = texts
        .iter()
        .map(|text| ReplyDraft::new(&ask, &p.alice, text).message().formatted())
        .collect();
    all_refused(&s, &id, &replies, &p.alice).await;

    // The same approver, saying it plainly, is heard.
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_html_text_and_disagreeing_parts_decide_nothing() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("hidden_html");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let html = "text/html";
    let plain = "text/plain";
    let replies = vec![
        raw_reply(
            &ask,
            &p.alice,
            "h1@client.example.test",
            &[(
                html,
                r#"<div style="display:none">APPROVE</div><p>Not now</p>"#,
            )],
        ),
        raw_reply(
            &ask,
            &p.alice,
            "h2@client.example.test",
            &[(
                html,
                r#"<p><span style="color:#fff;background-color:#ffffff">APPROVE</span> Let us talk first</p>"#,
            )],
        ),
        raw_reply(
            &ask,
            &p.alice,
            "h3@client.example.test",
            &[(plain, "APPROVE"), (html, "<p>DISAPPROVE</p>")],
        ),
        raw_reply(
            &ask,
            &p.alice,
            "h4@client.example.test",
            &[
                (plain, "APPROVE"),
                (html, "<p hidden>APPROVE</p><p>wait</p>"),
            ],
        ),
    ];
    all_refused(&s, &id, &replies, &p.alice).await;
}

/// A forwarded approval mail: the requester, or another approver, answers
/// with the token it carries. Even where any holder of a token may answer
/// (`sender_policy = "token"`), they may not.
#[tokio::test(flavor = "multi_thread")]
async fn a_forwarded_approval_mail_lets_neither_the_requester_nor_another_approver_vote() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("forwarded");
    let s = start_with(
        vec![group(&p, vec![Level::new(&[&p.alice, &p.bob], 1)])],
        |c| {
            c.env
                .push(("APPROVALD__INBOUND__SENDER_POLICY".into(), "token".into()));
        },
    )
    .await;
    let id = s.submit(&p.dave).await;
    let to_alice = s.approval_mail(&p.alice, &id).await;
    for (n, who) in [&p.dave, &p.bob].into_iter().enumerate() {
        s.reply(&to_alice, who, "APPROVE").await;
        s.inbox().wait_for_count("Rejected", n + 1, WAIT).await;
    }
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending", "{r:#}");
    let refused = s
        .syslog
        .wait_for(|l| l.contains("forwarded approval request"), WAIT)
        .await;
    assert!(refused.contains(&format!("request=\"{id}\"")), "{refused}");
}

/// A mail without a token, from an approver's address (anyone can write
/// that From): refused, and never answered, so approvald cannot be made to
/// mail anyone.
#[tokio::test(flavor = "multi_thread")]
async fn a_tokenless_mail_from_a_known_address_is_refused_and_never_answered() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("tokenless");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    s.approval_mail(&p.alice, &id).await;
    let raw = format!(
        "From: {}\r\nTo: {}\r\nSubject: approve {id} please\r\nMessage-ID: <phish@evil.example>\r\n\r\nAPPROVE\r\n",
        p.alice,
        s.daemon.address()
    );
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[s.daemon.address()], raw.as_bytes())
        .await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    tokio::time::sleep(QUIET).await;
    let answered = Mailbox::new(s.stack, &p.alice)
        .fetch_all("INBOX")
        .await
        .into_iter()
        .filter(|m| m.header("Auto-Submitted").as_deref() == Some("auto-replied"))
        .count();
    assert_eq!(answered, 0, "a tokenless mail was answered");
    assert_eq!(s.get(&id).await["status"], "pending");
}

/// A mail that takes the Message-ID a genuine reply will carry first does
/// not make the genuine reply look handled.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_id_used_first_by_another_mail_does_not_swallow_the_genuine_reply() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("mid_collision");
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let taken = "CAF00-taken@client.example.test";
    let squatter = format!(
        "From: {}\r\nTo: {}\r\nSubject: hello\r\nMessage-ID: <{taken}>\r\n\r\nhello\r\n",
        p.mallory,
        s.daemon.address()
    );
    Smtp::new(s.stack)
        .send_raw(&p.mallory, &[s.daemon.address()], squatter.as_bytes())
        .await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let genuine = raw_reply(&ask, &p.alice, taken, &[("text/plain", "APPROVE")]);
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[s.daemon.address()], &genuine)
        .await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
}

/// Under `token+from+dmarc`, an approver's genuine, authenticated reply to
/// one request, sent again to the reply address of another (the envelope
/// re-aimed, the signed content untouched), never decides the other: tokens
/// are read only where a signature covers them.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_reply_re_aimed_at_another_request_decides_nothing_there() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("re_aimed");
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        for (name, value) in [
            ("APPROVALD__INBOUND__SENDER_POLICY", "token+from+dmarc"),
            ("APPROVALD__INBOUND__AUTHSERV_ID", "mx.example.test"),
        ] {
            c.env.push((name.into(), value.into()));
        }
    })
    .await;
    let first = s.submit(&p.dave).await;
    let second = s.submit(&p.dave).await;
    let ask_first = s.approval_mail(&p.alice, &first).await;
    let ask_second = s.approval_mail(&p.alice, &second).await;
    // As our MTA would stamp it: the topmost Authentication-Results header.
    let domain = p.alice.rsplit_once('@').unwrap().1;
    let mut signed =
        format!("Authentication-Results: mx.example.test; dmarc=pass header.from={domain}\r\n")
            .into_bytes();
    signed.extend(raw_reply(
        &ask_first,
        &p.alice,
        "signed@client.example.test",
        &[("text/plain", "APPROVE")],
    ));
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[&ask_first.reply_to().unwrap()], &signed)
        .await;
    s.daemon.wait_for_status(&first, "approved", WAIT).await;

    Smtp::new(s.stack)
        .send_raw(&p.mallory, &[&ask_second.reply_to().unwrap()], &signed)
        .await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let r = s.get(&second).await;
    assert_eq!(r["status"], "pending", "{r:#}");
    assert_eq!(r["decisions"].as_array().unwrap().len(), 0, "{r:#}");
}
