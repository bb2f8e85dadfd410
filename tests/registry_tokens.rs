//! Short-lived registry tokens and Docker token authentication, through the `bearer`
//! test format mounted at `/v2` (registry-shaped routes, a `Bearer` challenge pointing
//! at `/v2/token`): challenges with scopes, the token endpoint (GET and POST), guest
//! tokens, grant enforcement, and refusals of expired, tampered and traded tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wharf::auth::registry_token::{self, Claims, TokenKey};
use wharf::db::owners::Role;
use wharf::db::tokens::Scope;
use wharf_tests::{StatusCode, TestServer, basic, client};

const BEARER_WASM: &str = env!("WHARF_TEST_BEARER_WASM");

/// A server with the `bearer` format at `/v2`, users alice (public) and bob, and bob's
/// private org `team`.
fn start() -> TestServer {
    let server = TestServer::builder()
        .plugin("bearer", "/v2", BEARER_WASM)
        .start();
    server.user("alice", Scope::Write);
    server.user("bob", Scope::Write);
    server.org("team", "bob", true);
    server
}

fn url(server: &TestServer, path: &str) -> String {
    format!("{}/v2{path}", server.url)
}

fn password(user: &str) -> String {
    basic(user, &format!("{user}-password"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn challenge(server: &TestServer, extra: &str) -> String {
    format!(
        "Bearer realm=\"{}/v2/token\",service=\"wharf\"{extra}",
        server.url
    )
}

/// `GET /v2/token` with `query` and an optional Authorization header.
fn token_response(server: &TestServer, auth: Option<&str>, query: &str) -> (StatusCode, Value) {
    let mut request = client().get(url(server, &format!("/token?service=wharf&{query}")));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().unwrap();
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

/// A token for `scopes` (each one `scope` parameter), which must be issued.
fn token(server: &TestServer, auth: Option<&str>, scopes: &[&str]) -> String {
    let query: Vec<String> = scopes.iter().map(|s| format!("scope={s}")).collect();
    let (status, body) = token_response(server, auth, &query.join("&"));
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// The `access` claim of a token (read without checking it).
fn access(token: &str) -> Value {
    claims(token)["access"].clone()
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn repo(name: &str, actions: &[&str]) -> Value {
    json!({"type": "repository", "name": name, "actions": actions})
}

fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
) -> reqwest::blocking::Response {
    let mut request = client().request(method.clone(), url(server, path));
    if method == reqwest::Method::PUT {
        request = request.body(format!("bytes of {path}"));
    }
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().unwrap()
}

fn get(server: &TestServer, path: &str, auth: Option<&str>) -> reqwest::blocking::Response {
    send(server, reqwest::Method::GET, path, auth)
}

fn put(server: &TestServer, path: &str, auth: Option<&str>) -> reqwest::blocking::Response {
    send(server, reqwest::Method::PUT, path, auth)
}

fn www_authenticate(response: &reqwest::blocking::Response) -> &str {
    response
        .headers()
        .get("www-authenticate")
        .map_or("", |v| v.to_str().unwrap())
}

/// Status, OCI error code and challenge of a refusal.
fn refusal(response: reqwest::blocking::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let challenge = www_authenticate(&response).to_string();
    let body: Value = response.json().unwrap();
    let code = body["errors"][0]["code"].as_str().unwrap_or("").to_string();
    (status, code, challenge)
}

#[test]
fn anonymous_refusals_challenge_with_the_scope_needed() {
    let server = start();
    let (status, code, header) = refusal(get(&server, "/", None));
    assert_eq!(
        (status, code.as_str(), header),
        (
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            challenge(&server, "")
        )
    );
    let (status, _, header) = refusal(get(&server, "/team/app/files/a", None));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header,
        challenge(&server, ",scope=\"repository:team/app:pull\"")
    );
    let (status, _, header) = refusal(put(&server, "/alice/team/app/files/a", None));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header,
        challenge(&server, ",scope=\"repository:alice/team/app:pull,push\"")
    );
    // Basic credentials are still taken directly.
    assert_eq!(
        get(&server, "/", Some(&password("alice"))).status(),
        StatusCode::OK
    );
}

#[test]
fn tokens_for_a_password_or_a_stored_token() {
    let server = start();
    let (status, body) = token_response(
        &server,
        Some(&password("alice")),
        "scope=repository:alice/img:pull,push",
    );
    assert_eq!(status, StatusCode::OK);
    let issued = body["token"].as_str().unwrap();
    assert_eq!(body["access_token"], issued);
    assert_eq!(body["expires_in"], 600);
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(
        issued_at.len() == 20 && issued_at.ends_with('Z'),
        "{issued_at}"
    );
    assert!(!issued.starts_with("wharf_"));
    let said = claims(issued);
    assert_eq!(
        (&said["sub"], &said["aud"]),
        (&json!("alice"), &json!("wharf"))
    );
    assert_eq!(
        access(issued),
        json!([repo("alice/img", &["pull", "push"])])
    );

    assert_eq!(
        put(&server, "/alice/img/files/layer", Some(&bearer(issued))).status(),
        StatusCode::CREATED
    );
    let pulled = get(&server, "/alice/img/files/layer", Some(&bearer(issued)));
    assert_eq!(pulled.status(), StatusCode::OK);
    assert_eq!(pulled.text().unwrap(), "bytes of /alice/img/files/layer");
    assert_eq!(
        get(&server, "/", Some(&bearer(issued))).status(),
        StatusCode::OK
    );

    // user:token in Basic, two scope parameters, a space-separated list, and `*`.
    let stored = server.token("alice", Scope::Write, None);
    let several = token(
        &server,
        Some(&basic("alice", &stored)),
        &[
            "repository:alice/a:pull",
            "repository:alice/b:push%20repository:alice/c:*",
        ],
    );
    assert_eq!(
        access(&several),
        json!([
            repo("alice/a", &["pull"]),
            repo("alice/b", &["push"]),
            repo("alice/c", &["pull", "push", "delete"]),
        ])
    );
    // A stored token as Bearer works at the endpoint too.
    let by_bearer = token(
        &server,
        Some(&bearer(&stored)),
        &["repository:alice/img:pull"],
    );
    assert_eq!(access(&by_bearer), json!([repo("alice/img", &["pull"])]));

    // Bad credentials are refused, not downgraded to a guest.
    let (status, _) = token_response(&server, Some(&basic("alice", "wrong")), "");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_read_token_yields_no_push_and_writes_answer_insufficient_scope() {
    let server = start();
    let read = server.token("alice", Scope::Read, None);
    let issued = token(
        &server,
        Some(&basic("alice", &read)),
        &["repository:alice/img:pull,push"],
    );
    assert_eq!(access(&issued), json!([repo("alice/img", &["pull"])]));
    assert_eq!(claims(&issued)["cs"], "read");
    let (status, code, header) =
        refusal(put(&server, "/alice/img/files/x", Some(&bearer(&issued))));
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    assert_eq!(
        header,
        challenge(
            &server,
            ",scope=\"repository:alice/img:pull,push\",error=\"insufficient_scope\""
        )
    );
}

#[test]
fn a_token_for_one_repository_does_not_open_another() {
    let server = start();
    let issued = token(
        &server,
        Some(&password("alice")),
        &["repository:alice/a:pull,push"],
    );
    assert_eq!(
        put(&server, "/alice/a/files/x", Some(&bearer(&issued))).status(),
        StatusCode::CREATED
    );
    let (status, code, header) = refusal(get(&server, "/alice/b/files/x", Some(&bearer(&issued))));
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    assert_eq!(
        header,
        challenge(
            &server,
            ",scope=\"repository:alice/b:pull\",error=\"insufficient_scope\""
        )
    );
    assert_eq!(
        put(&server, "/alice/b/files/x", Some(&bearer(&issued))).status(),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn a_delete_grant_deletes_but_does_not_push() {
    let server = start();
    assert_eq!(
        put(&server, "/alice/img/files/x", Some(&password("alice"))).status(),
        StatusCode::CREATED
    );
    let issued = token(
        &server,
        Some(&password("alice")),
        &["repository:alice/img:delete"],
    );
    assert_eq!(access(&issued), json!([repo("alice/img", &["delete"])]));
    assert_eq!(
        put(&server, "/alice/img/files/y", Some(&bearer(&issued))).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &server,
            reqwest::Method::DELETE,
            "/alice/img/files/x",
            Some(&bearer(&issued))
        )
        .status(),
        StatusCode::NO_CONTENT
    );
}

#[test]
fn guest_tokens_pull_public_repositories_only() {
    let server = start();
    let bob = password("bob");
    for path in ["/alice/img/files/x", "/team/app/files/x"] {
        let auth = if path.starts_with("/alice") {
            password("alice")
        } else {
            bob.clone()
        };
        assert_eq!(
            put(&server, path, Some(&auth)).status(),
            StatusCode::CREATED
        );
    }
    let guest = token(
        &server,
        None,
        &["repository:alice/img:pull,push", "repository:team/app:pull"],
    );
    assert_eq!(access(&guest), json!([repo("alice/img", &["pull"])]));
    assert_eq!(
        (claims(&guest)["sub"].clone(), claims(&guest)["uid"].clone()),
        (json!(""), Value::Null)
    );

    assert_eq!(
        get(&server, "/", Some(&bearer(&guest))).status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&server, "/alice/img/files/x", Some(&bearer(&guest))).status(),
        StatusCode::OK
    );
    // No identity to refuse: 401 and a challenge, so clients come back with credentials.
    let (status, _, header) = refusal(get(&server, "/team/app/files/x", Some(&bearer(&guest))));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header,
        challenge(&server, ",scope=\"repository:team/app:pull\"")
    );
    let (status, _, header) = refusal(put(&server, "/alice/img/files/y", Some(&bearer(&guest))));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header,
        challenge(&server, ",scope=\"repository:alice/img:pull,push\"")
    );
}

#[test]
fn private_org_grants_follow_membership() {
    let server = start();
    server.user("reader", Scope::Write);
    server.user("writer", Scope::Write);
    server.add_member("team", "reader", Role::Read);
    server.add_member("team", "writer", Role::Write);
    let ask = ["repository:team/app:pull,push"];
    assert_eq!(
        access(&token(&server, Some(&password("alice")), &ask)),
        json!([])
    );
    assert_eq!(
        access(&token(&server, Some(&password("reader")), &ask)),
        json!([repo("team/app", &["pull"])])
    );
    let writer = token(&server, Some(&password("writer")), &ask);
    assert_eq!(
        access(&writer),
        json!([repo("team/app", &["pull", "push"])])
    );
    assert_eq!(
        put(&server, "/team/app/files/x", Some(&bearer(&writer))).status(),
        StatusCode::CREATED
    );
    // Live permissions still count: a token outlives no membership.
    let removed =
        "DELETE FROM org_members WHERE user_id = (SELECT id FROM owners WHERE name = 'writer')";
    server
        .registry
        .db
        .write_sync(move |tx| tx.execute(removed, &[]))
        .unwrap();
    assert_eq!(
        put(&server, "/team/app/files/y", Some(&bearer(&writer))).status(),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn post_form_grants() {
    let server = start();
    let post = |form: &str| {
        client()
            .post(url(&server, "/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .unwrap()
    };
    let response = post(
        "grant_type=password&service=wharf&client_id=test&username=alice&password=alice-password\
         &scope=repository%3Aalice%2Fimg%3Apull%2Cpush",
    );
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "repository:alice/img:pull,push");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["access_token"], body["token"]);
    let issued = body["token"].as_str().unwrap();
    assert_eq!(
        put(&server, "/alice/img/files/x", Some(&bearer(issued))).status(),
        StatusCode::CREATED
    );

    let stored = server.token("alice", Scope::Read, None);
    let response = post(&format!(
        "grant_type=refresh_token&refresh_token={stored}&scope=repository:alice/img:pull,push"
    ));
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    assert_eq!(body["scope"], "repository:alice/img:pull");

    for (form, expected) in [
        (
            "grant_type=password&username=alice&password=wrong",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "grant_type=refresh_token&refresh_token=wharf_0000",
            StatusCode::UNAUTHORIZED,
        ),
        ("grant_type=client_credentials", StatusCode::BAD_REQUEST),
        (
            "grant_type=password&username=alice",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(post(form).status(), expected, "{form}");
    }
    let as_json = client()
        .post(url(&server, "/token"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(as_json.status(), StatusCode::BAD_REQUEST);
    let huge = post(&format!("grant_type=password&pad={}", "x".repeat(70 << 10)));
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// A token signed with `key` for alice, valid from `iat` for the usual lifetime.
fn minted(server: &TestServer, key: &TokenKey, iat: i64) -> String {
    let alice = server
        .registry
        .db
        .read_sync(|conn| wharf::db::owners::by_name(conn, "alice"))
        .unwrap()
        .unwrap();
    let claims = Claims {
        iss: server.url.clone(),
        aud: "wharf".into(),
        sub: "alice".into(),
        uid: Some(alice.id),
        cs: "write".into(),
        iat,
        nbf: iat,
        exp: iat + registry_token::LIFETIME_SECS,
        access: vec![registry_token::AccessEntry {
            kind: "repository".into(),
            name: "alice/img".into(),
            actions: vec!["pull".into(), "push".into()],
        }],
        src: Some(registry_token::Minted::Password {
            hash: registry_token::password_tag(alice.password_hash.as_deref().unwrap()),
        }),
    };
    registry_token::sign(key, &claims)
}

#[test]
fn expired_tampered_and_foreign_tokens_are_refused() {
    let server = start();
    let now = wharf::db::now();
    let key = &server.registry.token_key;
    let valid = minted(&server, key, now);
    assert_eq!(
        put(&server, "/alice/img/files/x", Some(&bearer(&valid))).status(),
        StatusCode::CREATED
    );
    let expired = minted(&server, key, now - 2 * registry_token::LIFETIME_SECS);
    let foreign = minted(&server, &TokenKey::generate(), now);
    // Other claims (a later expiry) under the valid token's header and signature.
    let (head, _) = valid.rsplit_once('.').unwrap();
    let later = minted(&server, key, now + 60);
    let forged_claims = later.split('.').nth(1).unwrap();
    let tampered = format!(
        "{}.{forged_claims}.{}",
        head.split('.').next().unwrap(),
        valid.rsplit('.').next().unwrap()
    );
    for bad in [expired, foreign, tampered, "a.b.c".to_string()] {
        for path in ["/", "/alice/img/files/x"] {
            let (status, code, header) = refusal(get(&server, path, Some(&bearer(&bad))));
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
                "{bad} {path}"
            );
            assert!(header.starts_with("Bearer realm="), "{header}");
            assert!(header.ends_with(",error=\"invalid_token\""), "{header}");
        }
    }
    // No token at all is not an invalid one: the challenge just asks for credentials.
    let (status, _, header) = refusal(get(&server, "/", None));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!header.contains("error="), "{header}");
}

#[test]
fn registry_tokens_buy_no_other_token() {
    let server = start();
    let issued = token(
        &server,
        Some(&password("alice")),
        &["repository:alice/img:pull"],
    );
    let guest = token(&server, None, &["repository:alice/img:pull"]);
    for held in [&issued, &guest] {
        let (status, _) = token_response(
            &server,
            Some(&bearer(held)),
            "scope=repository:alice/img:pull,push",
        );
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = client()
        .post(url(&server, "/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=refresh_token&refresh_token={issued}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn registry_tokens_count_only_below_bearer_formats() {
    let server = start();
    let issued = token(
        &server,
        Some(&password("alice")),
        &["repository:alice/img:pull,push"],
    );
    // The generic format (Basic challenge) and the management API never take them.
    let generic = client()
        .put(server.generic("alice", "img/1/x.bin"))
        .header("authorization", bearer(&issued))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(generic.status(), StatusCode::UNAUTHORIZED);
    let management = client()
        .get(format!("{}/api/v1/packages/alice", server.url))
        .header("authorization", bearer(&issued))
        .send()
        .unwrap();
    assert_eq!(management.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn a_deleted_users_tokens_die_with_it() {
    let server = start();
    server.user("carol", Scope::Write);
    let issued = token(
        &server,
        Some(&password("carol")),
        &["repository:carol/img:pull,push"],
    );
    assert_eq!(
        put(&server, "/carol/img/files/x", Some(&bearer(&issued))).status(),
        StatusCode::CREATED
    );
    server
        .registry
        .db
        .write_sync(|tx| tx.execute("DELETE FROM owners WHERE name = 'carol'", &[]))
        .unwrap();
    assert_eq!(
        get(&server, "/", Some(&bearer(&issued))).status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_registry_token_dies_with_the_credential_it_came_from() {
    let server = start();
    let run = |sql: String| {
        server
            .registry
            .db
            .write_sync(move |tx| tx.execute(&sql, &[]))
            .unwrap()
    };
    let works = |issued: &str| {
        assert_eq!(
            put(&server, "/alice/img/files/x", Some(&bearer(issued))).status(),
            StatusCode::CREATED
        );
    };
    let refused = |issued: &str| {
        let (status, _, header) = refusal(get(&server, "/", Some(&bearer(issued))));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // Clients fetch a new token on `invalid_token`, with their credentials.
        assert!(header.contains("error=\"invalid_token\""), "{header}");
    };
    let scope = ["repository:alice/img:pull,push"];
    let hash_of = |t: &str| wharf::auth::secrets::token_hash(t);

    // An API token revoked.
    let stored = server.token("alice", Scope::Write, None);
    let issued = token(&server, Some(&basic("alice", &stored)), &scope);
    works(&issued);
    run(format!(
        "DELETE FROM tokens WHERE hash = '{}'",
        hash_of(&stored)
    ));
    refused(&issued);

    // An API token expired (by refresh_token too).
    let stored = server.token("alice", Scope::Write, None);
    let issued = token(&server, Some(&bearer(&stored)), &scope);
    works(&issued);
    run(format!(
        "UPDATE tokens SET expires = 1 WHERE hash = '{}'",
        hash_of(&stored)
    ));
    refused(&issued);

    // A password changed.
    let issued = token(&server, Some(&password("alice")), &scope);
    works(&issued);
    let hash = wharf::auth::secrets::hash_password("another");
    run(format!(
        "UPDATE owners SET password_hash = '{hash}' WHERE name = 'alice'"
    ));
    refused(&issued);
}
