//! Stage 4 through the router: each operation family reaches its executor and answers
//! with the host's default statuses. The formats' protocols are tested in depth by
//! `tests/protocol`; these guard the dispatch from operation to executor.

use axum::body::Body;
use base64::Engine;
use http::{StatusCode, header};
use sha2::Digest;

use crate::db::tokens::Scope;
use crate::registry::testing::TestRegistry;

const FILE: &str = "/api/packages/alice/generic/tool/1.0/tool.txt";

fn request(method: &str, uri: &str, token: Option<&str>) -> http::request::Builder {
    TestRegistry::request(method, uri, token)
}

fn empty(builder: http::request::Builder) -> http::Request<Body> {
    builder.body(Body::empty()).unwrap()
}

/// A registry where alice (write token returned) has uploaded `hello` as [`FILE`].
async fn with_file() -> (TestRegistry, String) {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let put = request("PUT", FILE, Some(&token)).body(Body::from("hello"));
    assert_eq!(t.send(put.unwrap()).await.status(), StatusCode::CREATED);
    (t, token)
}

/// Guards `serve`: a file selector streams the stored blob, with Range, conditional
/// requests and HEAD handled by the download renderer.
#[tokio::test]
async fn serve_answers_whole_ranged_unchanged_and_head() {
    let (t, _) = with_file().await;
    let whole = t.send(empty(request("GET", FILE, None))).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let etag = whole.headers()[header::ETAG].clone();
    assert_eq!(TestRegistry::text(whole).await, "hello");

    let ranged = t
        .send(empty(
            request("GET", FILE, None).header(header::RANGE, "bytes=1-2"),
        ))
        .await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()[header::CONTENT_RANGE], "bytes 1-2/5");
    assert_eq!(TestRegistry::text(ranged).await, "el");

    let unchanged = request("GET", FILE, None).header(header::IF_NONE_MATCH, etag);
    let unchanged = t.send(empty(unchanged)).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(TestRegistry::text(unchanged).await, "");

    let head = t.send(empty(request("HEAD", FILE, None))).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
    assert_eq!(TestRegistry::text(head).await, "");
}

/// Guards `serve` with `digest-of`: the file's digest as lower-case hex text, computed
/// by the host (Maven's `.sha256`/`.sha1` next to an artifact).
#[tokio::test]
async fn a_digest_of_a_file_is_served_as_hex_text() {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let jar = "/api/packages/alice/maven/com/example/lib/1.0/lib-1.0.jar";
    let put = request("PUT", jar, Some(&token)).body(Body::from("jar bytes"));
    assert_eq!(t.send(put.unwrap()).await.status(), StatusCode::CREATED);
    let expected = [
        ("sha256", hex::encode(sha2::Sha256::digest(b"jar bytes"))),
        ("sha1", hex::encode(sha1::Sha1::digest(b"jar bytes"))),
    ];
    for (extension, hex) in expected {
        let digest = t
            .send(empty(request("GET", &format!("{jar}.{extension}"), None)))
            .await;
        assert_eq!(digest.status(), StatusCode::OK, "{extension}");
        assert_eq!(digest.headers()[header::CONTENT_TYPE], "text/plain");
        assert_eq!(TestRegistry::text(digest).await, hex, "{extension}");
    }
}

/// Guards `delete`: 204 when something was removed, 404 when nothing was there.
#[tokio::test]
async fn deletes_answer_204_and_404_when_nothing_is_there() {
    let (t, token) = with_file().await;
    let deleted = t.send(empty(request("DELETE", FILE, Some(&token)))).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = t.send(empty(request("GET", FILE, None))).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let again = t.send(empty(request("DELETE", FILE, Some(&token)))).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let version = "/api/packages/alice/generic/tool/2.0";
    let missing = t
        .send(empty(request("DELETE", version, Some(&token))))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// An npm publish body for `pkg@1.0.0` whose packument is well over the gzip
/// threshold.
fn npm_publish() -> String {
    let tarball = b"a tarball the host stores as it is";
    serde_json::json!({
        "name": "pkg",
        "readme": "r".repeat(4096),
        "dist-tags": { "latest": "1.0.0" },
        "versions": { "1.0.0": {
            "name": "pkg",
            "version": "1.0.0",
            "description": "d".repeat(4096),
            "dist": { "shasum": hex::encode(sha1::Sha1::digest(tarball)) },
        }},
        "_attachments": { "pkg-1.0.0.tgz": {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tarball),
            "length": tarball.len(),
        }},
    })
    .to_string()
}

/// Guards `render-index`: the rendered document carries an ETag, answers a matching
/// `If-None-Match` with 304, and is gzipped (with its own ETag) for clients taking gzip.
#[tokio::test]
async fn a_rendered_index_has_an_etag_answers_304_and_gzips() {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let packument = "/api/packages/alice/npm/pkg";
    let publish = request("PUT", packument, Some(&token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(npm_publish()));
    assert_eq!(t.send(publish.unwrap()).await.status(), StatusCode::CREATED);

    let plain = t.send(empty(request("GET", packument, None))).await;
    assert_eq!(plain.status(), StatusCode::OK);
    let vary = plain.headers().get_all(header::VARY);
    assert!(vary.iter().any(|v| v == "Accept-Encoding"), "{vary:?}");
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let etag = plain.headers()[header::ETAG].clone();
    let document = TestRegistry::text(plain).await;
    assert!(document.contains("\"1.0.0\""), "{document}");

    let cached = request("GET", packument, None).header(header::IF_NONE_MATCH, etag.clone());
    assert_eq!(
        t.send(empty(cached)).await.status(),
        StatusCode::NOT_MODIFIED
    );

    let gzip = request("GET", packument, None).header(header::ACCEPT_ENCODING, "gzip");
    let gzipped = t.send(empty(gzip)).await;
    assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
    assert_ne!(
        gzipped.headers()[header::ETAG],
        etag,
        "one ETag per encoding"
    );
    let bytes = axum::body::to_bytes(gzipped.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, document);
}

/// Guards `respond`: the plugin's own response is sent as it is (Maven acknowledges the
/// client's `maven-metadata.xml` with an empty 200; NuGet's service index is JSON), and
/// a body the plugin does not want is read and dropped, keeping the connection.
#[tokio::test]
async fn respond_sends_the_plugins_response() {
    let t = TestRegistry::open();
    let token = t.user("alice", Scope::Write);
    let metadata = "/api/packages/alice/maven/com/example/lib/maven-metadata.xml";
    let put = request("PUT", metadata, Some(&token))
        .header(header::CONTENT_LENGTH, "9")
        .body(Body::from("<xml></x>"));
    let acknowledged = t.send(put.unwrap()).await;
    assert_eq!(acknowledged.status(), StatusCode::OK);
    assert!(acknowledged.headers().get(header::CONNECTION).is_none());

    let index = "/api/packages/alice/nuget/index.json";
    let index = t.send(empty(request("GET", index, None))).await;
    assert_eq!(index.status(), StatusCode::OK);
    assert!(TestRegistry::text(index).await.contains("\"resources\""));
}

/// Guards `not-found`: a path the plugin does not know is a 404.
#[tokio::test]
async fn a_path_the_plugin_does_not_know_is_404() {
    let (t, token) = with_file().await;
    let unknown = "/api/packages/alice/generic/tool";
    let response = t.send(empty(request("GET", unknown, Some(&token)))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Guards `issue-token`: a signed-in caller gets a stored token with its own scope
/// (so a read token cannot buy a write token), filled into the route's reply.
#[tokio::test]
async fn issued_tokens_keep_the_callers_scope() {
    let t = TestRegistry::open();
    let read = t.user("alice", Scope::Read);
    let login = "/api/packages/alice/npm/-/user/org.couchdb.user:alice/-rev/1";
    let issued = t.send(empty(request("PUT", login, Some(&read)))).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let reply: serde_json::Value = serde_json::from_str(&TestRegistry::text(issued).await).unwrap();
    let token = reply["token"].as_str().expect("the reply names the token");
    assert_ne!(token, read);

    let whoami = "/api/packages/alice/npm/-/whoami";
    let whoami = t.send(empty(request("GET", whoami, Some(token)))).await;
    assert_eq!(TestRegistry::text(whoami).await, r#"{"username":"alice"}"#);
    let put = request("PUT", FILE, Some(token)).body(Body::from("x"));
    assert_eq!(t.send(put.unwrap()).await.status(), StatusCode::FORBIDDEN);

    let anonymous = t.send(empty(request("PUT", login, None))).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Guards writes through a group with `write_to`: they run as the member's (stored
/// under acme, found through the group and at acme's URL, deleted through the group),
/// refusals are the member's, and a group without `write_to` answers 405.
#[tokio::test]
async fn writes_through_a_group_are_stored_under_its_write_to_member() {
    let f = crate::pipeline::write_to::tests::fixture();
    let t = &f.t;
    let (through, stored) = (
        "/api/packages/all/generic/tool/1.0/tool.txt",
        "/api/packages/acme/generic/tool/1.0/tool.txt",
    );
    let put = |uri, token: &str| request("PUT", uri, Some(token)).body(Body::from("hello"));
    assert_eq!(
        t.send(put(through, &f.alice).unwrap()).await.status(),
        StatusCode::CREATED
    );
    for uri in [stored, through] {
        let got = t.send(empty(request("GET", uri, None))).await;
        assert_eq!(got.status(), StatusCode::OK, "{uri}");
        assert_eq!(TestRegistry::text(got).await, "hello");
    }

    let refused = t.send(put(through, &f.bob).unwrap()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let why = TestRegistry::text(refused).await;
    assert!(why.contains("may not write packages of \"acme\""), "{why}");

    let deleted = t
        .send(empty(request("DELETE", through, Some(&f.alice))))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = t.send(empty(request("GET", stored, None))).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // The group holds generic packages only: at another format's mount it finds
    // nothing, not even what its member has in that format.
    let jar = "com/example/tool/1.0/tool-1.0.jar";
    let member_jar = format!("/api/packages/acme/maven/{jar}");
    let put_jar = request("PUT", &member_jar, Some(&f.alice)).body(Body::from("jar"));
    assert_eq!(t.send(put_jar.unwrap()).await.status(), StatusCode::CREATED);
    let elsewhere = format!("/api/packages/all/maven/{jar}");
    let other_format = t.send(empty(request("GET", &elsewhere, None))).await;
    assert_eq!(other_format.status(), StatusCode::NOT_FOUND);

    let frozen = "/api/packages/frozen/generic/tool/1.0/tool.txt";
    let read_only = t.send(put(frozen, &f.admin).unwrap()).await;
    assert_eq!(read_only.status(), StatusCode::METHOD_NOT_ALLOWED);
    let why = TestRegistry::text(read_only).await;
    assert!(why.contains("frozen is a group repository"), "{why}");
}

/// A registry token for `user`, asked for `repository:<repository>:pull,push`.
async fn registry_token(t: &TestRegistry, user: &str, repository: &str) -> String {
    let uri = format!("/v2/token?service=wharf&scope=repository:{repository}:pull,push");
    let issue = http::Request::get(uri).header(header::AUTHORIZATION, TestRegistry::basic(user));
    let issued = t.send(empty(issue)).await;
    assert_eq!(issued.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&TestRegistry::text(issued).await).unwrap();
    body["token"]
        .as_str()
        .expect("a registry token")
        .to_string()
}

/// Guards the plugin's view of a write through a group: an OCI upload session opened at
/// `/v2/<group>/<repo>` sends the client back to the group's URL, where its chunks,
/// status and finish reach the member's session; the image is stored as
/// `<member>/<repo>` and pulled through either name. The registry token is the one a
/// Docker client asks for, naming the group's repository: the token endpoint grants
/// `push` there to who may write the member.
#[tokio::test]
async fn an_upload_session_opened_through_a_group_continues_there() {
    let f = crate::pipeline::write_to::tests::fixture();
    let t = &f.t;
    let bob = registry_token(t, "bob", "images/app").await;
    let post = http::Request::post("/v2/images/app/blobs/uploads/")
        .header(header::AUTHORIZATION, format!("Bearer {bob}"));
    let refused = t.send(empty(post)).await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "bob may not write acme"
    );

    let bearer = format!("Bearer {}", registry_token(t, "alice", "images/app").await);
    let oci = |method: &str, uri: &str| {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, bearer.clone())
    };
    let start = t
        .send(empty(oci("POST", "/v2/images/app/blobs/uploads/")))
        .await;
    assert_eq!(start.status(), StatusCode::ACCEPTED);
    let location = start.headers()[header::LOCATION].to_str().unwrap();
    let session = location
        .strip_prefix("http://wharf.test")
        .unwrap_or(location)
        .to_string();
    assert!(
        session.starts_with("/v2/images/app/blobs/uploads/"),
        "{session}"
    );

    let config = b"{}";
    let patch = oci("PATCH", &session)
        .header(header::CONTENT_RANGE, "0-1")
        .body(Body::from(&config[..]));
    assert_eq!(t.send(patch.unwrap()).await.status(), StatusCode::ACCEPTED);
    let status = t.send(empty(oci("GET", &session))).await;
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()["range"], "0-1");
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(config)));
    let finish = t
        .send(empty(oci("PUT", &format!("{session}?digest={digest}"))))
        .await;
    assert_eq!(finish.status(), StatusCode::CREATED);

    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": config.len(),
        },
        "layers": [],
    })
    .to_string();
    let push = oci("PUT", "/v2/images/app/manifests/v1")
        .header(
            header::CONTENT_TYPE,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .body(Body::from(manifest.clone()));
    let pushed = t.send(push.unwrap()).await;
    assert_eq!(pushed.status(), StatusCode::CREATED);
    // Anonymous pulls: acme and the group are public.
    for repository in ["acme/app", "images/app"] {
        let blob = format!("/v2/{repository}/blobs/{digest}");
        let blob = t.send(empty(request("GET", &blob, None))).await;
        assert_eq!(blob.status(), StatusCode::OK, "{repository}");
        let pulled = format!("/v2/{repository}/manifests/v1");
        let pulled = t.send(empty(request("GET", &pulled, None))).await;
        assert_eq!(pulled.status(), StatusCode::OK, "{repository}");
        assert_eq!(TestRegistry::text(pulled).await, manifest);
    }
}
