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
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let Some(browser) = Browser::start().await else {
            return;
        };
        let server = TestServer::start();
        let token = server.user("alice", Scope::Write);
        publish(&server, &token);
        let url = |path: &str| format!("{}{path}", server.url);

        // A visitor: the public packages are listed, the private one is not, even when
        // searched for or opened by its URL.
        browser.goto(&url("/")).await;
        let home = browser.page_text().await;
        assert!(
            home.contains("ui-widget") && home.contains("ui-tool"),
            "{home}"
        );
        assert!(!home.contains("ui-secret"), "{home}");
        assert!(
            home.contains("2 packages"),
            "the private one is not counted: {home}"
        );
        browser.screenshot("home").await;
        browser.fill("#site-search", "ui-secret").await;
        browser.click("form.search button").await;
        assert!(browser.page_text().await.contains("0 packages"));
        for path in ["/-/packages/hidden/npm/ui-secret", "/-/owners/hidden"] {
            browser.goto(&url(path)).await;
            let text = browser.page_text().await;
            assert!(
                text.contains("Not Found") && !text.contains("0.1.0"),
                "{text}"
            );
        }

        // alice signs in (a wrong password first).
        browser.goto(&url("/-/sign-in")).await;
        browser.fill("#user", "alice").await;
        browser.fill("#password", "not-her-password").await;
        browser.click("form.stacked button").await;
        assert!(
            browser
                .page_text()
                .await
                .contains("invalid user name or password")
        );
        browser.fill("#password", "alice-password").await;
        browser.click("form.stacked button").await;
        assert!(browser.text("header .account").await.contains("alice"));

        // She finds her private package by search and opens her public one.
        browser.fill("#site-search", "ui-").await;
        browser.click("form.search button").await;
        let found = browser.page_text().await;
        assert!(
            found.contains("ui-secret") && found.contains("3 packages"),
            "{found}"
        );
        browser.follow("ui-widget").await;
        let page = browser.page_text().await;
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
        browser.screenshot("package").await;
        browser.resize(PHONE).await;
        browser.screenshot("package-phone").await;
        browser.resize(LAPTOP).await;
        browser.follow("1.0.0").await;
        assert!(browser.page_text().await.contains("Files of 1.0.0"));
        browser.follow("alice").await;
        let owner = browser.page_text().await;
        assert!(
            owner.contains("ui-widget") && owner.contains("ui-tool"),
            "{owner}"
        );

        // A token made in the browser works for npm until it is revoked.
        browser.goto(&url("/-/tokens")).await;
        browser.fill("#token-name", "laptop").await;
        browser.click("form.inline button").await;
        let secret = browser.text("#new-token").await;
        assert!(secret.starts_with("wharf_"), "{secret}");
        browser.screenshot("tokens").await;
        assert!(npm_reads_private(&server, &secret), "the new token reads");
        browser
            .click("button[aria-label='Revoke token laptop']")
            .await;
        let tokens = browser.page_text().await;
        assert!(!tokens.contains("laptop"), "{tokens}");
        assert!(
            !npm_reads_private(&server, &secret),
            "the revoked token is refused"
        );

        // Signed out, the private package is hidden again.
        browser.click("header .account button").await;
        assert!(browser.text("header .account").await.contains("Sign in"));
        browser.goto(&url("/-/packages/hidden/npm/ui-secret")).await;
        assert!(browser.page_text().await.contains("Not Found"));
        browser.close().await;
    });
}
