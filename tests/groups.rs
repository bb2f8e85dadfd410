//! Group repositories that receive writes (issue 21, `[groups.NAME] write_to`), with the
//! real npm: a publish to the group's URL is stored under its `write_to` member and
//! installs through the group at once; who may not write the member is refused as on
//! the member's own URL; a group without `write_to` stays read-only. (twine's upload to
//! a PyPI group is in `pypi.rs`, beside its helpers.)

use serde_json::{Value, json};
use wharf::db::tokens::Scope;
use wharf_tests::npm::{NpmEnv, installed_version};
use wharf_tests::{StatusCode, TestServer, client, repositories, require_tool, said};

/// The group publishes go through: acme (which receives them), then shared.
const GROUP: &str = "npm-all";
/// A group of acme without `write_to`.
const FROZEN: &str = "npm-frozen";

/// A Wharf with organizations acme (alice writes it) and shared (bob's, with
/// `shared-dep@1.0.0`), and the two groups; or `None` (reason printed) without npm.
fn server() -> Option<TestServer> {
    if !require_tool("npm") {
        return None;
    }
    let server = TestServer::builder()
        .user("alice")
        .user("bob")
        .toml(
            repositories::group(GROUP, "npm", &["acme", "shared"], &["write_to = \"acme\""])
                + &repositories::group(FROZEN, "npm", &["acme"], &[]),
        )
        .start();
    server.org("acme", "alice", false);
    server.org("shared", "bob", false);
    let bob = server.token("bob", Scope::Write, None);
    NpmEnv::new(&server, "shared", Some(&bob))
        .publish(json!({ "name": "shared-dep", "version": "1.0.0" }), &[]);
    Some(server)
}

/// `name`'s packument as `owner` serves it (status, document).
fn packument(server: &TestServer, owner: &str, name: &str) -> (StatusCode, Value) {
    let url = format!("{}{}", server.npm_registry(owner), name.replace('/', "%2f"));
    let res = client().get(url).send().unwrap();
    let status = res.status();
    (status, res.json().unwrap_or(Value::Null))
}

/// `@acme/tool` (requiring `shared-dep`) published at the group's URL is acme's, npm
/// installs it through the group with its dependency from the other member, a second
/// version and a dist-tag set through the group show in the group's packument at once.
#[test]
fn npm_publishes_to_a_group_and_installs_through_it() {
    let Some(server) = server() else { return };
    let alice = server.token("alice", Scope::Write, None);
    let publisher = NpmEnv::for_registry(&server.npm_registry(GROUP), Some(&alice));
    let tool = |version: &str| {
        json!({ "name": "@acme/tool", "version": version,
                "dependencies": { "shared-dep": "^1.0.0" } })
    };
    publisher.publish(
        tool("1.0.0"),
        &[(
            "index.js",
            b"module.exports = \"@acme/tool with \" + require(\"shared-dep\");\n",
        )],
    );
    let (status, stored) = packument(&server, "acme", "@acme/tool");
    assert_eq!(status, StatusCode::OK, "stored under acme");
    assert_eq!(stored["dist-tags"]["latest"], "1.0.0");
    assert_eq!(
        packument(&server, "shared", "@acme/tool").0,
        StatusCode::NOT_FOUND
    );

    let installer = NpmEnv::for_registry(&server.npm_registry(GROUP), None);
    let project = installer.project("consumer");
    installer.npm(&project, &["install", "@acme/tool"]);
    assert_eq!(installed_version(&project, "@acme/tool"), "1.0.0");
    let out = installer.run(
        "node",
        &project,
        &["-e", "console.log(require('@acme/tool'))"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "@acme/tool with shared-dep@1.0.0"
    );

    // The group's packument is merged from the members' on each read: the next
    // version and a dist-tag show at once.
    publisher.publish(tool("1.1.0"), &[]);
    let home = publisher.home().to_path_buf();
    publisher.npm(&home, &["dist-tag", "add", "@acme/tool@1.0.0", "stable"]);
    let (status, merged) = packument(&server, GROUP, "@acme/tool");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(merged["dist-tags"]["latest"], "1.1.0");
    assert_eq!(merged["dist-tags"]["stable"], "1.0.0");
    let later = installer.project("later");
    installer.npm(&later, &["install", "@acme/tool@stable", "--prefer-online"]);
    assert_eq!(installed_version(&later, "@acme/tool"), "1.0.0");
}

/// bob (no member of acme), alice's read token and no token at all are refused as at
/// acme's URL (403, 403, 401); the admin's publish to a group without `write_to` gets
/// 405. Nothing is stored.
#[test]
fn publishes_through_a_group_are_authorized_against_its_member() {
    let Some(server) = server() else { return };
    let bob = server.token("bob", Scope::Write, None);
    let alice_read = server.token("alice", Scope::Read, None);
    let refused = |registry: &str, token: Option<&str>, expected: &[&str]| {
        let env = NpmEnv::for_registry(registry, token);
        let dir = env.package(json!({ "name": "@acme/refused", "version": "1.0.0" }));
        let out = env.run("npm", &dir, &["publish"]);
        assert!(!out.status.success(), "{registry} with {token:?}");
        let said = said(&out);
        for word in expected {
            assert!(said.contains(word), "{word:?} in {said}");
        }
    };
    let group = server.npm_registry(GROUP);
    refused(
        &group,
        Some(&bob),
        &["403", "may not write packages of \"acme\""],
    );
    refused(&group, Some(&alice_read), &["403", "read scope"]);
    // npm answers a 401 by asking for a login.
    refused(&group, None, &["ENEEDAUTH"]);
    let anonymous = client()
        .put(format!("{group}@acme%2frefused"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let frozen = server.npm_registry(FROZEN);
    refused(
        &frozen,
        Some(&server.admin_token),
        &["405", "npm-frozen is a group repository"],
    );
    for owner in ["acme", GROUP] {
        let (status, _) = packument(&server, owner, "@acme/refused");
        assert_eq!(status, StatusCode::NOT_FOUND, "{owner}");
    }
}
