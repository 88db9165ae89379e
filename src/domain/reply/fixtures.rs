//! Replies as mail clients really produce them, one row per failure approvers have
//! reported, with what the parser must make of each.
//!
//! The quoted originals come in three forms: `quoted_body!` as clients quote with `>`,
//! `body!` unquoted and opening with approvald's marker line, and `leaky_body!`
//! unquoted without the marker, as when a mail was forwarded or a client dropped the
//! first line. `leaky_body!` holds "Approve or reject this request…": if any of it
//! leaks into the new text the reply turns into a refusal, so rows using it prove that
//! the quote header above it was recognised.

/// The approval mail, quoted with `>` as Gmail, Apple Mail and Thunderbird do.
macro_rules! quoted_body {
    () => {
        "> ##- Please type your reply above this line -##
>
> Access request #4711
> bob@example.test asks for read-write access to prod-db
> Window: 2026-11-21 10:00 to 18:00 (8h)
> Reason: migration INC-1234
>
> Reply with APPROVE or DISAPPROVE on the first line. You may add a window
> (APPROVE 2h, APPROVE until 18:00) and a comment.
"
    };
}

/// The approval mail, unquoted, as Outlook, Yahoo and forwards include it.
macro_rules! body {
    () => {
        "##- Please type your reply above this line -##

Access request #4711
bob@example.test asks for read-write access to prod-db
Window: 2026-11-21 10:00 to 18:00 (8h)
Reason: migration INC-1234

Reply with APPROVE or DISAPPROVE on the first line. You may add a window
(APPROVE 2h, APPROVE until 18:00) and a comment.
"
    };
}

/// An unquoted original without the marker line; harmful if it leaks (see above).
macro_rules! leaky_body {
    () => {
        "Access request #4711 from bob@example.test
Resource: prod-db (read-write), 2026-11-21 10:00 to 18:00 (8h)
Reason: migration INC-1234
Approve or reject this request by replying to this mail.
"
    };
}

/// Gmail web's attribution line, wrapped after the `<` as its plain-text part does.
macro_rules! gmail_attribution {
    () => {
        "On Sat, Nov 21, 2026 at 10:02 AM Access approvals <
approvals@example.test> wrote:
"
    };
}

/// What the parser must make of a reply.
#[derive(Debug)]
pub(super) enum Expect {
    /// An approval with this comment and this window (as `WindowChange` displays it).
    Approve(&'static str, Option<&'static str>),
    /// A disapproval with this comment.
    Disapprove(&'static str),
    /// `ReplyRefusal::NoVerb`.
    NoVerb,
    /// `ReplyRefusal::TwoVerbs`.
    TwoVerbs,
    /// `ReplyRefusal::NegatedVerb`.
    NegatedVerb,
    /// `ReplyRefusal::NotAVerb` quoting exactly this.
    NotAVerb(&'static str),
    /// `ReplyRefusal::Empty`.
    Empty,
    /// `ReplyRefusal::BadWindow` whose explanation contains this.
    BadWindow(&'static str),
    /// `ReplyRefusal::WordBeforeVerb` naming this word.
    WordBeforeVerb(&'static str),
    /// `ReplyRefusal::QualifiedVerb` naming this word.
    QualifiedVerb(&'static str),
    /// `ReplyRefusal::Question`.
    Question,
    /// Any refusal: no decision, whichever way the parser words it.
    Refused,
}

/// How a person reads a reply, whatever the parser makes of it: what the
/// table's properties are checked against. No row read as [`Reads::No`],
/// [`Reads::Later`] or [`Reads::Question`] may ever approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reads {
    /// An approval, however worded (the parser may still refuse the wording).
    Yes,
    /// A disapproval or a negated approval.
    No,
    /// An approval put off, conditioned or not yet given.
    Later,
    /// A question.
    Question,
    /// Nothing a person would act on: empty, noise, both answers, prose.
    Unclear,
}

/// One row of the table.
pub(super) struct Case {
    /// The failure the row guards against.
    pub(super) name: &'static str,
    /// How a person reads it.
    pub(super) reads: Reads,
    /// The decoded plain text of the reply.
    pub(super) text: &'static str,
    /// The required outcome.
    pub(super) expect: Expect,
}

use Expect::{
    Approve, BadWindow, Disapprove, Empty, NegatedVerb, NoVerb, NotAVerb, QualifiedVerb, Question,
    Refused, TwoVerbs, WordBeforeVerb,
};
use Reads::{Later, No, Unclear, Yes};

/// The table.
pub(super) const CASES: &[Case] = &[
    // ---------------------------------------------------------------- Gmail web
    Case {
        name: "gmail_web_wrapped_attribution_top_post",
        reads: Yes,
        text: concat!("APPROVE\n\n", gmail_attribution!(), "\n", quoted_body!()),
        expect: Approve("", None),
    },
    Case {
        name: "gmail_html_only_lost_quote_marks_wrapped_attribution_still_cuts",
        reads: No,
        text: concat!("DISAPPROVE wrong ticket\n\n", gmail_attribution!(), "\n", leaky_body!()),
        expect: Disapprove("wrong ticket"),
    },
    Case {
        name: "gmail_web_bottom_post_below_quote_with_signature",
        reads: Yes,
        text: concat!(
            "On Sat, Nov 21, 2026 at 10:02 AM Access approvals <approvals@example.test> wrote:\n\n",
            quoted_body!(),
            "\nAPPROVE 2h\n\n-- \nAlice Example\nPlatform team\n"
        ),
        expect: Approve("", Some("2h")),
    },
    Case {
        name: "gmail_web_interleaved_answer_between_quoted_lines",
        reads: Yes,
        text: concat!(
            gmail_attribution!(),
            "\n> ##- Please type your reply above this line -##
>
> Access request #4711
> bob@example.test asks for read-write access to prod-db

APPROVE until 14:00 read-only is enough

> Window: 2026-11-21 10:00 to 18:00 (8h)
> Reason: migration INC-1234

The migration only needs the morning.
"
        ),
        expect: Approve("read-only is enough", Some("until 14:00")),
    },
    Case {
        // The first line decides, and "ok" is no decision: the DISAPPROVE
        // below the quote is never promoted to one.
        name: "gmail_web_first_line_ok_and_verb_below_quote_is_no_decision",
        reads: Unclear,
        text: concat!("ok\n\n", gmail_attribution!(), "\n", quoted_body!(), "\nDISAPPROVE\n"),
        expect: NotAVerb("ok"),
    },
    // ---------------------------------------------------------------- Gmail app
    Case {
        name: "gmail_app_android_attribution_with_comma_after_name",
        reads: Yes,
        text: concat!(
            "Approved\n\nOn Sat, 21 Nov 2026, 10:02 Access approvals, <approvals@example.test> wrote:\n\n",
            quoted_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "gmail_app_ios_narrow_nbsp_before_am",
        reads: Yes,
        text: concat!(
            "Approve\n\nOn Sat, Nov 21, 2026 at 10:02\u{202f}AM Access approvals <approvals@example.test> wrote:\n\n",
            quoted_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "gmail_pt_escreveu_cuts_unquoted_original",
        reads: Yes,
        text: concat!(
            "APPROVE pode seguir\n\nEm sáb., 21 de nov. de 2026 às 10:02, Access approvals <approvals@example.test> escreveu:\n\n",
            leaky_body!()
        ),
        expect: Approve("pode seguir", None),
    },
    Case {
        name: "gmail_de_schrieb_with_name_after_verb_wrapped",
        reads: No,
        text: concat!(
            "DISAPPROVE bitte erst nach dem Freeze\n\nAm Sa., 21. Nov. 2026 um 10:02 Uhr schrieb Access approvals <\napprovals@example.test>:\n\n",
            leaky_body!()
        ),
        expect: Disapprove("bitte erst nach dem Freeze"),
    },
    Case {
        name: "gmail_fr_a_ecrit_with_nbsp_before_colon",
        reads: Yes,
        text: concat!(
            "APPROVE 2h\n\nLe sam. 21 nov. 2026 à 10:02, Access approvals <approvals@example.test> a\u{a0}écrit\u{a0}:\n\n",
            leaky_body!()
        ),
        expect: Approve("", Some("2h")),
    },
    Case {
        name: "gmail_es_escribio",
        reads: No,
        text: concat!(
            "REJECTED, no es necesario\n\nEl sáb, 21 nov 2026 a las 10:02, Access approvals (<approvals@example.test>) escribió:\n\n",
            leaky_body!()
        ),
        expect: Disapprove("no es necesario"),
    },
    Case {
        name: "gmail_nl_schreef",
        reads: Yes,
        text: concat!(
            "Approved\n\nOp za 21 nov. 2026 om 10:02 schreef Access approvals <approvals@example.test>:\n\n",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- Outlook desktop
    Case {
        name: "outlook_desktop_en_header_block_cuts_unquoted_original",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nFrom: Access approvals <approvals@example.test>
Sent: Saturday, November 21, 2026 10:02 AM
To: Alice Example <alice@example.test>
Subject: [approvald] Access request #4711: bob@example.test -> prod-db (8h)

",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "outlook_desktop_pt_de_enviado_para_assunto",
        reads: No,
        text: concat!(
            "DISAPPROVE sem ticket de mudança\n\nDe: Access approvals <approvals@example.test>
Enviado: sábado, 21 de novembro de 2026 10:02
Para: Alice Example <alice@example.test>
Assunto: [approvald] Pedido de acesso #4711

",
            leaky_body!()
        ),
        expect: Disapprove("sem ticket de mudança"),
    },
    Case {
        name: "outlook_desktop_de_von_gesendet_an_betreff_after_valediction",
        reads: Yes,
        text: concat!(
            "Approve\n\nMit freundlichen Grüßen\nAlice Example\n\nVon: Access approvals <approvals@example.test>
Gesendet: Samstag, 21. November 2026 10:02
An: Alice Example <alice@example.test>
Betreff: [approvald] Zugriffsanfrage #4711

",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        // "jusqu'à la fin de la migration" is a window ("until the end of
        // the migration") in a form that is not read: taken as a comment it
        // would grant the whole requested window, so it is refused.
        name: "outlook_desktop_fr_spaces_before_colons",
        reads: Yes,
        text: concat!(
            "APPROVE jusqu'à la fin de la migration\n\nDe : Access approvals <approvals@example.test>
Envoyé : samedi 21 novembre 2026 10:02
À : Alice Example <alice@example.test>
Objet : [approvald] Demande d'accès #4711

",
            leaky_body!()
        ),
        expect: BadWindow("\"jusqu'à\""),
    },
    Case {
        name: "outlook_desktop_es_enviado_el",
        reads: Yes,
        text: concat!(
            "Approved, gracias\n\nDe: Access approvals <approvals@example.test>
Enviado el: sábado, 21 de noviembre de 2026 10:02
Para: Alice Example <alice@example.test>
Asunto: [approvald] Solicitud de acceso #4711

",
            leaky_body!()
        ),
        expect: Approve("gracias", None),
    },
    Case {
        name: "outlook_desktop_original_message_separator",
        reads: No,
        text: concat!(
            "DENY\n\n-----Original Message-----
From: Access approvals [mailto:approvals@example.test]
Sent: Saturday, November 21, 2026 10:02 AM
To: Alice Example
Subject: Access request #4711

",
            leaky_body!()
        ),
        expect: Disapprove(""),
    },
    Case {
        name: "outlook_pt_mensagem_original_separator",
        reads: Yes,
        text: concat!("APPROVE\n\n----- Mensagem original -----\n", leaky_body!()),
        expect: Approve("", None),
    },
    Case {
        name: "outlook_de_original_nachricht_separator",
        reads: Yes,
        text: concat!("APPROVE 1h\n\n-------- Original-Nachricht --------\n", leaky_body!()),
        expect: Approve("", Some("1h")),
    },
    Case {
        name: "outlook_fr_message_d_origine_separator",
        reads: No,
        text: concat!("REJECT\n\n-------- Message d'origine --------\n", leaky_body!()),
        expect: Disapprove(""),
    },
    Case {
        name: "outlook_header_flattened_onto_one_line_by_html_conversion",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nFrom: Access approvals <approvals@example.test> Sent: Saturday, November 21, 2026 10:02 AM To: Alice Example <alice@example.test> Subject: Access request #4711\n",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- Outlook web and mobile
    Case {
        name: "outlook_web_underscore_separator",
        reads: Yes,
        text: concat!(
            "APPROVE for 90m\n\n________________________________
From: Access approvals <approvals@example.test>
Sent: Saturday, November 21, 2026 9:02 AM
To: Alice Example <alice@example.test>
Subject: [approvald] Access request #4711

",
            body!()
        ),
        expect: Approve("", Some("1h30m")),
    },
    Case {
        name: "outlook_ios_get_outlook_footer",
        reads: Yes,
        text: concat!(
            "Approve\n\nGet Outlook for iOS<https://aka.ms/o0ukef>
________________________________
From: Access approvals <approvals@example.test>
Sent: Saturday, November 21, 2026 10:02:03 AM
To: Alice Example <alice@example.test>
Subject: [approvald] Access request #4711

",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "outlook_android_footer_and_comment",
        reads: No,
        text: concat!(
            "Reject - wrong environment\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>
________________________________
From: Access approvals <approvals@example.test>
Sent: Saturday, November 21, 2026 10:02:03 AM
To: Alice Example <alice@example.test>
Subject: [approvald] Access request #4711

",
            leaky_body!()
        ),
        expect: Disapprove("wrong environment"),
    },
    Case {
        name: "outlook_ios_sent_from_footer_only_is_empty",
        reads: Unclear,
        text: concat!("\nSent from Outlook for iOS<https://aka.ms/o0ukef>\n________________________________\n", body!()),
        expect: Empty,
    },
    // ---------------------------------------------------------------- Apple Mail
    Case {
        name: "apple_mail_macos_quoted_with_unquoted_attribution",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nOn 21 Nov 2026, at 10:02, Access approvals <approvals@example.test> wrote:\n\n",
            quoted_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "apple_mail_ios_quoted_attribution_and_byte_order_mark",
        reads: Yes,
        text: "APPROVE 1h

Sent from my iPhone

> On 21 Nov 2026, at 10:02, Access approvals <approvals@example.test> wrote:
> 
> \u{feff}##- Please type your reply above this line -##
> Access request #4711
> Reply with APPROVE or DISAPPROVE on the first line.
",
        expect: Approve("", Some("1h")),
    },
    Case {
        name: "apple_mail_unquoted_begin_forwarded_message",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nBegin forwarded message:\n\nFrom: Access approvals <approvals@example.test>
Subject: Access request #4711
Date: 21 November 2026 at 10:02:03 GMT
To: Carol Example <carol@example.test>

",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "apple_mail_pt_unquoted_forward",
        reads: No,
        text: concat!(
            "DISAPPROVE\n\nInício da mensagem encaminhada:\n\nDe: Access approvals <approvals@example.test>
Assunto: Pedido de acesso #4711
Data: 21 de novembro de 2026 10:02:03 BRT
Para: Carol Example <carol@example.test>

",
            leaky_body!()
        ),
        expect: Disapprove(""),
    },
    // ---------------------------------------------------------------- Thunderbird
    Case {
        name: "thunderbird_bottom_post_with_signature",
        reads: Later,
        text: concat!(
            "On 21/11/2026 10:02, Access approvals wrote:\n",
            quoted_body!(),
            "\nAPPROVE until 2026-11-21 16:00 after the backup\n\n-- \nAlice Example\nPlatform team | +44 20 7946 0000\n"
        ),
        // "after the backup" right after the window reads as a condition on
        // the approval: refused, the approver says it again without one.
        expect: QualifiedVerb("after"),
    },
    Case {
        name: "thunderbird_de_attribution_and_comment_line",
        reads: No,
        text: concat!(
            "Am 21.11.2026 um 10:02 schrieb Access approvals:\n",
            quoted_body!(),
            "\nDISAPPROVE\nBitte mit Ticket erneut anfragen.\n"
        ),
        expect: Disapprove("Bitte mit Ticket erneut anfragen."),
    },
    Case {
        name: "thunderbird_quote_without_space_and_nested",
        reads: Yes,
        text: ">##- Please type your reply above this line -##
>> earlier thread
>Reply with APPROVE or DISAPPROVE on the first line.

approve
",
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- Yahoo
    Case {
        name: "yahoo_web_unquoted_original_under_indented_attribution",
        reads: Yes,
        text: concat!(
            "Approved.\n\n    On Saturday, November 21, 2026, 10:02:03 AM GMT, Access approvals <approvals@example.test> wrote:  \n \n \n",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "yahoo_mobile_footer",
        reads: No,
        text: concat!(
            "DISAPPROVE too broad\n\nSent from Yahoo Mail for iPhone\n\nOn Saturday, November 21, 2026, 10:02 AM, Access approvals <approvals@example.test> wrote:\n\n",
            body!()
        ),
        expect: Disapprove("too broad"),
    },
    // ---------------------------------------------------------------- phones
    Case {
        name: "samsung_email_original_message_block",
        reads: Yes,
        text: concat!(
            "Approve\n\nSent from my Galaxy\n\n\n-------- Original message --------
From: Access approvals <approvals@example.test> 
Date: 21/11/2026 10:02 (GMT+00:00) 
To: alice@example.test 
Subject: Access request #4711 

",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "iphone_pt_enviado_do_meu_iphone",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nEnviado do meu iPhone\n\n> Em 21 de nov. de 2026, à(s) 10:02, Access approvals <approvals@example.test> escreveu:\n> \n",
            quoted_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "iphone_de_von_meinem_iphone_gesendet",
        reads: No,
        text: concat!(
            "DISAPPROVE\n\nVon meinem iPhone gesendet\n\n> Am 21.11.2026 um 10:02 schrieb Access approvals <approvals@example.test>:\n> \n",
            quoted_body!()
        ),
        expect: Disapprove(""),
    },
    Case {
        name: "iphone_fr_envoye_de_mon_iphone",
        reads: Yes,
        text: concat!(
            "APPROVE\n\nEnvoyé de mon iPhone\n\n> Le 21 nov. 2026 à 10:02, Access approvals <approvals@example.test> a écrit :\n> \n",
            quoted_body!()
        ),
        expect: Approve("", None),
    },
    Case {
        name: "iphone_es_enviado_desde_mi_iphone",
        reads: Yes,
        text: concat!(
            "APPROVE 30m\n\nEnviado desde mi iPhone\n\n> El 21 nov 2026, a las 10:02, Access approvals <approvals@example.test> escribió:\n> \n",
            quoted_body!()
        ),
        expect: Approve("", Some("30m")),
    },
    Case {
        name: "phone_footer_with_nothing_typed_is_empty",
        reads: Unclear,
        text: concat!("\n\nSent from my iPhone\n\n", gmail_attribution!(), "\n", quoted_body!()),
        expect: Empty,
    },
    // ---------------------------------------------------------------- banners and labels
    Case {
        name: "external_tag_banner_is_not_what_the_approver_said",
        reads: Yes,
        text: concat!("[EXT] Sender is outside Example Corp\n\nok\n\n", gmail_attribution!(), "\n", quoted_body!()),
        expect: NotAVerb("ok"),
    },
    Case {
        name: "caution_banner_over_several_lines",
        reads: No,
        text: concat!(
            "CAUTION: This email originated from outside of the organization. Do not click links or open
attachments unless you recognize the sender and know the content is safe.

DISAPPROVE - no change ticket

",
            gmail_attribution!(),
            "\n",
            quoted_body!()
        ),
        expect: Disapprove("no change ticket"),
    },
    Case {
        name: "external_email_banner_directly_above_answer",
        reads: Yes,
        text: concat!("EXTERNAL EMAIL: use caution with links and attachments.\nAPPROVE\n\n", gmail_attribution!(), quoted_body!()),
        expect: Approve("", None),
    },
    Case {
        name: "microsoft_first_contact_safety_tip_is_not_what_was_said",
        reads: Yes,
        text: concat!(
            "You don't often get email from approvals@example.test. Learn why this is important<https://aka.ms/LearnAboutSenderIdentification>\n\nLGTM\n\n",
            "From: Access approvals <approvals@example.test>\nSent: Saturday, November 21, 2026 10:02 AM\nTo: Alice Example <alice@example.test>\nSubject: Access request #4711\n\n",
            body!()
        ),
        expect: NotAVerb("LGTM"),
    },
    Case {
        name: "classification_label_above_answer",
        reads: Yes,
        text: concat!("Classification: Internal\n\nAPPROVE 4h\n\n", gmail_attribution!(), quoted_body!()),
        expect: Approve("", Some("4h")),
    },
    Case {
        name: "sensitivity_label_is_not_what_was_said",
        reads: Yes,
        text: concat!("Sensitivity: Confidential\n\nyes\n\n", gmail_attribution!(), quoted_body!()),
        expect: NotAVerb("yes"),
    },
    Case {
        name: "label_footer_is_not_part_of_the_comment",
        reads: No,
        text: concat!("DISAPPROVE not during the freeze\nInternal Use Only\n\n", gmail_attribution!(), quoted_body!()),
        expect: Disapprove("not during the freeze"),
    },
    // ---------------------------------------------------------------- greetings
    Case {
        name: "greeting_with_name_is_not_what_was_said",
        reads: Yes,
        text: concat!("Hi Alice,\n\nok\n\n", gmail_attribution!(), quoted_body!()),
        expect: NotAVerb("ok"),
    },
    Case {
        name: "greeting_pt_ola",
        reads: Yes,
        text: concat!(
            "Olá,\n\nsim\n\nEm sáb., 21 de nov. de 2026 às 10:02, Access approvals <approvals@example.test> escreveu:\n\n",
            quoted_body!()
        ),
        expect: NotAVerb("sim"),
    },
    Case {
        name: "greeting_de_hallo_and_comment_after_comma",
        reads: No,
        text: "Hallo,\n\nDISAPPROVE, bitte mit Ticket\n",
        expect: Disapprove("bitte mit Ticket"),
    },
    Case {
        name: "greeting_fr_bonjour_and_valediction",
        reads: Yes,
        text: "Bonjour,\n\nApproved.\n\nCordialement,\nAlice\n",
        expect: Approve("", None),
    },
    Case {
        name: "greeting_es_hola_and_saludos",
        reads: Yes,
        text: "Hola,\nAPPROVE\nSaludos\n",
        expect: Approve("", None),
    },
    Case {
        name: "greeting_dear_all_then_plus_one",
        reads: Yes,
        text: "Dear all,\n\n+1\n",
        expect: NotAVerb("+1"),
    },
    Case {
        name: "greeting_guten_tag",
        reads: Yes,
        text: "Guten Tag,\n\nAPPROVE 2h\n",
        expect: Approve("", Some("2h")),
    },
    Case {
        name: "greeting_hei_then_ok",
        reads: Yes,
        text: "Hei,\n\nok\n",
        expect: NotAVerb("ok"),
    },
    Case {
        name: "greeting_and_verb_on_the_same_line",
        reads: Yes,
        text: "Hi, approved\n",
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- signatures
    Case {
        name: "signature_above_quote_and_answer_below_quote",
        reads: Yes,
        text: concat!("-- \nAlice Example\nPlatform Lead\n\n", gmail_attribution!(), "\n", quoted_body!(), "\nAPPROVE\n"),
        expect: Approve("", None),
    },
    Case {
        // The first line typed is a name, not a decision.
        name: "signature_block_typed_above_the_answer_is_no_decision",
        reads: No,
        text: "Alice Example\nPlatform Lead | Example Corp | +44 20 7946 0000\n\nDISAPPROVE use the staging replica\n",
        expect: NotAVerb("Alice Example"),
    },
    Case {
        name: "valediction_and_signature_are_not_part_of_the_comment",
        reads: No,
        text: "DISAPPROVE\nPlease request read-only access instead.\n\nThanks,\nAlice Example\nHead of Platform\n",
        expect: Disapprove("Please request read-only access instead."),
    },
    Case {
        name: "signature_mentioning_reject_is_not_a_second_verb",
        reads: Yes,
        text: "APPROVE\n-- \nAlice Example | Security: we reject requests without tickets\n",
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- keyword traps
    Case { name: "disallow_is_not_allow_or_a_verb", reads: No, text: "disallow\n", expect: NotAVerb("disallow") },
    Case { name: "not_approved_is_never_an_approval", reads: No, text: "not approved\n", expect: NegatedVerb },
    Case { name: "dont_approve_is_never_an_approval", reads: No, text: "I don't approve this, too risky\n", expect: NegatedVerb },
    Case { name: "curly_apostrophe_dont_approve", reads: No, text: "I don\u{2019}t approve\n", expect: NegatedVerb },
    Case { name: "do_not_approve_is_never_an_approval", reads: No, text: "Do not approve.\n", expect: NegatedVerb },
    Case { name: "cannot_approve_is_never_an_approval", reads: No, text: "Sorry, I cannot approve this\n", expect: NegatedVerb },
    Case { name: "wont_approve_is_never_an_approval", reads: No, text: "won't approve without a ticket\n", expect: NegatedVerb },
    Case { name: "nao_aprovo_is_never_an_approval", reads: No, text: "Não aprovo, falta o ticket\n", expect: NegatedVerb },
    Case {
        name: "negated_line_below_approve_blocks_the_approval",
        reads: No,
        text: "APPROVE\nNot approved for the prod replica though\n",
        expect: NegatedVerb,
    },
    Case {
        name: "approvers_is_not_a_verb",
        reads: Later,
        text: "approvers: please check with Bob\n",
        expect: NotAVerb("approvers: please check with Bob"),
    },
    Case { name: "approval_is_not_a_verb", reads: Yes, text: "Approval granted\n", expect: NotAVerb("Approval granted") },
    Case { name: "approve_and_disapprove_on_one_line", reads: Unclear, text: "APPROVE DISAPPROVE\n", expect: TwoVerbs },
    Case { name: "copied_instruction_with_both_verbs", reads: Unclear, text: "APPROVE or DISAPPROVE\n", expect: TwoVerbs },
    Case { name: "approve_slash_reject", reads: Unclear, text: "approve/reject\n", expect: TwoVerbs },
    Case {
        name: "bare_ok_is_not_a_verb",
        reads: Yes,
        text: concat!("ok\n\n", gmail_attribution!(), "\n", quoted_body!()),
        expect: NotAVerb("ok"),
    },
    Case { name: "bare_yes_is_not_a_verb", reads: Yes, text: "Yes\n", expect: NotAVerb("Yes") },
    Case { name: "plus_one_is_not_a_verb", reads: Yes, text: "+1\n", expect: NotAVerb("+1") },
    Case { name: "lgtm_is_not_a_verb", reads: Yes, text: "LGTM\n", expect: NotAVerb("LGTM") },
    Case { name: "sure_go_ahead_is_not_a_verb", reads: Yes, text: "Sure, go ahead\n", expect: NotAVerb("Sure, go ahead") },
    Case { name: "thumbs_up_emoji_is_not_a_verb", reads: Yes, text: "\u{1f44d}\n", expect: NotAVerb("\u{1f44d}") },
    Case { name: "question_is_not_a_decision", reads: Reads::Question, text: "Approve?\n", expect: Question },
    Case { name: "request_to_someone_else_is_not_a_decision", reads: Unclear, text: "Please approve\n", expect: WordBeforeVerb("Please") },
    Case {
        name: "only_quoted_text_is_empty",
        reads: Unclear,
        text: concat!("\n\n", gmail_attribution!(), "\n", quoted_body!()),
        expect: Empty,
    },
    Case { name: "empty_mail_is_empty", reads: Unclear, text: "", expect: Empty },
    Case {
        name: "long_prose_without_a_verb",
        reads: Later,
        text: "I talked to Bob and we agree the migration can wait until next week, let's revisit then.\n",
        expect: NoVerb,
    },
    // ---------------------------------------------------------------- windows
    Case { name: "window_hours", reads: Yes, text: "APPROVE 2h\n", expect: Approve("", Some("2h")) },
    Case { name: "window_for_hours", reads: Yes, text: "APPROVE for 2h\n", expect: Approve("", Some("2h")) },
    Case { name: "window_minutes", reads: Yes, text: "APPROVE 90m\n", expect: Approve("", Some("1h30m")) },
    Case { name: "window_hours_and_minutes", reads: Yes, text: "approve 1h30m\n", expect: Approve("", Some("1h30m")) },
    Case { name: "window_until_time", reads: Yes, text: "APPROVE until 18:00\n", expect: Approve("", Some("until 18:00")) },
    Case {
        name: "window_until_date_time",
        reads: Yes,
        text: "APPROVE until 2026-11-22 18:00\n",
        expect: Approve("", Some("until 2026-11-22 18:00")),
    },
    Case {
        name: "window_until_date_time_with_t_and_comment",
        reads: Yes,
        text: "APPROVE until 2026-11-21T16:30 migration only\n",
        expect: Approve("migration only", Some("until 2026-11-21 16:30")),
    },
    Case {
        name: "window_then_comment_after_dash",
        reads: Yes,
        text: "APPROVE 2h - only for the migration\n",
        expect: Approve("only for the migration", Some("2h")),
    },
    Case { name: "window_decimal_hours_refused", reads: Yes, text: "APPROVE 1.5h\n", expect: BadWindow("1h30m") },
    Case { name: "window_impossible_time_refused", reads: Yes, text: "APPROVE until 25:00\n", expect: BadWindow("\"until 25:00\"") },
    Case { name: "window_until_word_refused", reads: Yes, text: "APPROVE until tomorrow\n", expect: BadWindow("\"until tomorrow\"") },
    Case {
        name: "window_time_on_another_day_refused",
        reads: Yes,
        text: "APPROVE until 18:00 tomorrow\n",
        expect: BadWindow("as a date"),
    },
    Case {
        name: "window_until_time_in_utc_as_the_request_mail_says",
        reads: Yes,
        text: "APPROVE until 18:00 UTC\n",
        expect: Approve("", Some("until 18:00 UTC")),
    },
    Case {
        name: "window_until_time_with_utc_in_parentheses_copied_from_the_explanation",
        reads: Yes,
        text: "APPROVE until 18:00 (UTC) thanks\n",
        expect: Approve("thanks", Some("until 18:00 UTC")),
    },
    Case {
        name: "window_until_date_time_with_offset",
        reads: Yes,
        text: "APPROVE until 2026-11-22T18:00+01:00\n",
        expect: Approve("", Some("until 2026-11-22 18:00 +01:00")),
    },
    Case {
        name: "window_with_ambiguous_zone_name_refused",
        reads: Yes,
        text: "APPROVE until 18:00 CET\n",
        expect: BadWindow("UTC or an offset"),
    },
    Case { name: "window_date_without_time_refused", reads: Yes, text: "APPROVE until 2026-11-22\n", expect: BadWindow("add a time") },
    Case { name: "window_in_portuguese_units_refused", reads: Yes, text: "APPROVE 2 horas\n", expect: BadWindow("\"2 horas\"") },
    Case { name: "window_in_words_refused", reads: Yes, text: "APPROVE for two hours\n", expect: BadWindow("digits") },
    Case {
        name: "window_hours_and_minutes_in_words",
        reads: Yes,
        text: "APPROVE for 2 hours and 30 minutes\n",
        expect: Approve("", Some("2h30m")),
    },
    Case {
        name: "number_after_the_window_is_not_minutes",
        reads: Yes,
        text: "APPROVE 2h 3 people checked it\n",
        expect: BadWindow("\"2h 3\""),
    },
    Case {
        name: "phone_footer_above_the_answer_typed_below_it",
        reads: Yes,
        text: "Sent from my iPhone\nAPPROVE\n",
        expect: Approve("", None),
    },
    Case {
        name: "window_further_along_the_verb_line_refused",
        reads: Yes,
        text: "APPROVE a 2h window is enough\n",
        expect: BadWindow("right after APPROVE"),
    },
    Case {
        name: "window_in_words_further_along_refused",
        reads: Yes,
        text: "APPROVE but an hour is plenty\n",
        expect: BadWindow("right after APPROVE"),
    },
    Case {
        name: "two_windows_on_the_verb_line_refused",
        reads: Yes,
        text: "APPROVE 2h until 18:00\n",
        expect: BadWindow("one window"),
    },
    Case {
        name: "numbers_that_are_not_windows_stay_in_the_comment",
        reads: Yes,
        text: "APPROVE - version 2.0 of the runbook, ticket CHG-1234\n",
        expect: Approve("version 2.0 of the runbook, ticket CHG-1234", None),
    },
    Case { name: "window_zero_refused", reads: Yes, text: "APPROVE 0h\n", expect: BadWindow("empty window") },
    Case {
        name: "window_after_disapprove_is_a_comment",
        reads: No,
        text: "DISAPPROVE 2h is too long for this\n",
        expect: Disapprove("2h is too long for this"),
    },
    Case {
        name: "digits_after_punctuation_are_a_comment",
        reads: Yes,
        text: "APPROVE: 2 people reviewed the plan\n",
        expect: Approve("2 people reviewed the plan", None),
    },
    Case {
        name: "two_approve_lines_with_different_windows_refused",
        reads: Yes,
        text: concat!("APPROVE\n\n", gmail_attribution!(), quoted_body!(), "\nAPPROVE 2h\n"),
        expect: BadWindow("different windows"),
    },
    // ---------------------------------------------------------------- comments
    Case {
        name: "comment_after_disapprove_on_the_verb_line",
        reads: No,
        text: "DISAPPROVE not during the freeze\n",
        expect: Disapprove("not during the freeze"),
    },
    Case {
        name: "comment_over_several_lines_until_quote",
        reads: Yes,
        text: concat!(
            "Approved: the change ticket CHG-88 covers it.\nKeep the screen recording on.\n\n",
            gmail_attribution!(),
            quoted_body!()
        ),
        expect: Approve("the change ticket CHG-88 covers it.\nKeep the screen recording on.", None),
    },
    // ---------------------------------------------------------------- bottom-posting and interleaving
    Case {
        name: "same_verb_twice_first_wins",
        reads: Yes,
        text: concat!("APPROVE fine by me\n\n", gmail_attribution!(), quoted_body!(), "\nApproved\n"),
        expect: Approve("fine by me", None),
    },
    Case {
        name: "different_verbs_on_two_lines",
        reads: Unclear,
        text: concat!(gmail_attribution!(), "> Access request #4711\n\nAPPROVE\n\n> Reason: migration\n\nREJECT\n"),
        expect: TwoVerbs,
    },
    // ---------------------------------------------------------------- lead-ins and signatures under the answer
    Case {
        // Words before the decision word that are not on the lead-in
        // allow-list refuse the line, however harmless they look.
        name: "looks_good_to_me_before_the_verb_is_refused",
        reads: Yes,
        text: "Looks good to me, approved\n",
        expect: WordBeforeVerb("Looks"),
    },
    Case {
        name: "emoji_glued_to_the_verb",
        reads: Yes,
        text: "Approved\u{1f44d}\n",
        expect: Approve("\u{1f44d}", None),
    },
    Case {
        name: "conditional_lead_in_is_not_a_decision",
        reads: Later,
        text: "If Bob agrees, approve\n",
        expect: WordBeforeVerb("If"),
    },
    Case {
        name: "verb_inside_a_sentence_is_not_a_decision",
        reads: Unclear,
        text: "We discussed who should approve database access\n",
        expect: WordBeforeVerb("We"),
    },
    Case {
        name: "out_of_office_reply_is_no_decision",
        reads: Unclear,
        text: "I am out of the office until 30 November with limited access to email. For urgent approvals contact bob@example.test.\n",
        expect: NoVerb,
    },
    Case {
        name: "bare_name_under_the_answer_is_not_comment",
        reads: No,
        text: "DISAPPROVE too risky\nAlice\n",
        expect: Disapprove("too risky"),
    },
    Case {
        name: "outlook_signature_without_valediction_is_not_comment",
        reads: Yes,
        text: concat!(
            "APPROVE for 4h, read-only\n\nAlice Example\nHead of Platform | Example Corp\n+44 20 7946 0000\n\n",
            "From: Access approvals <approvals@example.test>\nSent: Saturday, November 21, 2026 10:02 AM\n",
            "To: Alice Example <alice@example.test>\nSubject: [approvald] Access request #4711\n\n",
            body!()
        ),
        expect: Approve("read-only", Some("4h")),
    },
    Case {
        name: "outlook_mac_header_with_date_instead_of_sent",
        reads: Yes,
        text: concat!(
            "Approved\n\nFrom: Access approvals <approvals@example.test>\nDate: Saturday, 21 November 2026 at 10:02\n",
            "To: Alice Example <alice@example.test>\nSubject: [approvald] Access request #4711\n\n",
            leaky_body!()
        ),
        expect: Approve("", None),
    },
    // ---------------------------------------------------------------- encodings
    Case {
        name: "crlf_line_endings",
        reads: Yes,
        text: "APPROVE 2h\r\n\r\nOn Sat, Nov 21, 2026 at 10:02 AM Access approvals <\r\napprovals@example.test> wrote:\r\n\r\n> ##- Please type your reply above this line -##\r\n>\r\n> Reply with APPROVE or DISAPPROVE on the first line.\r\n",
        expect: Approve("", Some("2h")),
    },
    Case {
        name: "lone_cr_line_endings",
        reads: No,
        text: "DISAPPROVE\rnot now\r\r> Reply with APPROVE or DISAPPROVE on the first line.\r",
        expect: Disapprove("not now"),
    },
    Case { name: "zero_width_space_inside_the_verb", reads: Yes, text: "AP\u{200b}PROVE\n", expect: Approve("", None) },
    Case {
        name: "nbsp_and_tabs_around_the_verb",
        reads: Yes,
        text: "\u{a0}\tAPPROVE\u{a0}2h\n",
        expect: Approve("", Some("2h")),
    },
    Case {
        name: "negation_with_modifier_letter_apostrophe",
        reads: No,
        text: "I don\u{2bc}t approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_with_backtick_apostrophe",
        reads: No,
        text: "don`t approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_with_acute_accent_apostrophe",
        reads: No,
        text: "don\u{b4}t approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_with_fullwidth_apostrophe",
        reads: No,
        text: "don\u{ff07}t approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_split_by_a_space",
        reads: No,
        text: "do n't approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_typo_dont_aprove",
        reads: No,
        text: "dont aprove\n",
        expect: Refused,
    },
    Case {
        name: "negation_not_approve",
        reads: No,
        text: "not approve\n",
        expect: Refused,
    },
    Case {
        name: "negation_german",
        reads: No,
        text: "nicht genehmigt\n",
        expect: Refused,
    },
    Case {
        name: "negation_portuguese",
        reads: No,
        text: "não aprovo\n",
        expect: Refused,
    },
    Case {
        name: "negation_french",
        reads: No,
        text: "je n'approuve pas\n",
        expect: Refused,
    },
    Case {
        name: "negation_spanish",
        reads: No,
        text: "no apruebo\n",
        expect: Refused,
    },
    Case {
        name: "unknown_word_before_approve",
        reads: No,
        text: "Nope APPROVE\n",
        expect: Refused,
    },
    Case {
        name: "other_language_negation_before_approve",
        reads: No,
        text: "Nein, APPROVE\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approve_not_yet",
        reads: Later,
        text: "APPROVE - not yet\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approved_not_now",
        reads: Later,
        text: "approved, not now\n",
        expect: Refused,
    },
    Case {
        name: "question_then_no_after_approve",
        reads: Reads::Question,
        text: "approve? no\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approve_later",
        reads: Later,
        text: "APPROVE later\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approve_tomorrow",
        reads: Later,
        text: "APPROVE tomorrow\n",
        expect: Refused,
    },
    Case {
        name: "condition_after_approve_but",
        reads: Later,
        text: "APPROVE but wait for the CAB\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approve_german",
        reads: Later,
        text: "APPROVE noch nicht\n",
        expect: Refused,
    },
    Case {
        name: "deferral_after_approve_french",
        reads: Later,
        text: "APPROVE pas encore\n",
        expect: Refused,
    },
    Case {
        name: "not_now_first_then_approve_below",
        reads: Later,
        text: "Not now.\nAPPROVE\n",
        expect: Refused,
    },
    Case {
        name: "bidi_override_reversing_a_negation",
        reads: No,
        text: "\u{202e}evorppa ton\u{202c}\n",
        expect: Refused,
    },
    Case {
        name: "fullwidth_approve_then_negation",
        reads: Later,
        text: "\u{ff21}\u{ff30}\u{ff30}\u{ff32}\u{ff2f}\u{ff36}\u{ff25} - not yet\n",
        expect: Refused,
    },
    Case {
        name: "approve_or_disapprove_copied",
        reads: Unclear,
        text: "APPROVE or DISAPPROVE\n",
        expect: Refused,
    },
    Case {
        name: "fullwidth_approve_is_approve",
        reads: Yes,
        text: "\u{ff21}\u{ff30}\u{ff30}\u{ff32}\u{ff2f}\u{ff36}\u{ff25}\n",
        expect: Approve("", None),
    },
    Case {
        name: "greeting_with_a_name_then_approve",
        reads: Yes,
        text: "Hi Bob, APPROVE 2h - checked the ticket\n",
        expect: Approve("checked the ticket", Some("2h")),
    },
    Case {
        name: "yes_then_approve_with_comment",
        reads: Yes,
        text: "Yes, approved. Thanks for the details\n",
        expect: Approve("Thanks for the details", None),
    },
    Case {
        // A Portuguese client's first line: no decision word, so no
        // decision; the APPROVE below is never promoted.
        name: "portuguese_aprovado_first_then_approve_below",
        reads: Yes,
        text: "Aprovado.\n\nAPPROVE Tudo certo, pode seguir.\n\nAbraço,\nJoão\n",
        expect: NotAVerb("Aprovado."),
    },
    // ---------------------------------------------------------------- every spelling of a negation
    Case { name: "negation_with_right_single_quotation_mark", reads: No, text: "don\u{2019}t approve\n", expect: NegatedVerb },
    Case { name: "negation_with_left_single_quotation_mark", reads: No, text: "don\u{2018}t approve\n", expect: NegatedVerb },
    Case { name: "negation_with_modifier_letter_prime", reads: No, text: "don\u{2b9}t approve\n", expect: NegatedVerb },
    Case { name: "negation_with_prime", reads: No, text: "don\u{2032}t approve\n", expect: NegatedVerb },
    Case { name: "negation_with_saltillo", reads: No, text: "don\u{a78c}t approve\n", expect: Refused },
    Case { name: "negation_without_apostrophe", reads: No, text: "dont approve\n", expect: NegatedVerb },
    Case { name: "negation_typo_nto", reads: No, text: "nto approve\n", expect: WordBeforeVerb("nto") },
    Case { name: "negation_typo_aprove_after_do_not", reads: No, text: "I do not aprove\n", expect: Refused },
    Case { name: "negation_after_the_verb_comma_no", reads: No, text: "APPROVE, no\n", expect: QualifiedVerb("no") },
    Case { name: "negation_after_the_verb_portuguese", reads: No, text: "APPROVE - não\n", expect: QualifiedVerb("não") },
    Case { name: "negation_after_the_verb_german", reads: No, text: "APPROVE nicht\n", expect: QualifiedVerb("nicht") },
    Case { name: "negation_before_the_verb_german", reads: No, text: "Nicht APPROVE\n", expect: Refused },
    Case { name: "negation_typed_with_a_hidden_character_after_the_verb", reads: No, text: "APPROVE - n\u{61c}ot\n", expect: QualifiedVerb("not") },
    Case { name: "taken_back_wrong_button", reads: No, text: "APPROVE - wrong button, sorry\n", expect: QualifiedVerb("wrong") },
    Case { name: "taken_back_just_kidding", reads: No, text: "APPROVE jk\n", expect: QualifiedVerb("jk") },
    // ---------------------------------------------------------------- deferrals and conditions after the verb
    Case { name: "deferral_on_the_next_line", reads: Later, text: "APPROVE\nnot yet\n", expect: QualifiedVerb("not") },
    Case { name: "deferral_after_a_blank_line", reads: Later, text: "APPROVE\n\nbut wait for Bob\n", expect: QualifiedVerb("but") },
    Case { name: "deferral_on_hold", reads: Later, text: "APPROVE, on hold\n", expect: QualifiedVerb("hold") },
    Case { name: "deferral_next_week", reads: Later, text: "APPROVE next week\n", expect: QualifiedVerb("next") },
    Case { name: "deferral_spanish_not_yet", reads: Later, text: "APPROVE todavía no\n", expect: QualifiedVerb("todavía") },
    Case { name: "deferral_portuguese_not_yet", reads: Later, text: "APPROVE ainda não\n", expect: QualifiedVerb("ainda") },
    Case { name: "deferral_german_tomorrow", reads: Later, text: "APPROVE morgen\n", expect: QualifiedVerb("morgen") },
    Case { name: "deferral_french_tomorrow", reads: Later, text: "APPROVE demain\n", expect: QualifiedVerb("demain") },
    Case { name: "deferral_spanish_later", reads: Later, text: "APPROVE después\n", expect: QualifiedVerb("después") },
    Case { name: "deferral_with_a_variation_selector_inside", reads: Later, text: "APPROVE - la\u{fe0f}ter\n", expect: QualifiedVerb("later") },
    Case { name: "condition_in_the_comment", reads: Later, text: "APPROVE - fine by me if Bob agrees\n", expect: QualifiedVerb("if") },
    Case { name: "condition_french_if", reads: Later, text: "APPROVE si le CAB est d'accord\n", expect: QualifiedVerb("si") },
    Case { name: "wait_first_then_approve_below", reads: Later, text: "Wait\nAPPROVE\n", expect: NotAVerb("Wait") },
    Case { name: "not_now_then_a_blank_line_then_approve", reads: Later, text: "Not now.\n\nAPPROVE\n", expect: Refused },
    // ---------------------------------------------------------------- questions
    Case { name: "question_mark_in_the_comment", reads: Reads::Question, text: "APPROVE - ok?\n", expect: Question },
    Case { name: "question_before_the_verb", reads: Reads::Question, text: "Yes? APPROVE\n", expect: Question },
    Case { name: "question_fullwidth_mark", reads: Reads::Question, text: "APPROVE\u{ff1f}\n", expect: Question },
    Case { name: "question_spanish_marks", reads: Reads::Question, text: "\u{bf}APPROVE?\n", expect: Question },
    Case { name: "question_emoji", reads: Reads::Question, text: "APPROVE \u{2753}\n", expect: Question },
    Case { name: "question_should_i", reads: Reads::Question, text: "Should I approve?\n", expect: Refused },
    Case { name: "question_in_a_disapproval_is_still_a_no", reads: No, text: "DISAPPROVE - why prod?\n", expect: Disapprove("why prod?") },
    // ---------------------------------------------------------------- windows in forms that are not read
    Case { name: "window_in_german_words_refused", reads: Yes, text: "APPROVE für 2 Stunden\n", expect: BadWindow("\"Stunden\"") },
    Case { name: "window_in_spanish_words_refused", reads: Yes, text: "APPROVE por 2 horas\n", expect: BadWindow("\"horas\"") },
    Case { name: "window_in_french_words_refused", reads: Yes, text: "APPROVE pour 2 heures\n", expect: BadWindow("\"heures\"") },
    Case { name: "window_until_in_portuguese_refused", reads: Yes, text: "APPROVE até amanhã\n", expect: BadWindow("\"até\"") },
    // ---------------------------------------------------------------- lead-ins
    Case { name: "i_before_the_verb_is_refused", reads: Yes, text: "I approve\n", expect: WordBeforeVerb("I") },
    Case { name: "ok_comma_approve", reads: Yes, text: "OK, APPROVE\n", expect: Approve("", None) },
    Case { name: "hello_name_comma_approved", reads: Yes, text: "Hello Bob, approved\n", expect: Approve("", None) },
    Case { name: "greeting_without_a_comma_is_refused", reads: Yes, text: "Hi Bob approve\n", expect: WordBeforeVerb("Hi") },
    // ---------------------------------------------------------------- invisible and reordering characters
    Case { name: "soft_hyphen_inside_the_verb", reads: Yes, text: "APPR\u{ad}OVE\n", expect: Approve("", None) },
    Case { name: "zero_width_joiner_inside_the_verb", reads: Yes, text: "APP\u{200d}ROVE 2h\n", expect: Approve("", Some("2h")) },
    Case { name: "bidi_override_showing_approve_reads_reversed", reads: Yes, text: "\u{202e}EVORPPA\u{202c}\n", expect: NotAVerb("EVORPPA") },
    Case { name: "bidi_isolate_hiding_a_negation_before_the_verb", reads: No, text: "\u{2067}ton\u{2069} APPROVE\n", expect: WordBeforeVerb("ton") },
];
