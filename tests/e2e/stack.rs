//! The mail stack and the harness themselves: if these fail, every other
//! end-to-end failure is suspect.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;

use crate::support::mailbox::Mailbox;
use crate::support::smtp::{quote, ReplyDraft, Smtp};
use crate::support::stack::{skip_without_stack, PrivateStack, Stack};
use crate::support::syslog::SyslogListener;
use crate::support::unique_address;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn plus_address_lands_in_base_inbox_with_delivered_to_showing_it() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let base = unique_address("approvals", "plus_address");
    let (local, domain) = base.split_once('@').unwrap();
    let plus = format!("{local}+sometoken@{domain}");

    Smtp::new(stack)
        .send_text("dave@example.test", &plus, "plus test", "hello")
        .await;

    let inbox = Mailbox::new(stack, &base);
    let mail = inbox
        .wait_for("INBOX", |m| m.subject() == "plus test", WAIT)
        .await;
    assert_eq!(mail.headers("Delivered-To"), vec![plus]);
    assert_eq!(mail.text().trim_end(), "hello");
}

#[tokio::test]
async fn imaps_port_is_trusted_with_the_stack_ca_and_refused_without_it() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&stack.ca_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    assert!(
        !roots.is_empty(),
        "no certificate in {}",
        stack.ca_file.display()
    );

    let user = unique_address("tls", "imaps");
    let mut session = imaps_login(stack, roots, &user).await.unwrap();
    session.examine("INBOX").await.unwrap();
    session.logout().await.unwrap();

    // Without the CA the same handshake must fail, or the check above
    // proved nothing.
    let refused = imaps_login(stack, rustls::RootCertStore::empty(), &user).await;
    assert!(
        refused.is_err(),
        "TLS handshake succeeded without trusting the CA"
    );
}

async fn imaps_login(
    stack: &Stack,
    roots: rustls::RootCertStore,
    user: &str,
) -> Result<async_imap::Session<tokio_rustls::client::TlsStream<TcpStream>>, String> {
    // One provider named explicitly: the crates in the tree enable more
    // than one.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", stack.imaps_port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let mut client = async_imap::Client::new(tls);
    client.read_response().await.map_err(|e| e.to_string())?;
    client
        .login(user, &stack.password)
        .await
        .map_err(|(e, _)| e.to_string())
}

#[tokio::test]
async fn smtp_auth_takes_the_shared_password_refuses_a_wrong_one_without_delay() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let sender = unique_address("sender", "smtp_auth");
    let rcpt = unique_address("rcpt", "smtp_auth");

    let wrong = Smtp::with_credentials(stack, &sender, "not the password");
    let wrong_message = lettre::Message::builder()
        .from(sender.parse().unwrap())
        .to(rcpt.parse().unwrap())
        .subject("wrong password")
        .body(String::from("x"))
        .unwrap();
    assert!(wrong.try_send(&wrong_message).await.is_err());

    // Dovecot would otherwise slow every login from 127.0.0.1 down for
    // seconds after a failure, and parallel tests with it.
    let started = Instant::now();
    Smtp::with_login(stack, &sender)
        .send_text(&sender, &rcpt, "right password", "y")
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "login after a failed one took {:?}",
        started.elapsed()
    );
    Mailbox::new(stack, &rcpt)
        .wait_for("INBOX", |m| m.subject() == "right password", WAIT)
        .await;
}

#[tokio::test]
async fn mail_for_another_domain_is_refused_so_nothing_leaves_the_machine() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let refused = Smtp::new(stack)
        .try_send_raw(
            "dave@example.test",
            &["someone@example.com"],
            b"Subject: out\r\n\r\nx\r\n",
        )
        .await;
    assert!(refused.is_err(), "mail to example.com was accepted");
}

#[tokio::test]
async fn raw_fixture_arrives_as_sent_without_added_headers() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let rcpt = unique_address("approvals", "raw_fixture");
    // ISO-8859-1, quoted-printable, no Message-ID and no Date: a fixture
    // must reach the daemon as written, not "repaired" by Postfix.
    let raw = format!(
        "From: =?ISO-8859-1?Q?Jo=E3o?= <joao@example.test>\r\n\
         To: {rcpt}\r\n\
         Subject: =?ISO-8859-1?Q?Aprova=E7=E3o?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=ISO-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         APROVADO, n=E3o h=E1 problema.\r\n"
    );
    Smtp::new(stack)
        .send_raw("joao@example.test", &[&rcpt], raw.as_bytes())
        .await;

    let mail = Mailbox::new(stack, &rcpt)
        .wait_for("INBOX", |m| m.subject() == "Aprovação", WAIT)
        .await;
    assert_eq!(mail.text().trim_end(), "APROVADO, não há problema.");
    assert_eq!(mail.message_id(), None, "a Message-ID was added");
    assert_eq!(mail.header("Date"), None, "a Date was added");
}

#[tokio::test]
async fn reply_draft_threads_quotes_and_goes_to_the_reply_to_address() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let approvals = unique_address("approvals", "reply_draft");
    let alice = unique_address("alice", "reply_draft");
    let (local, domain) = approvals.split_once('@').unwrap();
    let reply_to = format!("{local}+tok3n@{domain}");
    let original = format!(
        "From: Access approvals <{approvals}>\r\n\
         Reply-To: {reply_to}\r\n\
         To: {alice}\r\n\
         Subject: Approval needed: REQ-1\r\n\
         Message-ID: <req-1.level-1@example.test>\r\n\
         References: <thread-start@example.test>\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
         \r\n\
         Please approve.\r\n\
         \r\n\
         Reply APPROVE or DISAPPROVE.\r\n"
    );
    let smtp = Smtp::new(stack);
    smtp.send_raw(&approvals, &[&alice], original.as_bytes())
        .await;
    let received = Mailbox::new(stack, &alice)
        .wait_for("INBOX", |m| m.subject().contains("REQ-1"), WAIT)
        .await;

    let draft = ReplyDraft::new(&received, &alice, "APPROVE");
    assert_eq!(draft.to, reply_to);
    smtp.send(&draft.message()).await;

    let reply = Mailbox::new(stack, &approvals)
        .wait_for(
            "INBOX",
            |m| m.subject() == "Re: Approval needed: REQ-1",
            WAIT,
        )
        .await;
    assert_eq!(reply.headers("Delivered-To"), vec![reply_to]);
    assert_eq!(reply.author().as_deref(), Some(alice.as_str()));
    assert_eq!(
        reply.header("In-Reply-To").as_deref(),
        Some("<req-1.level-1@example.test>")
    );
    assert_eq!(
        reply.header("References").as_deref(),
        Some("<thread-start@example.test> <req-1.level-1@example.test>")
    );
    assert!(reply.message_id().is_some(), "the reply has no Message-ID");
    let text = reply.text();
    let expected = format!(
        "APPROVE\n\nOn Sat, 21 Nov 2026 10:00:00 +0000, Access approvals <{approvals}> wrote:\n\
         > Please approve.\n>\n> Reply APPROVE or DISAPPROVE."
    );
    assert_eq!(text.replace("\r\n", "\n").trim_end(), expected);
}

#[test]
fn quote_marks_every_line_and_leaves_empty_lines_bare() {
    let cases = [
        ("one", "> one\n"),
        ("one\n\ntwo\n", "> one\n>\n> two\n"),
        ("> already quoted", "> > already quoted\n"),
        ("", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(quote(input), expected, "quote({input:?})");
    }
}

#[tokio::test]
async fn many_parallel_imap_sessions_of_one_user_are_allowed() {
    if skip_without_stack() {
        return;
    }
    let stack = Stack::shared();
    let user = unique_address("busy", "parallel_imap");
    let mailbox = Mailbox::new(stack, &user);
    // Dovecot's default is 10 per user and address; the daemon and the
    // test together can exceed that.
    let mut sessions = Vec::new();
    for _ in 0..15 {
        sessions.push(mailbox.session().await);
    }
    for mut session in sessions {
        session.logout().await.unwrap();
    }
}

#[tokio::test]
async fn syslog_listener_collects_each_datagram_as_a_line() {
    let listener = SyslogListener::bind().await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for line in ["<134>1 first", "<134>1 second\n"] {
        socket
            .send_to(line.as_bytes(), ("127.0.0.1", listener.port()))
            .await
            .unwrap();
    }
    let second = listener
        .wait_for(|l| l.contains("second"), Duration::from_secs(5))
        .await;
    assert_eq!(second, "<134>1 second");
    assert_eq!(listener.lines(), vec!["<134>1 first", "<134>1 second"]);
}

#[tokio::test]
async fn private_stack_imap_restart_keeps_ports_and_mail() {
    if skip_without_stack() {
        return;
    }
    let stack = PrivateStack::start();
    let user = unique_address("restart", "private_stack");
    Smtp::new(&stack)
        .send_text("dave@example.test", &user, "before restart", "x")
        .await;
    let mailbox = Mailbox::new(&stack, &user);
    mailbox
        .wait_for("INBOX", |m| m.subject() == "before restart", WAIT)
        .await;

    let mut session = mailbox.session().await;
    stack.restart_imap();
    // The old session died with the server.
    assert!(
        session.noop().await.is_err(),
        "IMAP session survived the restart"
    );

    Smtp::new(&stack)
        .send_text("dave@example.test", &user, "after restart", "y")
        .await;
    let mails = mailbox.wait_for_count("INBOX", 2, WAIT).await;
    let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    assert_eq!(subjects, vec!["before restart", "after restart"]);
}
