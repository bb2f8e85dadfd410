//! Listings rendered from the database: tags, referrers, the catalog.
//!
//! Pages follow the distribution spec: `n` entries after `last` (exclusive), and a
//! `Link: <…?n=N&last=X>; rel="next"` header only when more remain. Links are relative
//! to the server (`/v2/…`), as distribution sends them. Tags sort lexically (byte
//! order), as distribution does; repository names are lower case by grammar.

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::{IndexInput, PackageDetail, PluginError, Response, VersionDetail, params};

use crate::manifest::OCI_INDEX;
use crate::routes::{
    ARTIFACT_TYPE, CATALOG_VIEW, LAST, MANIFEST_FILE, PAGE_SIZE, REFERRERS_VIEW, SUBJECT, TAGS_VIEW,
};

pub fn render(input: IndexInput) -> Result<Response, PluginError> {
    match input.spec.view.as_str() {
        TAGS_VIEW => tags(&input),
        REFERRERS_VIEW => Ok(referrers(&input)),
        CATALOG_VIEW => Ok(catalog(&input)),
        other => Err(PluginError::internal(format!("unknown OCI view {other:?}"))),
    }
}

/// The path of the mount (`/v2`) from its absolute URL, for relative `Link`s.
pub fn mount_path(base_url: &str) -> &str {
    let after_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |at| &after_scheme[at..])
}

/// One page of sorted `names` after `last`: the page, and the `last` of the next page
/// when more remain. `n` none: everything; 0: nothing, and no next page.
fn page<'a>(names: &[&'a str], n: Option<usize>, last: &str) -> (Vec<&'a str>, Option<&'a str>) {
    let rest: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| last.is_empty() || *name > last)
        .collect();
    match n {
        Some(n) if n < rest.len() => {
            let shown = rest[..n].to_vec();
            let next = shown.last().copied();
            (shown, next)
        }
        _ => (rest, None),
    }
}

/// The page size `match-route` passed; none: no limit.
fn page_size(input: &IndexInput) -> Option<usize> {
    params::get(&input.spec.params, PAGE_SIZE).and_then(|n| n.parse().ok())
}

fn with_link(response: Response, next: Option<String>) -> Response {
    match next {
        Some(url) => response.header("Link", format!("<{url}>; rel=\"next\"")),
        None => response,
    }
}

/// `{"name","tags"}` of one repository; an unknown one is 404 NAME_UNKNOWN.
fn tags(input: &IndexInput) -> Result<Response, PluginError> {
    let Some(detail) = &input.detail else {
        return Err(unknown_repository());
    };
    let n = page_size(input);
    let last = params::text(&input.spec.params, LAST);
    let mut names: Vec<&str> = detail.tags.iter().map(|(tag, _)| tag.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let (shown, next) = page(&names, n, last);
    let repository = format!("{}/{}", detail.pkg.owner, detail.pkg.name);
    let next = next.map(|last| {
        format!(
            "{}/{repository}/tags/list?n={}&last={last}",
            mount_path(&input.base_url),
            shown.len()
        )
    });
    let body = json!({"name": repository, "tags": shown});
    Ok(with_link(Response::json(body.to_string()), next))
}

/// 404 NAME_UNKNOWN, for the tags of a repository nobody pushed to (or, in a group, no
/// member has).
pub fn unknown_repository() -> PluginError {
    PluginError::with_code(404, "NAME_UNKNOWN", "repository not known to the registry")
}

/// An image index of the manifests whose subject is the digest asked for, filtered by
/// `artifactType` when one is given. An unknown repository has no referrers.
fn referrers(input: &IndexInput) -> Response {
    let subject = params::text(&input.spec.params, SUBJECT);
    let artifact_type = params::text(&input.spec.params, ARTIFACT_TYPE);
    let manifests: Vec<Value> = input
        .detail
        .iter()
        .flat_map(|detail| &detail.versions)
        .filter(|v| property(v, "subject") == Some(subject))
        .map(descriptor)
        .filter(|d| artifact_type.is_empty() || d["artifactType"] == artifact_type)
        .collect();
    let response = referrers_index(manifests);
    if artifact_type.is_empty() {
        response
    } else {
        response.header("OCI-Filters-Applied", "artifactType")
    }
}

/// The referrers response listing `manifests` (descriptors).
pub fn referrers_index(manifests: Vec<Value>) -> Response {
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    Response::new(200, OCI_INDEX, body.to_string())
}

fn property<'a>(version: &'a VersionDetail, name: &str) -> Option<&'a str> {
    version
        .properties
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A referrer's descriptor, from what the push stored: metadata first, properties and
/// the stored file for versions whose metadata lacks a field.
fn descriptor(version: &VersionDetail) -> Value {
    let metadata: Map<String, Value> = serde_json::from_str(&version.metadata).unwrap_or_default();
    let manifest = version.files.iter().find(|f| f.name == MANIFEST_FILE);
    let media_type = metadata
        .get("mediaType")
        .cloned()
        .or_else(|| property(version, "media-type").map(|t| json!(t)))
        .or_else(|| manifest.map(|f| json!(f.content_type)))
        .unwrap_or(Value::Null);
    let size = metadata
        .get("size")
        .cloned()
        .or_else(|| manifest.map(|f| json!(f.size)))
        .unwrap_or(Value::Null);
    let mut descriptor = Map::new();
    descriptor.insert("mediaType".into(), media_type);
    descriptor.insert("digest".into(), json!(version.version));
    descriptor.insert("size".into(), size);
    let artifact_type = metadata
        .get("artifactType")
        .cloned()
        .or_else(|| property(version, "artifact-type").map(|t| json!(t)));
    if let Some(artifact_type) = artifact_type {
        descriptor.insert("artifactType".into(), artifact_type);
    }
    if let Some(annotations) = metadata.get("annotations") {
        descriptor.insert("annotations".into(), annotations.clone());
    }
    Value::Object(descriptor)
}

/// `{"repositories":[…]}`: the readable repositories holding at least one manifest (a
/// repository with only blobs pushed is not an image yet). A proxy stores each cached
/// blob as a version of its own, so its repositories are listed once anything of them is
/// cached, as distribution lists a pull-through cache's.
fn catalog(input: &IndexInput) -> Response {
    let n = page_size(input);
    let last = input
        .spec
        .listing
        .as_ref()
        .map_or("", |listing| listing.after.as_str());
    let mut names: Vec<String> = input
        .listing
        .iter()
        .filter(|p| has_manifests(p))
        .map(|p| format!("{}/{}", p.pkg.owner, p.pkg.name))
        .collect();
    names.sort_unstable();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (shown, next) = page(&names, n, last);
    let next = next.map(|last| {
        format!(
            "{}/_catalog?n={}&last={last}",
            mount_path(&input.base_url),
            shown.len()
        )
    });
    let body = json!({"repositories": shown});
    with_link(Response::json(body.to_string()), next)
}

fn has_manifests(package: &PackageDetail) -> bool {
    !package.versions.is_empty()
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{file, index_input, package, request, version};
    use wharf_plugin_sdk::{Method, Operation, PackageRef, Request};

    use super::*;

    const BASE: &str = "http://wharf.test/v2";
    const SUBJECT_DIGEST: &str =
        "sha256:5555555555555555555555555555555555555555555555555555555555555555";

    /// A GET of `path` with `query`, as the host hands it to `match-route`.
    fn get(path: &str, query: &[(&str, &str)]) -> Request {
        let mut request = request(Method::Get, path)
            .with_owner(None)
            .with_base_url(BASE);
        for (name, value) in query {
            request = request.with_query(name, value);
        }
        request
    }

    /// What `render-index` gets for `request`: the spec its route asks for, `detail`,
    /// and of the request only the base URL and owner.
    fn routed(request: Request, detail: Option<PackageDetail>) -> IndexInput {
        let route = crate::routes::match_route(&request).unwrap();
        let Operation::RenderIndex(spec) = route.operation else {
            panic!("{} renders an index: {:?}", request.path, route.operation)
        };
        index_input(request, spec, detail)
    }

    /// A tags page: `n` absent means no limit.
    fn tags_page(
        n: Option<&str>,
        last: &str,
        detail: Option<PackageDetail>,
    ) -> Result<Response, PluginError> {
        let mut query = vec![("last", last)];
        query.extend(n.map(|n| ("n", n)));
        tags(&routed(get("/alice/app/tags/list", &query), detail))
    }

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    fn link(response: &Response) -> Option<&str> {
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("link"))
            .map(|(_, v)| v.as_str())
    }

    fn tagged(tags: &[&str]) -> PackageDetail {
        let mut detail = package("app", vec![version("sha256:1", "{}", Vec::new())]);
        detail.tags = tags
            .iter()
            .map(|t| (t.to_string(), "sha256:1".to_string()))
            .collect();
        detail
    }

    #[test]
    fn links_are_relative_to_the_server() {
        assert_eq!(mount_path("http://wharf.test/v2"), "/v2");
        assert_eq!(mount_path("https://h:8443/prefix/v2"), "/prefix/v2");
        assert_eq!(mount_path("http://h"), "");
    }

    #[test]
    fn tags_page_lexically_with_a_link_while_more_remain() {
        let detail = tagged(&["d", "b", "a", "c", "B"]);
        let first = tags_page(Some("2"), "", Some(detail.clone())).unwrap();
        assert_eq!(
            body(&first),
            json!({"name": "alice/app", "tags": ["B", "a"]})
        );
        assert_eq!(
            link(&first),
            Some("</v2/alice/app/tags/list?n=2&last=a>; rel=\"next\"")
        );
        let middle = tags_page(Some("2"), "a", Some(detail.clone())).unwrap();
        assert_eq!(body(&middle)["tags"], json!(["b", "c"]));
        let last = tags_page(Some("2"), "c", Some(detail.clone())).unwrap();
        assert_eq!(body(&last)["tags"], json!(["d"]));
        assert_eq!(link(&last), None);
        let exact = tags_page(Some("5"), "", Some(detail.clone())).unwrap();
        assert_eq!(link(&exact), None, "no link to an empty page");
        let all = tags_page(None, "", Some(detail.clone())).unwrap();
        assert_eq!(body(&all)["tags"], json!(["B", "a", "b", "c", "d"]));
        let none = tags_page(Some("0"), "", Some(detail)).unwrap();
        assert_eq!(
            (body(&none)["tags"].clone(), link(&none)),
            (json!([]), None)
        );
    }

    #[test]
    fn tags_of_an_unknown_repository_are_name_unknown() {
        let e = tags_page(None, "", None).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (404, "NAME_UNKNOWN"));
        let untagged = tags_page(None, "", Some(tagged(&[]))).unwrap();
        assert_eq!(body(&untagged)["tags"], json!([]));
    }

    fn referrer(digest: &str, metadata: Value, properties: &[(&str, &str)]) -> VersionDetail {
        let mut v = version(
            digest,
            &metadata.to_string(),
            vec![file("manifest", 321, "00")],
        );
        v.properties = properties
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        v
    }

    /// Referrers of [`SUBJECT_DIGEST`] and other versions.
    fn referrers_detail() -> PackageDetail {
        let signature = referrer(
            "sha256:a1",
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 123,
                   "artifactType": "application/vnd.example.sig",
                   "annotations": {"org.example.by": "alice"}}),
            &[("subject", SUBJECT_DIGEST)],
        );
        // Stored without artifactType in its metadata: the property still says it.
        let sbom = referrer(
            "sha256:a2",
            json!({}),
            &[
                ("subject", SUBJECT_DIGEST),
                ("media-type", "application/vnd.oci.image.manifest.v1+json"),
                ("artifact-type", "application/spdx+json"),
            ],
        );
        let unrelated = referrer("sha256:a3", json!({}), &[("subject", "sha256:other")]);
        let plain = referrer("sha256:a4", json!({}), &[]);
        package("app", vec![signature, sbom, unrelated, plain])
    }

    /// The referrers of [`SUBJECT_DIGEST`] in `detail`, of `artifact_type` (none: of any).
    fn referrers_of(artifact_type: Option<&str>, detail: Option<PackageDetail>) -> Response {
        let query: Vec<_> = artifact_type
            .map(|t| ("artifactType", t))
            .into_iter()
            .collect();
        let path = format!("/alice/app/referrers/{SUBJECT_DIGEST}");
        render(routed(get(&path, &query), detail)).unwrap()
    }

    #[test]
    fn referrers_are_an_index_of_the_subjects_manifests() {
        let response = referrers_of(None, Some(referrers_detail()));
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, OCI_INDEX)
        );
        assert!(response.headers.is_empty(), "no filter applied");
        let index = body(&response);
        assert_eq!(
            (index["schemaVersion"].clone(), index["mediaType"].clone()),
            (json!(2), json!(OCI_INDEX))
        );
        assert_eq!(
            index["manifests"],
            json!([
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:a1",
                 "size": 123, "artifactType": "application/vnd.example.sig",
                 "annotations": {"org.example.by": "alice"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:a2",
                 "size": 321, "artifactType": "application/spdx+json"},
            ])
        );
    }

    #[test]
    fn referrers_filter_by_artifact_type_and_say_so() {
        let response = referrers_of(Some("application/spdx+json"), Some(referrers_detail()));
        assert_eq!(
            response.headers,
            [(
                "OCI-Filters-Applied".to_string(),
                "artifactType".to_string()
            )]
        );
        let manifests = body(&response)["manifests"].clone();
        assert_eq!(manifests.as_array().unwrap().len(), 1);
        assert_eq!(manifests[0]["digest"], "sha256:a2");
        let none = referrers_of(Some("application/other"), Some(referrers_detail()));
        assert_eq!(body(&none)["manifests"], json!([]));
    }

    #[test]
    fn an_unknown_repository_has_no_referrers() {
        let response = referrers_of(None, None);
        assert_eq!(response.status, 200);
        assert_eq!(body(&response)["manifests"], json!([]));
    }

    fn repository(owner: &str, name: &str, manifests: usize) -> PackageDetail {
        let versions = (0..manifests)
            .map(|i| version(&format!("sha256:{i}"), "{}", Vec::new()))
            .collect();
        let mut detail = package(name, versions);
        detail.pkg = PackageRef {
            owner: owner.into(),
            name: name.into(),
        };
        detail
    }

    fn catalog_page(n: &str, last: &str) -> Response {
        let mut input = routed(get("/_catalog", &[("n", n), ("last", last)]), None);
        // What the host selects: readable packages after `last`, in name order.
        input.listing = [
            repository("alice", "app", 1),
            repository("alice", "only-blobs", 0),
            repository("alice", "team/tool", 2),
            repository("secret", "img", 1),
        ]
        .into_iter()
        .filter(|p| format!("{}/{}", p.pkg.owner, p.pkg.name).as_str() > last)
        .collect();
        render(input).unwrap()
    }

    #[test]
    fn the_catalog_lists_repositories_with_manifests_and_pages() {
        let all = catalog_page("100", "");
        assert_eq!(
            body(&all),
            json!({"repositories": ["alice/app", "alice/team/tool", "secret/img"]})
        );
        assert_eq!(link(&all), None);
        let first = catalog_page("2", "");
        assert_eq!(
            body(&first)["repositories"],
            json!(["alice/app", "alice/team/tool"])
        );
        assert_eq!(
            link(&first),
            Some("</v2/_catalog?n=2&last=alice/team/tool>; rel=\"next\"")
        );
        let rest = catalog_page("2", "alice/team/tool");
        assert_eq!(body(&rest)["repositories"], json!(["secret/img"]));
        assert_eq!(link(&rest), None);
        let exact = catalog_page("3", "");
        assert_eq!(link(&exact), None, "no link to an empty page");
    }
}
