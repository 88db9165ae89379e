//! The fixture table and properties of the parser as a whole.

use std::collections::HashSet;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;

use super::fixtures::{Expect, Reads, CASES};
use super::{narrow_window, parse_reply, ReplyDecision, ReplyRefusal, Verb, WindowChange};

/// Whether `got` is what the row expects; windows compare in their displayed form.
fn meets(got: &Result<ReplyDecision, ReplyRefusal>, expect: &Expect) -> bool {
    let window = |d: &ReplyDecision| d.window.map(|w| w.to_string());
    match (got, expect) {
        (Ok(d), Expect::Approve(comment, win)) => {
            d.verb == Verb::Approve && d.comment == *comment && window(d) == win.map(str::to_owned)
        }
        (Ok(d), Expect::Disapprove(comment)) => {
            d.verb == Verb::Disapprove && d.comment == *comment && d.window.is_none()
        }
        (Err(ReplyRefusal::NoVerb), Expect::NoVerb)
        | (Err(ReplyRefusal::TwoVerbs), Expect::TwoVerbs)
        | (Err(ReplyRefusal::NegatedVerb), Expect::NegatedVerb)
        | (Err(ReplyRefusal::Empty), Expect::Empty) => true,
        (Err(ReplyRefusal::NotAVerb { said }), Expect::NotAVerb(want)) => said == want,
        (Err(ReplyRefusal::BadWindow { why }), Expect::BadWindow(part)) => why.contains(part),
        (Err(ReplyRefusal::WordBeforeVerb { word, .. }), Expect::WordBeforeVerb(want))
        | (Err(ReplyRefusal::QualifiedVerb { word }), Expect::QualifiedVerb(want)) => word == want,
        (Err(ReplyRefusal::Question), Expect::Question) => true,
        (Err(_), Expect::Refused) => true,
        _ => false,
    }
}

/// A combining mark right after `>` once composed with it into `≯`, and the
/// quoted line became text (found by `only_quoted_lines_are_empty`).
#[test]
fn regression_a_combining_mark_cannot_turn_a_quote_into_text() {
    for text in [
        ">\u{338}\n",
        "> \u{338}APPROVE\n",
        ">\u{338}APPROVE\nAPPROVE\n",
    ] {
        let got = parse_reply(text);
        let want = if text.ends_with("\nAPPROVE\n") {
            Ok(ReplyDecision {
                verb: Verb::Approve,
                comment: String::new(),
                window: None,
            })
        } else {
            Err(ReplyRefusal::Empty)
        };
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn fixture_table() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            let got = parse_reply(case.text);
            (!meets(&got, &case.expect))
                .then(|| format!("{}: expected {:?}, got {:?}", case.name, case.expect, got))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

/// Whether a parse result approves.
fn approves(got: &Result<ReplyDecision, ReplyRefusal>) -> bool {
    matches!(
        got,
        Ok(ReplyDecision {
            verb: Verb::Approve,
            ..
        })
    )
}

/// No reply a person reads as negative, deferred or a question approves,
/// whatever the row's exact expectation says.
#[test]
fn no_negative_deferred_or_questioning_fixture_approves() {
    let mut checked = 0;
    for case in CASES {
        if matches!(case.reads, Reads::No | Reads::Later | Reads::Question) {
            checked += 1;
            let got = parse_reply(case.text);
            assert!(
                !approves(&got),
                "{} ({:?}) approves: {got:?}",
                case.name,
                case.reads
            );
        }
    }
    assert!(
        checked >= 60,
        "only {checked} rows read as no, later or a question"
    );
}

/// The readings agree with the expectations: only a row read as yes may
/// expect an approval, only a row read as no a disapproval.
#[test]
fn fixture_readings_agree_with_expectations() {
    for case in CASES {
        match case.expect {
            Expect::Approve(..) => assert_eq!(case.reads, Reads::Yes, "{}", case.name),
            Expect::Disapprove(..) => assert_eq!(case.reads, Reads::No, "{}", case.name),
            _ => {}
        }
    }
}

#[test]
fn fixture_names_are_unique() {
    let mut seen = HashSet::new();
    for case in CASES {
        assert!(
            seen.insert(case.name),
            "duplicate fixture name {}",
            case.name
        );
    }
}

#[test]
fn not_a_verb_explanation_asks_for_the_word() {
    let refusal = ReplyRefusal::NotAVerb {
        said: "ok".to_owned(),
    };
    assert_eq!(
        refusal.explain(),
        "\"ok\" is not a decision: reply with the word APPROVE or DISAPPROVE on the first line"
    );
}

#[test]
fn every_explanation_is_one_line_naming_the_fix() {
    let refusals = [
        ReplyRefusal::NoVerb,
        ReplyRefusal::TwoVerbs,
        ReplyRefusal::NegatedVerb,
        ReplyRefusal::NotAVerb {
            said: "yes".to_owned(),
        },
        ReplyRefusal::Empty,
        ReplyRefusal::WordBeforeVerb {
            word: "I".to_owned(),
            verb: Verb::Approve,
        },
        ReplyRefusal::QualifiedVerb {
            word: "later".to_owned(),
        },
        ReplyRefusal::Question,
    ];
    for refusal in refusals {
        let text = refusal.explain();
        assert!(!text.contains('\n') && text.contains("APPROVE"), "{text}");
    }
}

#[test]
fn long_informal_answer_is_shortened_in_the_explanation() {
    let text = format!("{}\n", "\u{1f44d}".repeat(100));
    let Err(ReplyRefusal::NotAVerb { said }) = parse_reply(&text) else {
        unreachable!("an emoji line is not a verb");
    };
    assert_eq!(said.chars().count(), 61);
}

#[test]
fn window_comment_and_requested_window_fit_together() {
    let Ok(decision) = parse_reply("APPROVE 10h\n") else {
        unreachable!("APPROVE 10h is a valid reply");
    };
    let Some(change) = decision.window else {
        unreachable!("APPROVE 10h has a window");
    };
    let start = Utc
        .with_ymd_and_hms(2026, 11, 21, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let offset = FixedOffset::east_opt(3600).unwrap();
    let got = narrow_window(&change, (start, start + Duration::hours(8)), start, offset);
    let Err(ReplyRefusal::BadWindow { why }) = got else {
        unreachable!("a 10h window inside an 8h request is too wide");
    };
    assert!(
        why.starts_with(
            "APPROVE 10h is wider than the requested window (8h, ends 2026-11-21 18:00 +01:00)"
        ),
        "{why}"
    );
}

#[test]
fn huge_inputs_are_handled_in_linear_time() {
    // Shapes that would make a careless scanner quadratic: endless candidate
    // attributions, header lines each followed by blank runs, and one giant line.
    let mut text = String::new();
    for _ in 0..20_000 {
        text.push_str("On 21/11/2026 10:02 something\n> q\nFrom: a\n\n\n\n");
    }
    text.push_str(&"approve ".repeat(200_000));
    text.push('\n');
    let started = Instant::now();
    drop(parse_reply(&text));
    drop(parse_reply(&format!("ok\n{text}")));
    assert!(
        started.elapsed() < StdDuration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// Lines that look like parts of mails, to explore structure rather than random bytes.
fn mailish_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("APPROVE".to_owned()),
        Just("DISAPPROVE not now".to_owned()),
        Just("not approved".to_owned()),
        Just("APPROVE until 18:00".to_owned()),
        Just("APPROVE 2h".to_owned()),
        Just("> quoted".to_owned()),
        Just(">".to_owned()),
        Just(String::new()),
        Just("-- ".to_owned()),
        Just("On Sat, Nov 21, 2026 at 10:02 AM Access approvals <".to_owned()),
        Just("approvals@example.test> wrote:".to_owned()),
        Just("From: Access approvals <approvals@example.test>".to_owned()),
        Just("Sent: Saturday, November 21, 2026 10:02 AM".to_owned()),
        Just("________________________________".to_owned()),
        Just("##- Please type your reply above this line -##".to_owned()),
        Just("Hi,".to_owned()),
        Just("CAUTION: external".to_owned()),
        Just("Sent from my iPhone".to_owned()),
        ".{0,40}",
    ]
}

/// Text of a line that cannot contain a line break once normalized.
const ONE_LINE: &str = "[^\r\n\u{85}\u{2028}\u{2029}]{0,80}";

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        drop(parse_reply(&text));
    }

    #[test]
    fn mail_shaped_text_never_panics(lines in proptest::collection::vec(mailish_line(), 0..30)) {
        drop(parse_reply(&lines.join("\n")));
        drop(parse_reply(&lines.join("\r\n")));
    }

    #[test]
    fn approve_above_any_quoted_lines_approves(
        quoted in proptest::collection::vec(ONE_LINE, 0..30),
    ) {
        let mut text = String::from("APPROVE\n");
        for line in &quoted {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
        let got = parse_reply(&text);
        let want = ReplyDecision { verb: Verb::Approve, comment: String::new(), window: None };
        prop_assert_eq!(got, Ok(want));
    }

    #[test]
    fn only_quoted_lines_are_empty(quoted in proptest::collection::vec(ONE_LINE, 1..30)) {
        let text: String = quoted.iter().map(|l| format!(">{l}\n")).collect();
        prop_assert_eq!(parse_reply(&text), Err(ReplyRefusal::Empty));
    }

    #[test]
    fn negated_first_line_never_approves(
        negation in prop_oneof![
            Just("not approved"),
            Just("don't approve"),
            Just("do not approve"),
            Just("cannot approve"),
            Just("won't approve"),
            Just("NOT APPROVED"),
            Just("I do not approve"),
        ],
        rest in proptest::collection::vec(mailish_line(), 0..10),
    ) {
        let text = format!("{negation}\n{}", rest.join("\n"));
        let got = parse_reply(&text);
        prop_assert!(!matches!(got, Ok(ReplyDecision { verb: Verb::Approve, .. })), "{:?}", got);
    }

    #[test]
    fn narrowed_window_stays_inside_the_request(
        start_min in 0i64..10_000,
        length_min in 1i64..5_000,
        now_min in 0i64..15_000,
        offset_min in -720i32..840,
        change in prop_oneof![
            (1i64..3_000).prop_map(|m| WindowChange::For(Duration::minutes(m))),
            (0u32..24, 0u32..60).prop_map(|(h, m)| {
                WindowChange::UntilTime(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default())
            }),
            (0u32..24, -12i32..14).prop_map(|(h, o)| {
                let named = FixedOffset::east_opt(o * 3600).unwrap();
                WindowChange::UntilTimeAt(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default(), named)
            }),
            (0i64..20_000).prop_map(|m| {
                let midnight = NaiveDate::from_ymd_opt(2026, 11, 21)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .unwrap_or_default();
                WindowChange::UntilDateTime(midnight + Duration::minutes(m))
            }),
        ],
    ) {
        let base: DateTime<Utc> =
            Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).single().unwrap_or_default();
        let requested = (
            base + Duration::minutes(start_min),
            base + Duration::minutes(start_min + length_min),
        );
        let now = base + Duration::minutes(now_min);
        let Some(offset) = FixedOffset::east_opt(offset_min * 60) else { return Ok(()); };
        if let Ok((start, end)) = narrow_window(&change, requested, now, offset) {
            prop_assert!(start >= requested.0 && start >= now);
            prop_assert!(end > start && end <= requested.1);
        }
    }
}

proptest! {
    /// The lead-in is an allow-list: any other word put before the decision
    /// word of any approving fixture turns it into no decision. The word may
    /// be in any script; it is skipped only when, read the way the parser
    /// reads it (normalised, split into words), it is nothing but allowed
    /// lead-ins, or holds a decision word itself.
    #[test]
    fn any_word_not_on_the_lead_in_list_before_approve_refuses(
        word in "[\\p{L}][\\p{L}\\p{M}'\u{2019}\u{2bc}`-]{0,11}",
    ) {
        let normalized = super::normalize::normalize(&word);
        let tokens = super::words::words(&normalized);
        prop_assume!(tokens.iter().all(|w| super::decision_line::verb_of(&w.norm).is_none()));
        prop_assume!(tokens.iter().any(|w| !super::grammar::LEAD_INS.contains(&w.norm.as_str())));
        for case in CASES {
            let Expect::Approve(..) = case.expect else { continue };
            let Some(at) = decision_word_at(case.text) else { continue };
            let text = format!("{}{word} {}", &case.text[..at], &case.text[at..]);
            let got = parse_reply(&text);
            prop_assert!(got.is_err(), "{}: {:?} decided {:?}", case.name, text, got);
        }
    }

    /// A reply a person reads as no, later or a question never approves,
    /// however it is spelt: any letter case, any apostrophe-like mark for
    /// the apostrophe, invisible characters anywhere, CRLF line ends.
    #[test]
    fn negative_fixtures_never_approve_in_any_spelling(
        pick in any::<prop::sample::Index>(),
        upper in proptest::collection::vec(any::<bool>(), 64),
        apostrophe in prop::sample::select(vec![
            '\'', '\u{2019}', '\u{2018}', '\u{2bc}', '\u{2b9}', '\u{2032}', '`', '\u{b4}', '\u{ff07}',
        ]),
        hidden in proptest::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(vec![
                '\u{200b}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}', '\u{200e}', '\u{202e}',
                '\u{2066}', '\u{fe0f}', '\u{34f}',
            ])),
            0..4,
        ),
        crlf in any::<bool>(),
    ) {
        let negative: Vec<_> = CASES
            .iter()
            .filter(|c| matches!(c.reads, Reads::No | Reads::Later | Reads::Question))
            .collect();
        let case = negative[pick.index(negative.len())];
        let mut chars: Vec<char> = case
            .text
            .chars()
            .enumerate()
            .map(|(i, c)| match c {
                '\'' | '\u{2019}' => apostrophe,
                c if upper[i % upper.len()] => c.to_uppercase().next().unwrap_or(c),
                c => c.to_lowercase().next().unwrap_or(c),
            })
            .collect();
        for (at, c) in &hidden {
            // Never between a CR and its LF, which would make two line ends.
            let at = at.index(chars.len() + 1);
            if at > 0 && chars.get(at - 1) == Some(&'\r') {
                continue;
            }
            chars.insert(at, *c);
        }
        let mut text: String = chars.into_iter().collect();
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let got = parse_reply(&text);
        prop_assert!(!approves(&got), "{}: {:?} approves: {:?}", case.name, text, got);
    }
}

/// Where the decision word of an approving fixture stands: the first whole
/// word APPROVE or APPROVED on a line that is not quoted.
fn decision_word_at(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('>') {
            let lower = line.to_ascii_lowercase();
            for (i, _) in lower.match_indices("approve") {
                let before = lower[..i].chars().next_back();
                let after = lower[i + "approve".len()..]
                    .trim_start_matches('d')
                    .chars()
                    .next();
                let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                if boundary(before) && boundary(after) {
                    return Some(offset + i);
                }
            }
        }
        offset += line.len();
    }
    None
}
