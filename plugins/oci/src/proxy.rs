//! Proxy repositories of an OCI registry (issue 21): the proxy is the first path
//! segment and the rest is the upstream's repository, so `/v2/dockerhub/library/alpine/…`
//! reads `{upstream}/v2/library/alpine/…`.
//!
//! Blobs and manifests by digest are artifacts: immutable, checked against the digest
//! the client named, and stored as files of the proxy's package where the hosted serve
//! finds them next time (see [`artifact`]). Manifests by tag, tag lists and referrers
//! are documents the host caches and revalidates; a tag's manifest with a HEAD that
//! compares `Docker-Content-Digest`, which Docker Hub does not count against its pull
//! limits. A manifest's bytes pass through untouched (its digest is its name), and are
//! never parsed. The catalog is not proxied: upstreams disable it (Docker Hub) or list
//! far more than the proxy serves. The registry's own catalog lists the proxy's cached
//! repositories as `{proxy}/{repository}` (any package of the proxy: a blob or a manifest
//! by digest is a version of it), as distribution lists the repositories it holds layers
//! of.

use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    Digest, FetchPlan, FileRef, HashAlgorithm, IndexSpec, Operation, PackageRef, PluginError,
    Request, Response, RewriteInput, Rewritten, Selector, ServeSpec, UpstreamRequest, VersionRef,
    params,
};

use crate::listing::{self, content_type, header};
use crate::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, hex_digest};
use crate::names::{self, Endpoint};
use crate::routes::{
    ARTIFACT_TYPE, DOCKER_CONTENT_DIGEST, LAST, MANIFEST_FILE, PAGE_SIZE, REFERRERS_VIEW, SUBJECT,
    TAGS_VIEW,
};

/// The file a proxied blob is stored as, in the version named by its digest.
pub const BLOB_FILE: &str = "blob";
/// The upstream header naming a manifest's digest, which revalidates a tag's.
const CONTENT_DIGEST: &str = "docker-content-digest";
/// The manifest types every upstream manifest request accepts, so that the one cached
/// document of a tag is the image itself, whichever client asked first (an index
/// where there is one, as a hosted push stores it).
const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// What to fetch for a read of `operation` (as `match-route` routed `request`).
pub fn plan(operation: &Operation, request: &Request) -> FetchPlan {
    match operation {
        Operation::RenderIndex(spec) => {
            listing_request(spec).map_or(FetchPlan::NotFound, FetchPlan::Document)
        }
        Operation::Serve(ServeSpec {
            selector,
            digest_of: None,
        }) => serve(selector, request),
        _ => FetchPlan::NotFound,
    }
}

fn serve(selector: &Selector, request: &Request) -> FetchPlan {
    match selector {
        Selector::Tagged(tagged) => {
            let tag = &tagged.tag;
            let path = format!("/v2/{}/manifests/{}", tag.pkg.name, tag.tag);
            FetchPlan::Document(UpstreamRequest {
                path,
                accept: Some(manifest_accept(request)),
                head_validator: Some(CONTENT_DIGEST.into()),
            })
        }
        // Manifests by their sha256.
        Selector::File(file) if file.name == MANIFEST_FILE => {
            match names::digest(&file.version.version) {
                Ok(digest) => artifact(&file.version.pkg, digest, Kind::Manifest, request),
                Err(_) => FetchPlan::NotFound,
            }
        }
        // Blobs, and manifests by a sha512.
        Selector::Blob(blob) => {
            let path = request.path.trim_start_matches('/');
            let kind = match names::split_path(path) {
                Some((_, Endpoint::Manifest(_))) => Kind::Manifest,
                _ => Kind::Blob,
            };
            artifact(&blob.pkg, blob.digest.clone(), kind, request)
        }
        _ => FetchPlan::NotFound,
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Manifest,
    Blob,
}

/// An immutable object by digest, stored in the proxy's package as the file `manifest`
/// or `blob` of the version named by that digest: a manifest exactly where a hosted
/// push puts it (so `GET /manifests/{digest}` is the hosted serve), a blob where the
/// hosted `serve(blob)` finds it as a file of one of the package's versions. A blob is
/// a file, not a link, so that it stays cached without a manifest referencing it, and
/// is not a lead file: downloads count images, not layers.
fn artifact(pkg: &PackageRef, digest: Digest, kind: Kind, request: &Request) -> FetchPlan {
    let text = names::digest_text(&digest);
    let (endpoint, file, lead, accept) = match kind {
        Kind::Manifest => (
            "manifests",
            MANIFEST_FILE,
            true,
            Some(manifest_accept(request)),
        ),
        Kind::Blob => ("blobs", BLOB_FILE, false, None),
    };
    let request = upstream_get(
        format!("/v2/{}/{endpoint}/{text}", pkg.name),
        accept.as_deref(),
    );
    let file = FileRef {
        version: VersionRef {
            pkg: pkg.clone(),
            version: text,
        },
        name: file.into(),
    };
    FetchPlan::fetch(file, lead, request, vec![digest])
}

/// Every manifest type: [`MANIFEST_TYPES`], then any other the client accepts (Docker
/// sends one `Accept` header per type). Wildcards and weights are left out: an
/// upstream answers the best type it has among those named.
fn manifest_accept(request: &Request) -> String {
    let mut types: Vec<&str> = MANIFEST_TYPES.to_vec();
    let accepted = request
        .headers
        .iter()
        .filter(|(name, _)| name == "accept")
        .flat_map(|(_, value)| value.split(','))
        .map(|item| item.split(';').next().unwrap_or_default().trim())
        .filter(|t| t.contains('/') && !t.contains('*'));
    for media_type in accepted {
        if !types
            .iter()
            .any(|known| known.eq_ignore_ascii_case(media_type))
        {
            types.push(media_type);
        }
    }
    types.join(", ")
}

/// The upstream listing a tag list or referrers view is, with its paging arguments.
fn listing_request(spec: &IndexSpec) -> Option<UpstreamRequest> {
    let name = &spec.pkg.as_ref()?.name;
    let given = |param| Some(params::text(&spec.params, param)).filter(|v| !v.is_empty());
    let (path, query) = match spec.view.as_str() {
        TAGS_VIEW => (
            format!("/v2/{name}/tags/list"),
            vec![("n", given(PAGE_SIZE)), ("last", given(LAST))],
        ),
        REFERRERS_VIEW => (
            format!(
                "/v2/{name}/referrers/{}",
                params::text(&spec.params, SUBJECT)
            ),
            vec![("artifactType", given(ARTIFACT_TYPE))],
        ),
        _ => return None,
    };
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (key, value) in query {
        if let Some(value) = value {
            encoded.append_pair(key, value);
        }
    }
    let query = encoded.finish();
    let path = match query.as_str() {
        "" => path,
        query => format!("{path}?{query}"),
    };
    Some(upstream_get(path, None))
}

pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
    let response = match &input.operation {
        Operation::Serve(ServeSpec {
            selector: Selector::Tagged(_),
            ..
        }) => tagged_manifest(&input.upstream)?,
        Operation::RenderIndex(spec) => {
            listing::relocate(&input.upstream, &input.owner, &input.base_url, spec)
                .map_err(|why| malformed(&format!("{} listing", spec.view), &why))?
        }
        other => {
            return Err(PluginError::internal(format!(
                "OCI proxies rewrite manifests by tag and listings, not {other:?}"
            )));
        }
    };
    Ok(Rewritten {
        response,
        declares: Vec::new(),
    })
}

/// A tag's manifest as the upstream sent it, with its media type and digest. The digest
/// is the bytes': an upstream stating another is refused (a client would verify it
/// against these bytes), and one stating none gets their sha256.
fn tagged_manifest(upstream: &Response) -> Result<Response, PluginError> {
    let media_type = content_type(upstream);
    if media_type.is_empty() {
        return Err(malformed("manifest", &"it has no Content-Type"));
    }
    let stated = header(upstream, CONTENT_DIGEST).map(str::trim);
    let digest = match stated.map(names::digest) {
        Some(Ok(digest)) => {
            if hex_digest(digest.algorithm, &upstream.body) != digest.hex {
                let why = format!(
                    "its bytes do not have the digest it states, {}",
                    stated.unwrap_or_default()
                );
                return Err(malformed("manifest", &why));
            }
            names::digest_text(&digest)
        }
        // None, or a digest this registry cannot check: name the bytes by their sha256.
        _ => format!(
            "sha256:{}",
            hex_digest(HashAlgorithm::Sha256, &upstream.body)
        ),
    };
    Ok(Response::new(200, media_type, upstream.body.clone()).header(DOCKER_CONTENT_DIGEST, digest))
}

/// 502: the upstream answered, with something an OCI registry does not send.
fn malformed(what: &str, why: &dyn std::fmt::Display) -> PluginError {
    PluginError::with_code(
        502,
        crate::UPSTREAM_CODE,
        format!("the upstream registry sent a malformed {what}: {why}"),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use wharf_plugin_sdk::testing::request as plain_request;
    use wharf_plugin_sdk::{ArtifactPlan, ArtifactSource, Method, PluginError, RewriteInput};

    use super::*;
    use crate::routes::match_route;

    pub const BASE: &str = "http://wharf.test/v2";
    pub const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const DEFAULT_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.docker.distribution.manifest.v2+json";

    /// A request on the proxy `hub` below the owner-less `/v2` mount.
    pub fn client(method: Method, path: &str) -> Request {
        plain_request(method, &format!("/hub/library/alpine{path}"))
            .with_owner(None)
            .with_base_url(BASE)
    }

    pub fn routed(request: &Request) -> Operation {
        match_route(request).expect("route").operation
    }

    pub fn planned(request: Request) -> FetchPlan {
        plan(&routed(&request), &request)
    }

    fn upstream(request: &UpstreamRequest) -> String {
        let mut shown = request.path.clone();
        if let Some(accept) = &request.accept {
            shown.push_str(&format!("\n    accept: {accept}"));
        }
        if let Some(validator) = &request.head_validator {
            shown.push_str(&format!("\n    revalidate: HEAD, compare {validator}"));
        }
        shown
    }

    /// A plan as one readable text (what the plan snapshot records).
    pub fn shown(plan: &FetchPlan) -> String {
        match plan {
            FetchPlan::NotFound => "not found".into(),
            FetchPlan::Document(request) => format!("document {}", upstream(request)),
            FetchPlan::Artifact(plan) => {
                let file = &plan.file;
                let ArtifactSource::Fetch(fetch) = &plan.source else {
                    panic!("OCI artifacts name their digest: {plan:?}")
                };
                let digests: Vec<String> = fetch.digests.iter().map(names::digest_text).collect();
                format!(
                    "artifact {}/{} version {} file {}{}\n    fetch {}\n    verify {}",
                    file.version.pkg.owner,
                    file.version.pkg.name,
                    file.version.version,
                    file.name,
                    if plan.lead { " (lead)" } else { "" },
                    upstream(&fetch.request),
                    digests.join(", ")
                )
            }
        }
    }

    fn document(request: Request) -> UpstreamRequest {
        match planned(request) {
            FetchPlan::Document(upstream) => upstream,
            other => panic!("a document: {other:?}"),
        }
    }

    fn artifact(request: Request) -> ArtifactPlan {
        match planned(request) {
            FetchPlan::Artifact(plan) => plan,
            other => panic!("an artifact: {other:?}"),
        }
    }

    #[test]
    fn tag_lists_page_through_the_upstream_repository() {
        let page = client(Method::Get, "/tags/list")
            .with_query("n", "2")
            .with_query("last", "3.19");
        let page = document(page);
        assert_eq!(page.path, "/v2/library/alpine/tags/list?n=2&last=3.19");
        assert_eq!((page.accept, page.head_validator), (None, None));
        let all = document(client(Method::Get, "/tags/list"));
        assert_eq!(all.path, "/v2/library/alpine/tags/list");
        let odd = client(Method::Get, "/tags/list").with_query("last", "a b+c&n=1");
        assert_eq!(
            document(odd).path,
            "/v2/library/alpine/tags/list?last=a+b%2Bc%26n%3D1",
            "the client's text stays one parameter"
        );
        let capped = client(Method::Get, "/tags/list").with_query("n", "100000");
        assert_eq!(
            document(capped).path,
            "/v2/library/alpine/tags/list?n=1000",
            "the route's cap holds upstream too"
        );
    }

    #[test]
    fn referrers_ask_the_upstream_with_their_filter() {
        let all = document(client(Method::Get, &format!("/referrers/{D}")));
        assert_eq!(all.path, format!("/v2/library/alpine/referrers/{D}"));
        let filtered = client(Method::Get, &format!("/referrers/{D}"))
            .with_query("artifactType", "application/vnd.example+json");
        assert_eq!(
            document(filtered).path,
            format!(
                "/v2/library/alpine/referrers/{D}?artifactType=application%2Fvnd.example%2Bjson"
            )
        );
    }

    #[test]
    fn the_catalog_and_writes_are_not_proxied() {
        let catalog = plain_request(Method::Get, "/_catalog")
            .with_owner(None)
            .with_base_url(BASE);
        assert!(matches!(planned(catalog), FetchPlan::NotFound));
        for (method, path) in [
            (Method::Put, "/manifests/3.20".to_string()),
            (Method::Delete, format!("/manifests/{D}")),
            (Method::Delete, format!("/blobs/{D}")),
            (Method::Post, "/blobs/uploads/".to_string()),
        ] {
            assert!(
                matches!(planned(client(method, &path)), FetchPlan::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn a_tags_manifest_is_a_document_revalidated_by_its_digest() {
        for method in [Method::Get, Method::Head] {
            let tagged = document(client(method, "/manifests/3.20"));
            assert_eq!(tagged.path, "/v2/library/alpine/manifests/3.20");
            assert_eq!(tagged.accept.as_deref(), Some(DEFAULT_ACCEPT));
            assert_eq!(
                tagged.head_validator.as_deref(),
                Some("docker-content-digest")
            );
        }
    }

    #[test]
    fn manifest_requests_accept_every_type_and_the_clients_others() {
        let docker = client(Method::Get, "/manifests/latest")
            .with_header(
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .with_header(
                "accept",
                "application/vnd.docker.distribution.manifest.v1+prettyjws; q=0.5, */*",
            )
            .with_header("accept", "application/vnd.oci.image.index.v1+json");
        assert_eq!(
            document(docker).accept.unwrap(),
            format!("{DEFAULT_ACCEPT}, application/vnd.docker.distribution.manifest.v1+prettyjws"),
            "a narrow client does not narrow the one cached document of the tag"
        );
        let by_digest = client(Method::Get, &format!("/manifests/{D}"))
            .with_header("accept", "application/vnd.example.manifest+json");
        let ArtifactSource::Fetch(fetch) = artifact(by_digest).source else {
            panic!()
        };
        assert_eq!(
            fetch.request.accept.unwrap(),
            format!("{DEFAULT_ACCEPT}, application/vnd.example.manifest+json")
        );
    }

    #[test]
    fn manifests_by_digest_are_artifacts_where_a_push_stores_them() {
        for method in [Method::Get, Method::Head] {
            let plan = artifact(client(method, &format!("/manifests/{D}")));
            let file = &plan.file;
            assert_eq!(
                (
                    file.version.pkg.owner.as_str(),
                    file.version.pkg.name.as_str(),
                    file.version.version.as_str(),
                    file.name.as_str(),
                    plan.lead
                ),
                ("hub", "library/alpine", D, "manifest", true)
            );
            let ArtifactSource::Fetch(fetch) = &plan.source else {
                panic!()
            };
            assert_eq!(
                fetch.request.path,
                format!("/v2/library/alpine/manifests/{D}")
            );
            assert_eq!(fetch.request.head_validator, None);
            let digests: Vec<String> = fetch.digests.iter().map(names::digest_text).collect();
            assert_eq!(digests, [D]);
        }
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let plan = artifact(client(Method::Get, &format!("/manifests/{sha512}")));
        assert_eq!(
            (plan.file.version.version.as_str(), plan.file.name.as_str()),
            (sha512.as_str(), "manifest")
        );
        let ArtifactSource::Fetch(fetch) = &plan.source else {
            panic!()
        };
        assert_eq!(
            fetch.request.path,
            format!("/v2/library/alpine/manifests/{sha512}")
        );
        assert_eq!(fetch.digests[0].algorithm, HashAlgorithm::Sha512);
    }

    #[test]
    fn blobs_are_artifacts_verified_by_their_digest() {
        for method in [Method::Get, Method::Head] {
            let plan = artifact(client(method, &format!("/blobs/{D}")));
            assert_eq!(
                (
                    plan.file.version.pkg.owner.as_str(),
                    plan.file.version.version.as_str(),
                    plan.file.name.as_str(),
                    plan.lead
                ),
                ("hub", D, "blob", false)
            );
            let ArtifactSource::Fetch(fetch) = &plan.source else {
                panic!()
            };
            assert_eq!(
                (fetch.request.path.as_str(), &fetch.request.accept),
                (format!("/v2/library/alpine/blobs/{D}").as_str(), &None)
            );
            assert_eq!(names::digest_text(&fetch.digests[0]), D);
        }
    }

    /// What the host hands `rewrite` for `request`'s document: the upstream's 200 with
    /// lower-case headers (content type among them) and `body`.
    pub fn rewrite_input(request: &Request, headers: &[(&str, &str)], body: &[u8]) -> RewriteInput {
        let operation = routed(request);
        let url = match plan(&operation, request) {
            FetchPlan::Document(r) => format!("https://upstream.test{}", r.path),
            other => panic!("a document: {other:?}"),
        };
        RewriteInput {
            base_url: request.base_url.clone(),
            owner: "hub".into(),
            operation,
            url,
            upstream: Response {
                status: 200,
                content_type: String::new(),
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
            },
        }
    }

    fn rewritten(
        request: &Request,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, PluginError> {
        let out = rewrite(&rewrite_input(request, headers, body))?;
        assert!(out.declares.is_empty(), "digests are in the paths");
        Ok(out.response)
    }

    fn sha256(body: &[u8]) -> String {
        format!("sha256:{}", hex_digest(HashAlgorithm::Sha256, body))
    }

    /// Not JSON at all: a manifest passes through unparsed.
    const ODD_MANIFEST: &[u8] =
        b"{\"schemaVersion\": 2,\n  \"mediaType\":\"x\"}\n\x00 not even json";

    #[test]
    fn a_tags_manifest_passes_through_byte_for_byte() {
        let digest = sha256(ODD_MANIFEST);
        let request = client(Method::Get, "/manifests/3.20");
        let headers = [
            ("content-type", OCI_INDEX),
            ("docker-content-digest", digest.as_str()),
            ("set-cookie", "upstream=1"),
            ("content-length", "52"),
        ];
        let response = rewritten(&request, &headers, ODD_MANIFEST).unwrap();
        assert_eq!(response.body, ODD_MANIFEST);
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, OCI_INDEX)
        );
        assert_eq!(
            response.headers,
            [("Docker-Content-Digest".to_string(), digest.clone())],
            "only the digest: the host frames the body"
        );
        let head = client(Method::Head, "/manifests/3.20");
        let head = rewritten(&head, &headers, ODD_MANIFEST).unwrap();
        assert_eq!(format!("{head:?}"), format!("{response:?}"));
    }

    #[test]
    fn a_tags_manifest_is_named_by_the_digest_of_its_bytes() {
        let request = client(Method::Get, "/manifests/3.20");
        let unstated =
            rewritten(&request, &[("content-type", DOCKER_MANIFEST)], ODD_MANIFEST).unwrap();
        assert_eq!(unstated.headers[0].1, sha256(ODD_MANIFEST));
        let sha512 = format!("sha512:{}", hex_digest(HashAlgorithm::Sha512, ODD_MANIFEST));
        let stated = [
            ("content-type", DOCKER_MANIFEST),
            ("docker-content-digest", sha512.as_str()),
        ];
        assert_eq!(
            rewritten(&request, &stated, ODD_MANIFEST).unwrap().headers[0].1,
            sha512
        );

        let lying = [
            ("content-type", DOCKER_MANIFEST),
            ("docker-content-digest", D),
        ];
        let e = rewritten(&request, &lying, ODD_MANIFEST).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (502, "UNAVAILABLE"));
        assert!(e.message.contains(D), "{}", e.message);
        let untyped = rewritten(&request, &[], ODD_MANIFEST).unwrap_err();
        assert_eq!(untyped.status, 502);
    }

    #[test]
    fn tag_lists_are_renamed_and_relinked_for_the_proxy() {
        let request = client(Method::Get, "/tags/list").with_query("n", "2");
        let body = br#"{"name":"library/alpine","tags":["3.19","3.20"]}"#;
        let link = r#"</v2/library/alpine/tags/list?last=3.20&n=2>; rel="next""#;
        let response = rewritten(&request, &[("link", link)], body).unwrap();
        assert_eq!(
            response.body,
            br#"{"name":"hub/library/alpine","tags":["3.19","3.20"]}"#
        );
        assert_eq!(
            response.headers,
            [(
                "Link".to_string(),
                r#"</v2/hub/library/alpine/tags/list?last=3.20&n=2>; rel="next""#.to_string()
            )]
        );
        let e = rewritten(&request, &[], b"<html>rate limited</html>").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (502, "UNAVAILABLE"));
    }

    #[test]
    fn referrers_pass_through_unchanged() {
        let request = client(Method::Get, &format!("/referrers/{D}"));
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:1"}]}"#;
        let response = rewritten(&request, &[("content-type", OCI_INDEX)], body).unwrap();
        assert_eq!(
            (response.body.as_slice(), response.content_type.as_str()),
            (&body[..], OCI_INDEX)
        );
    }

    #[test]
    fn only_documents_are_rewritten() {
        let request = client(Method::Get, &format!("/manifests/{D}"));
        let mut input = rewrite_input(&client(Method::Get, "/manifests/3.20"), &[], b"");
        input.operation = routed(&request);
        assert_eq!(rewrite(&input).unwrap_err().status, 500);
    }
}
