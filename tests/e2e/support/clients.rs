//! Replies to a real approval mail as particular mail clients write them,
//! byte for byte: Outlook on the web (HTML only), Outlook for Windows in
//! German, an ISO-8859-1 client in Portuguese, an out-of-office responder,
//! a mail server's bounce. Sent with [`super::smtp::Smtp::send_raw`], so
//! nothing between the test and the daemon rewrites them.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::mailbox::Mail;
use super::smtp::references_of;
use super::{run_tag, DOMAIN};

/// What a mail client takes from the mail it answers.
#[derive(Clone, Debug)]
pub(crate) struct Original {
    /// The token-carrying plus-address of Reply-To, where a reply goes.
    pub(crate) reply_to: String,
    /// The bare approvals address of From, where a client that ignores
    /// Reply-To sends the reply.
    pub(crate) from: String,
    /// The From display name ("Access approvals").
    pub(crate) from_name: String,
    /// The decoded Subject, with its `[ref:TOKEN]` tag.
    pub(crate) subject: String,
    /// The Message-ID with angle brackets.
    pub(crate) message_id: String,
    /// References of the original then its Message-ID, with brackets: what
    /// a reply's References holds.
    pub(crate) references: Vec<String>,
    /// When it was sent, for attribution lines.
    pub(crate) date: DateTime<Utc>,
    /// The text/plain body, which ends with the `Approval token:` footer.
    pub(crate) text: String,
    /// What is inside `<body>` of the HTML part: clients quote it whole.
    pub(crate) html_body: String,
    /// The reply token (the plus-address detail).
    pub(crate) token: String,
    /// The whole message, for bounces that return it.
    pub(crate) raw: Vec<u8>,
}

impl Original {
    /// Reads what a client needs from a received approval mail; fails the
    /// test when a part is missing.
    pub(crate) fn of(mail: &Mail) -> Original {
        let parsed = mail.parsed();
        let reply_to = mail
            .reply_to()
            .unwrap_or_else(|| panic!("approval mail without Reply-To:\n{}", mail.raw_text()));
        let token = reply_to
            .split_once('+')
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(token, _)| token.to_owned())
            .unwrap_or_else(|| panic!("Reply-To {reply_to} is not a plus-address"));
        let from_name = parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.name())
            .unwrap_or_default()
            .to_owned();
        let message_id = format!(
            "<{}>",
            mail.message_id()
                .unwrap_or_else(|| panic!("approval mail without Message-ID"))
        );
        let mut references = references_of(&parsed);
        references.push(message_id.clone());
        let date = parsed
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
            .unwrap_or_else(Utc::now);
        let html = mail.html().unwrap_or_default();
        Original {
            from: mail.author().unwrap_or_default(),
            from_name,
            subject: mail.subject(),
            message_id,
            references,
            date,
            text: mail.text().replace("\r\n", "\n"),
            html_body: inside_body(&html).to_owned(),
            token,
            reply_to,
            raw: mail.raw.clone(),
        }
    }

    /// The Subject without its `[ref:TOKEN]` tag, as some gateways and
    /// clients leave it.
    pub(crate) fn subject_without_tag(&self) -> String {
        let tag = format!("[ref:{}]", self.token);
        self.subject.replace(&tag, "").trim().to_owned()
    }

    fn references_header(&self) -> String {
        self.references.join(" ")
    }
}

/// The content of `<body ...>` … `</body>`, or the whole text when there
/// is no body element.
fn inside_body(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let start = lower
        .find("<body")
        .and_then(|b| {
            lower
                .get(b..)
                .and_then(|rest| rest.find('>'))
                .map(|e| b + e + 1)
        })
        .unwrap_or(0);
    let end = lower.rfind("</body>").unwrap_or(html.len()).max(start);
    html.get(start..end).unwrap_or(html)
}

/// A fresh Message-ID (with brackets) at `host`, unique in this run.
pub(crate) fn new_message_id(host: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("<{nanos:x}.{n}.{}@{host}>", run_tag())
}

/// Header lines and a body joined as on the wire: CRLF line ends, a blank
/// line between. `body` must already use CRLF.
pub(crate) fn assemble(headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// `text` with CRLF line ends.
pub(crate) fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `text` in ISO-8859-1; characters it lacks become `?`, as a client
/// limited to that charset writes them.
pub(crate) fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Quoted-printable (RFC 2045 section 6.7) of `bytes`, whose lines end in
/// `\n`: hard line breaks become CRLF, lines are soft-wrapped at 76
/// characters, `=`, 8-bit bytes and blanks at a line end are encoded.
pub(crate) fn quoted_printable(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (j, &b) in line.iter().enumerate() {
            let last = j + 1 == line.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece = if literal {
                vec![b]
            } else {
                format!("={b:02X}").into_bytes()
            };
            // Room for the piece and a soft break's "=".
            if width + piece.len() > 75 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            width += piece.len();
            out.extend_from_slice(&piece);
        }
        if i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// An RFC 2047 encoded word in ISO-8859-1 (Q encoding), as such clients
/// write non-ASCII display names.
pub(crate) fn latin1_word(text: &str) -> String {
    let mut out = String::from("=?ISO-8859-1?Q?");
    for b in latin1(text) {
        match b {
            b' ' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => out.push(char::from(b)),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// `&`, `<`, `>` and `"` escaped for HTML text and attributes.
pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `> ` before every line, `>` alone on an empty one.
fn quote_lines(text: &str) -> String {
    super::smtp::quote(text)
}

fn rfc2822_now() -> String {
    Utc::now().to_rfc2822()
}

/// Outlook on the web: HTML only, `RE:`, the typed lines in `elementToProof`
/// divs, then `appendonsend`, a rule and the `divRplyFwdMsg` header block
/// above the original HTML, unquoted.
pub(crate) fn outlook_web_html(original: &Original, from: &str, typed: &[&str]) -> Vec<u8> {
    let style = "font-family: Aptos, Aptos_EmbeddedFont, Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);";
    let mut html = String::from(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n\
         <style type=\"text/css\" style=\"display:none;\"> P {margin-top:0;margin-bottom:0;} </style>\n\
         </head>\n<body dir=\"ltr\">\n",
    );
    for line in typed {
        let content = if line.is_empty() {
            "<br>".to_owned()
        } else {
            html_escape(line)
        };
        html.push_str(&format!(
            "<div class=\"elementToProof\" style=\"{style}\">\n{content}</div>\n"
        ));
    }
    let sent = english_date(original.date);
    html.push_str(&format!(
        "<div id=\"appendonsend\"></div>\n\
         <hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\n\
         <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\" color=\"#000000\">\
         <b>From:</b> {name} &lt;{addr}&gt;<br>\n\
         <b>Sent:</b> {sent}<br>\n\
         <b>To:</b> {to}<br>\n\
         <b>Subject:</b> {subject}</font>\n\
         <div>&nbsp;</div>\n</div>\n<div>\n{body}\n</div>\n</body>\n</html>\n",
        name = html_escape(&original.from_name),
        addr = html_escape(&original.from),
        to = html_escape(from),
        subject = html_escape(&original.subject),
        body = original.html_body,
    ));
    let headers = [
        ("From", from.to_owned()),
        (
            "To",
            format!("{} <{}>", original.from_name, original.reply_to),
        ),
        ("Subject", format!("RE: {}", original.subject)),
        ("Thread-Topic", original.subject.clone()),
        ("Thread-Index", "AQHbWxT0cG9zdGVkIGJ5IE9XQQ==".to_owned()),
        ("Date", rfc2822_now()),
        (
            "Message-ID",
            new_message_id("AM0PR07MB6372.eurprd07.prod.outlook.com"),
        ),
        ("References", original.references_header()),
        ("In-Reply-To", original.message_id.clone()),
        ("Accept-Language", "en-US".to_owned()),
        ("Content-Language", "en-US".to_owned()),
        ("X-MS-Has-Attach", String::new()),
        ("X-MS-TNEF-Correlator", String::new()),
        ("Content-Type", "text/html; charset=\"utf-8\"".to_owned()),
        ("Content-Transfer-Encoding", "quoted-printable".to_owned()),
        ("MIME-Version", "1.0".to_owned()),
    ];
    assemble(&headers, &quoted_printable(html.as_bytes()))
}

/// A Portuguese reply from a client set to ISO-8859-1: quoted-printable
/// text, an encoded display name, Gmail's `Em … escreveu:` attribution and
/// the original quoted with `> `.
pub(crate) fn portuguese_latin1(
    original: &Original,
    display_name: &str,
    address: &str,
    typed: &str,
) -> Vec<u8> {
    let attribution = format!(
        "Em {}, {} <{}> escreveu:",
        portuguese_date(original.date),
        original.from_name,
        original.from
    );
    let text = format!(
        "{}\n\n{attribution}\n\n{}",
        typed.trim_end(),
        quote_lines(&original.text)
    );
    let headers = [
        ("Message-ID", new_message_id("mail.example.test")),
        ("Date", rfc2822_now()),
        ("MIME-Version", "1.0".to_owned()),
        (
            "User-Agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"
                .to_owned(),
        ),
        ("Subject", format!("Re: {}", original.subject)),
        ("Content-Language", "pt-BR".to_owned()),
        ("To", format!("{} <{}>", original.from_name, original.reply_to)),
        ("References", original.references_header()),
        ("From", format!("{} <{address}>", latin1_word(display_name))),
        ("In-Reply-To", original.message_id.clone()),
        ("Content-Type", "text/plain; charset=ISO-8859-1".to_owned()),
        ("Content-Transfer-Encoding", "quoted-printable".to_owned()),
    ];
    assemble(&headers, &quoted_printable(&latin1(&text)))
}

/// Outlook for Windows in German: `AW:`, multipart/alternative with an
/// ISO-8859-1 text part (typed lines, then the `Von:/Gesendet:/An:/Betreff:`
/// block and the original unquoted) and a Word HTML part.
pub(crate) fn outlook_desktop_german(
    original: &Original,
    display_name: &str,
    address: &str,
    typed: &str,
) -> Vec<u8> {
    let sent = german_date(original.date);
    let text = format!(
        "{}\n\nVon: {} <{}>\nGesendet: {sent}\nAn: {display_name} <{address}>\nBetreff: {}\n\n{}\n",
        typed.trim_end(),
        original.from_name,
        original.from,
        original.subject,
        original.text.trim_end()
    );
    let mut html = String::from(
        "<html xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" \
         xmlns:w=\"urn:schemas-microsoft-com:office:word\" xmlns:m=\"http://schemas.microsoft.com/office/2004/12/omml\" \
         xmlns=\"http://www.w3.org/TR/REC-html40\">\n<head>\n\
         <meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\n\
         <meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\">\n\
         <style><!--\np.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif;}\n\
         span.EmailFormatvorlage19 {mso-style-type:personal-reply;}\n--></style>\n</head>\n\
         <body lang=\"DE\" link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\">\n\
         <div class=\"WordSection1\">\n",
    );
    for line in typed.trim_end().lines() {
        let content = if line.is_empty() {
            "<o:p>&nbsp;</o:p>".to_owned()
        } else {
            format!("{}<o:p></o:p>", html_escape(line))
        };
        html.push_str(&format!("<p class=\"MsoNormal\">{content}</p>\n"));
    }
    html.push_str(&format!(
        "<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>\n\
         <div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\n\
         <p class=\"MsoNormal\"><b>Von:</b> {name} &lt;{addr}&gt; <br>\n\
         <b>Gesendet:</b> {sent}<br>\n<b>An:</b> {to} &lt;{address}&gt;<br>\n\
         <b>Betreff:</b> {subject}<o:p></o:p></p>\n</div>\n\
         <p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>\n{body}\n</div>\n</body>\n</html>\n",
        name = html_escape(&original.from_name),
        addr = html_escape(&original.from),
        to = html_escape(display_name),
        subject = html_escape(&original.subject),
        body = original.html_body,
    ));
    let boundary = "_000_DB9PR04MB842719E0A1B2C3D4E5F6DB9PR04MB8427eurp_";
    let mut body = Vec::new();
    for (content_type, part) in [("text/plain", latin1(&text)), ("text/html", latin1(&html))] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {content_type}; charset=\"iso-8859-1\"\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&quoted_printable(&part));
        body.extend_from_slice(b"\r\n\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let headers = [
        ("From", format!("{} <{address}>", latin1_word(display_name))),
        (
            "To",
            format!("{} <{}>", original.from_name, original.reply_to),
        ),
        ("Subject", format!("AW: {}", original.subject)),
        ("Thread-Topic", original.subject.clone()),
        (
            "Thread-Index",
            "AQHbWxT0TWljcm9zb2Z0IE91dGxvb2s=".to_owned(),
        ),
        ("Date", rfc2822_now()),
        (
            "Message-ID",
            new_message_id("DB9PR04MB8427.eurprd04.prod.outlook.com"),
        ),
        ("References", original.references_header()),
        ("In-Reply-To", original.message_id.clone()),
        ("Accept-Language", "de-DE, en-US".to_owned()),
        ("Content-Language", "de-DE".to_owned()),
        ("X-MS-Has-Attach", String::new()),
        ("X-MS-TNEF-Correlator", String::new()),
        (
            "Content-Type",
            format!("multipart/alternative; boundary=\"{boundary}\""),
        ),
        ("MIME-Version", "1.0".to_owned()),
    ];
    assemble(&headers, &body)
}

/// An out-of-office answer to the approval mail, as a vacation responder
/// sends it (RFC 3834: `Auto-Submitted: auto-replied`), to the address the
/// approval mail asked replies to go to.
pub(crate) fn out_of_office(original: &Original, from: &str) -> Vec<u8> {
    let text = "I am out of the office until Monday, 30 November, with limited access to email.\n\
                For urgent access requests please contact the on-call operator.\n\n\
                Thank you\n";
    let headers = [
        ("From", from.to_owned()),
        ("To", original.reply_to.clone()),
        ("Subject", format!("Automatic reply: {}", original.subject)),
        ("Date", rfc2822_now()),
        ("Message-ID", new_message_id("mail.example.test")),
        ("In-Reply-To", original.message_id.clone()),
        ("References", original.references_header()),
        ("Auto-Submitted", "auto-replied".to_owned()),
        ("X-Auto-Response-Suppress", "All".to_owned()),
        ("MIME-Version", "1.0".to_owned()),
        (
            "Content-Type",
            "text/plain; charset=\"us-ascii\"".to_owned(),
        ),
        ("Content-Transfer-Encoding", "7bit".to_owned()),
    ];
    assemble(&headers, crlf(text).as_bytes())
}

/// A Postfix-style delivery status notification (multipart/report,
/// delivery-status) returning the approval mail whole, from `from` (the
/// mailer daemon) to `to`. Sent with a null envelope sender.
pub(crate) fn bounce(original: &Original, from: &str, to: &str, failed_rcpt: &str) -> Vec<u8> {
    let boundary = format!("4Xk2bW0yQZz5{}.1763719320/mail.{DOMAIN}", run_tag());
    let notification = format!(
        "This is the mail system at host mail.{DOMAIN}.\n\n\
         I'm sorry to have to inform you that your message could not\n\
         be delivered to one or more recipients. It's attached below.\n\n\
         For further assistance, please send mail to postmaster.\n\n\
         If you do so, please include this problem report. You can\n\
         delete your own text from the attached returned message.\n\n\
         \x20                  The mail system\n\n\
         <{failed_rcpt}>: host mx.partner.example.test[192.0.2.25] said: 550 5.1.1\n\
         \x20   <{failed_rcpt}>: Recipient address rejected: User unknown (in reply\n\
         \x20   to RCPT TO command)\n"
    );
    let status = format!(
        "Reporting-MTA: dns; mail.{DOMAIN}\nX-Postfix-Queue-ID: 4Xk2bW0yQZz5\n\
         X-Postfix-Sender: rfc822; {to}\nArrival-Date: {}\n\n\
         Final-Recipient: rfc822; {failed_rcpt}\nOriginal-Recipient: rfc822;{failed_rcpt}\n\
         Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.partner.example.test\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{failed_rcpt}>: Recipient address rejected:\n\
         \x20   User unknown\n",
        rfc2822_now()
    );
    let mut body = Vec::new();
    body.extend_from_slice(b"This is a MIME-encapsulated message.\r\n\r\n");
    let part = |description: &str, content_type: &str| {
        format!("--{boundary}\r\nContent-Description: {description}\r\nContent-Type: {content_type}\r\n\r\n")
    };
    body.extend_from_slice(part("Notification", "text/plain; charset=us-ascii").as_bytes());
    body.extend_from_slice(crlf(&notification).as_bytes());
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(part("Delivery report", "message/delivery-status").as_bytes());
    body.extend_from_slice(crlf(&status).as_bytes());
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(part("Undelivered Message", "message/rfc822").as_bytes());
    body.extend_from_slice(&original.raw);
    if !original.raw.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let headers = [
        ("Date", rfc2822_now()),
        ("From", format!("{from} (Mail Delivery System)")),
        ("Subject", "Undelivered Mail Returned to Sender".to_owned()),
        ("To", to.to_owned()),
        ("MIME-Version", "1.0".to_owned()),
        (
            "Content-Type",
            format!("multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\""),
        ),
        ("Content-Transfer-Encoding", "8bit".to_owned()),
        ("Message-Id", new_message_id(&format!("mail.{DOMAIN}"))),
    ];
    assemble(&headers, &body)
}

/// `Saturday, November 21, 2026 10:02 AM`, as Outlook writes `Sent:`.
fn english_date(d: DateTime<Utc>) -> String {
    d.format("%A, %B %-d, %Y %-I:%M %p").to_string()
}

/// `sáb., 21 de nov. de 2026 às 10:02`, as Gmail in Portuguese writes it.
fn portuguese_date(d: DateTime<Utc>) -> String {
    const DAYS: [&str; 7] = ["seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."];
    const MONTHS: [&str; 12] = [
        "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.",
        "dez.",
    ];
    format!(
        "{}, {} de {} de {} às {:02}:{:02}",
        DAYS[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS[d.month0() as usize],
        d.year(),
        d.hour(),
        d.minute()
    )
}

/// `Samstag, 21. November 2026 10:02`, as Outlook in German writes
/// `Gesendet:`.
fn german_date(d: DateTime<Utc>) -> String {
    const DAYS: [&str; 7] = [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ];
    const MONTHS: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    format!(
        "{}, {}. {} {} {:02}:{:02}",
        DAYS[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS[d.month0() as usize],
        d.year(),
        d.hour(),
        d.minute()
    )
}

#[test]
fn quoted_printable_encodes_8bit_equals_and_trailing_blanks_and_wraps() {
    let cases: [(&[u8], &str); 5] = [
        (b"plain text", "plain text"),
        (b"a=b", "a=3Db"),
        (b"Aten\xe7\xe3o \n", "Aten=E7=E3o=20\r\n"),
        (b"one\ntwo\n", "one\r\ntwo\r\n"),
        (b"tab\tinside", "tab\tinside"),
    ];
    for (input, want) in cases {
        assert_eq!(
            String::from_utf8(quoted_printable(input)).unwrap(),
            want,
            "{input:?}"
        );
    }
    let long = quoted_printable(&[b'x'; 200]);
    let text = String::from_utf8(long).unwrap();
    assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text}");
    assert_eq!(text.replace("=\r\n", ""), "x".repeat(200));
}
