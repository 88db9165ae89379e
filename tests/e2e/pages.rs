//! Decision pages end to end: the link in the approval mail, fetched as a
//! link scanner would (GET, HEAD, no cookies) changes nothing; only a POST
//! of the page's own form, from its own origin, decides; forged, foreign
//! and replayed posts decide nothing.

use std::collections::HashMap;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::flow::{group, start_with, People, WAIT};
use crate::support::daemon_config::Level;
use crate::support::rsyslog::Rsyslog;
use crate::support::stack::skip_without_stack;

/// One HTTP/1.1 exchange on a fresh connection, as a link scanner would
/// make it (its User-Agent, no cookies): status, headers, body. A body is
/// a form unless `headers` give another Content-Type.
async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (u16, HashMap<String, String>, String) {
    let uri: hyper::Uri = url.parse().unwrap();
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", uri.authority().unwrap().as_str())
        .header("user-agent", "Mozilla/5.0 (compatible; link-scanner)");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The value of `<input ... name="NAME" value="...">` in `html`.
fn input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest.split('"').next()?.to_owned())
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A daemon serving decision pages on a free loopback port, with one group
/// where alice approves alone: the setup and the site's URL.
async fn start_with_pages(p: &People, extra: &str) -> (crate::flow::Setup, String) {
    let port = Rsyslog::free_port();
    let site = format!("http://127.0.0.1:{port}");
    let table = format!("[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{site}\"\n{extra}");
    let s = start_with(vec![group(p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.tables_extra.push(table)
    })
    .await;
    (s, site)
}

/// The decision page link in an approval mail's text.
fn page_link(mail: &crate::support::mailbox::Mail) -> String {
    let text = mail.text();
    text.lines()
        .find_map(|l| l.strip_prefix("ON THE WEB: ").map(|l| l.trim().to_owned()))
        .unwrap_or_else(|| panic!("no link in the mail:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_shows_the_request_and_only_its_own_forms_post_decides() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("pages");
    let (s, site) = start_with_pages(&p, "decide_by_link = true").await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let text = ask.text();
    let link = page_link(&ask);
    assert!(link.starts_with(&format!("{site}/d/")), "{link}");
    assert!(text.contains("only shows the request"), "{text}");

    // A scanner: GET and HEAD, no cookies. Nothing changes.
    let (status, headers, page) = http("GET", &link, &[], None).await;
    assert_eq!(status, 200, "{page}");
    for (name, want) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(headers.get(name).map(String::as_str), Some(want), "{name}");
    }
    let csp = headers.get("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    assert!(!page.contains("<script"), "no script on the page");
    assert!(
        page.contains(&id) && page.contains("TLS certificate expires tomorrow"),
        "{page}"
    );
    let (status, _, _) = http("HEAD", &link, &[], None).await;
    assert_eq!(status, 200);
    let before = s.get(&id).await;
    assert_eq!(before["status"], "pending");
    assert_eq!(before["decisions"], Value::Array(vec![]));

    let token = input(&page, "token").expect("the form carries the token");
    let guard = input(&page, "guard").expect("the form carries its guard");
    let good = form(&[
        ("token", &token),
        ("guard", &guard),
        ("verb", "approve"),
        ("comment", "fine by me"),
        ("window", ""),
    ]);
    let origin = [("origin", site.as_str())];

    // Forged and foreign posts decide nothing.
    let no_guard = form(&[("token", &token), ("guard", "00"), ("verb", "approve")]);
    let (status, _, body) = http("POST", &link, &origin, Some(no_guard)).await;
    assert_ne!(status, 200, "{body}");
    let (status, _, _) = http(
        "POST",
        &link,
        &[("origin", "https://evil.example.test")],
        Some(good.clone()),
    )
    .await;
    assert_eq!(status, 403, "a foreign origin");
    let (status, _, _) = http("POST", &link, &[], Some(good.clone())).await;
    assert_eq!(status, 403, "neither Origin nor Referer");
    let other = form(&[("token", "x"), ("guard", &guard), ("verb", "approve")]);
    let (status, _, _) = http("POST", &link, &origin, Some(other)).await;
    assert_eq!(status, 403, "a form for another token");
    assert_eq!(s.get(&id).await["decisions"], Value::Array(vec![]));

    // A person's click.
    let (status, _, body) = http("POST", &link, &origin, Some(good.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("your answer is recorded"), "{body}");
    let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
    assert_eq!(done["decisions"][0]["channel"], "link");
    assert_eq!(done["decisions"][0]["comment"], "fine by me");
    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" decision-accepted ") && l.contains(&id),
            WAIT,
        )
        .await;
    assert!(
        line.contains("sender not verified: a decision link"),
        "a link decision is audited as a bearer one: {line}"
    );

    // Replayed: nothing more.
    let (status, _, body) = http("POST", &link, &origin, Some(good)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(s.get(&id).await["decisions"].as_array().unwrap().len(), 1);
    let (_, _, again) = http("GET", &link, &[], None).await;
    assert!(again.contains("Access granted"), "{again}");
    assert!(
        !again.contains("value=\"approve\""),
        "no approve form once granted"
    );

    // The grant notice's revoke link: GET shows, only the POST revokes.
    let notice = crate::support::mailbox::Mailbox::new(s.stack, &p.alice)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&id) && m.subject().contains("Approved: access granted"),
            WAIT,
        )
        .await;
    let notice_text = notice.text();
    let revoke_link = notice_text
        .lines()
        .find_map(|l| l.strip_prefix("Or on the web (opening it changes nothing): "))
        .unwrap_or_else(|| panic!("no revoke link:\n{notice_text}"))
        .trim()
        .to_owned();
    let (status, _, revoke_page) = http("GET", &revoke_link, &[], None).await;
    assert_eq!(status, 200);
    assert!(revoke_page.contains("value=\"revoke\""), "{revoke_page}");
    assert_eq!(
        s.get(&id).await["status"],
        "approved",
        "a GET revokes nothing"
    );
    let revoke = form(&[
        ("token", &input(&revoke_page, "token").unwrap()),
        ("guard", &input(&revoke_page, "guard").unwrap()),
        ("verb", "revoke"),
        ("comment", "change cancelled"),
    ]);
    let (status, _, body) = http("POST", &revoke_link, &origin, Some(revoke)).await;
    assert_eq!(status, 200, "{body}");
    let revoked = s.daemon.wait_for_status(&id, "revoked", WAIT).await;
    assert_eq!(revoked["interventions"][0]["channel"], "link");
    assert_eq!(revoked["interventions"][0]["reason"], "change cancelled");

    let (status, _, _) = http("GET", &format!("{site}/d/not-a-token"), &[], None).await;
    assert_eq!(status, 404);
}

/// A key from `approvald api-key new`: its text and its config lines.
fn new_key(name: &str, role: &str) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_approvald"))
        .args(["api-key", "new", "--name", name, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text
        .lines()
        .find(|l| l.starts_with("apd_"))
        .unwrap()
        .to_owned();
    let config = text
        .split_once("[[api.keys]]")
        .map(|(_, rest)| format!("[[api.keys]]{rest}"))
        .unwrap();
    assert!(!config.contains(&key), "the config holds only the hash");
    (key, config)
}

/// A call on the API with `key` as the bearer and `body` as JSON.
async fn call(
    site: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, HashMap<String, String>, String) {
    let bearer = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let body = body.map(|b| b.to_string());
    http(method, &format!("{site}{path}"), &headers, body).await
}

/// The API on the listener: no key or an unknown key is 401, each role
/// may do its own calls and is refused the others with 403, all audited
/// with the key's name and never the key.
#[tokio::test(flavor = "multi_thread")]
async fn api_keys_and_roles_on_the_listener() {
    if skip_without_stack() {
        return;
    }
    let port = Rsyslog::free_port();
    let site = format!("http://127.0.0.1:{port}");
    let (portal, portal_cfg) = new_key("pki-portal", "integrator");
    let (auditor, auditor_cfg) = new_key("siem", "auditor");
    let (admin, admin_cfg) = new_key("ops", "admin");
    let p = People::new("apikeys");
    let tables = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{site}\"\n\n{portal_cfg}\n{auditor_cfg}\n{admin_cfg}"
    );
    // The keys belong to [api]: `[[api.keys]]` may follow other tables.
    let s = start_with(vec![group(&p, vec![Level::new(&[&p.alice], 1)])], |c| {
        c.tables_extra.push(tables)
    })
    .await;

    let (status, headers, _) = call(&site, "GET", "/v1/requests", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers.get("www-authenticate").map(String::as_str),
        Some("Bearer")
    );
    let (status, _, _) = call(&site, "GET", "/v1/requests", Some("apd_wrong"), None).await;
    assert_eq!(status, 401);

    let submission = crate::flow::submission(&p.dave);
    let (status, _, body) = call(
        &site,
        "POST",
        "/v1/requests",
        Some(&portal),
        Some(submission.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grants = format!(
        "/v1/grants?requester={}&action=certificate.sign&resource=web-01.example.test",
        p.dave.replace('@', "%40")
    );
    type Row<'a> = (&'a str, &'a str, String, &'a str, Option<Value>, u16);
    let rows: Vec<Row<'_>> = vec![
        (
            "integrator checks grants",
            "GET",
            grants.clone(),
            &portal,
            None,
            200,
        ),
        (
            "integrator shows a request",
            "GET",
            format!("/v1/requests/{id}"),
            &portal,
            None,
            200,
        ),
        (
            "integrator lists",
            "GET",
            "/v1/requests".into(),
            &portal,
            None,
            403,
        ),
        (
            "integrator overrides",
            "POST",
            format!("/v1/requests/{id}/override"),
            &portal,
            Some(serde_json::json!({"by": "x", "reason": "y", "status": "approved"})),
            403,
        ),
        (
            "auditor lists",
            "GET",
            "/v1/requests".into(),
            &auditor,
            None,
            200,
        ),
        (
            "auditor submits",
            "POST",
            "/v1/requests".into(),
            &auditor,
            Some(submission),
            403,
        ),
        ("auditor checks grants", "GET", grants, &auditor, None, 403),
        (
            "admin overrides",
            "POST",
            format!("/v1/requests/{id}/override"),
            &admin,
            Some(serde_json::json!({"by": "ops on call", "reason": "CAB", "status": "rejected"})),
            200,
        ),
    ];
    for (name, method, path, key, body, want) in rows {
        let (status, _, answer) = call(&site, method, &path, Some(key), body).await;
        assert_eq!(status, want, "{name}: {answer}");
    }
    assert_eq!(s.get(&id).await["status"], "rejected");

    // Without `decide_by_link` the page shows the request but no form, and
    // a posted approval is refused: answers come from the mailbox only.
    let id2 = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id2).await;
    let link = page_link(&ask);
    let (status, _, page) = http("GET", &link, &[], None).await;
    assert_eq!(status, 200);
    assert!(!page.contains("value=\"approve\""), "{page}");
    assert!(page.contains("reply to the approval mail"), "{page}");
    let token = link.rsplit('/').next().unwrap();
    let post = form(&[("token", token), ("guard", "x"), ("verb", "approve")]);
    let (status, _, _) = http("POST", &link, &[("origin", site.as_str())], Some(post)).await;
    assert_eq!(status, 403);
    assert_eq!(s.get(&id2).await["status"], "pending");

    let line = s
        .syslog
        .wait_for(
            |l| l.contains(" action-refused ") && l.contains("key siem (auditor)"),
            WAIT,
        )
        .await;
    assert!(
        !line.contains(&auditor),
        "the key never reaches the audit trail"
    );
    let lines = s.syslog.lines().join("\n");
    for key in [&portal, &auditor, &admin] {
        assert!(
            !lines.contains(key.as_str()),
            "a key leaked into the audit trail"
        );
    }
}

/// The daemon serves the committed OpenAPI description, and each route it
/// documents answers with a status it documents (here: the refusals and
/// the plain reads, which need no setup).
#[tokio::test(flavor = "multi_thread")]
async fn the_served_openapi_is_the_committed_one_and_routes_answer_as_documented() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("openapi");
    let s = crate::flow::start(vec![group(&p, vec![Level::new(&[&p.alice], 1)])]).await;
    let (status, served) = s.daemon.request("GET", "/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);
    let documented = |path: &str, method: &str, status: u16| {
        committed["paths"][path][method]["responses"]
            .get(status.to_string())
            .is_some()
    };
    let calls: [(&str, &str, &str, Option<&[u8]>); 7] = [
        ("GET", "/v1/requests", "/v1/requests", None),
        ("GET", "/v1/requests?status=nope", "/v1/requests", None),
        ("GET", "/v1/requests/AR-999", "/v1/requests/{id}", None),
        ("POST", "/v1/requests", "/v1/requests", Some(b"{}")),
        (
            "POST",
            "/v1/requests/AR-999/cancel",
            "/v1/requests/{id}/cancel",
            Some(b"{\"by\":\"a\",\"reason\":\"b\"}"),
        ),
        (
            "POST",
            "/v1/requests/AR-999/override",
            "/v1/requests/{id}/override",
            Some(b"{\"by\":\"a\",\"reason\":\"b\",\"status\":\"x\"}"),
        ),
        (
            "GET",
            "/v1/grants?requester=a%40example.test",
            "/v1/grants",
            None,
        ),
    ];
    for (method, uri, path, body) in calls {
        let (status, answer) = s.daemon.request(method, uri, body).await;
        assert!(
            documented(path, &method.to_lowercase(), status),
            "{method} {uri} answered {status}, not documented: {answer}"
        );
    }
}

/// Headless Chromium driven over WebDriver (chromium-driver), 390×844,
/// in dark mode when asked. `None` (the test skips) when chromedriver is
/// not installed, unless the end-to-end tests are required.
struct Browser {
    client: fantoccini::Client,
    driver: std::process::Child,
}

impl Browser {
    async fn start(dark: bool) -> Option<Browser> {
        let Some(driver_bin) = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            let required = std::env::var("APPROVALD_E2E_REQUIRED").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "chromium-driver is not installed (scripts/install-deps installs it)"
            );
            eprintln!("SKIPPED: no chromedriver; install chromium-driver to run the browser tests");
            return None;
        };
        let port = Rsyslog::free_port();
        let driver = std::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let profile = format!("/tmp/approvald-chromium-{port}");
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=390,844".into(),
            format!("--user-data-dir={profile}"),
        ];
        if dark {
            args.push("--force-dark-mode".into());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args }),
        );
        // The WebDriver client's TLS stack (unused on this plain-HTTP
        // connection) needs a provider chosen.
        rustls::crypto::ring::default_provider()
            .install_default()
            .ok();
        let client = fantoccini::ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        Some(Browser { client, driver })
    }

    async fn stop(mut self) {
        self.client.close().await.ok();
        self.driver.kill().ok();
        self.driver.wait().ok();
    }
}

/// Where the browser tests write their screenshots.
fn output_dir() -> std::path::PathBuf {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-output");
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// The approval mail's and a notice's HTML, as an approver's mail app
/// would show them, render in Chromium on a 390 px phone and a 600 px
/// desktop, light and dark: nothing wider than the screen, and in dark
/// mode dark backgrounds with light text. Screenshots go to
/// `target/e2e-output/mail-*.png`.
#[tokio::test(flavor = "multi_thread")]
async fn mails_render_on_phone_and_desktop_widths_in_light_and_dark() {
    if skip_without_stack() {
        return;
    }
    let p = People::new("render");
    let (s, _) = start_with_pages(&p, "").await;
    let id = s.submit(&p.dave).await;
    let ask = s.approval_mail(&p.alice, &id).await;
    let out = output_dir();
    let approval = out.join("mail-approval.html");
    std::fs::write(&approval, ask.html().unwrap()).unwrap();
    s.reply(&ask, &p.alice, "APPROVE").await;
    let granted = crate::support::mailbox::Mailbox::new(s.stack, &p.alice)
        .wait_for(
            "INBOX",
            |m| m.subject().contains(&id) && m.subject().contains("Approved: access granted"),
            WAIT,
        )
        .await;
    let notice = out.join("mail-notice.html");
    std::fs::write(&notice, granted.html().unwrap()).unwrap();
    for dark in [false, true] {
        let Some(browser) = Browser::start(dark).await else {
            return;
        };
        let client = &browser.client;
        let pages = [("approval", &approval), ("notice", &notice)];
        for (width, (kind, file)) in [390u32, 600]
            .into_iter()
            .flat_map(|w| pages.map(|page| (w, page)))
        {
            client.set_window_size(width, 844).await.unwrap();
            client
                .goto(&format!("file://{}", file.display()))
                .await
                .unwrap();
            let facts = client
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth, \
                     matchMedia('(prefers-color-scheme: dark)').matches, \
                     getComputedStyle(document.body).backgroundColor, \
                     getComputedStyle(document.querySelector('h1')).color];",
                    vec![],
                )
                .await
                .unwrap();
            let scroll = facts[0].as_u64().unwrap();
            let inner = facts[1].as_u64().unwrap();
            assert!(
                scroll <= inner,
                "{kind} {width}px dark={dark}: {scroll} wide in {inner}"
            );
            assert_eq!(facts[2].as_bool(), Some(dark), "dark mode as asked");
            let rgb = |v: &Value| -> Vec<u32> {
                v.as_str()
                    .unwrap()
                    .trim_start_matches("rgba(")
                    .trim_start_matches("rgb(")
                    .trim_end_matches(')')
                    .split(',')
                    .take(3)
                    .map(|c| c.trim().parse().unwrap())
                    .collect()
            };
            let (bg, fg) = (rgb(&facts[3]), rgb(&facts[4]));
            let light = |c: &[u32]| c.iter().sum::<u32>() > 3 * 128;
            assert_eq!(light(&bg), !dark, "background {bg:?} dark={dark}");
            assert_eq!(light(&fg), dark, "text {fg:?} dark={dark}");
            let png = client.screenshot().await.unwrap();
            let mode = if dark { "dark" } else { "light" };
            std::fs::write(out.join(format!("mail-{kind}-{width}-{mode}.png")), png).unwrap();
        }
        browser.stop().await;
    }
}

/// A real browser: Debian's headless Chromium, driven over WebDriver
/// (chromium-driver), opens the link from the mail on a 390×844 phone
/// screen, types a comment and clicks Approve; the request is approved by
/// that click. A screenshot of the page goes to
/// `target/e2e-output/decision-page-390x844.png`.
#[tokio::test(flavor = "multi_thread")]
async fn in_a_real_browser_a_person_opens_the_link_and_clicks_approve() {
    if skip_without_stack() {
        return;
    }
    let Some(browser) = Browser::start(false).await else {
        return;
    };
    let p = People::new("browser");
    let (s, _) = start_with_pages(&p, "decide_by_link = true").await;
    let id = s.submit(&p.dave).await;
    let link = page_link(&s.approval_mail(&p.alice, &id).await);
    let run = async {
        let client = &browser.client;
        client.goto(&link).await.unwrap();
        let png = client.screenshot().await.unwrap();
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-output");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("decision-page-390x844.png"), &png).unwrap();
        assert_eq!(
            s.get(&id).await["status"],
            "pending",
            "opening the page decides nothing"
        );
        // The style sheet passed the Content-Security-Policy (its hash
        // matches): the Approve button is green.
        let colour = client
            .find(fantoccini::Locator::Css("button.approve"))
            .await
            .unwrap()
            .css_value("background-color")
            .await
            .unwrap();
        assert_eq!(
            colour, "rgba(30, 123, 52, 1)",
            "the page's own style is blocked"
        );
        client
            .find(fantoccini::Locator::Id("comment"))
            .await
            .unwrap()
            .send_keys("checked the change ticket")
            .await
            .unwrap();
        client
            .find(fantoccini::Locator::Css("button.approve"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let done = s.daemon.wait_for_status(&id, "approved", WAIT).await;
        let body = client
            .find(fantoccini::Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (done, body)
    };
    let (done, body) = run.await;
    browser.stop().await;
    assert_eq!(done["decisions"][0]["channel"], "link");
    assert_eq!(done["decisions"][0]["comment"], "checked the change ticket");
    assert!(body.contains("your answer is recorded"), "{body}");
}
