//! The web UI in a real headless browser (chromium through chromedriver): a visitor
//! browses and searches without seeing a private organization's packages (not by
//! search, not by URL); alice signs in, finds and opens packages, creates a token the
//! npm client then reads her private package with, revokes it (npm is refused at
//! once), and signs out. The pages are screenshotted at laptop and phone widths.

use serde_json::json;
use wharf::db::tokens::Scope;
use wharf_tests::browser::{Browser, LAPTOP, PHONE};
use wharf_tests::npm::NpmEnv;
use wharf_tests::{TestServer, client, require_tool};

const TOOL_README: &str = "## Tool\n\n<img src=x onerror=\"alert(1)\">Run it.\n";
const README: &str = "# Widget\n\nA **widget** for tests.\n\n<script>alert('readme')</script>\n";

/// alice's public npm package `ui-widget` (two versions, a README) and generic
/// `ui-tool` (with a README.md), and `ui-secret` in her private organization `hidden`.
fn publish(server: &TestServer, token: &str) -> NpmEnv {
    let env = NpmEnv::new(server, "alice", Some(token));
    for version in ["1.0.0", "1.1.0"] {
        env.publish(
            json!({
                "name": "ui-widget", "version": version, "license": "MIT",
                "description": "A widget <b>for tests</b>",
                "homepage": "https://example.org/widget",
            }),
            &[("README.md", README.as_bytes())],
        );
    }
    server.org("hidden", "alice", true);
    let private = NpmEnv::new(server, "hidden", Some(token));
    private.publish(json!({ "name": "ui-secret", "version": "0.1.0" }), &[]);
    for (file, body) in [("tool.txt", "a tool"), ("README.md", TOOL_README)] {
        let put = client()
            .put(server.generic("alice", &format!("ui-tool/2.0/{file}")))
            .header("authorization", format!("token {token}"))
            .body(body)
            .send()
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());
    }
    env
}

/// npm reading `hidden`'s package with `token`: whether it succeeded.
fn npm_reads_private(server: &TestServer, token: &str) -> bool {
    let env = NpmEnv::new(server, "hidden", Some(token));
    let out = env.run("npm", env.home(), &["view", "ui-secret", "version"]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("0.1.0")
}

#[test]
fn browse_sign_in_manage_tokens_and_sign_out() {
    if !require_tool("npm") {
        return;
    }
    // The browser is async, the server and npm are blocking: each browser step runs
    // on this runtime, everything else on the test's thread.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    macro_rules! on {
        ($step:expr) => {
            runtime.block_on($step)
        };
    }
    let Some(browser) = runtime.block_on(Browser::start()) else {
        return;
    };
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let npm = publish(&server, &token);
    let url = |path: &str| format!("{}{path}", server.url);

    // A visitor: the public packages are listed, the private one is not, even when
    // searched for or opened by its URL.
    on!(browser.goto(&url("/")));
    let home = on!(browser.page_text());
    assert!(
        home.contains("ui-widget") && home.contains("ui-tool"),
        "{home}"
    );
    assert!(!home.contains("ui-secret"), "{home}");
    assert!(
        home.contains("2 packages"),
        "the private one is not counted: {home}"
    );
    on!(browser.screenshot("home"));
    on!(browser.fill("#site-search", "ui-secret"));
    on!(browser.click("form.search button"));
    assert!(on!(browser.page_text()).contains("0 packages"));
    for path in ["/-/packages/hidden/npm/ui-secret", "/-/owners/hidden"] {
        on!(browser.goto(&url(path)));
        let text = on!(browser.page_text());
        assert!(
            text.contains("Not Found") && !text.contains("0.1.0"),
            "{text}"
        );
    }

    // alice signs in (a wrong password first).
    on!(browser.goto(&url("/-/sign-in")));
    on!(browser.fill("#user", "alice"));
    on!(browser.fill("#password", "not-her-password"));
    on!(browser.click("form.stacked button"));
    let refused = on!(browser.page_text());
    assert!(
        refused.contains("invalid user name or password"),
        "{refused}"
    );
    on!(browser.fill("#password", "alice-password"));
    on!(browser.click("form.stacked button"));
    assert!(on!(browser.text("header .account")).contains("alice"));

    // She finds her private package by search and opens her public one.
    on!(browser.fill("#site-search", "ui-"));
    on!(browser.click("form.search button"));
    let found = on!(browser.page_text());
    assert!(
        found.contains("ui-secret") && found.contains("3 packages"),
        "{found}"
    );
    on!(browser.follow("ui-widget"));
    let page = on!(browser.page_text());
    for expected in [
        "1.0.0",
        "Versions (2)",
        "ui-widget-1.1.0.tgz",
        "A widget <b>for tests</b>", // the description, as text
        "https://example.org/widget",
        "MIT",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    assert_eq!(on!(browser.text(".readme h1")), "Widget", "README rendered");
    assert_eq!(
        on!(browser.count(".readme script, script")),
        0,
        "and sanitized"
    );
    // The install command as shown, copied into a shell: npm installs the package.
    let install = on!(browser.text("code[data-snippet=install]"));
    assert_eq!(install, "npm install ui-widget@1.1.0");
    let project = npm.project("copied");
    let out = npm.run("sh", &project, &["-c", &install]);
    assert!(out.status.success(), "{install}");
    assert!(project.join("node_modules/ui-widget/index.js").is_file());
    on!(browser.screenshot("package"));
    on!(browser.resize(PHONE));
    on!(browser.screenshot("package-phone"));
    on!(browser.resize(LAPTOP));
    on!(browser.follow("1.0.0"));
    assert!(on!(browser.page_text()).contains("Files of 1.0.0"));
    on!(browser.follow("alice"));
    let owner = on!(browser.page_text());
    assert!(
        owner.contains("ui-widget") && owner.contains("ui-tool"),
        "{owner}"
    );
    on!(browser.follow("ui-tool"));
    assert_eq!(
        on!(browser.text(".readme h2")),
        "Tool",
        "a generic README.md"
    );
    assert_eq!(on!(browser.count("[onerror]")), 0, "handlers are stripped");
    let download = on!(browser.text("code[data-snippet=install]"));
    let dir = tempfile::tempdir().unwrap();
    let out = wharf_tests::run(
        {
            let mut sh = std::process::Command::new("sh");
            sh.current_dir(dir.path()).args(["-c", &download]);
            sh
        },
        &download,
    );
    assert!(out.status.success(), "{download}");
    assert_eq!(
        std::fs::read(dir.path().join("tool.txt")).unwrap(),
        b"a tool"
    );

    // A token made in the browser works for npm until it is revoked.
    on!(browser.goto(&url("/-/tokens")));
    on!(browser.fill("#token-name", "laptop"));
    on!(browser.click("form.inline button"));
    let secret = on!(browser.text("#new-token"));
    assert!(secret.starts_with("wharf_"), "{secret}");
    on!(browser.screenshot("tokens"));
    assert!(npm_reads_private(&server, &secret), "the new token reads");
    on!(browser.click("button[aria-label='Revoke token laptop']"));
    let tokens = on!(browser.page_text());
    assert!(!tokens.contains("laptop"), "{tokens}");
    assert!(
        !npm_reads_private(&server, &secret),
        "the revoked token is refused"
    );

    // Signed out, the private package is hidden again.
    on!(browser.click("header .account button"));
    assert!(on!(browser.text("header .account")).contains("Sign in"));
    on!(browser.goto(&url("/-/packages/hidden/npm/ui-secret")));
    assert!(on!(browser.page_text()).contains("Not Found"));
    on!(browser.close());
}
