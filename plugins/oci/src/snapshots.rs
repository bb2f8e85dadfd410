//! Snapshots of the listings OCI clients read (tags, referrers, the catalog), byte for
//! byte, headers included, of what proxies fetch upstream and serve, and of what groups
//! serve: a change to any of them shows up in review as a changed file under
//! `src/snapshots/`.

use insta::assert_snapshot;
use serde_json::json;
use wharf_plugin_sdk::testing::{file, package, request, routed_index_input, snapshot};
use wharf_plugin_sdk::{IndexInput, Method, PackageDetail, Request, VersionDetail};

use crate::render::render;
use crate::routes::match_route;

const IMAGE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SIGNATURE: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const SBOM: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A GET of `path` on the owner-less `/v2` mount.
fn get(path: &str) -> Request {
    request(Method::Get, path)
        .with_owner(None)
        .with_base_url("http://wharf.test/v2")
}

/// A manifest as a push stores it: digest, descriptor fields and its subject.
fn pushed(digest: &str, metadata: serde_json::Value, subject: Option<&str>) -> VersionDetail {
    let manifest = file("manifest", 512, &digest["sha256:".len()..]);
    let mut stored =
        wharf_plugin_sdk::testing::version(digest, &metadata.to_string(), vec![manifest]);
    stored.properties = subject
        .map(|s| vec![("subject".to_string(), s.to_string())])
        .unwrap_or_default();
    stored
}

/// `alice/app`: an image tagged `1.0`, `1.1` and `latest`, signed and with an SBOM.
fn app() -> PackageDetail {
    let image = pushed(IMAGE, json!({"mediaType": MANIFEST, "size": 512}), None);
    let signature = pushed(
        SIGNATURE,
        json!({"mediaType": MANIFEST, "size": 700, "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
               "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}),
        Some(IMAGE),
    );
    let sbom = pushed(
        SBOM,
        json!({"mediaType": MANIFEST, "size": 800, "artifactType": "application/spdx+json"}),
        Some(IMAGE),
    );
    let mut detail = package("app", vec![image, signature, sbom]);
    detail.tags = ["latest", "1.1", "1.0"]
        .iter()
        .map(|t| (t.to_string(), IMAGE.to_string()))
        .collect();
    detail
}

/// What `render-index` gets for `request`, routed as the host routes it.
fn input(request: Request, detail: Option<PackageDetail>) -> IndexInput {
    routed_index_input(request, match_route, detail)
}

fn rendered(input: IndexInput) -> String {
    snapshot(&render(input).expect("render"))
}

#[test]
fn tags_list() {
    assert_snapshot!(rendered(input(get("/alice/app/tags/list"), Some(app()))));
}

#[test]
fn tags_list_first_page() {
    let request = get("/alice/app/tags/list").with_query("n", "2");
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn referrers_index() {
    let request = get(&format!("/alice/app/referrers/{IMAGE}"));
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn referrers_index_filtered() {
    let request = get(&format!("/alice/app/referrers/{IMAGE}"))
        .with_query("artifactType", "application/spdx+json");
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn catalog_first_page() {
    let mut input = input(get("/_catalog").with_query("n", "2"), None);
    input.listing = ["app", "base", "tools"]
        .iter()
        .map(|name| {
            let mut repository = app();
            repository.pkg.name = name.to_string();
            repository
        })
        .collect();
    input.listing_total = 3;
    assert_snapshot!(rendered(input));
}

/// Every read on a proxy and what the host fetches for it, in one table.
#[test]
fn proxy_plans() {
    use crate::proxy::tests::{D, client, planned, shown};
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    let requests = [
        client(Method::Get, "/manifests/3.20"),
        client(Method::Head, "/manifests/3.20").with_header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
        client(Method::Get, &format!("/manifests/{D}")),
        client(Method::Get, &format!("/manifests/{sha512}")),
        client(Method::Head, &format!("/blobs/{D}")),
        client(Method::Get, "/tags/list")
            .with_query("n", "50")
            .with_query("last", "3.19"),
        client(Method::Get, &format!("/referrers/{D}"))
            .with_query("artifactType", "application/spdx+json"),
        get("/_catalog"),
        client(Method::Delete, "/manifests/3.20"),
    ];
    let table: Vec<String> = requests
        .into_iter()
        .map(|request| {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            let method = match request.method {
                Method::Get => "GET",
                Method::Head => "HEAD",
                Method::Delete => "DELETE",
                _ => "other",
            };
            let line = format!("{method} /v2{}{query}", request.path);
            format!("{line}\n  → {}", shown(&planned(request)))
        })
        .collect();
    assert_snapshot!(table.join("\n\n"));
}

/// Docker Hub's answer for `library/alpine:3.20` (an index, as Docker Hub indents it).
const UPSTREAM_INDEX: &str = r#"{
   "manifests": [
      {
         "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
         "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "platform": {
            "architecture": "amd64",
            "os": "linux"
         },
         "size": 1022
      }
   ],
   "mediaType": "application/vnd.oci.image.index.v1+json",
   "schemaVersion": 2
}"#;

#[test]
fn proxy_tagged_manifest() {
    use crate::proxy::tests::{client, rewrite_input};
    let request = client(Method::Get, "/manifests/3.20");
    let headers = [("content-type", "application/vnd.oci.image.index.v1+json")];
    let input = rewrite_input(&request, &headers, UPSTREAM_INDEX.as_bytes());
    let rewritten = crate::proxy::rewrite(&input).expect("rewrite");
    assert_snapshot!(snapshot(&rewritten.response));
}

#[test]
fn proxy_tags_list_page() {
    use crate::proxy::tests::{client, rewrite_input};
    let request = client(Method::Get, "/tags/list").with_query("n", "2");
    let headers = [
        ("content-type", "application/json"),
        (
            "link",
            r#"</v2/library/alpine/tags/list?last=3.19&n=2>; rel="next""#,
        ),
    ];
    let body = br#"{"name":"library/alpine","tags":["3.18","3.19"]}"#;
    let rewritten =
        crate::proxy::rewrite(&rewrite_input(&request, &headers, body)).expect("rewrite");
    assert_snapshot!(snapshot(&rewritten.response));
}

/// A group of the hosted `acme` (without the repository) and the proxy `hub`.
#[test]
fn group_tags_list_page() {
    use crate::group::tests::{input, member, tags};
    let members = vec![
        member("acme", true, None),
        member("hub", false, tags("hub", &["3.18", "3.19"])),
    ];
    let merged = crate::group::merge(&input("/tags/list", true, members)).expect("merge");
    assert_snapshot!(snapshot(&merged));
}

#[test]
fn group_referrers() {
    use crate::group::tests::{input, member, referrers};
    let members = vec![
        member("acme", true, referrers(&[])),
        member("hub", false, referrers(&[SIGNATURE, SBOM])),
    ];
    let path = format!("/referrers/{IMAGE}");
    let merged = crate::group::merge(&input(&path, true, members)).expect("merge");
    assert_snapshot!(snapshot(&merged));
}
