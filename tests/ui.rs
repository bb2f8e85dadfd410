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

const README: &str = "# Widget\n\nA **widget** for tests.\n\n<script>alert('readme')</script>\n";

/// alice's public npm package `ui-widget` (two versions, a README) and generic
/// `ui-tool`, and `ui-secret` in her private organization `hidden`.
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
    let put = client()
        .put(server.generic("alice", "ui-tool/2.0/tool.txt"))
        .header("authorization", format!("token {token}"))
        .body("a tool")
        .send()
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
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
    publish(&server, &token);
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
        "ui-widget",
        "1.1.0",
        "1.0.0",
        "Versions (2)",
        "ui-widget-1.1.0.tgz",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    assert!(!page.contains("alert('readme')") || !page.contains("<script"));
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
