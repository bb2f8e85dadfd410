//! OCI proxies over plain HTTP (issue 21), where a pull through `/v2/{proxy}/{repository}`
//! differs from a hosted pull: manifests named by `sha512:`, HEADs that must not
//! download what they ask about, and what the catalog shows of a proxy's cache. The
//! upstream is a second Wharf behind a counting proxy, which tells what reached it.
//! (skopeo pulling through proxies of a second Wharf and of distribution: `oci.rs`.)

use wharf_tests::counting_proxy::CountingProxy;
use wharf_tests::repositories;

use super::conformance::sha512;
use super::*;

/// An upstream Wharf where alice pushes, and a Wharf with the proxy `hub` of it (through
/// the counting proxy); alice exists on both.
struct Proxied {
    upstream: Registry,
    counting: CountingProxy,
    proxy: Registry,
}

impl Proxied {
    fn start() -> Self {
        let upstream = Registry::start();
        let counting = CountingProxy::start(&upstream.server.url);
        let table = repositories::proxy("hub", "oci", &[&counting.url], &[]);
        let proxy = Registry::with(TestServer::builder().toml(table));
        Self {
            upstream,
            counting,
            proxy,
        }
    }

    /// How many of the upstream's requests were `method` on a path ending in `suffix`.
    fn asked(&self, method: &str, suffix: &str) -> usize {
        self.counting
            .requests()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.ends_with(suffix))
            .count()
    }

    fn head(&self, rest: &str) -> Response {
        self.proxy.request(Method::HEAD, rest).send().unwrap()
    }

    /// The repositories the proxy's `_catalog` lists for alice.
    fn catalog(&self) -> Value {
        let response = self.proxy.get("_catalog");
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().unwrap()["repositories"].clone()
    }
}

// Guards digests beyond sha256 through the proxy: the plan names the sha512, the engine
// verifies it while storing and records it, and the hosted lookup finds the stored
// manifest by it the next time.
#[test]
fn a_manifest_named_by_sha512_comes_through_and_is_kept() {
    let p = Proxied::start();
    let manifest = p.upstream.image("alice/app", b"a layer");
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = sha512(&bytes);
    let push = p
        .upstream
        .push_manifest("alice/app", &digest, IMAGE_MANIFEST, &manifest);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));

    let path = format!("hub/alice/app/manifests/{digest}");
    for round in ["from the upstream", "from the proxy's store"] {
        let get = p.proxy.get(&path);
        assert_eq!(get.status(), StatusCode::OK, "{round}");
        assert_eq!(header(&get, "docker-content-digest"), digest, "{round}");
        assert_eq!(header(&get, "content-type"), IMAGE_MANIFEST, "{round}");
        assert_eq!(get.bytes().unwrap().as_ref(), bytes.as_slice(), "{round}");
    }
    assert_eq!(p.asked("GET", &format!("/manifests/{digest}")), 1);
    let head = p.head(&path);
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), bytes.len().to_string());
    assert_eq!(header(&head, "docker-content-digest"), digest);
    assert_eq!(p.asked("HEAD", &format!("/manifests/{digest}")), 0);

    let unknown = sha512(b"no such manifest");
    let missing = p.proxy.get(&format!("hub/alice/app/manifests/{unknown}"));
    assert_refused(missing, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

// Guards against a HEAD that downloads: clients HEAD a blob to learn whether they need
// it, and a proxy that fetched a 1 GiB layer to say so would cost the layer.
#[test]
fn a_head_of_what_is_not_cached_asks_the_upstreams_head_and_stores_nothing() {
    let p = Proxied::start();
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (manifest, manifest_digest) = p.upstream.push_image("alice/app", "v1", &layer);
    let layer_digest = sha256(&layer);

    let blob = format!("hub/alice/app/blobs/{layer_digest}");
    let head = p.head(&blob);
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), layer.len().to_string());
    assert_eq!(header(&head, "docker-content-digest"), layer_digest);
    let head = p.head(&format!("hub/alice/app/manifests/{manifest_digest}"));
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), manifest.len().to_string());
    assert_eq!(header(&head, "docker-content-digest"), manifest_digest);
    assert_eq!(header(&head, "content-type"), IMAGE_MANIFEST);
    let missing = p.head(&format!("hub/alice/app/blobs/{}", sha256(b"nothing")));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    assert!(p.asked("HEAD", &format!("/blobs/{layer_digest}")) >= 1);
    assert_eq!(p.asked("GET", &format!("/blobs/{layer_digest}")), 0);
    assert_eq!(p.asked("GET", &format!("/manifests/{manifest_digest}")), 0);
    assert_eq!(p.proxy.server.stored_blobs(), 0, "nothing was stored");
    assert_eq!(p.proxy.server.temp_files(), 0);

    // Once a GET stored it, a HEAD is the stored file's.
    let get = p.proxy.get(&blob);
    assert_eq!(get.bytes().unwrap().as_ref(), layer.as_slice());
    let asked = p.counting.requests().len();
    let head = p.head(&blob);
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), layer.len().to_string());
    assert_eq!(
        p.counting.requests().len(),
        asked,
        "answered from the store"
    );
}

// Guards what the catalog shows of a proxy: what it holds, named under the proxy, as
// distribution's pull-through cache lists the repositories it has layers of; never the
// upstream's catalog.
#[test]
fn the_catalog_lists_a_proxys_cached_repositories_under_its_name() {
    let p = Proxied::start();
    p.upstream.push_image("alice/app", "v1", b"app layer");
    p.upstream.push_image("alice/other", "v1", b"other layer");
    assert_eq!(p.catalog(), json!([]));

    // A pull: the manifest by tag, then its blobs.
    let tagged = p.proxy.get("hub/alice/app/manifests/v1");
    assert_eq!(tagged.status(), StatusCode::OK);
    let manifest: Value = tagged.json().unwrap();
    for blob in [&manifest["config"], &manifest["layers"][0]] {
        let digest = blob["digest"].as_str().unwrap();
        let get = p.proxy.get(&format!("hub/alice/app/blobs/{digest}"));
        assert_eq!(get.status(), StatusCode::OK);
    }
    // Only asked about: not cached, not listed.
    let other = sha256(b"other layer");
    assert_eq!(
        p.head(&format!("hub/alice/other/blobs/{other}")).status(),
        StatusCode::OK
    );

    assert_eq!(p.catalog(), json!(["hub/alice/app"]));
    assert_eq!(
        p.asked("GET", "/_catalog"),
        0,
        "the upstream's is not asked"
    );
    // The proxy's own repositories sort among the hosted ones.
    p.proxy.push_image("alice/hosted", "v1", b"hosted layer");
    assert_eq!(p.catalog(), json!(["alice/hosted", "hub/alice/app"]));
}
