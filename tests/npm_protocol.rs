//! npm protocol edges over plain HTTP: what the clients never send on purpose but a
//! registry must survive (malformed bodies, wrong digests, races), and the details
//! clients rely on (URL forms, abbreviated documents, ETags).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wharf::db::tokens::Scope;
use wharf_tests::npm::publish_body;
use wharf_tests::{StatusCode, TestServer, client};

struct Registry {
    server: TestServer,
    token: String,
}

impl Registry {
    fn start(builder: wharf_tests::Builder) -> Self {
        let server = builder.start();
        let token = server.user("alice", Scope::Write);
        Self { server, token }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/api/packages/alice/npm/{rest}", self.server.url)
    }

    fn put(
        &self,
        rest: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> reqwest::blocking::Response {
        client()
            .put(self.url(rest))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
    }

    fn get(&self, rest: &str) -> reqwest::blocking::Response {
        self.get_with(rest, &[])
    }

    /// A GET with extra request headers.
    fn get_with(&self, rest: &str, headers: &[(&str, &str)]) -> reqwest::blocking::Response {
        let mut request = client().get(self.url(rest));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().unwrap()
    }

    fn publish(&self, name: &str, version: &str, tarball: &[u8]) -> reqwest::blocking::Response {
        self.put(
            &name.replace('/', "%2f"),
            publish_body(name, version, tarball, None).to_string(),
        )
    }
}

fn error_of(response: reqwest::blocking::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().expect("a JSON error body");
    (
        status,
        body["error"]
            .as_str()
            .expect("npm's error field")
            .to_string(),
    )
}

#[test]
fn malformed_publishes_get_400_and_store_nothing() {
    let r = Registry::start(TestServer::builder());
    let good = publish_body("pkg", "1.0.0", b"tarball", None).to_string();
    let mut wrong_digest = publish_body("pkg", "1.0.0", b"tarball", None);
    wrong_digest["versions"]["1.0.0"]["dist"]["integrity"] =
        format!("sha512-{}", STANDARD.encode([0u8; 64])).into();
    let mut no_data = publish_body("pkg", "1.0.0", b"tarball", None);
    no_data["_attachments"]["pkg-1.0.0.tgz"]
        .as_object_mut()
        .unwrap()
        .remove("data");
    let mut no_attachment = publish_body("pkg", "1.0.0", b"tarball", None);
    no_attachment
        .as_object_mut()
        .unwrap()
        .remove("_attachments");
    let mut bad_base64 = publish_body("pkg", "1.0.0", b"tarball", None);
    bad_base64["_attachments"]["pkg-1.0.0.tgz"]["data"] = "!!not base64!!".into();
    let mut other_name = publish_body("pkg", "1.0.0", b"tarball", None);
    other_name["name"] = "other".into();
    let mut no_digest = publish_body("pkg", "1.0.0", b"tarball", None);
    no_digest["versions"]["1.0.0"]["dist"] = json!({});
    let cases: Vec<(&str, String, String)> = vec![
        (
            "truncated JSON",
            "pkg".into(),
            good[..good.len() / 2].to_string(),
        ),
        ("not an object", "pkg".into(), "[1,2]".into()),
        ("garbage", "pkg".into(), "{\"name\": nope}".into()),
        ("wrong digest", "pkg".into(), wrong_digest.to_string()),
        ("attachment without data", "pkg".into(), no_data.to_string()),
        ("no attachment", "pkg".into(), no_attachment.to_string()),
        ("invalid base64", "pkg".into(), bad_base64.to_string()),
        (
            "name differs from the URL",
            "pkg".into(),
            other_name.to_string(),
        ),
        ("no digest", "pkg".into(), no_digest.to_string()),
        (
            "absurd version",
            "pkg".into(),
            publish_body("pkg", &format!("1.0.0-{}", "x".repeat(400)), b"t", None).to_string(),
        ),
        (
            "not semver",
            "pkg".into(),
            publish_body("pkg", "1.0", b"t", None).to_string(),
        ),
        (
            "bad name",
            "Bad_Name".into(),
            publish_body("Bad_Name", "1.0.0", b"t", None).to_string(),
        ),
    ];
    for (why, path, body) in cases {
        let (status, message) = error_of(r.put(&path, body));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {message}");
        assert!(!message.is_empty(), "{why}");
    }
    assert_eq!(r.server.stored_blobs(), 0);
    assert_eq!(r.server.temp_files(), 0);
    assert_eq!(r.get("pkg").status(), StatusCode::NOT_FOUND);
}

#[test]
fn unknown_packages_and_versions_are_npm_404s() {
    let r = Registry::start(TestServer::builder());
    let (status, message) = error_of(r.get("nope"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.contains("not found"), "{message}");
    assert_eq!(
        r.publish("pkg", "1.0.0", b"x").status(),
        StatusCode::CREATED
    );
    let (status, message) = error_of(r.publish("pkg", "1.0.0", b"y"));
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("1.0.0"), "{message}");
    assert_eq!(r.get("pkg/9.9.9").status(), StatusCode::NOT_FOUND);
    assert_eq!(r.get("pkg/-/pkg-9.9.9.tgz").status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.get("pkg/latest").json::<Value>().unwrap()["version"],
        "1.0.0"
    );
}

#[test]
fn scoped_names_work_in_every_url_form() {
    let r = Registry::start(TestServer::builder());
    assert_eq!(
        r.publish("@scope/name", "1.0.0", b"scoped").status(),
        StatusCode::CREATED
    );
    for path in ["@scope%2fname", "@scope%2Fname", "@scope/name"] {
        let doc: Value = r.get(path).json().unwrap();
        assert_eq!(doc["name"], "@scope/name", "{path}");
        let tarball = r.get(&format!("{path}/-/name-1.0.0.tgz"));
        assert_eq!(tarball.bytes().unwrap().as_ref(), b"scoped", "{path}");
    }
    // Gitea's older tarball path.
    let old = r.get("@scope/name/-/1.0.0/name-1.0.0.tgz");
    assert_eq!(old.bytes().unwrap().as_ref(), b"scoped");
}

#[test]
fn abbreviated_documents_etags_and_cache_invalidation() {
    let r = Registry::start(TestServer::builder());
    assert_eq!(
        r.publish("pkg", "1.0.0", b"one").status(),
        StatusCode::CREATED
    );
    let install = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";
    let short = r.get_with("pkg", &[("accept", install)]);
    assert!(
        short.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/vnd.npm.install-v1+json")
    );
    let etag = short.headers()["etag"].to_str().unwrap().to_string();
    let doc: Value = short.json().unwrap();
    assert!(doc.get("time").is_none() && doc.get("readme").is_none());
    assert!(doc["versions"]["1.0.0"]["dist"]["integrity"].is_string());
    assert!(doc["modified"].is_string());

    let again = r.get_with(
        "pkg",
        &[("accept", install), ("if-none-match", etag.as_str())],
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Any change to the package makes the old ETag stale.
    let tag = r.put("-/package/pkg/dist-tags/next", "\"1.0.0\"");
    assert!(tag.status().is_success());
    let changed = r.get_with(
        "pkg",
        &[("accept", install), ("if-none-match", etag.as_str())],
    );
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.json::<Value>().unwrap()["dist-tags"]["next"],
        "1.0.0"
    );

    let full: Value = r.get("pkg").json().unwrap();
    assert!(full["time"]["1.0.0"].is_string());
    assert_eq!(
        full["versions"]["1.0.0"]["dist"]["tarball"],
        r.url("pkg/-/pkg-1.0.0.tgz")
    );
}

/// After a change, a burst of requests for the same document (installs after a
/// publish) waits for one rendering instead of each rendering it in parallel.
#[test]
fn concurrent_misses_render_a_document_once() {
    let r = Registry::start(TestServer::builder());
    for patch in 0..30 {
        let version = format!("1.0.{patch}");
        assert_eq!(
            r.publish("busy", &version, version.as_bytes()).status(),
            StatusCode::CREATED
        );
    }
    let cache = &r.server.registry.index_cache;
    let before = cache.renders_made();
    let start = std::sync::Barrier::new(12);
    let bodies: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..12)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let response = r.get("busy");
                    assert_eq!(response.status(), StatusCode::OK);
                    response.text().unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(
        cache.renders_made() - before,
        1,
        "one rendering for 12 requests"
    );
}

#[test]
fn documents_are_gzipped_for_clients_that_ask() {
    use std::io::Read;
    let r = Registry::start(TestServer::builder());
    let readme = "words ".repeat(2000);
    let mut body = publish_body("pkg", "1.0.0", b"one", None);
    body["readme"] = readme.clone().into();
    assert_eq!(r.put("pkg", body.to_string()).status(), StatusCode::CREATED);
    let plain = r.get("pkg");
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
    let plain = plain.bytes().unwrap();
    let gz = || r.get_with("pkg", &[("accept-encoding", "br, gzip;q=0.9")]);
    let zipped = gz();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let vary: Vec<_> = zipped.headers().get_all("vary").iter().collect();
    assert!(vary.iter().any(|v| *v == "Accept-Encoding"), "{vary:?}");
    let etag = zipped.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(etag, plain_etag);
    let compressed = zipped.bytes().unwrap();
    assert!(compressed.len() < plain.len() / 4);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_ref())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.as_ref());
    let not_modified = r.get_with(
        "pkg",
        &[
            ("accept-encoding", "gzip"),
            ("if-none-match", etag.as_str()),
        ],
    );
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let refused = r.get_with("pkg", &[("accept-encoding", "gzip;q=0")]);
    assert!(refused.headers().get("content-encoding").is_none());
    assert_eq!(
        gz().bytes().unwrap(),
        compressed,
        "the cached gzip body is reused"
    );
}

#[test]
fn dist_tags_are_checked() {
    let r = Registry::start(TestServer::builder());
    assert_eq!(
        r.publish("pkg", "1.0.0", b"one").status(),
        StatusCode::CREATED
    );
    let (status, _) = error_of(r.put("-/package/pkg/dist-tags/1.2.3", "\"1.0.0\""));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = error_of(r.put("-/package/pkg/dist-tags/next", "\"2.0.0\""));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(r.put("-/package/pkg/dist-tags/next", "not json"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = r.publish_tagged("pkg", "1.1.0", "1.0.0");
    let (status, _) = error_of(body);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let tags: Value = r.get("-/package/pkg/dist-tags").json().unwrap();
    assert_eq!(tags, json!({ "latest": "1.0.0" }));
}

impl Registry {
    /// A publish whose dist-tags name `version` under the tag `tag`.
    fn publish_tagged(&self, name: &str, version: &str, tag: &str) -> reqwest::blocking::Response {
        let mut body = publish_body(name, version, b"t", None);
        body["dist-tags"] = json!({ tag: version });
        self.put(name, body.to_string())
    }
}

#[test]
fn concurrent_publishes_of_one_version_keep_exactly_one() {
    let r = std::sync::Arc::new(Registry::start(TestServer::builder()));
    let results: Vec<StatusCode> = (0..6)
        .map(|i| {
            let r = r.clone();
            std::thread::spawn(move || {
                r.publish("race", "1.0.0", format!("body {i}").as_bytes())
                    .status()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(
        results
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        5,
        "{results:?}"
    );
    assert_eq!(r.server.kept_blobs(), 1);
    assert_eq!(r.server.temp_files(), 0);
}

#[test]
fn tarballs_larger_than_plugin_memory_stream_through_the_host() {
    // 24 MiB of tarball is 32 MiB of base64: more than the plugin may hold, so this only
    // passes because the guest never copies the attachment.
    let r = Registry::start(TestServer::builder().plugin_memory(16 << 20));
    let tarball: Vec<u8> = (0..24u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert_eq!(
        r.publish("big", "1.0.0", &tarball).status(),
        StatusCode::CREATED
    );
    let back = r.get("big/-/big-1.0.0.tgz").bytes().unwrap();
    assert!(back.as_ref() == tarball.as_slice());
}

#[test]
fn bodies_over_the_limit_get_413() {
    let r = Registry::start(TestServer::builder().format_max_upload("npm", 64 << 10));
    let (status, _) = error_of(r.publish("pkg", "1.0.0", &vec![1u8; 100 << 10]));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.server.temp_files(), 0);
}

/// `npm search` shows the version `latest` names (what `npm view` and an install
/// without a range take), not the newest published, which is often a prerelease.
#[test]
fn search_shows_the_latest_dist_tag() {
    let r = Registry::start(TestServer::builder());
    assert_eq!(
        r.publish("pkg", "1.0.0", b"one").status(),
        StatusCode::CREATED
    );
    let next = r.publish_tagged("pkg", "2.0.0-rc.1", "next");
    assert_eq!(next.status(), StatusCode::CREATED);
    let shown = || {
        let found: Value = r.get("-/v1/search?text=pkg").json().unwrap();
        assert_eq!(found["total"], 1);
        found["objects"][0]["package"]["version"].clone()
    };
    assert_eq!(shown(), "1.0.0");
    // Moving `latest` moves the search result (the cached listing is renewed).
    let moved = r.put("-/package/pkg/dist-tags/latest", "\"2.0.0-rc.1\"");
    assert!(moved.status().is_success(), "{}", moved.status());
    assert_eq!(shown(), "2.0.0-rc.1");
}

/// `npm view` prints `_npmUser` as `name <email>`, and a missing email as
/// `<undefined>`. Accounts have no address, so it is empty rather than made up.
#[test]
fn the_publisher_is_shown_without_an_invented_email() {
    let r = Registry::start(TestServer::builder());
    assert_eq!(
        r.publish("pkg", "1.0.0", b"one").status(),
        StatusCode::CREATED
    );
    let packument: Value = r.get("pkg").json().unwrap();
    let publisher = json!({ "name": "alice", "email": "" });
    assert_eq!(packument["versions"]["1.0.0"]["_npmUser"], publisher);
    let version: Value = r.get("pkg/1.0.0").json().unwrap();
    assert_eq!(version["_npmUser"], publisher);
}

/// There is no self sign-up: `npm adduser` is told so and where accounts come from,
/// whether or not the name exists; a login still gets the 409 that sends it on to
/// sign in with the password.
#[test]
fn adduser_says_there_is_no_sign_up() {
    let r = Registry::start(TestServer::builder());
    let sign_up = |name: &str, command: &str| {
        client()
            .put(r.url(&format!("-/user/org.couchdb.user:{name}")))
            .header("npm-command", command)
            .json(&json!({ "name": name, "password": "secret", "email": "b@example.com" }))
            .send()
            .unwrap()
    };
    for name in ["bob", "alice"] {
        let (status, message) = error_of(sign_up(name, "adduser"));
        assert_eq!(status, StatusCode::FORBIDDEN, "{message}");
        assert!(message.contains("no self sign-up"), "{message}");
        assert!(
            message.contains(&format!("wharf user create {name}")),
            "{message}"
        );
        assert!(!message.contains("exists"), "{message}");
    }
    let (status, message) = error_of(sign_up("alice", "login"));
    assert_eq!(status, StatusCode::CONFLICT, "{message}");
    assert!(message.contains("no self sign-up"), "{message}");
}
