//! The management API across formats: listings, version details, delete, access.

use wharf::db::tokens::Scope;
use wharf_tests::{StatusCode, TestServer, client};

fn upload(server: &TestServer, token: &str, owner: &str, path: &str, body: &str) {
    let res = client()
        .put(server.generic(owner, path))
        .header("Authorization", format!("token {token}"))
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{path}");
}

#[test]
fn lists_packages_versions_and_files() {
    let server = TestServer::start();
    let t = &server.admin_token;
    upload(&server, t, "admin", "alpha/1.0/a.bin", "one");
    upload(&server, t, "admin", "alpha/2.0/a.bin", "two");
    upload(&server, t, "admin", "beta/0.1/b.bin", "three");
    let api = |path: &str| {
        client()
            .get(format!("{}/api/v1/packages/admin{path}", server.url))
            .send()
            .unwrap()
    };

    let res = api("");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-total-count"], "2");
    let list: serde_json::Value = res.json().unwrap();
    assert_eq!(list[0]["name"], "alpha");
    assert_eq!(list[0]["type"], "generic");
    assert_eq!(list[0]["latest_version"], "2.0");
    assert_eq!(list[0]["version_count"], 2);

    let filtered: serde_json::Value = api("?type=generic&q=bet").json().unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["name"], "beta");
    let page: serde_json::Value = api("?limit=1&page=2").json().unwrap();
    assert_eq!(page[0]["name"], "beta");
    // Pages past the end are empty, however far past: the offset must not wrap round.
    for far in ["3", "9223372036854775807", "4611686018427387905"] {
        let res = api(&format!("?page={far}"));
        assert_eq!(res.status(), StatusCode::OK, "page {far}");
        assert_eq!(res.headers()["x-total-count"], "2");
        assert_eq!(
            res.json::<serde_json::Value>().unwrap(),
            serde_json::json!([])
        );
    }
    let versions_far: serde_json::Value = api("/generic/alpha?page=9223372036854775807")
        .json()
        .unwrap();
    assert_eq!(versions_far["versions"], serde_json::json!([]));

    let versions: serde_json::Value = api("/generic/alpha").json().unwrap();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    assert_eq!(versions["versions"][0]["version"], "1.0");

    let detail: serde_json::Value = api("/generic/alpha/2.0").json().unwrap();
    assert_eq!(detail["files"][0]["name"], "a.bin");
    assert_eq!(detail["files"][0]["size"], 3);
    assert_eq!(
        detail["files"][0]["sha256"],
        "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3"
    );

    let missing = api("/generic/alpha/9.9");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.json::<serde_json::Value>().unwrap()["message"].is_string());
}

#[test]
fn delete_needs_write_access() {
    let server = TestServer::start();
    upload(&server, &server.admin_token, "admin", "gone/1/f.bin", "x");
    let url = format!("{}/api/v1/packages/admin/generic/gone/1", server.url);
    assert_eq!(
        client().delete(&url).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let reader = server.user("reader", Scope::Write);
    let res = client()
        .delete(&url)
        .header("Authorization", format!("token {reader}"))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client()
        .delete(&url)
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        client().get(&url).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client()
            .get(server.generic("admin", "gone/1/f.bin"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// `/api/v1/users/{username}/tokens`: list, create and revoke with the user's password,
/// in Gitea's shapes; a revoked token is refused at the next request, in every format,
/// and so are the registry tokens issued for it.
#[test]
fn tokens_are_managed_with_the_password_and_revoked_everywhere() {
    let server = TestServer::start();
    server.user("alice", Scope::Write);
    let tokens = format!("{}/api/v1/users/alice/tokens", server.url);
    let as_alice =
        |req: reqwest::blocking::RequestBuilder| req.basic_auth("alice", Some("alice-password"));

    let created = as_alice(client().post(&tokens))
        .json(&serde_json::json!({"name": "ci", "scopes": ["write:package"]}))
        .send()
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = created.json().unwrap();
    let secret = created["sha1"].as_str().unwrap().to_string();
    assert!(secret.starts_with("wharf_"));
    assert_eq!(created["token_last_eight"], &secret[secret.len() - 8..]);
    assert_eq!(created["scopes"], serde_json::json!(["write:package"]));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let id = created["id"].as_i64().unwrap();

    // Gitea's rules: names are unique per user, a package scope is needed, a token
    // cannot manage tokens, and others' tokens are not yours.
    let again = as_alice(client().post(&tokens))
        .json(&serde_json::json!({"name": "ci", "scopes": ["write:package"]}))
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let no_scope = as_alice(client().post(&tokens))
        .json(&serde_json::json!({"name": "x", "scopes": ["read:issue"]}))
        .send()
        .unwrap();
    assert_eq!(no_scope.status(), StatusCode::BAD_REQUEST);
    let by_token = client()
        .get(&tokens)
        .header("Authorization", format!("token {secret}"))
        .send()
        .unwrap();
    assert_eq!(by_token.status(), StatusCode::UNAUTHORIZED);
    server.user("bob", Scope::Write);
    let by_bob = client()
        .get(&tokens)
        .basic_auth("bob", Some("bob-password"))
        .send()
        .unwrap();
    assert_eq!(by_bob.status(), StatusCode::FORBIDDEN);

    // The token works in every format; the OCI registry token is issued for it.
    let url = &server.url;
    let registry_token: serde_json::Value = client()
        .get(format!("{url}/v2/token?scope=repository:alice/app:pull"))
        .basic_auth("alice", Some(&secret))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let registry_token = registry_token["token"].as_str().unwrap().to_string();
    let probes = |expect_ok: bool| {
        let checks = [
            client()
                .put(format!(
                    "{url}/api/packages/alice/generic/p/1/{expect_ok}.txt"
                ))
                .header("Authorization", format!("token {secret}"))
                .body("x"),
            client()
                .get(format!("{url}/api/packages/alice/npm/-/whoami"))
                .header("Authorization", format!("Bearer {secret}")),
            client()
                .put(format!(
                    "{url}/api/packages/alice/maven/g/a/1/a-1-{expect_ok}.txt"
                ))
                .basic_auth("alice", Some(&secret))
                .body("x"),
            client()
                .get(format!("{url}/api/packages/alice/nuget/index.json"))
                .header("X-NuGet-ApiKey", &secret),
            client()
                .get(format!("{url}/v2/"))
                .header("Authorization", format!("Bearer {registry_token}")),
        ];
        for check in checks {
            let res = check.send().unwrap();
            let refused = res.status() == StatusCode::UNAUTHORIZED;
            assert_eq!(refused, !expect_ok, "{} {}", res.url(), res.status());
        }
    };
    probes(true);

    let listed: serde_json::Value = as_alice(client().get(&tokens))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
        .clone();
    assert!(listed.get("sha1").is_none(), "the secret is shown once");
    assert!(listed["last_used_at"].is_string(), "{listed}");

    let revoked = as_alice(client().delete(format!("{tokens}/{id}")))
        .send()
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    probes(false);
    let gone = as_alice(client().delete(format!("{tokens}/{id}")))
        .send()
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[test]
fn admins_list_users_and_manage_anyones_tokens() {
    let server = TestServer::start();
    let bob = server.user("bob", Scope::Write);
    let users = format!("{}/api/v1/admin/users", server.url);
    let res = client()
        .get(&users)
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-total-count"], "2");
    let list: serde_json::Value = res.json().unwrap();
    assert_eq!(list[0]["login"], "admin");
    assert_eq!(list[0]["is_admin"], true);
    assert_eq!(list[1]["login"], "bob");
    assert_eq!(list[1]["visibility"], "public");
    let page: serde_json::Value = client()
        .get(format!("{users}?limit=1&page=2"))
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(page[0]["login"], "bob");
    let by_bob = client()
        .get(&users)
        .header("Authorization", format!("token {bob}"))
        .send()
        .unwrap();
    assert_eq!(by_bob.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        client().get(&users).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let bobs = format!("{}/api/v1/users/bob/tokens", server.url);
    let listed: serde_json::Value = client()
        .get(&bobs)
        .basic_auth("admin", Some(wharf_tests::ADMIN_PASSWORD))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = listed[0]["id"].as_i64().unwrap();
    let res = client()
        .delete(format!("{bobs}/{id}"))
        .basic_auth("admin", Some(wharf_tests::ADMIN_PASSWORD))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let refused = client()
        .put(server.generic("bob", "x/1/x.txt"))
        .header("Authorization", format!("token {bob}"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// Gitea's shapes on Gitea's paths, beside Wharf's own fields: entries are `api.Package`
/// (the version's id, owner and publisher as `api.User`, RFC 3339 times, no web page
/// yet) and `…/{version}/files` lists `api.PackageFile`s with the digests already known.
#[test]
fn answers_carry_gitea_shapes() {
    let server = TestServer::start();
    server.org("team", "admin", false);
    let maven = format!(
        "{}/api/packages/team/maven/g/tool/1.0/tool-1.0.jar",
        server.url
    );
    let res = client()
        .put(&maven)
        .header("Authorization", format!("token {}", server.admin_token))
        .body("jar")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let api = |path: &str| {
        let res = client()
            .get(format!("{}/api/v1/packages/team{path}", server.url))
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.json::<serde_json::Value>().unwrap()
    };
    let is_rfc3339 = |v: &serde_json::Value| {
        let s = v.as_str().unwrap_or_default();
        s.len() == 20 && &s[10..11] == "T" && s.ends_with('Z')
    };

    let detail = api("/maven/g:tool/1.0");
    let id = detail["id"].as_i64().expect("the version's id");
    assert_eq!(detail["type"], "maven");
    assert_eq!(detail["name"], "g:tool");
    assert_eq!(detail["version"], "1.0");
    assert!(
        is_rfc3339(&detail["created_at"]),
        "{}",
        detail["created_at"]
    );
    assert!(detail["html_url"].is_null() && detail["repository"].is_null());
    assert!(detail["created"].is_i64() && detail["downloads"].is_i64());
    let (owner, creator) = (&detail["owner"], &detail["creator"]);
    assert_eq!(owner["login"], "team");
    assert_eq!(owner["username"], "team");
    assert_eq!(owner["email"], "");
    assert_eq!(owner["visibility"], "public");
    assert_eq!(owner["is_organization"], true);
    assert!(owner["id"].is_i64() && is_rfc3339(&owner["created"]));
    assert_eq!(creator["login"], "admin", "the publisher, not the owner");
    assert_ne!(creator["id"], owner["id"]);

    let files = api("/maven/g:tool/1.0/files");
    let file = &files[0];
    assert_eq!(files.as_array().unwrap().len(), 1);
    assert_eq!(file["name"], "tool-1.0.jar");
    assert_eq!(
        (file["Size"].as_i64(), file["size"].as_i64()),
        (Some(3), Some(3))
    );
    assert!(file["id"].is_i64());
    assert_eq!(file["sha256"], detail["files"][0]["sha256"]);
    assert_eq!(file["sha1"], "f92e777f4341930bad9b2422283c4680d00dbc06");
    assert_eq!(file["md5"], "68995fcbf432492d15484d04a9d2ac40");
    assert_eq!(detail["files"][0]["id"], file["id"]);

    let versions = api("/maven/g:tool");
    assert!(versions["id"].is_i64() && versions["html_url"].is_null());
    assert_eq!(versions["owner"]["login"], "team");
    assert_eq!(versions["versions"][0]["id"], id);
    assert_eq!(versions["versions"][0]["creator"]["login"], "admin");
    assert_eq!(versions["versions"][0]["created_at"], detail["created_at"]);

    let list = api("");
    assert_eq!(
        list[0]["id"], id,
        "a listed package is shown as its latest version"
    );
    assert_eq!(list[0]["version"], "1.0");
    assert_eq!(list[0]["latest_version"], "1.0");
    assert_eq!(list[0]["owner"]["login"], "team");
    assert_eq!(list[0]["creator"]["login"], "admin");

    let missing = client()
        .get(format!(
            "{}/api/v1/packages/team/maven/g:tool/9.9/files",
            server.url
        ))
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
