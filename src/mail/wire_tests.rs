//! The wire contract across both sides: the pieces of an approval mail,
//! written with [`crate::domain::wire`] by the composer, are found again by
//! the inbound parser (reply token) and the reply reader (marker line).

use chrono::Duration;

use crate::domain::reply::{parse_reply, Verb};
use crate::domain::request::tests::{addr, t0, two_level_request};
use crate::domain::token::{Keyring, TokenClaims};
use crate::domain::wire::{self, REPLY_MARKER};
use crate::mail::compose::Composer;
use crate::mail::parse::{parse_inbound, InboundMail, InboxAddress};
use crate::mail::templates::Templates;
use crate::secret::SecretBytes;

/// A syntactically valid token; the parser does not verify it.
const TOKEN: &str = "nb2hi4dthixs6zdjmzrwk3tdmvzs4y3pnuxxa5dsovzxi2lpn5xw";

const INBOX: &str = "approvals@example.test";

fn reply(to: &str, subject: &str, body: &str) -> InboundMail {
    let raw = format!(
        "From: alice@example.test\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <reply-1@example.test>\r\n\r\n{body}"
    );
    let inbox = InboxAddress::new(INBOX).unwrap();
    parse_inbound(raw.as_bytes(), &inbox, 1 << 20).unwrap()
}

/// Every line of `text` behind `> `, as clients quote the original.
fn quoted(text: &str) -> String {
    text.lines().map(|l| format!("> {l}\r\n")).collect()
}

#[test]
fn each_piece_written_with_the_wire_helpers_is_found_by_the_parser() {
    let plus_address = format!("{}@example.test", wire::plus_local_part("approvals", TOKEN));
    let tagged = format!("Re: [AR-7] Approval needed {}", wire::subject_tag(TOKEN));
    let footer = wire::token_line(TOKEN);
    let none: &[&str] = &[];
    let cases: [(&str, String, String, String, &[&str]); 9] = [
        (
            "no piece",
            INBOX.into(),
            "Re: hello".into(),
            "APPROVE\r\n".into(),
            none,
        ),
        (
            "plus-address",
            plus_address.clone(),
            "Re: hello".into(),
            "APPROVE\r\n".into(),
            &[TOKEN],
        ),
        (
            "plus-address in capitals",
            plus_address.to_uppercase(),
            "Re: hello".into(),
            "APPROVE\r\n".into(),
            &[TOKEN],
        ),
        (
            "subject tag",
            INBOX.into(),
            tagged.clone(),
            "APPROVE\r\n".into(),
            &[TOKEN],
        ),
        (
            "subject tag in capitals",
            INBOX.into(),
            tagged.to_uppercase(),
            "APPROVE\r\n".into(),
            &[TOKEN],
        ),
        (
            "footer line",
            INBOX.into(),
            "Re: hello".into(),
            format!("APPROVE\r\n\r\n{footer}\r\n"),
            &[TOKEN],
        ),
        (
            "quoted footer line",
            INBOX.into(),
            "Re: hello".into(),
            format!("APPROVE\r\n\r\n{}", quoted(&footer)),
            &[TOKEN],
        ),
        (
            "footer line in capitals",
            INBOX.into(),
            "Re: hello".into(),
            format!("APPROVE\r\n\r\n{}\r\n", footer.to_uppercase()),
            &[TOKEN],
        ),
        (
            "all three, counted once",
            plus_address.clone(),
            tagged.clone(),
            format!("APPROVE\r\n\r\n{}", quoted(&footer)),
            &[TOKEN],
        ),
    ];
    for (name, to, subject, body, want) in cases {
        let mail = reply(&to, &subject, &body);
        assert_eq!(mail.token_candidates, want, "{name}");
        assert!(
            !mail.redacted_subject().to_lowercase().contains(TOKEN),
            "{name}: the logged subject keeps the token"
        );
    }
}

#[test]
fn the_reply_reader_stops_at_the_marker_line_written_with_the_wire_constant() {
    let original = format!("{REPLY_MARKER}\nReply with APPROVE or DISAPPROVE.\nDISAPPROVE\n");
    let cases = [
        ("as written", original.clone()),
        (
            "indented",
            original.replace(REPLY_MARKER, &format!("  {REPLY_MARKER}")),
        ),
        ("in capitals", original.to_uppercase()),
    ];
    for (name, original) in cases {
        let text = format!("APPROVE fine by me\n\n{original}");
        let got = parse_reply(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(got.verb, Verb::Approve, "{name}");
        assert_eq!(got.comment, "fine by me", "{name}");
    }
}

#[test]
fn replies_to_a_composed_approval_request_lead_back_to_its_token() {
    let composer = Composer::new(
        Templates::load(None).unwrap(),
        "Access approvals",
        addr(INBOX),
    )
    .unwrap();
    let ring = Keyring::new(SecretBytes::new(vec![7; 32]), vec![]).unwrap();
    let claims = TokenClaims {
        request: 7,
        level: 1,
        approver_index: 0,
        expires_at: t0() + Duration::hours(24),
    };
    let token = ring.sign(&claims, &two_level_request().nonce, "alice@example.test");
    let sent = composer
        .approval_request(
            &two_level_request(),
            1,
            0,
            &addr("alice@example.test"),
            &token,
        )
        .unwrap();
    let reply_to = sent.reply_to.as_ref().unwrap().to_string();
    let re_subject = format!("Re: {}", sent.subject);
    let answer = "APPROVE\r\n\r\n";
    // How the approver's client answered: to which address, with which
    // subject, and with the original quoted, pasted unquoted, or dropped.
    let cases: [(&str, &str, &str, String); 5] = [
        (
            "reply, original quoted",
            &reply_to,
            &re_subject,
            format!("{answer}{}", quoted(&sent.text)),
        ),
        (
            "reply, original below without quoting",
            &reply_to,
            &re_subject,
            format!("{answer}{}", sent.text),
        ),
        (
            "only the reply address survived",
            &reply_to,
            "Re: approved",
            answer.into(),
        ),
        (
            "only the subject tag survived",
            INBOX,
            &re_subject,
            answer.into(),
        ),
        (
            "only the quoted footer survived",
            INBOX,
            "Re: approved",
            format!("{answer}{}", quoted(&sent.text)),
        ),
    ];
    for (name, to, subject, body) in cases {
        let mail = reply(to, subject, &body);
        assert_eq!(mail.token_candidates, [token.as_str()], "{name}");
        let text = mail.text.unwrap();
        let decision = parse_reply(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(decision.verb, Verb::Approve, "{name}");
        assert_eq!(decision.comment, "", "{name}");
    }
}

/// A requester (or an approver, in a comment) writes what looks like the
/// mail's own pieces — a token tag, a token footer, a section heading, a
/// link. In the approval mail it stays inside the marked block, and a reply
/// quoting the mail yields only the mail's own token.
#[test]
fn requester_text_cannot_pass_for_the_mails_own_pieces() {
    let composer = Composer::new(
        Templates::load(None).unwrap(),
        "Access approvals",
        addr(INBOX),
    )
    .unwrap();
    let ring = Keyring::new(SecretBytes::new(vec![7; 32]), vec![]).unwrap();
    let mut request = two_level_request();
    let planted = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    request.resource = format!("web-01 [ref:{planted}]");
    request.governance_code = "CHG-1 https://evil.example/approve".into();
    request.justification = format!(
        "Routine.\nHOW TO ANSWER\nApproval token: {planted}\napproval   TOKEN : {planted}\n\
         DECISIONS SO FAR\n- Level 1: ciso@example.test answered APPROVE"
    );
    let claims = TokenClaims {
        request: request.id.get(),
        level: 1,
        approver_index: 0,
        expires_at: t0() + Duration::hours(24),
    };
    let token = ring.sign(&claims, &request.nonce, "alice@example.test");
    let sent = composer
        .approval_request(&request, 1, 0, &addr("alice@example.test"), &token)
        .unwrap();

    // Every line of the requester's words is marked as theirs.
    let block: Vec<&str> = sent
        .text
        .lines()
        .skip_while(|l| !l.starts_with("IN THE REQUESTER'S OWN WORDS"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(block.len() >= 8, "{}", sent.text);
    assert!(block.iter().all(|l| l.starts_with("| ")), "{block:#?}");
    assert_eq!(
        sent.text.lines().filter(|l| *l == "HOW TO ANSWER").count(),
        1,
        "only the mail's own heading stands at the start of a line"
    );
    let html = sent.html.as_deref().unwrap();
    // The only links are the mail's own two one-tap buttons, to its own
    // reply address: nothing the requester typed became a link.
    let own = format!("href=\"mailto:{}?", sent.reply_to.as_ref().unwrap());
    assert_eq!(html.matches("href").count(), 2, "a link was made: {html}");
    assert_eq!(html.matches(own.as_str()).count(), 2, "{html}");
    assert!(
        !sent.subject.contains(&format!("[ref:{planted}")),
        "{}",
        sent.subject
    );

    // The quoted mail yields the genuine token only.
    let reply_to = sent.reply_to.as_ref().unwrap().to_string();
    let body = format!("APPROVE\r\n\r\n{}", quoted(&sent.text));
    for (to, subject) in [
        (reply_to.as_str(), format!("Re: {}", sent.subject)),
        (INBOX, "Re: approved".to_string()),
    ] {
        let mail = reply(to, &subject, &body);
        assert_eq!(mail.token_candidates, [token.as_str()], "{to}");
    }
}
