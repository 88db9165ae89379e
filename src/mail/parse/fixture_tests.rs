//! Table-driven tests over raw messages modelled on what real clients
//! send (`tests/fixtures/mail/*.eml`), plus synthetic edge cases.

use super::*;

const AUTHSERV: &str = "mx.example.test";

const GMAIL: &str = "k5v2pqxevo3rqtfebeku3o55kmdmdkahi7544qki5jrhd7jb453a";
const OUTLOOK_DESKTOP: &str = "aso7grea65oji74k3lhxtqbnwyeznfffe72lydzd3utdnucxhsxa";
const OUTLOOK_IOS: &str = "fygwcyhxoyomdbkt35cye3nm5zqw272mswxgevs7prilbsmdhc6a";
const APPLE: &str = "hj55hyrwbi6st3veg36pw7sey425cf6efuobqnkcbnvzsqw5j4nq";
const THUNDERBIRD: &str = "wkhe5elxoolrxtgxqyi77wxho5mgcqrc4vbfqxnksi6vbtkx5v2q";
const YAHOO: &str = "u6sn5uwvannnwjvceldhamxqjt6nej42wuem6kt76yjk5lmxkupa";
const HTML_ONLY: &str = "erzn4oqxa5p75a3vcdn7mcw4rejeervgqztzq7qikgjpi4jqgzyq";
const PT_ISO: &str = "skoitiaiqd3ctadtf67whiw4ikpwbqeytsf5m2yiajyg2ghrw5mq";
const BASE64: &str = "g4ncq3kyokrxgdleimtvqfkg5q7glc57di6h67yn4k6btec5iqba";
const EXCHANGE_OOF: &str = "ti76brlxeokyna4tiv6m3hdj33mmz4laeel5w7t3szf4oabio64q";
const DSN: &str = "wdti5ra3p7pfvrsiz6jfpyuabhlojyrglaef6yztyvzbphnkrnpa";
const MDN: &str = "ibdmj5r4tkfe57bqeunt3j74hjv7pdubqo2rb7msvfzrm7ktffua";
const FORGED: &str = "ztotkfukwr2puv3euutm7obwee2r4i3ifrihlmxbrvll3x4wviya";
const WRAPPED: &str = "vw7ulmek2zdivikh4wzken2y55lkwyy2fnyk2usqdsrvqra2gtzq";
const DE_AW: &str = "j6pcjludiigry36jwj632iqu3ln3uevwzbna5spwqhbfxsmlxfaq";
const SV: &str = "v6whbzrrq6ya5d6f6ugxui7o5luvnzzk6kgf5tjf4hggmsarzzxa";
const ENC: &str = "l6zkw5xntpnagsyzfremobutless7tg2c2gzewwmblt5gfwawu7a";
const EXT: &str = "u7t6f5m3ckf5wcvgb5lpkii67367qo4stffy6ss5fymbe2qkctpa";

/// Every fixture file, for tests that run over all of them.
pub(super) const FIXTURES: &[&str] = &[
    "apple_mail_reply.eml",
    "base64_text_reply.eml",
    "de_aw_reply.eml",
    "dsn_bounce.eml",
    "enc_forward.eml",
    "exchange_oof.eml",
    "ext_re_reply.eml",
    "forged_foreign_authres.eml",
    "gmail_web_reply.eml",
    "html_only_reply.eml",
    "mdn_read_receipt.eml",
    "ooo_autoreply.eml",
    "outlook_desktop_reply.eml",
    "outlook_ios_reply.eml",
    "pt_iso8859_qp_reply.eml",
    "sv_reply.eml",
    "thunderbird_reply.eml",
    "wrapped_footer_reply.eml",
    "yahoo_reply.eml",
];

pub(super) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(super) fn inbox() -> InboxAddress {
    InboxAddress::new("approvals@example.test").unwrap()
}

fn parse(raw: &[u8]) -> InboundMail {
    parse_inbound(raw, &inbox(), 1 << 20).unwrap()
}

struct Case {
    file: &'static str,
    message_id: &'static str,
    from: Option<&'static str>,
    subject: &'static str,
    tokens: Vec<&'static str>,
    automated: Option<Automated>,
    authenticated: bool,
    /// The first non-empty line of `text`: what the approver typed first.
    first_line: &'static str,
    /// Lines that must appear in `text` exactly (decoding, quoting).
    text_lines: Vec<String>,
    /// Lines that must appear in the converted first HTML part, if any.
    html_lines: Vec<String>,
}

fn quoted_footer(token: &str) -> String {
    format!("> Approval token: {token}")
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "gmail_web_reply.eml",
            message_id: "CAJ3kL9x_QwZp+Rk2v5mB0tN8yH4aE7cD1sF6gH2jK8lM9nP0qR@mail.gmail.com",
            from: Some("ana.souza@gmail.com"),
            subject: "Re: Approval needed: AR-1042 prod-db read access for Bruno Lima [ref:k5v2pqxevo3rqtfebeku3o55kmdmdkahi7544qki5jrhd7jb453a]",
            tokens: vec![GMAIL],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec![
                "Ok for one week.".into(),
                "On Fri, Nov 20, 2026 at 10:00\u{202f}AM Access Approvals <approvals@example.test>".into(),
                quoted_footer(GMAIL),
            ],
            html_lines: vec![
                "APPROVE".into(),
                "Ok for one week.".into(),
                // The converter writes Unicode spaces (here U+202F) as plain spaces.
                "> On Fri, Nov 20, 2026 at 10:00 AM Access Approvals <approvals@example.test> wrote:".into(),
                "> Request: AR-1042".into(),
                quoted_footer(GMAIL),
            ],
        },
        Case {
            file: "outlook_desktop_reply.eml",
            message_id: "CP4PR80MB5649E1C7A3B2D9F04C1E8B7DA45C2@CP4PR80MB5649.lamprd80.prod.outlook.com",
            from: Some("joao.araujo@corp.example"),
            subject: "RES: Approval needed: AR-1043 erp-finance write access for Bruno Lima [ref:aso7grea65oji74k3lhxtqbnwyeznfffe72lydzd3utdnucxhsxa]",
            tokens: vec![OUTLOOK_DESKTOP],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec![
                // 0x96 is an en dash in Windows-1252 (a control character in ISO-8859-1).
                "Aprovado até sexta-feira. Obrigado – João".into(),
                "De: Access Approvals <approvals@example.test>".into(),
                "Para: João Araújo <joao.araujo@corp.example>".into(),
                format!("Approval token: {OUTLOOK_DESKTOP}"),
            ],
            html_lines: vec![
                "Aprovado até sexta-feira. Obrigado – João".into(),
                "> De: Access Approvals <approvals@example.test>".into(),
                "> Enviado: sexta-feira, 20 de novembro de 2026 10:00".into(),
                "> Request: AR-1043".into(),
                quoted_footer(OUTLOOK_DESKTOP),
            ],
        },
        Case {
            file: "outlook_ios_reply.eml",
            message_id: "PH0PR11MB7471A2B3C4D5E6F708192A3B4C5D6@PH0PR11MB7471.namprd11.prod.outlook.com",
            from: Some("carla.mendes@corp.example"),
            subject: "RE: Approval needed: AR-1044 vpn-admin access for Bruno Lima [ref:fygwcyhxoyomdbkt35cye3nm5zqw272mswxgevs7prilbsmdhc6a]",
            tokens: vec![OUTLOOK_IOS],
            automated: None,
            authenticated: true,
            first_line: "Disapprove",
            text_lines: vec![
                "Not without a change ticket.".into(),
                "Get Outlook for iOS<https://aka.ms/o0ukef>".into(),
                "From: Access Approvals <approvals@example.test>".into(),
            ],
            html_lines: vec![
                "Not without a change ticket.".into(),
                "Get Outlook for iOS".into(),
                "> From: Access Approvals <approvals@example.test>".into(),
                "> Sent: Friday, November 20, 2026 10:00:00 AM".into(),
                quoted_footer(OUTLOOK_IOS),
            ],
        },
        Case {
            file: "apple_mail_reply.eml",
            message_id: "8B2E4F6A-1C3D-4E5F-9A7B-0C1D2E3F4A5B@corp.example",
            from: Some("diego.ferreira@corp.example"),
            subject: "Re: Approval needed: AR-1045 k8s-prod namespace access for Bruno Lima [ref:hj55hyrwbi6st3veg36pw7sey425cf6efuobqnkcbnvzsqw5j4nq]",
            tokens: vec![APPLE],
            automated: None,
            authenticated: true,
            first_line: "Approve — go ahead.",
            text_lines: vec![
                "> On 20 Nov 2026, at 10:00, Access Approvals <approvals@example.test> wrote:".into(),
                quoted_footer(APPLE),
            ],
            html_lines: vec![
                "Approve — go ahead.".into(),
                "Diego".into(),
                "> On 20 Nov 2026, at 10:00, Access Approvals <approvals@example.test> wrote:".into(),
                quoted_footer(APPLE),
            ],
        },
        Case {
            file: "thunderbird_reply.eml",
            message_id: "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b@corp.example",
            from: Some("eva.schmidt@corp.example"),
            subject: "Re: Approval needed: AR-1046 sap-hr read access for Bruno Lima [ref:wkhe5elxoolrxtgxqyi77wxho5mgcqrc4vbfqxnksi6vbtkx5v2q]",
            tokens: vec![THUNDERBIRD],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec![
                "Genehmigt für die Prüfung. Grüße, Eva".into(),
                "Am 20.11.26 um 14:00 schrieb Access Approvals:".into(),
                quoted_footer(THUNDERBIRD),
            ],
            html_lines: vec![
                "APPROVE".into(),
                "Genehmigt für die Prüfung. Grüße, Eva".into(),
                "> Am 20.11.26 um 14:00 schrieb Access Approvals:".into(),
                quoted_footer(THUNDERBIRD),
            ],
        },
        Case {
            file: "yahoo_reply.eml",
            message_id: "1234567890.1122334.1795180000000@mail.yahoo.com",
            from: Some("fernanda_costa@yahoo.com.br"),
            subject: "Re: Approval needed: AR-1047 crm-export access for Bruno Lima [ref:u6sn5uwvannnwjvceldhamxqjt6nej42wuem6kt76yjk5lmxkupa]",
            tokens: vec![YAHOO],
            automated: None,
            authenticated: true,
            first_line: "Aprovo. APPROVE",
            text_lines: vec![format!(" Approval token: {YAHOO}")],
            html_lines: vec![
                "Aprovo. APPROVE".into(),
                "> Em sexta-feira, 20 de novembro de 2026 às 10:00:00 BRT, Access Approvals <approvals@example.test> escreveu:".into(),
                quoted_footer(YAHOO),
            ],
        },
        Case {
            file: "html_only_reply.eml",
            message_id: "1729384756.120934.1795180710123.JavaMail.zimbra@corp.example",
            from: Some("gustavo.reis@corp.example"),
            // Sent to the bare address with an edited Subject: only the footer is left.
            subject: "Re: AR-1048",
            tokens: vec![HTML_ONLY],
            automated: None,
            authenticated: true,
            first_line: "DISAPPROVE",
            text_lines: vec![
                "Acesso de escrita não é necessário – use o perfil de leitura.".into(),
                "> De: \"Access Approvals\" <approvals@example.test>".into(),
                "> Request: AR-1048".into(),
                quoted_footer(HTML_ONLY),
            ],
            html_lines: vec!["DISAPPROVE".into()],
        },
        Case {
            file: "pt_iso8859_qp_reply.eml",
            message_id: "20261120105040.4a5b6c7d@helena-nb.corp.example",
            from: Some("helena.conceicao@corp.example"),
            subject: "Re: Aprovação necessária: AR-1049 gestão-pessoas [ref:skoitiaiqd3ctadtf67whiw4ikpwbqeytsf5m2yiajyg2ghrw5mq]",
            tokens: vec![PT_ISO],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec![
                "Aprovação concedida para a análise do incidente; revogar após a auditoria.".into(),
                quoted_footer(PT_ISO),
            ],
            html_lines: vec![],
        },
        Case {
            file: "base64_text_reply.eml",
            message_id: "CAGx2mW9Ty3_Kq8vN1zR5bL0pJ7hD4fC6sA9eG2iK5mO8qU1wY@mail.corp.example",
            from: Some("inaki.etxeberria@corp.example"),
            subject: "Re: Approval needed: AR-1050 ventas-dw read access for Bruno Lima [ref:g4ncq3kyokrxgdleimtvqfkg5q7glc57di6h67yn4k6btec5iqba]",
            tokens: vec![BASE64],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec![
                "De acuerdo, adelante. Iñaki".into(),
                "El vie, 20 nov 2026 a las 10:00, Access Approvals (<approvals@example.test>) escribió:".into(),
                quoted_footer(BASE64),
            ],
            html_lines: vec![],
        },
        Case {
            file: "ooo_autoreply.eml",
            message_id: "CAJ3kL9y_vacation.Zp+Rk2v5mB0tN8yH4aE7cD1sF6g@mail.gmail.com",
            from: Some("ana.souza@gmail.com"),
            subject: "Férias até 30/11",
            tokens: vec![],
            automated: Some(Automated::AutoSubmitted("auto-replied".into())),
            authenticated: true,
            first_line: "Estou de férias até 30/11, sem acesso ao e-mail.",
            text_lines: vec![],
            html_lines: vec!["Estou de férias até 30/11, sem acesso ao e-mail.".into()],
        },
        Case {
            file: "exchange_oof.eml",
            message_id: "SA1PR11MB8123F0E1D2C3B4A5968778695A4B3@SA1PR11MB8123.namprd11.prod.outlook.com",
            from: Some("marta.lopes@corp.example"),
            subject: "Automatic reply: Approval needed: AR-1052 prod-db read access for Bruno Lima [ref:ti76brlxeokyna4tiv6m3hdj33mmz4laeel5w7t3szf4oabio64q]",
            // The Subject still carries the tag: `automated` is what keeps
            // this from counting as a reply.
            tokens: vec![EXCHANGE_OOF],
            automated: Some(Automated::AutoSubmitted("auto-generated".into())),
            authenticated: true,
            first_line: "I am out of the office until 30 November with limited access to e-mail.",
            text_lines: vec![],
            html_lines: vec![],
        },
        Case {
            file: "dsn_bounce.eml",
            message_id: "20261120130005.4XyZ2m3Kp8z9sWq@mx.example.test",
            from: Some("mailer-daemon@mx.example.test"),
            subject: "Undelivered Mail Returned to Sender",
            // From the footer of the returned approval mail.
            tokens: vec![DSN],
            automated: Some(Automated::Report("delivery-status".into())),
            authenticated: false,
            first_line: "This is the mail system at host mx.example.test.",
            text_lines: vec![],
            html_lines: vec![],
        },
        Case {
            file: "mdn_read_receipt.eml",
            message_id: "CP4PR80MB56491A2B3C4D5E6F7A8B9C0D1E2F3@CP4PR80MB5649.lamprd80.prod.outlook.com",
            from: Some("joao.araujo@corp.example"),
            subject: "Lida: Approval needed: AR-1054 erp-finance write access for Bruno Lima [ref:ibdmj5r4tkfe57bqeunt3j74hjv7pdubqo2rb7msvfzrm7ktffua]",
            tokens: vec![MDN],
            automated: Some(Automated::Report("disposition-notification".into())),
            authenticated: true,
            first_line: "Sua mensagem",
            text_lines: vec!["  Para: João Araújo".into()],
            html_lines: vec![],
        },
        Case {
            file: "forged_foreign_authres.eml",
            message_id: "forged-7731@attacker.example",
            from: Some("cfo@corp.example"),
            subject: "Re: Approval needed: AR-1055 treasury-payments admin access for Mallory [ref:ztotkfukwr2puv3euutm7obwee2r4i3ifrihlmxbrvll3x4wviya]",
            tokens: vec![FORGED],
            automated: None,
            authenticated: false,
            first_line: "APPROVE",
            text_lines: vec![],
            html_lines: vec![],
        },
        Case {
            file: "wrapped_footer_reply.eml",
            message_id: "Z0k3mT6vY9bE2hK5@sofia-ws.corp.example",
            from: Some("sofia.martins@corp.example"),
            subject: "Re: Fwd: AR-1056",
            tokens: vec![WRAPPED],
            automated: None,
            authenticated: true,
            first_line: "DISAPPROVE",
            text_lines: vec!["> > Approval token: vw7ulmek2zdivikh4wzken2y55lkwy".into()],
            html_lines: vec![],
        },
        Case {
            file: "de_aw_reply.eml",
            message_id: "FR3P281MB1234ABCDEF0123456789ABCDEF01@FR3P281MB1234.DEUP281.PROD.OUTLOOK.COM",
            from: Some("klaus.becker@corp.example"),
            subject: "AW: Approval needed: AR-1057 sap-fi read access for Bruno Lima [ref:j6pcjludiigry36jwj632iqu3ln3uevwzbna5spwqhbfxsmlxfaq]",
            // Bare address, quote deleted: the Subject tag is all that is left.
            tokens: vec![DE_AW],
            automated: None,
            authenticated: true,
            first_line: "Genehmigt – APPROVE",
            text_lines: vec!["Viele Grüße".into()],
            html_lines: vec!["Genehmigt – APPROVE".into(), "Viele Grüße".into()],
        },
        Case {
            file: "sv_reply.eml",
            message_id: "HE1PR0701MB2345BCDEF01234567890ABCDEF012@HE1PR0701MB2345.eurprd07.prod.outlook.com",
            from: Some("lars.nilsson@corp.example"),
            subject: "SV: Approval needed: AR-1058 data-lake read access for Bruno Lima [ref:v6whbzrrq6ya5d6f6ugxui7o5luvnzzk6kgf5tjf4hggmsarzzxa]",
            tokens: vec![SV],
            automated: None,
            authenticated: true,
            first_line: "APPROVE",
            text_lines: vec!["Godkänt. /Lars".into(), "Från: Access Approvals <approvals@example.test>".into()],
            html_lines: vec![],
        },
        Case {
            file: "enc_forward.eml",
            message_id: "CP6PR80MB6789ABCDEF0123456789ABCDEF012@CP6PR80MB6789.lamprd80.prod.outlook.com",
            from: Some("renata.alves@corp.example"),
            subject: "Enc: Aprovação necessária: AR-1059 [ref:l6zkw5xntpnagsyzfremobutless7tg2c2gzewwmblt5gfwawu7a]",
            tokens: vec![ENC],
            automated: None,
            authenticated: true,
            first_line: "Paulo, pode aprovar por mim? Estou em reunião.",
            text_lines: vec![],
            html_lines: vec![],
        },
        Case {
            file: "ext_re_reply.eml",
            message_id: "BY5PR19MB3456CDEF0123456789ABCDEF0123@BY5PR19MB3456.namprd19.prod.outlook.com",
            from: Some("tom.walker@contoso.example"),
            subject: "[EXT] RE: Approval needed: AR-1060 prod-db read access for Tom Walker [ref:u7t6f5m3ckf5wcvgb5lpkii67367qo4stffy6ss5fymbe2qkctpa]",
            tokens: vec![EXT],
            automated: None,
            // DKIM d=mail.contoso.example and SPF bounce.contoso.example are
            // both subdomains of the From domain contoso.example.
            authenticated: true,
            first_line: "Approved.",
            text_lines: vec![],
            html_lines: vec![],
        },
    ]
}

fn first_html_as_text(raw: &[u8]) -> Option<String> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    message.parts.iter().find_map(|p| match &p.body {
        mail_parser::PartType::Html(h) => Some(html::html_to_text(h)),
        _ => None,
    })
}

#[test]
fn every_fixture_gives_the_expected_facts() {
    let table = cases();
    assert_eq!(table.len(), FIXTURES.len(), "every fixture has a case");
    for case in table {
        let raw = fixture(case.file);
        let mail = parse(&raw);
        let file = case.file;
        assert_eq!(mail.message_id.as_deref(), Some(case.message_id), "{file}");
        assert_eq!(mail.from.as_deref(), case.from, "{file}");
        assert_eq!(mail.subject, case.subject, "{file}");
        assert_eq!(mail.token_candidates, case.tokens, "{file}");
        assert_eq!(mail.automated, case.automated, "{file}");
        assert_eq!(
            mail.sender_authenticated(AUTHSERV),
            case.authenticated,
            "{file}"
        );
        let text = mail.text.as_ref().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!text.contains('\r'), "{file}: text has \\n line ends");
        let first = text.lines().find(|l| !l.trim().is_empty());
        assert_eq!(first, Some(case.first_line), "{file}");
        for want in &case.text_lines {
            assert!(
                text.lines().any(|l| l == want),
                "{file}: text lacks line {want:?}:\n{text}"
            );
        }
        if !case.html_lines.is_empty() {
            let html = first_html_as_text(&raw).unwrap_or_default();
            for want in &case.html_lines {
                assert!(
                    html.lines().any(|l| l == want),
                    "{file}: HTML lacks line {want:?}:\n{html}"
                );
            }
        }
    }
}

#[test]
fn html_replies_keep_the_typed_text_unquoted_and_the_original_quoted() {
    for file in [
        "gmail_web_reply.eml",
        "outlook_desktop_reply.eml",
        "outlook_ios_reply.eml",
        "apple_mail_reply.eml",
        "thunderbird_reply.eml",
        "yahoo_reply.eml",
        "html_only_reply.eml",
    ] {
        let html = first_html_as_text(&fixture(file)).unwrap_or_default();
        let footer = html
            .lines()
            .find(|l| l.contains("Approval token:"))
            .unwrap_or_default();
        assert!(
            footer.starts_with("> "),
            "{file}: footer not quoted: {footer:?}"
        );
        let typed = html.lines().next().unwrap_or_default();
        assert!(
            !typed.starts_with('>'),
            "{file}: typed text quoted: {typed:?}"
        );
    }
}

#[test]
fn forged_authentication_results_are_not_trusted() {
    let mail = parse(&fixture("forged_foreign_authres.eml"));
    assert_eq!(mail.authentication_results().len(), 3);
    let ids: Vec<_> = mail
        .authentication_results()
        .into_iter()
        .map(|a| a.authserv_id)
        .collect();
    assert_eq!(ids, [AUTHSERV, "mx.attacker.example", AUTHSERV]);
    // Our topmost header says dmarc=fail; the lower one with our id and the
    // foreign one both claim pass and must not count.
    assert!(!mail.sender_authenticated(AUTHSERV));
    assert!(!mail.sender_authenticated("MX.EXAMPLE.TEST"));
    // Not the topmost header's id: never trusted, whatever it says.
    assert!(!mail.sender_authenticated("mx.attacker.example"));
    assert!(!mail.sender_authenticated(""));
    let why = mail.sender_authentication(AUTHSERV).unwrap_err();
    assert!(why.contains("more than one"), "{why}");
}

/// Table of what our topmost header must say, given the headers a message
/// arrives with (topmost first).
#[test]
fn only_our_single_topmost_header_with_a_dmarc_pass_or_aligned_fallback_counts() {
    let from = "From: alice@example.test";
    let cases: [(&str, &[&str], bool); 7] = [
        ("dmarc pass", &["mx.example.test; dmarc=pass header.from=example.test"], true),
        (
            "dmarc fail outranks a dkim pass",
            &["mx.example.test; dkim=pass header.d=example.test; dmarc=fail header.from=example.test"],
            false,
        ),
        (
            "no dmarc result: aligned dkim pass",
            &["mx.example.test; dkim=pass header.d=example.test"],
            true,
        ),
        (
            "no dmarc result: unaligned dkim pass",
            &["mx.example.test; dkim=pass header.d=elsewhere.test"],
            false,
        ),
        (
            "ours below a foreign one",
            &[
                "mx.attacker.example; dmarc=pass header.from=example.test",
                "mx.example.test; dmarc=pass header.from=example.test",
            ],
            false,
        ),
        (
            "two of ours",
            &[
                "mx.example.test; dmarc=pass header.from=example.test",
                "mx.example.test; dmarc=pass header.from=example.test",
            ],
            false,
        ),
        ("none", &[], false),
    ];
    for (name, headers, want) in cases {
        let mut raw = String::new();
        for h in headers {
            raw.push_str(&format!("Authentication-Results: {h}\r\n"));
        }
        raw.push_str(&format!(
            "{from}\r\nTo: approvals@example.test\r\nSubject: x\r\n\r\nAPPROVE\r\n"
        ));
        let mail = parse(raw.as_bytes());
        assert_eq!(mail.sender_authenticated(AUTHSERV), want, "{name}");
    }
}

/// Envelope headers are written in transit: under a rule that trusts
/// signatures, a token found only there is not a candidate.
#[test]
fn signed_candidates_leave_out_envelope_headers() {
    let t = |c: char| c.to_string().repeat(52);
    let (envelope, subject) = (t('a'), t('b'));
    let raw = format!(
        "Delivered-To: approvals+{envelope}@example.test\r\nFrom: alice@example.test\r\n\
         To: approvals@example.test\r\nSubject: Re: [ref:{subject}]\r\n\r\nAPPROVE\r\n"
    );
    let mail = parse(raw.as_bytes());
    assert_eq!(mail.token_candidates, vec![envelope, subject.clone()]);
    assert_eq!(mail.signed_token_candidates, vec![subject]);
}

#[test]
fn authserv_id_is_matched_case_insensitively() {
    let mail = parse(&fixture("gmail_web_reply.eml"));
    assert!(mail.sender_authenticated("MX.Example.Test"));
    assert!(mail.sender_authenticated(" mx.example.test "));
    assert!(!mail.sender_authenticated("mx.example.org"));
}

#[test]
fn microsoft_header_without_authserv_id_never_matches() {
    let mail = parse(&fixture("outlook_ios_reply.eml"));
    let ids: Vec<_> = mail
        .authentication_results()
        .into_iter()
        .map(|a| a.authserv_id)
        .collect();
    assert_eq!(ids, [AUTHSERV, ""]);
    assert!(!mail.sender_authenticated("dkim=none"));
}

fn mail(headers: &[&str], body: &str) -> Vec<u8> {
    let mut out = headers.join("\r\n");
    out.push_str("\r\n\r\n");
    out.push_str(body);
    out.into_bytes()
}

#[test]
fn tokens_come_in_priority_order_without_duplicates() {
    let t = |c: char| c.to_string().repeat(52);
    let (a, b, c, d, e) = (t('a'), t('b'), t('c'), t('d'), t('e'));
    let raw = mail(
        &[
            &format!(
                "To: Approvals <approvals+{}@example.test>",
                b.to_uppercase()
            ),
            &format!("Cc: approvals+{c}@example.test, other+{e}@example.test"),
            &format!("Delivered-To: approvals+{a}@example.test"),
            "From: x@corp.example",
            &format!("Subject: Re: [ref:{d}] [ref:{a}] [ref:tooshort]"),
        ],
        &format!("ok\r\n> Approval token: {e}\r\n> Approval token: {b}\r\n"),
    );
    let got = parse(&raw).token_candidates;
    assert_eq!(got, [a, b, c, d, e]);
}

#[test]
fn from_is_a_single_valid_address() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (
            &["From: Ana <Ana.Souza@Gmail.COM>"],
            Some("ana.souza@gmail.com"),
        ),
        (&["From: ana@corp.example"], Some("ana@corp.example")),
        (
            &["From: =?utf-8?q?Jo=C3=A3o?= <joao@corp.example>"],
            Some("joao@corp.example"),
        ),
        (&["From: a@corp.example, b@corp.example"], None),
        (&["From: a@corp.example", "From: b@corp.example"], None),
        (&["From: Team: a@corp.example;"], None),
        (&["From: not an address"], None),
        (&["From: a@"], None),
        (&["From: @corp.example"], None),
        (&["From: a@bad_domain.example"], None),
        (&["From: \"a@b\"@corp.example"], None),
        (&["From:"], None),
        (&["Subject: no from"], None),
    ];
    for (headers, want) in cases {
        let mail = parse(&mail(headers, "x"));
        assert_eq!(mail.from.as_deref(), *want, "{headers:?}");
    }
}

#[test]
fn sender_is_not_authenticated_without_from() {
    let raw = mail(
        &[
            "Subject: x",
            "Authentication-Results: mx.example.test; dmarc=pass header.from=corp.example",
        ],
        "x",
    );
    assert!(!parse(&raw).sender_authenticated(AUTHSERV));
}

#[test]
fn oversized_message_is_read_from_its_header_only() {
    let raw = fixture("gmail_web_reply.eml");
    let limit = 1000;
    let mail = parse_inbound(&raw, &inbox(), limit).unwrap();
    assert_eq!(mail.from.as_deref(), Some("ana.souza@gmail.com"));
    assert_eq!(mail.token_candidates, [GMAIL]);
    assert!(mail.sender_authenticated(AUTHSERV));
    assert_eq!(
        mail.text,
        Err(MessageBodyError::TooLarge {
            size: raw.len(),
            limit
        })
    );

    let bounce = parse_inbound(&fixture("dsn_bounce.eml"), &inbox(), 10).unwrap();
    assert_eq!(
        bounce.automated,
        Some(Automated::Report("delivery-status".into()))
    );
    // The footer in the returned message is not read.
    assert!(bounce.token_candidates.is_empty());
}

#[test]
fn oversized_message_without_end_of_header_is_refused() {
    let mut raw = b"Subject: x\r\nX-Filler: ".to_vec();
    raw.resize(headers::MAX_HEADER_SECTION + 10, b'a');
    let got = parse_inbound(&raw, &inbox(), 1000);
    assert_eq!(
        got.map(|_| ()),
        Err(ParseError::TooLarge {
            size: raw.len(),
            limit: 1000
        })
    );
}

#[test]
fn malformed_input_gives_a_clear_error() {
    let cases: &[&[u8]] = &[
        b"",
        b"garbage",
        b"\r\n\r\nbody without header",
        b": empty name\r\n\r\n",
        b"\x00\x01\x02\xff\xfe binary",
        b"Subject x\r\n\r\n",
        b" Subject: folded first line\r\n\r\n",
    ];
    for raw in cases {
        let got = parse_inbound(raw, &inbox(), 1 << 20);
        assert!(
            matches!(got, Err(ParseError::Malformed(_))),
            "{raw:?} gave {got:?}"
        );
    }
    let message = ParseError::Malformed("does not start with a header field".into()).to_string();
    assert_eq!(
        message,
        "malformed message: does not start with a header field"
    );
    let too_large = ParseError::TooLarge { size: 9, limit: 8 }.to_string();
    assert_eq!(too_large, "message of 9 bytes exceeds the limit of 8 bytes");
}

#[test]
fn unterminated_multipart_degrades_instead_of_failing() {
    let raw = mail(
        &[
            "From: a@corp.example",
            "Content-Type: multipart/alternative; boundary=zz",
        ],
        &format!("--zz\r\nContent-Type: text/plain\r\n\r\nAPPROVE\r\n> Approval token: {GMAIL}\r\n--zz\r\nContent-Type: text/html\r\n\r\n<p>APPROVE"),
    );
    let mail = parse(&raw);
    assert_eq!(
        mail.text.as_deref().map(|t| t.trim_end()),
        Ok(&*format!("APPROVE\n> Approval token: {GMAIL}"))
    );
    assert_eq!(mail.token_candidates, [GMAIL]);
}

#[test]
fn body_errors() {
    let undecodable = mail(
        &[
            "From: a@corp.example",
            "Content-Type: text/plain",
            "Content-Transfer-Encoding: base64",
        ],
        "!!!! not base64 ****\r\n",
    );
    assert_eq!(parse(&undecodable).text, Err(MessageBodyError::Undecodable));

    let no_text = mail(
        &[
            "From: a@corp.example",
            "Content-Type: application/pdf",
            "Content-Transfer-Encoding: base64",
        ],
        "JVBERi0xLjQK\r\n",
    );
    assert_eq!(parse(&no_text).text, Err(MessageBodyError::NoTextPart));
}

#[test]
fn text_attachment_is_not_the_reply_text() {
    let raw = mail(
        &[
            "From: a@corp.example",
            "Content-Type: multipart/mixed; boundary=b1",
        ],
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>DISAPPROVE</div><blockquote>old</blockquote>\r\n\
         --b1\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nAPPROVE\r\n\
         --b1--\r\n",
    );
    assert_eq!(parse(&raw).text.as_deref(), Ok("DISAPPROVE\n> old"));
}

#[test]
fn unknown_charset_degrades_to_lossy_text() {
    let raw = mail(
        &[
            "From: a@corp.example",
            "Content-Type: text/plain; charset=x-unknown",
        ],
        "APPROVE \u{e9}",
    );
    assert_eq!(parse(&raw).text.as_deref(), Ok("APPROVE \u{e9}"));
}

#[test]
fn debug_output_redacts_tokens_and_text() {
    let mail = parse(&fixture("gmail_web_reply.eml"));
    let debug = format!("{mail:?}");
    assert!(!debug.contains(GMAIL), "{debug}");
    assert!(!debug.contains("Ok for one week"), "{debug}");
    assert!(debug.contains("<1 tokens redacted>"), "{debug}");
    assert!(debug.contains("ana.souza@gmail.com"), "{debug}");
}

#[test]
fn regression_mime_parser_assertion_on_nested_messages_is_contained() {
    // Found by the mutation property test: this structure trips a debug
    // assertion inside the MIME parser ("could not find multipart"). It
    // must cost the message, not the process.
    let raw = b"X: 0\r\nContent-Type: multipart/mixed;\r\n\tboundary=b\r\n\r\n\
        --bContent-Type: message/rfc822\r\nt\r\n\r\ne\r\n\
        Content-Type: message/rfc822\r\n\r\n\r\n--b--";
    match parse_inbound(raw, &inbox(), 1 << 20) {
        Ok(mail) => assert!(mail.token_candidates.is_empty()),
        Err(e) => assert_eq!(
            e,
            ParseError::Malformed("the MIME structure could not be parsed".into())
        ),
    }
}

#[test]
fn blank_text_part_falls_back_to_html() {
    let raw = mail(
        &[
            "From: a@corp.example",
            "Content-Type: multipart/alternative; boundary=b1",
        ],
        "--b1\r\nContent-Type: text/plain\r\n\r\n \r\n\r\n\
         --b1\r\nContent-Type: text/html\r\n\r\n<p>APPROVE</p>\r\n\
         --b1--\r\n",
    );
    assert_eq!(parse(&raw).text.as_deref(), Ok("APPROVE"));
    let plain_only = mail(&["From: a@corp.example"], " \r\n");
    assert_eq!(parse(&plain_only).text.as_deref(), Ok(" \n"));
}

/// Every real client's reply says the same in its text and HTML parts, so
/// reading both never refuses a genuine answer.
#[test]
fn real_clients_text_and_html_parts_agree() {
    use crate::domain::reply::parse_reply;
    let mut both = 0;
    for file in [
        "gmail_web_reply.eml",
        "outlook_desktop_reply.eml",
        "outlook_ios_reply.eml",
        "apple_mail_reply.eml",
        "thunderbird_reply.eml",
        "yahoo_reply.eml",
        "de_aw_reply.eml",
        "sv_reply.eml",
        "ext_re_reply.eml",
        "pt_iso8859_qp_reply.eml",
        "wrapped_footer_reply.eml",
        "base64_text_reply.eml",
    ] {
        let mail = parse(&fixture(file));
        let (Ok(text), Some(html)) = (&mail.text, &mail.alternative_text) else {
            continue;
        };
        both += 1;
        let (a, b) = (parse_reply(text), parse_reply(html));
        assert_eq!(
            a.as_ref().map(|d| (d.verb, d.window)).ok(),
            b.as_ref().map(|d| (d.verb, d.window)).ok(),
            "{file}: text {a:?}, HTML {b:?}"
        );
    }
    assert!(both >= 5, "only {both} fixtures have both parts");
}

/// A plain part that is only a notice, or the HTML glued into one line,
/// gives way to the HTML.
#[test]
fn a_degenerate_plain_part_gives_way_to_the_html() {
    let message = |plain: &str| {
        format!(
            "From: alice@example.test\r\nTo: approvals@example.test\r\nSubject: Re: x\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain}\r\n\
             --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
             <div>DISAPPROVE</div><div>too risky</div><div>Alice</div>\r\n--b--\r\n"
        )
    };
    for plain in [
        "This is an HTML message. Please use an HTML capable mail program to read this message.",
        "APPROVE too risky Alice",
    ] {
        let mail = parse(message(plain).as_bytes());
        let text = mail.text.clone().unwrap();
        assert!(text.starts_with("DISAPPROVE"), "{plain:?}: {text:?}");
        assert_eq!(mail.alternative_text, None, "{plain:?}");
    }
    // A real plain part stays, with the HTML beside it to compare.
    let mail = parse(message("DISAPPROVE\n\ntoo risky\n").as_bytes());
    assert_eq!(mail.text.unwrap().lines().next(), Some("DISAPPROVE"));
    assert!(mail.alternative_text.is_some());
}
