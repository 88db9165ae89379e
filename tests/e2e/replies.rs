//! Approvers answering from real mail clients: each test replies to the
//! approval mail the approver actually received, with a message shaped
//! byte for byte like the client's (see `support::clients`), and checks
//! what approvald made of it through the API, the mailboxes and the audit
//! log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::flow::{group, start, People, Setup, WAIT};
use crate::support::clients::{
    bounce, out_of_office, outlook_desktop_german, outlook_web_html, portuguese_latin1, Original,
};
use crate::support::daemon_config::Level;
use crate::support::mailbox::{Mail, Mailbox};
use crate::support::smtp::{ReplyDraft, Smtp};
use crate::support::stack::skip_without_stack;
use crate::support::unique_address;

/// How long a mail that should not come is given to come anyway.
const QUIET: Duration = Duration::from_secs(5);

/// One approver (alice, quorum 1), one request by dave, and the approval
/// mail alice received for it.
async fn asked(test: &str) -> (People, Setup, String, Mail) {
    let p = People::new(test);
    let s = start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    (p, s, id, ask)
}

/// The decisions of a request as the API shows them.
fn decisions(request: &Value) -> &Vec<Value> {
    request["decisions"].as_array().unwrap()
}

/// Mails from approvald in `who`'s INBOX.
async fn mails_from_daemon(s: &Setup, who: &str) -> Vec<Mail> {
    let daemon = s.daemon.address().to_owned();
    Mailbox::new(s.stack, who)
        .fetch_all("INBOX")
        .await
        .into_iter()
        .filter(|m| m.author().as_deref() == Some(daemon.as_str()))
        .collect()
}

/// Explanations (approvald's answers to unusable mail) in `who`'s INBOX.
async fn explanations(s: &Setup, who: &str) -> Vec<Mail> {
    mails_from_daemon(s, who)
        .await
        .into_iter()
        .filter(|m| m.header("Auto-Submitted").as_deref() == Some("auto-replied"))
        .collect()
}

/// Audit lines with MSGID `msgid` about request `id`.
fn audit_lines(s: &Setup, msgid: &str, id: &str) -> Vec<String> {
    s.syslog
        .lines()
        .into_iter()
        .filter(|l| l.contains(&format!(" {msgid} ")) && l.contains(&format!("request=\"{id}\"")))
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{v} is not an RFC 3339 time: {e}"))
        .with_timezone(&Utc)
}

/// The approval is recorded once, from alice, with `comment`.
fn assert_approved_by(done: &Value, alice: &str, comment: &str) {
    let d = decisions(done);
    assert_eq!(d.len(), 1, "{done:#}");
    assert_eq!(d[0]["approver"], alice, "{done:#}");
    assert_eq!(d[0]["verb"], "approve", "{done:#}");
    assert_eq!(d[0]["comment"], comment, "{done:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn html_only_outlook_web_reply_is_not_lost_for_want_of_a_text_part() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("owa_html").await;
    let original = Original::of(&ask);
    let raw = outlook_web_html(
        &original,
        &format!("Alice Example <{}>", p.alice),
        &["APPROVE", "Checked CHG-4711, go ahead."],
    );
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[&original.reply_to], &raw)
        .await;

    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(&done, &p.alice, "Checked CHG-4711, go ahead.");
    let handled = s.inbox().wait_for_count("Processed", 1, WAIT).await;
    assert!(
        handled[0]
            .header("Content-Type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "the fixture must be HTML only:\n{}",
        handled[0].raw_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn latin1_quoted_printable_portuguese_reply_keeps_its_accents() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("latin1_pt").await;
    let original = Original::of(&ask);
    let raw = portuguese_latin1(
        &original,
        "João Araújo",
        &p.alice,
        // The decision word first: a first line such as "Aprovado." is no
        // decision, and a later line is never promoted to one.
        "APPROVE Tudo certo, pode seguir. Atenção à manutenção já agendada.\n\nAbraço,\nJoão\n",
    );
    let wire = String::from_utf8_lossy(&raw).into_owned();
    assert!(
        raw.is_ascii() && wire.contains("Aten=E7=E3o =E0 manuten=E7=E3o"),
        "the fixture must be ISO-8859-1 quoted-printable:\n{wire}"
    );
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[&original.reply_to], &raw)
        .await;

    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(
        &done,
        &p.alice,
        "Tudo certo, pode seguir. Atenção à manutenção já agendada.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outlook_desktop_german_header_block_is_not_read_as_the_answer() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("outlook_de").await;
    let original = Original::of(&ask);
    // The unquoted original below the Von:/Gesendet: block says "Reply with
    // APPROVE or DISAPPROVE": read as new text, it would make the reply
    // ambiguous.
    let raw = outlook_desktop_german(
        &original,
        "Alice Example",
        &p.alice,
        "APPROVE, Änderung ist mit dem Change Board abgestimmt.\n\nMit freundlichen Grüßen\nAlice Example\n",
    );
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[&original.reply_to], &raw)
        .await;

    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(
        &done,
        &p.alice,
        "Änderung ist mit dem Change Board abgestimmt.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_office_auto_reply_is_neither_a_decision_nor_answered() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("ooo").await;
    let original = Original::of(&ask);
    let raw = out_of_office(&original, &format!("Alice Example <{}>", p.alice));
    Smtp::new(s.stack)
        .send_raw(&p.alice, &[&original.reply_to], &raw)
        .await;

    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" reply-ignored ") && l.contains(&p.alice),
            WAIT,
        )
        .await;
    assert!(line.contains("auto-replied"), "{line}");
    tokio::time::sleep(QUIET).await;
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(decisions(&r).len(), 0, "{r:#}");
    let answers: Vec<String> = mails_from_daemon(&s, &p.alice)
        .await
        .iter()
        .map(Mail::subject)
        .collect();
    assert_eq!(
        answers.len(),
        1,
        "alice must hold only the approval mail, no answer to her auto-reply: {answers:?}"
    );
    assert_eq!(s.inbox().count("INBOX").await, 0);
    assert_eq!(s.inbox().count("Processed").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bounce_to_the_reply_address_is_neither_a_decision_nor_answered() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("bounce").await;
    let original = Original::of(&ask);
    let mailer_daemon = unique_address("mailer-daemon", "bounce");
    // It returns the whole approval mail: token footer, "APPROVE or
    // DISAPPROVE" and all.
    let raw = bounce(
        &original,
        &mailer_daemon,
        &original.reply_to,
        "alice@partner.example.test",
    );
    Smtp::new(s.stack)
        .send_raw("", &[&original.reply_to], &raw)
        .await;

    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" reply-ignored ") && l.contains(&mailer_daemon),
            WAIT,
        )
        .await;
    assert!(line.contains("delivery-status"), "{line}");
    tokio::time::sleep(QUIET).await;
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(decisions(&r).len(), 0, "{r:#}");
    assert_eq!(
        Mailbox::new(s.stack, &mailer_daemon).count("INBOX").await,
        0,
        "a bounce was answered"
    );
    assert_eq!(mails_from_daemon(&s, &p.alice).await.len(), 1);
    assert_eq!(s.inbox().count("Processed").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn informal_ok_is_explained_once_and_explanations_stop_after_three_a_day() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("ok_cap").await;
    let smtp = Smtp::new(s.stack);
    let mut sent_ids = Vec::new();
    let unusable = ["ok", "yes", "LGTM", "sure", "👍"];
    for (n, text) in unusable.iter().enumerate() {
        let message = ReplyDraft::new(&ask, &p.alice, text).message();
        let mid = message
            .headers()
            .get_raw("Message-ID")
            .unwrap()
            .trim()
            .to_owned();
        sent_ids.push(mid);
        smtp.send(&message).await;
        s.inbox().wait_for_count("Rejected", n + 1, WAIT).await;
        if n == 0 {
            let explanation = Mailbox::new(s.stack, &p.alice)
                .wait_for(
                    "INBOX",
                    |m| m.header("Auto-Submitted").as_deref() == Some("auto-replied"),
                    WAIT,
                )
                .await;
            let text = explanation.text();
            for wanted in [
                "does not start with a clear APPROVE or DISAPPROVE",
                "APPROVE",
                "DISAPPROVE",
            ] {
                assert!(text.contains(wanted), "{wanted:?} missing in:\n{text}");
            }
            assert!(
                !text.contains("\"ok\""),
                "the reply's words are never echoed:\n{text}"
            );
            assert_eq!(
                explanation.header("In-Reply-To").as_deref(),
                Some(sent_ids[0].as_str()),
                "threaded to the reply it explains"
            );
        }
    }
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(decisions(&r).len(), 0, "{r:#}");

    // A usable answer last: its outcome mail leaves the outbox after every
    // explanation queued before it, so once it arrives nothing else is due.
    s.reply(&ask, &p.alice, "APPROVE").await;
    s.daemon.wait_for_status(&id, "approved", WAIT).await;
    Mailbox::new(s.stack, &p.dave)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&id) && m.subject().contains("Approved"),
            WAIT,
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut answered: Vec<String> = explanations(&s, &p.alice)
        .await
        .iter()
        .map(|m| m.header("In-Reply-To").unwrap_or_default())
        .collect();
    answered.sort();
    let mut first_three = sent_ids[..3].to_vec();
    first_three.sort();
    assert_eq!(
        answered, first_three,
        "one explanation for each of the first three unusable replies, none after"
    );
    assert_eq!(audit_lines(&s, "reply-refused", &id).len(), unusable.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_to_the_bare_inbox_decides_by_the_quoted_footer_token() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("bare_inbox").await;
    let original = Original::of(&ask);
    // The client replied to From, not Reply-To, and the Subject tag was
    // stripped on the way: only the quoted footer carries the token.
    let mut draft = ReplyDraft::new(&ask, &p.alice, "APPROVE");
    draft.to = original.from.clone();
    draft.subject = format!("Re: {}", original.subject_without_tag());
    assert!(!draft.to.contains('+') && !draft.subject.contains(&original.token));
    assert!(
        draft
            .body
            .contains(&format!("> Approval token: {}", original.token)),
        "{}",
        draft.body
    );
    Smtp::new(s.stack).send(&draft.message()).await;

    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(&done, &p.alice, "");
    let handled = s.inbox().wait_for_count("Processed", 1, WAIT).await;
    assert_eq!(handled[0].headers("Delivered-To"), vec![original.from]);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_with_display_name_and_other_letter_case_is_the_same_approver() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("from_case").await;
    let (local, _) = p.alice.split_once('@').unwrap();
    let capitalised: Vec<String> = local
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect();
    let shouting = format!("{}@Example.Test", capitalised.join("-"));
    assert_ne!(shouting, p.alice);
    s.reply(&ask, &format!("\"ALICE\" <{shouting}>"), "APPROVE")
        .await;

    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(&done, &p.alice, "");
    let handled = s.inbox().wait_for_count("Processed", 1, WAIT).await;
    assert!(
        handled[0]
            .header("From")
            .unwrap_or_default()
            .contains(&shouting),
        "the From reached the daemon as sent:\n{}",
        handled[0].raw_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_with_window_narrows_and_a_wider_window_is_refused() {
    if skip_without_stack() {
        return;
    }
    let (p, s, id, ask) = asked("window").await;

    s.reply(&ask, &p.alice, "APPROVE 10h").await;
    s.inbox().wait_for_count("Rejected", 1, WAIT).await;
    let explanation = Mailbox::new(s.stack, &p.alice)
        .wait_for(
            "INBOX",
            |m| m.header("Auto-Submitted").as_deref() == Some("auto-replied"),
            WAIT,
        )
        .await;
    assert!(
        explanation.text().contains(
            "the window after APPROVE could not be read or lies outside the window requested"
        ),
        "{}",
        explanation.text()
    );
    let r = s.get(&id).await;
    assert_eq!(r["status"], "pending");
    assert_eq!(decisions(&r).len(), 0, "{r:#}");

    s.reply(&ask, &p.alice, "APPROVE 1h").await;
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_approved_by(&done, &p.alice, "");
    let requested_start = time(&done["window"]["start"]);
    let granted = &done["granted_window"];
    assert_eq!(time(&granted["start"]), requested_start, "{done:#}");
    assert_eq!(
        time(&granted["end"]) - time(&granted["start"]),
        chrono::Duration::hours(1),
        "{done:#}"
    );
    assert_eq!(decisions(&done)[0]["window"], *granted, "{done:#}");
}
