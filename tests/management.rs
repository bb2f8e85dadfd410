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
