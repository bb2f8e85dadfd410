//! The auth matrix on the generic format: anonymous, read and write tokens, wrong
//! owner, organizations and their roles, private owners, every credential form.

use wharf::db::owners::Role;
use wharf::db::tokens::Scope;
use wharf_tests::{ADMIN_PASSWORD, StatusCode, TestServer, client, next_number};

fn put(
    server: &TestServer,
    owner: &str,
    auth: Option<(&str, String)>,
) -> reqwest::blocking::Response {
    let mut req = client()
        .put(server.generic(owner, &format!("pkg/1/{}.bin", next_number())))
        .body("data");
    if let Some((name, value)) = auth {
        req = req.header(name, value);
    }
    req.send().unwrap()
}

fn token(t: &str) -> Option<(&'static str, String)> {
    Some(("Authorization", format!("token {t}")))
}

fn basic(user: &str, secret: &str) -> Option<(&'static str, String)> {
    Some(("Authorization", wharf_tests::basic(user, secret)))
}

#[test]
fn anonymous_reads_public_but_cannot_write() {
    let server = TestServer::start();
    let res = put(&server, "admin", None);
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"Wharf Package API\""
    );

    assert_eq!(
        put(&server, "admin", token(&server.admin_token)).status(),
        StatusCode::CREATED
    );
    let res = client()
        .get(server.generic("admin", "pkg/1/0.bin"))
        .send()
        .unwrap();
    assert!(res.status() == StatusCode::OK || res.status() == StatusCode::NOT_FOUND);
}

#[test]
fn scopes_and_owners() {
    let server = TestServer::start();
    let alice_write = server.user("alice", Scope::Write);
    let alice_read = server.token("alice", Scope::Read, None);
    let bob_write = server.user("bob", Scope::Write);

    assert_eq!(
        put(&server, "alice", token(&alice_write)).status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, "alice", token(&alice_read)).status(),
        StatusCode::FORBIDDEN,
        "read scope cannot write"
    );
    assert_eq!(
        put(&server, "alice", token(&bob_write)).status(),
        StatusCode::FORBIDDEN,
        "wrong owner"
    );
    assert_eq!(
        put(&server, "bob", token(&alice_write)).status(),
        StatusCode::FORBIDDEN,
        "wrong owner"
    );
    // Site admins may write anywhere.
    assert_eq!(
        put(&server, "alice", token(&server.admin_token)).status(),
        StatusCode::CREATED
    );

    let bad = put(
        &server,
        "alice",
        token("wharf_0000000000000000000000000000000000000000"),
    );
    assert_eq!(
        bad.status(),
        StatusCode::UNAUTHORIZED,
        "unknown tokens are refused, not treated as anonymous"
    );
    let expired = server.token("alice", Scope::Write, Some(1));
    assert_eq!(
        put(&server, "alice", token(&expired)).status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn every_credential_form() {
    let server = TestServer::start();
    let t = server.user("carol", Scope::Write);
    assert_eq!(
        put(&server, "carol", token(&t)).status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(
            &server,
            "carol",
            Some(("Authorization", format!("Bearer {t}")))
        )
        .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, "carol", basic("carol", &t)).status(),
        StatusCode::CREATED,
        "Basic user:token"
    );
    assert_eq!(
        put(&server, "carol", basic("anything", &t)).status(),
        StatusCode::CREATED,
        "Basic any:token"
    );
    assert_eq!(
        put(&server, "carol", basic(&t, "x-oauth-basic")).status(),
        StatusCode::CREATED,
        "Basic token:x"
    );
    assert_eq!(
        put(&server, "carol", basic("carol", "carol-password")).status(),
        StatusCode::CREATED,
        "password"
    );
    assert_eq!(
        put(&server, "carol", Some(("X-NuGet-ApiKey", t.clone()))).status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, "carol", basic("carol", "wrong")).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        put(&server, "admin", basic("admin", ADMIN_PASSWORD)).status(),
        StatusCode::CREATED
    );
}

#[test]
fn organizations_and_private_owners() {
    let server = TestServer::start();
    let dana = server.user("dana", Scope::Write);
    let erin = server.user("erin", Scope::Write);
    let frank = server.user("frank", Scope::Write);
    server.org("team", "dana", true);
    server.add_member("team", "erin", Role::Read);

    assert_eq!(
        put(&server, "team", token(&dana)).status(),
        StatusCode::CREATED,
        "org admin writes"
    );
    assert_eq!(
        put(&server, "team", token(&erin)).status(),
        StatusCode::FORBIDDEN,
        "read member cannot write"
    );
    assert_eq!(
        put(&server, "team", token(&frank)).status(),
        StatusCode::FORBIDDEN,
        "non-member"
    );

    let uploaded = client()
        .put(server.generic("team", "private/1/file.bin"))
        .header("Authorization", format!("token {dana}"))
        .body("secret")
        .send()
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);

    let get = |auth: Option<&str>| {
        let mut req = client().get(server.generic("team", "private/1/file.bin"));
        if let Some(t) = auth {
            req = req.header("Authorization", format!("token {t}"));
        }
        req.send().unwrap().status()
    };
    assert_eq!(
        get(None),
        StatusCode::UNAUTHORIZED,
        "private owner, anonymous"
    );
    assert_eq!(
        get(Some(&frank)),
        StatusCode::FORBIDDEN,
        "private owner, non-member"
    );
    assert_eq!(get(Some(&erin)), StatusCode::OK, "read member");
    assert_eq!(get(Some(&dana)), StatusCode::OK);

    server.add_member("team", "erin", Role::Write);
    assert_eq!(
        put(&server, "team", token(&erin)).status(),
        StatusCode::CREATED,
        "promoted to write"
    );
}
