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
    // A format's own credential header counts only where its plugin declares it
    // (NuGet's pushes cover that); to the generic format it is no credential at all.
    assert_eq!(
        put(&server, "carol", Some(("X-NuGet-ApiKey", t.clone()))).status(),
        StatusCode::UNAUTHORIZED
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

/// The value of a Basic Authorization header.
fn basic_value(user: &str, secret: &str) -> String {
    basic(user, secret).unwrap().1
}

fn get_with(url: &str, authorization: &str) -> reqwest::blocking::Response {
    client()
        .get(url)
        .header("authorization", authorization)
        .send()
        .unwrap()
}

#[test]
fn failed_sign_ins_are_limited_with_retry_after_in_each_formats_error_shape() {
    // Long enough that every check below lands in the window on a loaded machine (each
    // failure costs an argon2 check; on PostgreSQL each request a round trip or more).
    const WINDOW_SECS: u64 = 6;
    let server = TestServer::builder()
        .server(|s| {
            s.login_failures_per_user = 3;
            s.login_failures_per_address = 0;
            s.login_window_secs = WINDOW_SECS;
        })
        .start();
    let first_failure = std::time::Instant::now();
    for _ in 0..3 {
        let res = put(&server, "admin", basic("admin", "wrong"));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let wrong = basic_value("admin", "wrong");
    // Generic: plain text.
    let res = put(&server, "admin", basic("admin", "wrong"));
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=WINDOW_SECS).contains(&retry), "{retry}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(res.text().unwrap().contains("too many failed sign-ins"));
    // npm: its JSON `error` field.
    let res = get_with(
        &format!("{}/api/packages/admin/npm/pkg", server.url),
        &wrong,
    );
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // OCI: `errors[]` with the distribution spec's code.
    let res = get_with(&format!("{}/v2/", server.url), &wrong);
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = res.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS", "{body}");
    // The management API: JSON `message`.
    let res = get_with(&format!("{}/api/v1/packages/admin", server.url), &wrong);
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = res.json().unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // While the window lasts even the right password waits: guessing must not go on.
    assert_eq!(
        put(&server, "admin", basic("admin", ADMIN_PASSWORD)).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another user is not affected.
    server.user("erin", Scope::Write);
    assert_eq!(
        put(&server, "erin", basic("erin", "erin-password")).status(),
        StatusCode::CREATED
    );
    // The window opened at the first failure, counted in whole seconds.
    let closed = std::time::Duration::from_millis(WINDOW_SECS * 1000 + 1200);
    std::thread::sleep(closed.saturating_sub(first_failure.elapsed()));
    assert_eq!(
        put(&server, "admin", basic("admin", ADMIN_PASSWORD)).status(),
        StatusCode::CREATED
    );
}

#[test]
fn a_changed_password_counts_on_the_next_request() {
    let server = TestServer::start();
    server.user("dave", Scope::Write);
    for _ in 0..2 {
        // The second one is answered from the cache of verified passwords.
        let res = put(&server, "dave", basic("dave", "dave-password"));
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    // What `wharf` run in another process does: only the row changes.
    let hash = wharf::auth::secrets::hash_password("new-password");
    server
        .registry
        .db
        .write_sync(move |tx| {
            tx.execute(
                "UPDATE owners SET password_hash = ?1 WHERE name = 'dave'",
                &[&hash],
            )
        })
        .unwrap();
    assert_eq!(
        put(&server, "dave", basic("dave", "dave-password")).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        put(&server, "dave", basic("dave", "new-password")).status(),
        StatusCode::CREATED
    );
}

#[test]
fn unknown_users_take_about_as_long_as_known_ones() {
    let server = TestServer::builder()
        .server(|s| {
            s.login_failures_per_user = 0;
            s.login_failures_per_address = 0;
        })
        .start();
    let time = |user: &str| {
        let started = std::time::Instant::now();
        let res = put(&server, "admin", basic(user, "wrong"));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        started.elapsed().as_secs_f64()
    };
    // Warm up (the dummy hash is made on first use), then alternate, and compare
    // medians so that load on the machine hits both alike.
    time("nobody-at-all");
    time("admin");
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        known.push(time("admin"));
        unknown.push(time("nobody-at-all"));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = unknown / known;
    assert!(
        (0.4..2.5).contains(&ratio),
        "known user {known:.4}s, unknown user {unknown:.4}s"
    );
}
