//! The web UI in a real headless browser (chromium through chromedriver): a visitor
//! browses and searches without seeing a private organization's packages (not by
//! search, not by URL); alice signs in by keyboard, finds and opens a package of every
//! bundled format and copies its install command (the copied npm command then installs
//! the package), creates a token the npm client then reads her private package with,
//! revokes it (npm is refused at once), and signs out. The main pages are checked at a
//! phone's width (nothing scrolls sideways, fields labelled, headings in order) and
//! screenshotted at laptop and phone widths.

mod formats;
mod layout;

use fantoccini::key::Key;
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
fn browse_sign_in_copy_manage_tokens_and_sign_out() {
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
    let server = formats::server();
    let token = server.user("alice", Scope::Write);
    let npm = publish(&server, &token);
    let others = formats::publish(&server, &token);
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
        home.contains("8 packages"),
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

    // alice signs in: a wrong password first, then by keyboard alone, from the top of
    // the page (Tab to each field, Enter submits), the focus visible on the way.
    on!(browser.goto(&url("/-/sign-in")));
    on!(browser.fill("#user", "alice"));
    on!(browser.fill("#password", "not-her-password"));
    on!(browser.click("form.stacked button"));
    let refused = on!(browser.page_text());
    assert!(
        refused.contains("invalid user name or password"),
        "{refused}"
    );
    on!(browser.goto(&url("/-/sign-in")));
    on!(browser.resize(PHONE));
    on!(layout::check(&browser, "the sign-in page"));
    on!(browser.screenshot("sign-in-phone"));
    on!(browser.tab_to("#user", 10));
    assert!(on!(layout::focus_is_visible(&browser)), "the user field");
    on!(browser.keys("alice"));
    on!(browser.tab_to("#password", 1));
    assert!(
        on!(layout::focus_is_visible(&browser)),
        "the password field"
    );
    on!(browser.keys("alice-password"));
    on!(browser.key_loading(Key::Enter));
    assert!(on!(browser.text("header .account")).contains("alice"));
    on!(browser.resize(LAPTOP));

    // She finds her private package by search and opens her public one.
    on!(browser.fill("#site-search", "ui-"));
    on!(browser.click("form.search button"));
    let found = on!(browser.page_text());
    assert!(
        found.contains("ui-secret") && found.contains("8 packages"),
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
    assert_eq!(
        on!(browser.text(".readme h3")),
        "Widget",
        "README rendered, its headings under the page's"
    );
    assert_eq!(
        on!(browser.count(".readme script, script:not([src])")),
        0,
        "and sanitized; the page's one script is a file"
    );
    // The install command, copied with its button and pasted into a shell: npm
    // installs the package.
    let install = on!(browser.copy("code[data-snippet=install]"));
    assert_eq!(install, "npm install ui-widget@1.1.0");
    let project = npm.project("copied");
    let out = npm.run("sh", &project, &["-c", &install]);
    assert!(out.status.success(), "{install}");
    assert!(project.join("node_modules/ui-widget/index.js").is_file());
    on!(browser.screenshot("package"));
    on!(browser.resize(PHONE));
    on!(layout::check(&browser, "the npm package's page"));
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
        on!(browser.text(".readme h3")),
        "Tool",
        "a generic README.md"
    );
    assert_eq!(on!(browser.count("[onerror]")), 0, "handlers are stripped");
    let download = on!(browser.copy("code[data-snippet=install]"));
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

    // Every other format's package, found in her list filtered by its format: its page
    // points that format's client at this registry, and its install command copies.
    for expected in &others {
        let listed = format!("/-/owners/alice?type={}", expected.format);
        on!(browser.goto(&url(&listed)));
        on!(browser.follow(&expected.listed));
        let what = format!("the {} package's page", expected.format);
        let snippets = on!(browser.texts("code[data-snippet]"));
        assert!(
            snippets.iter().any(|s| s.contains(&expected.registry)),
            "{what} names {}: {snippets:#?}",
            expected.registry
        );
        let copied = on!(browser.copy("code[data-snippet=install]"));
        assert_eq!(
            copied, expected.install,
            "{what}: the install command copied"
        );
        on!(browser.resize(PHONE));
        on!(layout::check(&browser, &what));
        on!(browser.resize(LAPTOP));
    }

    // A token made in the browser works for npm until it is revoked.
    on!(browser.goto(&url("/-/tokens")));
    on!(browser.fill("#token-name", "laptop"));
    on!(browser.click("form.inline button"));
    let secret = on!(browser.text("#new-token"));
    assert!(secret.starts_with("wharf_"), "{secret}");
    assert_eq!(on!(browser.copy("#new-token")), secret, "the secret copies");
    on!(browser.screenshot("tokens"));
    on!(browser.resize(PHONE));
    on!(layout::check(&browser, "my tokens"));
    on!(browser.screenshot("tokens-phone"));
    on!(browser.resize(LAPTOP));
    assert!(npm_reads_private(&server, &secret), "the new token reads");
    on!(browser.click("button[aria-label='Revoke token laptop']"));
    let tokens = on!(browser.page_text());
    assert!(!tokens.contains("laptop"), "{tokens}");
    assert!(
        !npm_reads_private(&server, &secret),
        "the revoked token is refused"
    );

    // The other main pages fit a phone too.
    on!(browser.resize(PHONE));
    for (path, what) in [
        ("/", "the home page"),
        ("/?q=ui-", "a search"),
        ("/-/owners/alice", "alice's packages"),
        ("/-/owners/hidden/members", "an organization's members"),
        (
            "/-/packages/alice/npm/ui-widget/versions/1.0.0",
            "a version's page",
        ),
    ] {
        on!(browser.goto(&url(path)));
        on!(layout::check(&browser, what));
    }
    on!(browser.goto(&url("/")));
    on!(browser.screenshot("home-phone"));
    on!(browser.resize(LAPTOP));

    // Signed out, the private package is hidden again.
    on!(browser.click("header .account button"));
    assert!(on!(browser.text("header .account")).contains("Sign in"));
    on!(browser.goto(&url("/-/packages/hidden/npm/ui-secret")));
    assert!(on!(browser.page_text()).contains("Not Found"));
    on!(browser.close());
}
