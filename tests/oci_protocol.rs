//! OCI distribution-spec over plain HTTP: every endpoint's success headers, the spec's
//! error codes, and that a refused push stores nothing; proxies of a second Wharf in
//! `oci_protocol/proxy.rs`. The real clients (skopeo, oras) are in `oci.rs`.

use reqwest::Method;
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use wharf::db::owners::Role;
use wharf::db::tokens::Scope;
use wharf_tests::sha256_digest as sha256;
use wharf_tests::{StatusCode, TestServer, client};

#[path = "oci_protocol/conformance.rs"]
mod conformance;
#[path = "oci_protocol/gc.rs"]
mod gc;
#[path = "oci_protocol/proxy.rs"]
mod proxy;

const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub(crate) struct Registry {
    server: TestServer,
    token: String,
}

impl Registry {
    fn start() -> Self {
        Self::with(TestServer::builder())
    }

    /// The OCI format `builder` enables (the bundled one unless it names another), at
    /// `/v2` as it ships.
    pub(crate) fn with(builder: wharf_tests::Builder) -> Self {
        let server = builder.start();
        let token = server.user("alice", Scope::Write);
        Self { server, token }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/v2/{rest}", self.server.url)
    }

    /// A request as alice (Basic with a token, which `/v2` accepts as Gitea does).
    fn request(&self, method: Method, rest: &str) -> RequestBuilder {
        self.request_as(method, rest, "alice", &self.token)
    }

    fn request_as(&self, method: Method, rest: &str, user: &str, secret: &str) -> RequestBuilder {
        client()
            .request(method, self.url(rest))
            .basic_auth(user, Some(secret))
    }

    fn get(&self, rest: &str) -> Response {
        self.request(Method::GET, rest).send().unwrap()
    }

    /// Pushes a blob in one request; returns its digest.
    fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let response = self
            .request(
                Method::POST,
                &format!("{repo}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{}", text(response));
        digest
    }

    fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &Value,
    ) -> Response {
        self.request(Method::PUT, &format!("{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .unwrap()
    }

    /// Pushes a config and one layer and a manifest naming them, tagged `tag`;
    /// returns the manifest's bytes and digest.
    fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, String) {
        let manifest = self.image(repo, layer);
        let response = self.push_manifest(repo, tag, IMAGE_MANIFEST, &manifest);
        assert_eq!(response.status(), StatusCode::CREATED, "{}", text(response));
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let digest = sha256(&bytes);
        (bytes, digest)
    }

    /// Pushes a config and a layer; returns a manifest naming them (not pushed).
    fn image(&self, repo: &str, layer: &[u8]) -> Value {
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let config_digest = self.push_blob(repo, config);
        let layer_digest = self.push_blob(repo, layer);
        json!({
            "schemaVersion": 2,
            "mediaType": IMAGE_MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": LAYER, "digest": layer_digest, "size": layer.len()}],
        })
    }

    /// Opens an upload session in `repo`; returns its id.
    fn open_session(&self, repo: &str) -> String {
        let start = self
            .request(Method::POST, &format!("{repo}/blobs/uploads/"))
            .send()
            .unwrap();
        assert_eq!(start.status(), StatusCode::ACCEPTED);
        let location = header(&start, "location");
        location.rsplit('/').next().unwrap().to_string()
    }

    fn tags(&self, repo: &str) -> Vec<String> {
        let response = self.get(&format!("{repo}/tags/list"));
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().unwrap();
        serde_json::from_value(body["tags"].clone()).unwrap()
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", response.headers()))
        .to_str()
        .unwrap()
        .to_string()
}

fn text(response: Response) -> String {
    response.text().unwrap_or_default()
}

/// Asserts an OCI error response: its status and its first error code.
#[track_caller]
fn assert_refused(response: Response, status: StatusCode, code: &str) {
    assert_eq!(oci_error(response), (status, code.to_string()));
}

/// The status and the first error code of an OCI error response.
fn oci_error(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().expect("an OCI error body");
    (
        status,
        body["errors"][0]["code"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_base_endpoint_challenges_anonymous_callers() {
    let oci = Registry::start();
    let anonymous = client().get(oci.url("")).send().unwrap();
    assert_eq!(
        header(&anonymous, "docker-distribution-api-version"),
        "registry/2.0"
    );
    let challenge = header(&anonymous, "www-authenticate");
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"{}/v2/token\",service=\"wharf\"",
            oci.server.url
        )),
        "{challenge}"
    );
    assert_refused(anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    let signed_in = oci.get("");
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(
        header(&signed_in, "docker-distribution-api-version"),
        "registry/2.0"
    );
}

#[test]
fn blobs_upload_in_one_request_and_read_back() {
    let oci = Registry::start();
    let bytes = b"a layer of bytes".to_vec();
    let digest = sha256(&bytes);
    let response = oci
        .request(
            Method::POST,
            &format!("alice/app/blobs/uploads/?digest={digest}"),
        )
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "docker-content-digest"), digest);
    assert!(
        header(&response, "location").ends_with(&format!("/v2/alice/app/blobs/{digest}")),
        "{:?}",
        response.headers()
    );

    let head = oci
        .request(Method::HEAD, &format!("alice/app/blobs/{digest}"))
        .send()
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), bytes.len().to_string());
    assert_eq!(header(&head, "docker-content-digest"), digest);
    let get = oci.get(&format!("alice/app/blobs/{digest}"));
    assert_eq!(get.bytes().unwrap().as_ref(), bytes.as_slice());

    let unknown = oci.get(&format!("alice/app/blobs/{}", sha256(b"other")));
    assert_refused(unknown, StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[test]
fn chunked_uploads_check_ranges_and_resume() {
    chunked_uploads_check_ranges_and_resume_on(&Registry::start());
}

/// The scenario of `chunked_uploads_check_ranges_and_resume` on any OCI plugin
/// (`contract_compat` runs it on the 0.2 one).
pub(crate) fn chunked_uploads_check_ranges_and_resume_on(oci: &Registry) {
    let (first, second) = (vec![7u8; 3000], vec![9u8; 2000]);
    let whole = [first.clone(), second.clone()].concat();

    let start = oci
        .request(Method::POST, "alice/app/blobs/uploads/")
        .send()
        .unwrap();
    assert_eq!(start.status(), StatusCode::ACCEPTED);
    let location = header(&start, "location");
    assert!(
        location.contains("/v2/alice/app/blobs/uploads/"),
        "{location}"
    );
    assert_eq!(header(&start, "range"), "0-0");
    assert!(!header(&start, "docker-upload-uuid").is_empty());
    assert!(!header(&start, "oci-chunk-min-length").is_empty());
    let session = location.rsplit('/').next().unwrap().to_string();
    let session_path = format!("alice/app/blobs/uploads/{session}");

    let patch = |range: &str, body: &[u8]| {
        oci.request(Method::PATCH, &session_path)
            .header("content-range", range)
            .header("content-type", "application/octet-stream")
            .body(body.to_vec())
            .send()
            .unwrap()
    };
    let chunk = patch("0-2999", &first);
    assert_eq!(chunk.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&chunk, "range"), "0-2999");

    // A chunk that does not continue where the session is: 416 with where it is.
    let out_of_order = patch("4000-5999", &second);
    assert_eq!(out_of_order.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&out_of_order, "range"), "0-2999");
    assert_eq!(
        oci_error(out_of_order).1,
        "BLOB_UPLOAD_INVALID",
        "the spec's code for a bad chunk"
    );

    // The client learns the offset from the status, on a new connection.
    let status = oci.get(&session_path);
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&status, "range"), "0-2999");

    assert_eq!(patch("3000-4999", &second).status(), StatusCode::ACCEPTED);
    let digest = sha256(&whole);
    let finish = oci
        .request(Method::PUT, &format!("{session_path}?digest={digest}"))
        .send()
        .unwrap();
    assert_eq!(finish.status(), StatusCode::CREATED);
    assert_eq!(header(&finish, "docker-content-digest"), digest);
    let get = oci.get(&format!("alice/app/blobs/{digest}"));
    assert_eq!(get.bytes().unwrap().as_ref(), whole.as_slice());

    // The session is gone once finished.
    let after = oci.get(&session_path);
    assert_refused(after, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn a_streamed_patch_without_range_then_put_is_what_skopeo_sends() {
    let oci = Registry::start();
    let bytes = vec![3u8; 100_000];
    let start = oci
        .request(Method::POST, "alice/app/blobs/uploads/")
        .send()
        .unwrap();
    let location = header(&start, "location");
    let patch = client()
        .patch(&location)
        .basic_auth("alice", Some(&oci.token))
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(patch.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&patch, "range"), "0-99999");
    let put_url = header(&patch, "location");
    let separator = if put_url.contains('?') { '&' } else { '?' };
    let finish = client()
        .put(format!("{put_url}{separator}digest={}", sha256(&bytes)))
        .basic_auth("alice", Some(&oci.token))
        .send()
        .unwrap();
    assert_eq!(finish.status(), StatusCode::CREATED, "{}", text(finish));
}

#[test]
fn wrong_digests_store_nothing() {
    let oci = Registry::start();
    let before = oci.server.stored_blobs();
    let wrong = sha256(b"something else");
    let monolithic = oci
        .request(
            Method::POST,
            &format!("alice/app/blobs/uploads/?digest={wrong}"),
        )
        .body(b"the bytes".to_vec())
        .send()
        .unwrap();
    assert_refused(monolithic, StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    let session = oci.open_session("alice/app");
    let path = format!("alice/app/blobs/uploads/{session}");
    let put = oci
        .request(Method::PUT, &format!("{path}?digest={wrong}"))
        .body(b"the bytes".to_vec())
        .send()
        .unwrap();
    assert_refused(put, StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    // The failed session is discarded with its bytes.
    assert_eq!(oci_error(oci.get(&path)).1, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(oci.server.stored_blobs(), before);
    assert_eq!(oci.server.temp_files(), 0);

    let malformed = oci
        .request(
            Method::POST,
            "alice/app/blobs/uploads/?digest=sha256:totallywrong",
        )
        .body(b"x".to_vec())
        .send()
        .unwrap();
    assert_refused(malformed, StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[test]
fn sha512_digests_name_the_same_blob() {
    let oci = Registry::start();
    let bytes = b"hashed twice".to_vec();
    let sha512 = format!("sha512:{:x}", Sha512::digest(&bytes));
    let response = oci
        .request(
            Method::POST,
            &format!("alice/app/blobs/uploads/?digest={sha512}"),
        )
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", text(response));
    for digest in [sha512, sha256(&bytes)] {
        let get = oci.get(&format!("alice/app/blobs/{digest}"));
        assert_eq!(get.status(), StatusCode::OK, "{digest}");
        assert_eq!(get.bytes().unwrap().as_ref(), bytes.as_slice());
    }
}

#[test]
fn sessions_are_bound_to_their_repository() {
    let oci = Registry::start();
    let session = oci.open_session("alice/app");
    let elsewhere = oci.get(&format!("alice/other/blobs/uploads/{session}"));
    assert_eq!(oci_error(elsewhere).1, "BLOB_UPLOAD_UNKNOWN");
    for bogus in [
        "..%2F..%2Fetc",
        "not-a-session",
        "00000000-0000-4000-8000-000000000000",
    ] {
        let response = oci.get(&format!("alice/app/blobs/uploads/{bogus}"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bogus}");
    }
    let cancel = oci
        .request(
            Method::DELETE,
            &format!("alice/app/blobs/uploads/{session}"),
        )
        .send()
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    let gone = oci.get(&format!("alice/app/blobs/uploads/{session}"));
    assert_eq!(oci_error(gone).1, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn manifests_push_by_tag_and_read_by_tag_and_digest() {
    manifests_push_by_tag_and_read_by_tag_and_digest_on(&Registry::start());
}

/// The scenario of `manifests_push_by_tag_and_read_by_tag_and_digest` on any OCI
/// plugin (`contract_compat` runs it on the 0.2 one).
pub(crate) fn manifests_push_by_tag_and_read_by_tag_and_digest_on(oci: &Registry) {
    let manifest = oci.image("alice/app", b"layer one");
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = sha256(&bytes);
    let push = oci.push_manifest("alice/app", "v1", IMAGE_MANIFEST, &manifest);
    assert_eq!(push.status(), StatusCode::CREATED);
    assert_eq!(header(&push, "docker-content-digest"), digest);
    assert!(
        header(&push, "location").ends_with(&format!("/v2/alice/app/manifests/{digest}")),
        "{:?}",
        push.headers()
    );

    for reference in ["v1", digest.as_str()] {
        let get = oci
            .request(Method::GET, &format!("alice/app/manifests/{reference}"))
            .header("accept", IMAGE_MANIFEST)
            .send()
            .unwrap();
        assert_eq!(get.status(), StatusCode::OK, "{reference}");
        assert_eq!(header(&get, "content-type"), IMAGE_MANIFEST);
        assert_eq!(header(&get, "docker-content-digest"), digest);
        assert_eq!(get.bytes().unwrap().as_ref(), bytes.as_slice());

        let head = oci
            .request(Method::HEAD, &format!("alice/app/manifests/{reference}"))
            .send()
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(header(&head, "content-length"), bytes.len().to_string());
    }

    // A tag moves to the newest manifest pushed under it; the old one stays by digest.
    let (_, second) = oci.push_image("alice/app", "v1", b"layer two");
    let get = oci.get("alice/app/manifests/v1");
    assert_eq!(header(&get, "docker-content-digest"), second);
    assert_eq!(
        oci.get(&format!("alice/app/manifests/{digest}")).status(),
        StatusCode::OK
    );
    let unknown = oci.get("alice/app/manifests/v9");
    assert_refused(unknown, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[test]
fn indexes_docker_manifests_and_pushes_by_digest() {
    let oci = Registry::start();
    let (amd64, amd64_digest) = oci.push_image("alice/multi", "amd64", b"amd64 layer");
    let (arm64, arm64_digest) = oci.push_image("alice/multi", "arm64", b"arm64 layer");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_INDEX,
        "manifests": [
            {"mediaType": IMAGE_MANIFEST, "digest": amd64_digest, "size": amd64.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": IMAGE_MANIFEST, "digest": arm64_digest, "size": arm64.len(),
             "platform": {"architecture": "arm64", "os": "linux"}},
        ],
    });
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let index_digest = sha256(&index_bytes);
    let push = oci.push_manifest("alice/multi", &index_digest, IMAGE_INDEX, &index);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    let get = oci.get(&format!("alice/multi/manifests/{index_digest}"));
    assert_eq!(header(&get, "content-type"), IMAGE_INDEX);
    assert_eq!(get.bytes().unwrap().as_ref(), index_bytes.as_slice());

    // Pushed by a digest its bytes do not have: refused.
    let wrong = oci.push_manifest("alice/multi", &sha256(b"no"), IMAGE_INDEX, &index);
    assert_refused(wrong, StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    let mut docker = oci.image("alice/docker", b"docker layer");
    docker["mediaType"] = json!(DOCKER_MANIFEST);
    docker["config"]["mediaType"] = json!("application/vnd.docker.container.image.v1+json");
    docker["layers"][0]["mediaType"] = json!("application/vnd.docker.image.rootfs.diff.tar.gzip");
    let push = oci.push_manifest("alice/docker", "latest", DOCKER_MANIFEST, &docker);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    let get = oci.get("alice/docker/manifests/latest");
    assert_eq!(header(&get, "content-type"), DOCKER_MANIFEST);
}

#[test]
fn manifests_naming_missing_blobs_or_malformed_are_refused_and_store_nothing() {
    let oci = Registry::start();
    let mut manifest = oci.image("alice/app", b"present");
    let before = oci.server.stored_blobs();

    let mut missing = manifest.clone();
    missing["layers"][0]["digest"] = json!(sha256(b"never pushed"));
    let response = oci.push_manifest("alice/app", "v1", IMAGE_MANIFEST, &missing);
    assert_refused(response, StatusCode::NOT_FOUND, "MANIFEST_BLOB_UNKNOWN");

    // A layer that exists only in another repository does not count.
    let elsewhere = oci.push_blob("alice/other", b"elsewhere");
    let mut foreign = manifest.clone();
    foreign["layers"][0]["digest"] = json!(elsewhere);
    foreign["layers"][0]["size"] = json!(9);
    let response = oci.push_manifest("alice/app", "v1", IMAGE_MANIFEST, &foreign);
    assert_eq!(oci_error(response).1, "MANIFEST_BLOB_UNKNOWN");

    manifest["layers"][0]["size"] = json!(12345);
    let response = oci.push_manifest("alice/app", "v1", IMAGE_MANIFEST, &manifest);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    for (body, content_type) in [
        (b"{not json".to_vec(), IMAGE_MANIFEST),
        (br#"{"schemaVersion":1}"#.to_vec(), IMAGE_MANIFEST),
        (
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#
                .to_vec(),
            IMAGE_MANIFEST,
        ),
        (serde_json::to_vec(&missing).unwrap(), IMAGE_INDEX),
    ] {
        let response = oci
            .request(Method::PUT, "alice/app/manifests/v1")
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        assert_refused(response, StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    }
    assert!(oci.tags("alice/app").is_empty());
    assert_eq!(
        oci.server.stored_blobs(),
        before + 1,
        "only the other repo's blob"
    );
    assert_eq!(oci.server.temp_files(), 0);
}

/// A manifest naming many blobs: past the first few, the host answers the plugin's
/// questions from one read of the repository's blobs (`plugins/blob_sizes.rs`). The
/// answers must stay those of one lookup each: a blob of another repository, a blob
/// never pushed and a wrong size are each found far down the list. The plugin's own
/// check must refuse them (its messages say so); the host's check in the publish
/// transaction would catch them too, with another message.
#[test]
fn a_manifest_naming_many_blobs_is_checked_blob_by_blob() {
    let oci = Registry::start();
    let mut manifest = oci.image("alice/many", b"layer 0");
    let layers: Vec<Value> = (1..40)
        .map(|i| {
            let bytes = format!("layer {i}");
            let digest = oci.push_blob("alice/many", bytes.as_bytes());
            json!({"mediaType": LAYER, "digest": digest, "size": bytes.len()})
        })
        .collect();
    manifest["layers"].as_array_mut().unwrap().extend(layers);
    let elsewhere = oci.push_blob("alice/other", b"layer 99");
    let unknown = ("MANIFEST_BLOB_UNKNOWN", "is not in the repository");
    let cases = [
        ("digest", json!(elsewhere), unknown),
        ("digest", json!(sha256(b"never pushed")), unknown),
        (
            "size",
            json!(12345),
            ("SIZE_INVALID", "the manifest says 12345"),
        ),
    ];
    for (field, value, (code, message)) in cases {
        let mut wrong = manifest.clone();
        wrong["layers"][35][field] = value;
        let response = oci.push_manifest("alice/many", "v1", IMAGE_MANIFEST, &wrong);
        let body: Value = response.json().expect("an OCI error body");
        let error = &body["errors"][0];
        assert_eq!(error["code"], code, "{field}: {body}");
        let said = error["message"].as_str().unwrap_or_default();
        assert!(said.contains(message), "{field}: {body}");
    }
    assert!(oci.tags("alice/many").is_empty());
    let response = oci.push_manifest("alice/many", "v1", IMAGE_MANIFEST, &manifest);
    assert_eq!(response.status(), StatusCode::CREATED, "{}", text(response));
}

#[test]
fn names_tags_and_digests_are_validated() {
    let oci = Registry::start();
    for name in ["Alice/App", "alice/-x", "alice/a___b", "alice"] {
        let response = oci.get(&format!("{name}/tags/list"));
        assert_eq!(
            oci_error(response),
            (StatusCode::BAD_REQUEST, "NAME_INVALID".to_string()),
            "{name}"
        );
    }
    let long = format!("alice/{}", "a".repeat(260));
    assert_eq!(
        oci_error(oci.get(&format!("{long}/tags/list"))).1,
        "NAME_INVALID"
    );
    let bad_digest = oci.get("alice/app/blobs/sha256:totallywrong");
    assert_refused(bad_digest, StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    let manifest = json!({"schemaVersion": 2});
    let bad_tag = oci.push_manifest("alice/app", "-x", IMAGE_MANIFEST, &manifest);
    assert_eq!(bad_tag.status(), StatusCode::BAD_REQUEST);
    let unknown_owner = oci.get("nobody/app/tags/list");
    assert_eq!(unknown_owner.status(), StatusCode::NOT_FOUND);
}

#[test]
fn tags_list_pages_with_link() {
    tags_list_pages_with_link_on(&Registry::start());
}

/// The scenario of `tags_list_pages_with_link` on any OCI plugin (`contract_compat`
/// runs it on the 0.2 one).
pub(crate) fn tags_list_pages_with_link_on(oci: &Registry) {
    let (_, _) = oci.push_image("alice/app", "b", b"one");
    for tag in ["a", "c", "d"] {
        let manifest = oci.image("alice/app", b"one");
        let response = oci.push_manifest("alice/app", tag, IMAGE_MANIFEST, &manifest);
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert_eq!(oci.tags("alice/app"), ["a", "b", "c", "d"]);

    let page = oci.get("alice/app/tags/list?n=2");
    let link = header(&page, "link");
    assert_eq!(link, "</v2/alice/app/tags/list?n=2&last=b>; rel=\"next\"");
    let body: Value = page.json().unwrap();
    assert_eq!(body["name"], "alice/app");
    assert_eq!(body["tags"], json!(["a", "b"]));

    let last = oci.get("alice/app/tags/list?n=2&last=b");
    assert!(
        last.headers().get("link").is_none(),
        "no page after the last"
    );
    let body: Value = last.json().unwrap();
    assert_eq!(body["tags"], json!(["c", "d"]));

    let unknown = oci.get("alice/none/tags/list");
    assert_refused(unknown, StatusCode::NOT_FOUND, "NAME_UNKNOWN");
}

#[test]
fn referrers_list_manifests_by_subject() {
    let oci = Registry::start();
    let (subject, subject_digest) = oci.push_image("alice/app", "v1", b"the image");
    let empty_config = b"{}";
    let config = oci.push_blob("alice/app", empty_config);
    let signature = oci.push_blob("alice/app", b"a signature");
    let referrer = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": signature, "size": 11}],
        "subject": {"mediaType": IMAGE_MANIFEST, "digest": subject_digest, "size": subject.len()},
        "annotations": {"org.example.signed-by": "alice"},
    });
    let referrer_bytes = serde_json::to_vec(&referrer).unwrap();
    let referrer_digest = sha256(&referrer_bytes);
    let push = oci.push_manifest("alice/app", &referrer_digest, IMAGE_MANIFEST, &referrer);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    assert_eq!(header(&push, "oci-subject"), subject_digest);

    let list = oci.get(&format!("alice/app/referrers/{subject_digest}"));
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(header(&list, "content-type"), IMAGE_INDEX);
    let index: Value = list.json().unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{index}");
    assert_eq!(manifests[0]["digest"], referrer_digest);
    assert_eq!(manifests[0]["size"], referrer_bytes.len());
    assert_eq!(
        manifests[0]["artifactType"],
        "application/vnd.example.signature"
    );
    assert_eq!(
        manifests[0]["annotations"]["org.example.signed-by"],
        "alice"
    );

    let filtered = oci.get(&format!(
        "alice/app/referrers/{subject_digest}?artifactType=application/vnd.example.other"
    ));
    assert_eq!(header(&filtered, "oci-filters-applied"), "artifactType");
    let index: Value = filtered.json().unwrap();
    assert_eq!(index["manifests"], json!([]));

    let none = oci.get(&format!("alice/app/referrers/{}", sha256(b"nothing")));
    assert_eq!(none.status(), StatusCode::OK);
    let index: Value = none.json().unwrap();
    assert_eq!(index["manifests"], json!([]));
}

#[test]
fn deletes_by_tag_digest_and_blob() {
    let oci = Registry::start();
    let (_, digest) = oci.push_image("alice/app", "v1", b"to delete");
    let manifest = oci.get("alice/app/manifests/v1").bytes().unwrap().to_vec();
    let again = oci
        .request(Method::PUT, "alice/app/manifests/v2")
        .header("content-type", IMAGE_MANIFEST)
        .body(manifest)
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(oci.tags("alice/app"), ["v1", "v2"]);

    let untag = oci
        .request(Method::DELETE, "alice/app/manifests/v1")
        .send()
        .unwrap();
    assert_eq!(untag.status(), StatusCode::ACCEPTED);
    assert_eq!(oci.tags("alice/app"), ["v2"]);
    assert_eq!(
        oci.get(&format!("alice/app/manifests/{digest}")).status(),
        StatusCode::OK
    );

    let delete = oci
        .request(Method::DELETE, &format!("alice/app/manifests/{digest}"))
        .send()
        .unwrap();
    assert_eq!(delete.status(), StatusCode::ACCEPTED);
    assert_eq!(
        oci_error(oci.get("alice/app/manifests/v2")).1,
        "MANIFEST_UNKNOWN"
    );

    let blob = oci.push_blob("alice/app", b"a loose blob");
    let path = format!("alice/app/blobs/{blob}");
    let unlink = oci.request(Method::DELETE, &path).send().unwrap();
    assert_eq!(unlink.status(), StatusCode::ACCEPTED);
    assert_eq!(oci_error(oci.get(&path)).1, "BLOB_UNKNOWN");
    let again = oci.request(Method::DELETE, &path).send().unwrap();
    assert_refused(again, StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[test]
fn blobs_mount_from_readable_repositories_only() {
    let oci = Registry::start();
    let bob = oci.server.user("bob", Scope::Write);
    oci.server.org("secret", "bob", true);
    let shared = oci.push_blob("alice/source", b"shared layer");

    let mount = oci
        .request(
            Method::POST,
            &format!("alice/target/blobs/uploads/?mount={shared}&from=alice/source"),
        )
        .send()
        .unwrap();
    assert_eq!(mount.status(), StatusCode::CREATED);
    assert_eq!(header(&mount, "docker-content-digest"), shared);
    assert_eq!(
        oci.get(&format!("alice/target/blobs/{shared}")).status(),
        StatusCode::OK
    );

    // bob's private blob cannot be mounted by alice: she gets an upload session instead.
    let hidden = sha256(b"bob's layer");
    let push = oci
        .request_as(
            Method::POST,
            &format!("secret/img/blobs/uploads/?digest={hidden}"),
            "bob",
            &bob,
        )
        .body(b"bob's layer".to_vec())
        .send()
        .unwrap();
    assert_eq!(push.status(), StatusCode::CREATED);
    let refused = oci
        .request(
            Method::POST,
            &format!("alice/target/blobs/uploads/?mount={hidden}&from=secret/img"),
        )
        .send()
        .unwrap();
    assert_eq!(refused.status(), StatusCode::ACCEPTED);
    assert!(header(&refused, "location").contains("/blobs/uploads/"));
    assert_eq!(
        oci.get(&format!("alice/target/blobs/{hidden}")).status(),
        StatusCode::NOT_FOUND
    );

    // Without `from`, a registry token granting only the target cannot pick another of
    // alice's repositories as the source; her full credentials can.
    let grant = client()
        .get(oci.url("token?service=wharf&scope=repository:alice/narrow:pull,push"))
        .basic_auth("alice", Some(&oci.token))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let narrow = grant["token"].as_str().unwrap();
    let mount_anywhere = |auth: RequestBuilder| auth.send().unwrap().status();
    let anywhere = format!("alice/narrow/blobs/uploads/?mount={shared}");
    let by_token = client().post(oci.url(&anywhere)).bearer_auth(narrow);
    assert_eq!(mount_anywhere(by_token), StatusCode::ACCEPTED);
    assert_eq!(
        mount_anywhere(oci.request(Method::POST, &anywhere)),
        StatusCode::CREATED
    );
}

#[test]
fn the_catalog_lists_only_readable_repositories() {
    let oci = Registry::start();
    let bob = oci.server.user("bob", Scope::Write);
    let carol = oci.server.user("carol", Scope::Read);
    oci.server.org("secret", "bob", true);
    oci.server.add_member("secret", "carol", Role::Read);
    oci.push_image("alice/app", "v1", b"a");
    oci.push_image("alice/team/tool", "v1", b"b");
    oci.push_blob("alice/only-blobs", b"c");
    // bob's private organization holds an image with an empty config and no layers.
    let config = b"{}";
    let config_digest = sha256(config);
    let blob = oci
        .request_as(
            Method::POST,
            &format!("secret/img/blobs/uploads/?digest={config_digest}"),
            "bob",
            &bob,
        )
        .body(config.to_vec())
        .send()
        .unwrap();
    assert_eq!(blob.status(), StatusCode::CREATED);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": IMAGE_MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": 2}, "layers": [],
    });
    let push = oci
        .request_as(Method::PUT, "secret/img/manifests/v1", "bob", &bob)
        .header("content-type", IMAGE_MANIFEST)
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .unwrap();
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));

    let catalog = |user: &str, secret: &str, query: &str| {
        let response = oci
            .request_as(Method::GET, &format!("_catalog{query}"), user, secret)
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = response.json().unwrap();
        (body["repositories"].clone(), link)
    };
    assert_eq!(
        catalog("alice", &oci.token, "").0,
        json!(["alice/app", "alice/team/tool"])
    );
    assert_eq!(
        catalog("carol", &carol, "").0,
        json!(["alice/app", "alice/team/tool", "secret/img"])
    );
    let (first, link) = catalog("carol", &carol, "?n=2");
    assert_eq!(first, json!(["alice/app", "alice/team/tool"]));
    assert_eq!(
        link.as_deref(),
        Some("</v2/_catalog?n=2&last=alice/team/tool>; rel=\"next\"")
    );
    let (rest, link) = catalog("carol", &carol, "?n=2&last=alice/team/tool");
    assert_eq!(rest, json!(["secret/img"]));
    assert_eq!(link, None);
}

#[test]
fn read_only_tokens_pull_but_cannot_push() {
    let oci = Registry::start();
    oci.push_image("alice/app", "v1", b"pull me");
    let reader = oci.server.token("alice", Scope::Read, None);
    let pull = oci
        .request_as(Method::GET, "alice/app/manifests/v1", "alice", &reader)
        .send()
        .unwrap();
    assert_eq!(pull.status(), StatusCode::OK);
    let push = oci
        .request_as(Method::POST, "alice/app/blobs/uploads/", "alice", &reader)
        .send()
        .unwrap();
    assert_refused(push, StatusCode::FORBIDDEN, "DENIED");
    // Public owners are readable anonymously; pushing needs credentials.
    let anonymous = client()
        .get(oci.url("alice/app/manifests/v1"))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    let anonymous_push = client()
        .post(oci.url("alice/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(anonymous_push.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn uploads_over_the_format_limit_are_refused() {
    let oci = Registry::with(TestServer::builder().format_max_upload("oci", 1024));
    let bytes = vec![1u8; 4096];
    let response = oci
        .request(
            Method::POST,
            &format!("alice/app/blobs/uploads/?digest={}", sha256(&bytes)),
        )
        .body(bytes)
        .send()
        .unwrap();
    assert_refused(response, StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID");
    assert_eq!(oci.server.temp_files(), 0);
}
