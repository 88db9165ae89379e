//! Mail templates: the built-in copies compiled into the binary, optional
//! per-file overrides from a configured directory, and the variables each
//! template sees (documented for template authors in `templates/README.md`).
//!
//! Every template is parsed and rendered with sample data when loaded, so a
//! broken override is reported as a configuration error at startup instead
//! of failing the first time a mail is composed.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use minijinja::syntax::SyntaxConfig;
use minijinja::{context, Environment, UndefinedBehavior, Value};

use crate::domain::access_window::AccessWindow;
use crate::domain::ids::{Address, RequestId, RequestNonce};
use crate::domain::policy::human;
use crate::domain::request::{Channel, Decision, Level, Request, Route, Status};
use crate::domain::verb::Verb;
use crate::domain::wire::{self, REPLY_MARKER, TOKEN_LINE_PREFIX};

/// Approval request to an approver, plain text.
pub(crate) const REQUEST_TXT: &str = "request.txt";
/// Approval request to an approver, HTML.
pub(crate) const REQUEST_HTML: &str = "request.html";
/// Receipt to the requester, plain text.
pub(crate) const RECEIVED_TXT: &str = "received.txt";
/// Receipt to the requester, HTML.
pub(crate) const RECEIVED_HTML: &str = "received.html";
/// Final outcome to the requester, plain text.
pub(crate) const DECIDED_TXT: &str = "decided.txt";
/// Final outcome to the requester, HTML.
pub(crate) const DECIDED_HTML: &str = "decided.html";
/// An emergency, cancel, revoke or override, to the requester and the
/// approvers, plain text.
pub(crate) const NOTICE_TXT: &str = "notice.txt";
/// The same, HTML.
pub(crate) const NOTICE_HTML: &str = "notice.html";
/// Answer to a reply that could not be used (plain text only: it must be
/// read in any client, and there is nothing to lay out).
pub(crate) const EXPLANATION_TXT: &str = "explanation.txt";

/// The built-in templates, by file name.
const BUILTIN: [(&str, &str); 9] = [
    (REQUEST_TXT, include_str!("../../templates/request.txt")),
    (REQUEST_HTML, include_str!("../../templates/request.html")),
    (RECEIVED_TXT, include_str!("../../templates/received.txt")),
    (RECEIVED_HTML, include_str!("../../templates/received.html")),
    (DECIDED_TXT, include_str!("../../templates/decided.txt")),
    (DECIDED_HTML, include_str!("../../templates/decided.html")),
    (NOTICE_TXT, include_str!("../../templates/notice.txt")),
    (NOTICE_HTML, include_str!("../../templates/notice.html")),
    (
        EXPLANATION_TXT,
        include_str!("../../templates/explanation.txt"),
    ),
];

/// The loaded, validated templates.
pub(crate) struct Templates {
    /// One minijinja environment holding every template; `*.html` templates
    /// are auto-escaped by minijinja's default rule, `*.txt` are not.
    env: Environment<'static>,
    /// The zone times are shown in (`[mail] timezone`).
    tz: Tz,
}

/// A rendered mail body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// The text/plain part, always present: some clients and every reply
    /// parser work from it.
    pub(crate) text: String,
    /// The text/html alternative, when the mail has one.
    pub(crate) html: Option<String>,
}

/// A template failed while rendering real data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template {template}: {why}")]
pub(crate) struct RenderError {
    /// Which template failed, so that the administrator knows which override
    /// to fix.
    pub(crate) template: &'static str,
    /// minijinja's explanation.
    pub(crate) why: String,
}

/// What an approval request shows one approver.
pub(crate) struct ApprovalView<'a> {
    /// The request as it stands when the mail is composed.
    pub(crate) request: &'a Request,
    /// The level (1-based) the approver is asked at.
    pub(crate) level: u8,
    /// The recipient, for templates that greet them.
    pub(crate) approver: &'a Address,
    /// The approval token text, shown in the footer line.
    pub(crate) token: &'a str,
    /// The display name approvald sends as, used as the signature.
    pub(crate) from_name: &'a str,
    /// `mailto:` URLs opening a reply with APPROVE / DISAPPROVE already on
    /// the first line: one tap on a phone, and still a mail from the
    /// approver's own account (a link scanner never sends mail).
    pub(crate) mailto_approve: &'a str,
    pub(crate) mailto_disapprove: &'a str,
    /// The decision page for this approver, when pages are served.
    pub(crate) decision_link: Option<&'a str>,
}

/// What an explanation shows the approver whose reply could not be used.
/// Only approvald's own words: nothing the reply said is repeated.
pub(crate) struct ExplanationView<'a> {
    /// Why it could not be used: one of approvald's fixed sentences.
    pub(crate) why: &'a str,
    /// The request the reply's token is for.
    pub(crate) request: RequestId,
    /// The display name approvald sends as, used as the signature.
    pub(crate) from_name: &'a str,
}

/// What a notice says: approvald's own sentences, and who acted and why.
#[derive(Debug)]
pub(crate) struct NoticeView<'a> {
    pub(crate) request: &'a Request,
    /// One of approvald's fixed headlines ("Emergency access used", …).
    pub(crate) headline: &'a str,
    /// One of approvald's fixed sentences saying what it means for the reader.
    pub(crate) detail: &'a str,
    /// Who acted, when someone did.
    pub(crate) actor: Option<&'a str>,
    /// The reason they gave: their words, shown quoted.
    pub(crate) actor_reason: Option<&'a str>,
    /// When the reader may revoke by reply: the token for it.
    pub(crate) revoke_token: Option<&'a str>,
    /// The page to revoke on, when pages are served.
    pub(crate) revoke_link: Option<&'a str>,
    pub(crate) from_name: &'a str,
}

impl Templates {
    /// Loads the built-in templates, replaced file by file by those found in
    /// `dir`, and checks that every template renders the sample data.
    ///
    /// A `*.txt` or `*.html` file in `dir` that is not one of the known
    /// template names is refused: it is almost certainly a misspelt override
    /// that would otherwise be silently ignored.
    pub(crate) fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut sources: Vec<(&'static str, String, String)> = BUILTIN
            .iter()
            .map(|(name, src)| (*name, (*src).to_string(), format!("built-in {name}")))
            .collect();
        if let Some(dir) = dir {
            override_from(dir, &mut sources)?;
        }
        let mut env = Environment::new();
        // Text that is not approvald's own, one `| ` prefix per line: no
        // line of it can pass for a section of the mail.
        env.add_filter("quoted", |text: String| {
            text.lines().collect::<Vec<_>>().join("\n| ")
        });
        // Line breaks an HTML reader keeps even where `white-space` is
        // ignored (Outlook's Word engine): escaped text, `<br>` per break.
        env.add_filter("br", |text: String| {
            let escaped = minijinja::HtmlEscape(&text).to_string();
            Value::from_safe_string(escaped.replace('\n', "<br>\n"))
        });
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| format!("template syntax settings: {e}"))?;
        env.set_syntax(syntax);
        // A misspelt variable in an override must fail validation, not
        // render as an empty string in every mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source, origin) in sources {
            env.add_template_owned(name, source)
                .map_err(|e| format!("{origin}: {e}"))?;
        }
        let templates = Templates { env, tz: Tz::UTC };
        templates.validate()?;
        Ok(templates)
    }

    /// The same templates showing times in `tz`.
    pub(crate) fn with_timezone(self, tz: Tz) -> Templates {
        Templates { tz, ..self }
    }

    /// Renders the approval request for one approver.
    pub(crate) fn approval_request(&self, v: &ApprovalView<'_>) -> Result<Rendered, RenderError> {
        let r = v.request;
        let quorum = r
            .levels
            .get(usize::from(v.level.saturating_sub(1)))
            .map_or(0, |l| l.quorum);
        let ctx = context! {
            level => v.level,
            quorum => quorum,
            approver => v.approver.as_str(),
            token => v.token,
            reply_marker => REPLY_MARKER,
            token_line => wire::token_line(v.token),
            mailto_approve => v.mailto_approve,
            mailto_disapprove => v.mailto_disapprove,
            decision_link => v.decision_link,
            ..request_context(r, v.from_name, self.tz)
        };
        Ok(Rendered {
            text: self.render(REQUEST_TXT, &ctx)?,
            html: Some(self.render(REQUEST_HTML, &ctx)?),
        })
    }

    /// Renders the receipt sent to the requester.
    pub(crate) fn received(&self, r: &Request, from_name: &str) -> Result<Rendered, RenderError> {
        let ctx = request_context(r, from_name, self.tz);
        Ok(Rendered {
            text: self.render(RECEIVED_TXT, &ctx)?,
            html: Some(self.render(RECEIVED_HTML, &ctx)?),
        })
    }

    /// Renders the final outcome sent to the requester.
    pub(crate) fn decided(&self, r: &Request, from_name: &str) -> Result<Rendered, RenderError> {
        let rejection = r
            .decisions
            .iter()
            .rev()
            .find(|d| d.verb == Verb::Disapprove)
            .filter(|_| r.status == Status::Rejected);
        let ctx = context! {
            outcome => if r.status.is_granted() || r.status == Status::Ended {
                "approved"
            } else {
                r.status.as_str()
            },
            rejected_by => rejection.map(|d| d.approver.as_str()),
            rejection_comment => rejection.map(|d| d.comment.as_str()).filter(|c| !c.is_empty()),
            ..request_context(r, from_name, self.tz)
        };
        Ok(Rendered {
            text: self.render(DECIDED_TXT, &ctx)?,
            html: Some(self.render(DECIDED_HTML, &ctx)?),
        })
    }

    /// Renders a notice (emergency, cancel, revoke, override).
    pub(crate) fn notice(&self, v: &NoticeView<'_>) -> Result<Rendered, RenderError> {
        let ctx = context! {
            headline => v.headline,
            detail => v.detail,
            actor => v.actor,
            actor_reason => v.actor_reason.map(wire::defuse).filter(|r| !r.is_empty()),
            revocable => v.revoke_token.is_some(),
            revoke_link => v.revoke_link,
            reply_marker => REPLY_MARKER,
            token_line => v.revoke_token.map(wire::token_line),
            ..request_context(v.request, v.from_name, self.tz)
        };
        Ok(Rendered {
            text: self.render(NOTICE_TXT, &ctx)?,
            html: Some(self.render(NOTICE_HTML, &ctx)?),
        })
    }

    /// Renders the explanation for a mail that could not be used.
    pub(crate) fn explanation(&self, v: &ExplanationView<'_>) -> Result<String, RenderError> {
        let ctx = context! {
            why => v.why,
            request_id => v.request.to_string(),
            from_name => v.from_name,
            timezone => self.tz.name(),
        };
        self.render(EXPLANATION_TXT, &ctx)
    }

    fn render(&self, template: &'static str, ctx: &Value) -> Result<String, RenderError> {
        let fail = |e: minijinja::Error| RenderError {
            template,
            why: e.to_string(),
        };
        self.env
            .get_template(template)
            .map_err(fail)?
            .render(ctx)
            .map_err(fail)
    }

    /// Renders every template with every sample and checks the lines the
    /// reply parser depends on.
    fn validate(&self) -> Result<(), String> {
        let token = SAMPLE_TOKEN;
        let approver = sample_address("alice")?;
        for level in [1, 2] {
            let request = sample_request(Status::Pending, level)?;
            let view = ApprovalView {
                request: &request,
                level,
                approver: &approver,
                token,
                from_name: "Access approvals",
                mailto_approve: "mailto:approvals+t@example.test?subject=Re&body=APPROVE",
                mailto_disapprove: "mailto:approvals+t@example.test?subject=Re&body=DISAPPROVE",
                decision_link: Some("https://approvals.example.test/d/t"),
            };
            let body = self.approval_request(&view).map_err(|e| e.to_string())?;
            check_approval_body(&body, token)?;
            self.received(&request, "Access approvals")
                .map_err(|e| e.to_string())?;
        }
        for status in [Status::Approved, Status::Rejected, Status::Expired] {
            self.decided(&sample_request(status, 2)?, "Access approvals")
                .map_err(|e| e.to_string())?;
        }
        for route in [Route::Emergency, Route::Justification] {
            let mut request = sample_request(Status::Approved, 1)?;
            request.route = route;
            self.received(&request, "Access approvals")
                .map_err(|e| e.to_string())?;
            self.notice(&NoticeView {
                request: &request,
                headline: "Emergency access used",
                detail: "The requester used break-glass access.",
                actor: Some("admin"),
                actor_reason: Some("a reason\nover two lines"),
                revoke_token: Some(SAMPLE_TOKEN),
                revoke_link: Some("https://approvals.example.test/d/t"),
                from_name: "Access approvals",
            })
            .map_err(|e| e.to_string())?;
        }
        self.explanation(&ExplanationView {
            why: "the first line says neither APPROVE nor DISAPPROVE",
            request: RequestId::new(7),
            from_name: "Access approvals",
        })
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Replaces built-in sources with the files of the same name in `dir`.
fn override_from(dir: &Path, sources: &mut [(&'static str, String, String)]) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("templates directory {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("templates directory {}: {e}", dir.display()))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        match sources.iter_mut().find(|(known, _, _)| *known == name) {
            Some((_, source, origin)) => {
                *source = std::fs::read_to_string(&path)
                    .map_err(|e| format!("template {}: {e}", path.display()))?;
                *origin = path.display().to_string();
            }
            None if name.ends_with(".txt") || name.ends_with(".html") => {
                let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "template {}: not a template approvald uses (known names: {})",
                    path.display(),
                    known.join(", ")
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// Checks what the reply parser relies on: the marker as the very first line
/// of the text part (and in the HTML), and the token footer line (the last
/// line of the text part).
fn check_approval_body(body: &Rendered, token: &str) -> Result<(), String> {
    let token_line = wire::token_line(token);
    if body.text.lines().next() != Some(REPLY_MARKER) {
        return Err(format!(
            "{REQUEST_TXT}: the first line must be exactly {REPLY_MARKER:?}"
        ));
    }
    let last = body.text.lines().rev().find(|l| !l.trim().is_empty());
    if last.map(str::trim_end) != Some(token_line.as_str()) {
        return Err(format!(
            "{REQUEST_TXT}: the last line must be \"{TOKEN_LINE_PREFIX}{{{{ token }}}}\""
        ));
    }
    let html = body.html.as_deref().unwrap_or("");
    if !html.contains(REPLY_MARKER) {
        return Err(format!(
            "{REQUEST_HTML}: must show {REPLY_MARKER:?} at the top"
        ));
    }
    if !html.contains(&token_line) {
        return Err(format!(
            "{REQUEST_HTML}: must show the line \"{TOKEN_LINE_PREFIX}{{{{ token }}}}\""
        ));
    }
    Ok(())
}

/// The variables every request-related template sees.
fn request_context(r: &Request, from_name: &str, tz: Tz) -> Value {
    let levels: Vec<Value> = (1..=r.levels.len())
        .filter_map(|n| u8::try_from(n).ok())
        .zip(r.levels.iter())
        .map(|(n, l)| {
            let approvers: Vec<Value> = r
                .askable_approvers(n)
                .into_iter()
                .map(|(_, a)| Value::from(a.as_str()))
                .collect();
            context! { number => n, quorum => l.quorum, approvers => approvers }
        })
        .collect();
    let decisions: Vec<Value> = r
        .decisions
        .iter()
        .map(|d| decision_context(d, tz))
        .collect();
    context! {
        id => r.id.to_string(),
        requester => r.requester.as_str(),
        // What the requester typed is defused: a token tag or label in it
        // must never be read back as the mail's own.
        action => wire::defuse(&r.action),
        resource => wire::defuse(&r.resource),
        justification => wire::defuse(&r.justification),
        reason => wire::defuse(&r.reason),
        governance_code => wire::defuse(&r.governance_code),
        group => r.group.as_str(),
        requested_window => window_context(&r.requested_window, tz),
        granted_window => window_context(&r.granted_window, tz),
        narrowed => r.granted_window != r.requested_window,
        levels => levels,
        level_count => r.levels.len(),
        decisions => decisions,
        status => r.status.as_str(),
        route => r.route.as_str(),
        emergency => r.route == Route::Emergency,
        created_at => time(r.created_at, tz),
        timezone => tz.name(),
        deadline => time(r.deadline, tz),
        closed_at => r.closed_at.map(|t| time(t, tz)),
        from_name => from_name,
    }
}

fn decision_context(d: &Decision, tz: Tz) -> Value {
    context! {
        level => d.level,
        approver => d.approver.as_str(),
        verb => d.verb.as_str(),
        comment => wire::defuse(&d.comment),
        at => time(d.at, tz),
        window => d.window.as_ref().map(|w| window_context(w, tz)),
    }
}

fn window_context(w: &AccessWindow, tz: Tz) -> Value {
    context! {
        start => time(w.start(), tz),
        end => time(w.end(), tz),
        length => human(w.length()),
    }
}

/// Times as people write them, in the configured zone with its
/// abbreviation ("Sat 5 Dec 2026, 14:25 CET"), so that an approver in that
/// zone reads and answers (`APPROVE until 18:00`) in their own time.
fn time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// A token-shaped placeholder for validation.
const SAMPLE_TOKEN: &str = "aebagbafaydqqcikbmga2dqpcaireeyuculbogazdinryhi6d4qa";

fn sample_address(local: &str) -> Result<Address, String> {
    format!("{local}@example.test").parse()
}

/// A request exercising every variable: two levels, a narrowed window, a
/// multi-line comment and, for closed statuses, a final decision.
fn sample_request(status: Status, level: u8) -> Result<Request, String> {
    let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
    let requested = AccessWindow::new(t0 + Duration::hours(1), t0 + Duration::hours(5))?;
    let narrowed = AccessWindow::new(t0 + Duration::hours(1), t0 + Duration::hours(3))?;
    let mut decisions = Vec::new();
    if level >= 2 || status != Status::Pending {
        decisions.push(Decision {
            level: 1,
            approver: sample_address("alice")?,
            verb: Verb::Approve,
            comment: "ok for the maintenance\nsecond line".into(),
            at: t0 + Duration::minutes(5),
            channel: Channel::Email,
            window: Some(narrowed),
        });
    }
    match status {
        Status::Approved => decisions.push(Decision {
            level: 2,
            approver: sample_address("carol")?,
            verb: Verb::Approve,
            comment: String::new(),
            at: t0 + Duration::minutes(9),
            channel: Channel::Email,
            window: None,
        }),
        Status::Rejected => decisions.push(Decision {
            level: 2,
            approver: sample_address("carol")?,
            verb: Verb::Disapprove,
            comment: "not during the freeze".into(),
            at: t0 + Duration::minutes(9),
            channel: Channel::Email,
            window: None,
        }),
        _ => {}
    }
    Ok(Request {
        id: RequestId::new(7),
        nonce: RequestNonce::default(),
        requester: sample_address("dave")?,
        action: "certificate.sign".into(),
        resource: "web-01".into(),
        justification: "The certificate expires tomorrow.\nTicket has the details.".into(),
        reason: "Incident".into(),
        governance_code: "CHG-1234".into(),
        group: "pki-operators".into(),
        requested_window: requested,
        granted_window: if decisions.is_empty() {
            requested
        } else {
            narrowed
        },
        levels: vec![
            Level {
                approvers: vec![sample_address("alice")?, sample_address("bob")?],
                quorum: 1,
            },
            Level {
                approvers: vec![sample_address("carol")?],
                quorum: 1,
            },
        ],
        status,
        level,
        decisions,
        created_at: t0,
        deadline: t0 + Duration::hours(24),
        closed_at: (status != Status::Pending).then_some(t0 + Duration::minutes(9)),
        route: Route::Approvers,
        interventions: Vec::new(),
        require_comment: false,
        notify: Vec::new(),
        reminders: Vec::new(),
        reminders_sent: 0,
        escalations: Vec::new(),
        level_opened_at: None,
        escalated: Vec::new(),
        on_end: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    fn builtin(name: &str) -> &'static str {
        BUILTIN.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn sample_view_text(t: &Templates) -> Rendered {
        let r = sample_request(Status::Pending, 2).unwrap();
        let approver = sample_address("carol").unwrap();
        t.approval_request(&ApprovalView {
            request: &r,
            level: 2,
            approver: &approver,
            token: SAMPLE_TOKEN,
            from_name: "Access approvals",
            mailto_approve: "mailto:a@example.test?body=APPROVE",
            mailto_disapprove: "mailto:a@example.test?body=DISAPPROVE",
            decision_link: None,
        })
        .unwrap()
    }

    /// What Outlook's Word engine needs and dark mode asks for, in every
    /// HTML mail: a 600 px table only Outlook reads (others use the
    /// max-width wrapper), no `white-space` (Word ignores it; line breaks
    /// come from the `br` filter), and the colour-scheme declarations with
    /// dark colours. The rendering itself is checked in Chromium
    /// (`tests/e2e/pages.rs`).
    #[test]
    fn html_mails_follow_the_rules_for_outlook_and_dark_mode() {
        for (name, source) in BUILTIN.iter().filter(|(n, _)| n.ends_with(".html")) {
            assert!(!source.contains("white-space"), "{name}");
            assert!(
                source.contains("<!--[if mso]><table role=\"presentation\" width=\"600\""),
                "{name}"
            );
            assert!(
                source.contains("<meta name=\"color-scheme\" content=\"light dark\">"),
                "{name}"
            );
            assert!(
                source.contains("@media (prefers-color-scheme: dark)"),
                "{name}"
            );
        }
        let t = Templates::load(None).unwrap();
        let mut r = sample_request(Status::Pending, 1).unwrap();
        r.justification = "first line\nsecond <line>".into();
        let html = t.received(&r, "x").unwrap().html.unwrap();
        assert!(
            html.contains("first line<br>\nsecond &lt;line&gt;"),
            "{html}"
        );
    }

    #[test]
    fn builtin_templates_load_and_pass_validation() {
        let t = Templates::load(None).unwrap();
        let body = sample_view_text(&t);
        assert!(body.text.starts_with(REPLY_MARKER));
    }

    #[test]
    fn override_dir_wins_for_the_files_it_contains() {
        let custom = format!(
            "{REPLY_MARKER}\nCUSTOM {{{{ id }}}} for {{{{ approver }}}}\n{TOKEN_LINE_PREFIX}{{{{ token }}}}\n"
        );
        let dir = dir_with(&[(REQUEST_TXT, &custom), ("README.md", "not a template")]);
        let t = Templates::load(Some(dir.path())).unwrap();
        let body = sample_view_text(&t);
        assert_eq!(
            body.text,
            format!("{REPLY_MARKER}\nCUSTOM AR-7 for carol@example.test\n{TOKEN_LINE_PREFIX}{SAMPLE_TOKEN}\n")
        );
        let builtin_html = Templates::load(None)
            .map(|b| sample_view_text(&b).html)
            .unwrap();
        assert_eq!(
            body.html, builtin_html,
            "files not in the directory stay built-in"
        );
    }

    #[test]
    fn override_html_is_still_escaped() {
        let custom =
            format!("{REPLY_MARKER} {{{{ justification }}}} {TOKEN_LINE_PREFIX}{{{{ token }}}}");
        let dir = dir_with(&[(REQUEST_HTML, &custom)]);
        let t = Templates::load(Some(dir.path())).unwrap();
        let mut r = sample_request(Status::Pending, 1).unwrap();
        r.justification = "<b>bold</b>".into();
        let approver = sample_address("alice").unwrap();
        let html = t
            .approval_request(&ApprovalView {
                request: &r,
                level: 1,
                approver: &approver,
                token: SAMPLE_TOKEN,
                from_name: "x",
                mailto_approve: "mailto:a@example.test?body=APPROVE",
                mailto_disapprove: "mailto:a@example.test?body=DISAPPROVE",
                decision_link: None,
            })
            .unwrap()
            .html
            .unwrap();
        assert!(html.contains("&lt;b&gt;bold"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn broken_overrides_are_refused_at_load() {
        let marker_then =
            |body: &str| format!("{REPLY_MARKER}\n{body}\n{TOKEN_LINE_PREFIX}{{{{ token }}}}\n");
        /// Name, override files, and a text the error must contain.
        type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
        let cases: Vec<Case> = vec![
            (
                "syntax error",
                vec![(DECIDED_TXT, "{% if outcome %}unclosed".into())],
                DECIDED_TXT,
            ),
            (
                "misspelt variable",
                vec![(RECEIVED_HTML, "{{ requestor }}".into())],
                RECEIVED_HTML,
            ),
            (
                "misspelt variable in request",
                vec![(REQUEST_TXT, marker_then("{{ justifcation }}"))],
                REQUEST_TXT,
            ),
            (
                "unknown filter",
                vec![(EXPLANATION_TXT, "{{ why | shout }}".into())],
                EXPLANATION_TXT,
            ),
            (
                "marker not on the first line",
                vec![(
                    REQUEST_TXT,
                    format!("Hello\n{REPLY_MARKER}\n{TOKEN_LINE_PREFIX}{{{{ token }}}}"),
                )],
                "first line",
            ),
            (
                "token footer missing",
                vec![(REQUEST_TXT, format!("{REPLY_MARKER}\nno footer"))],
                "last line",
            ),
            (
                "token footer not last",
                vec![(REQUEST_TXT, marker_then("x") + "PS\n")],
                "last line",
            ),
            (
                "html without marker",
                vec![(REQUEST_HTML, format!("{TOKEN_LINE_PREFIX}{{{{ token }}}}"))],
                REQUEST_HTML,
            ),
            (
                "html without token",
                vec![(REQUEST_HTML, REPLY_MARKER.into())],
                REQUEST_HTML,
            ),
            (
                "misspelt file name",
                vec![("recieved.txt", "x".into())],
                "recieved.txt",
            ),
        ];
        for (name, files, want) in cases {
            let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
            let dir = dir_with(&files);
            let err = Templates::load(Some(dir.path())).err();
            let err = err.unwrap_or_else(|| panic!("{name}: accepted"));
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn unreadable_override_dir_or_file_is_refused() {
        let missing = Templates::load(Some(Path::new("/nonexistent/templates")))
            .err()
            .unwrap();
        assert!(missing.contains("/nonexistent/templates"), "{missing}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DECIDED_TXT), [0xff, 0xfe, b'x']).unwrap();
        let not_utf8 = Templates::load(Some(dir.path())).err().unwrap();
        assert!(not_utf8.contains(DECIDED_TXT), "{not_utf8}");
    }

    #[test]
    fn builtin_sources_are_the_shipped_files() {
        // Guards against a template being wired to the wrong file name.
        assert!(builtin(REQUEST_TXT).starts_with("{{ reply_marker }}"));
        assert!(builtin(REQUEST_HTML).contains("<html"));
        assert!(builtin(RECEIVED_TXT).contains("received"));
        assert!(builtin(DECIDED_TXT).contains("APPROVED"));
        assert!(builtin(EXPLANATION_TXT).contains("{{ why }}"));
    }
}
