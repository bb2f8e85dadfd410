//! Proxy repositories of an npm registry (issue 21): what the host fetches upstream
//! for a read on a proxy owner (`plan`), and the upstream's packuments made this
//! registry's (`rewrite`): every tarball URL points back at the proxy's mount, in the
//! shape hosted packuments have, and every tarball is declared with the upstream's
//! URL and digests, which the host fetches and verifies when a client asks for it.
//!
//! Every package view is cut from an upstream packument, never from npm's per-version
//! or dist-tag endpoints: the npm registry does not answer those for scoped names, and
//! one document shape keeps `rewrite` one function. Everything but `dist.tarball`
//! (times, dist-tags, `dist.attestations`, `dist.signatures`, `deprecated`, …) passes
//! through unchanged: signatures cover the integrity, not the URL.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    DeclaredArtifact, FetchPlan, FileRef, IndexSpec, Operation, PackageRef, PluginError, Response,
    RewriteInput, Rewritten, Selector, ServeSpec, UpstreamRequest, params,
};

use crate::render::{ABBREVIATED, Doc, Fields, raw, to_json};
use crate::routes::{self, VERSION, view};
use crate::{integrity, names, search};

/// The `Accept` npm sends for an install, which gets the abbreviated packument.
const ABBREVIATED_ACCEPT: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";
const JSON: &str = "application/json";

pub fn plan(operation: &Operation) -> FetchPlan {
    match operation {
        Operation::RenderIndex(spec) => {
            document(spec).map_or(FetchPlan::NotFound, FetchPlan::Document)
        }
        Operation::Serve(ServeSpec {
            selector: Selector::File(FileRef { version, name }),
            digest_of: None,
        }) => tarball(&version.pkg, name),
        Operation::Serve(ServeSpec {
            selector: Selector::PackageFile(file),
            digest_of: None,
        }) => tarball(&file.pkg, &file.name),
        _ => FetchPlan::NotFound,
    }
}

/// The upstream document a view is cut from: the abbreviated packument where it has
/// all the view needs (it is what installs fetch, and smaller), else the full one.
fn document(spec: &IndexSpec) -> Option<UpstreamRequest> {
    let get = |path, accept: &str| upstream_get(path, Some(accept));
    if spec.view == view::SEARCH {
        return Some(get(search::upstream_path(&spec.params), JSON));
    }
    let path = format!("/{}", names::upstream_segment(&spec.pkg.as_ref()?.name)?);
    match spec.view.as_str() {
        view::ABBREVIATED | view::DIST_TAGS => Some(get(path, ABBREVIATED_ACCEPT)),
        view::PACKUMENT | view::VERSION => Some(get(path, JSON)),
        _ => None,
    }
}

/// A tarball comes from the declaration of the packument an install reads. The
/// version is the declaration's: upstream file names need not spell it.
fn tarball(pkg: &PackageRef, file: &str) -> FetchPlan {
    FetchPlan::declared(
        FileRef::versionless(pkg.clone(), file),
        true,
        routes::index(pkg, view::ABBREVIATED, &[]),
    )
}

pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
    let Operation::RenderIndex(spec) = &input.operation else {
        return Err(PluginError::internal("npm rewrites only index documents"));
    };
    if spec.view == view::SEARCH {
        // Search hits link to the upstream's pages, which clients only show.
        let _: Map<String, Value> = serde_json::from_slice(&input.upstream.body)
            .map_err(|e| malformed("search results", &e))?;
        return Ok(Rewritten {
            response: Response::new(200, &content_type(input, JSON), input.upstream.body.clone()),
            declares: Vec::new(),
        });
    }
    let Some(pkg) = &spec.pkg else {
        return Err(PluginError::internal("a package view without a package"));
    };
    let what = format!("packument of {}", pkg.name);
    let text = std::str::from_utf8(&input.upstream.body).map_err(|e| malformed(&what, &e))?;
    let mut doc: Fields<'_> = serde_json::from_str(text).map_err(|e| malformed(&what, &e))?;
    // An unpublished package's document (`time.unpublished`) has no versions.
    let Some(versions) = doc.remove("versions") else {
        return Ok(cut(spec, input, &doc, None, Vec::new()));
    };
    let versions: BTreeMap<String, Fields<'_>> =
        serde_json::from_str(versions.get()).map_err(|e| malformed(&what, &e))?;
    let mut declares = Vec::new();
    let mut rewritten = BTreeMap::new();
    for (version, fields) in versions {
        let mut out: Doc<'_> = fields
            .into_iter()
            .map(|(key, value)| (key, Cow::Borrowed(value)))
            .collect();
        if let Some(dist) = out.get("dist") {
            let mut dist: Map<String, Value> = serde_json::from_str(dist.get())
                .map_err(|e| malformed(&format!("{what}, version {version}: dist"), &e))?;
            if let Some(declared) = declare(input, &pkg.name, &version, &mut dist) {
                declares.push(declared);
                out.insert("dist".into(), raw(&dist));
            }
        }
        rewritten.insert(version, out);
    }
    Ok(cut(spec, input, &doc, Some(&rewritten), declares))
}

/// Points `dist.tarball` at this registry and declares where it really is. `None`
/// when the version names no tarball: it is served as it is, and nothing can be
/// fetched for it.
fn declare(
    input: &RewriteInput,
    name: &str,
    version: &str,
    dist: &mut Map<String, Value>,
) -> Option<DeclaredArtifact> {
    let upstream = dist.get("tarball")?.as_str()?;
    // Wharf's own file name, so the path routes as a hosted tarball does (the
    // version is in it) and a warm proxy serves it like one.
    let file = names::tarball(name, version);
    let declared = DeclaredArtifact {
        name: file.clone(),
        version: version.to_string(),
        url: resolve(&input.url, upstream),
        digests: integrity::of_dist(dist),
    };
    dist.insert(
        "tarball".into(),
        names::tarball_url(&input.base_url, name, &file).into(),
    );
    Some(declared)
}

/// A top-level field of a packument as served: as the upstream sent it, or the
/// rewritten versions, printed straight into the body (the largest part is not copied
/// once more through an intermediate string).
#[derive(Serialize)]
#[serde(untagged)]
enum Field<'a> {
    Sent(&'a RawValue),
    Versions(&'a Versions<'a>),
}

/// Rewritten versions by number.
type Versions<'a> = BTreeMap<String, Doc<'a>>;

/// The view `spec` asks for, from the packument's other fields and its rewritten
/// versions (`None` when it has none).
fn cut(
    spec: &IndexSpec,
    input: &RewriteInput,
    doc: &Fields<'_>,
    versions: Option<&Versions<'_>>,
    declares: Vec<DeclaredArtifact>,
) -> Rewritten {
    let response = match spec.view.as_str() {
        view::VERSION => one_version(spec, doc, versions),
        view::DIST_TAGS => {
            let tags = doc.get("dist-tags").map_or("{}", |t| t.get());
            Ok(Response::json(tags))
        }
        kind => {
            let mut fields: BTreeMap<&str, Field<'_>> = doc
                .iter()
                .map(|(key, value)| (key.as_str(), Field::Sent(value)))
                .collect();
            if let Some(versions) = versions {
                fields.insert("versions", Field::Versions(versions));
            }
            let fallback = if kind == view::ABBREVIATED {
                ABBREVIATED
            } else {
                JSON
            };
            // Sized up front: growing a buffer of megabytes by doubling would hold the
            // old and the new one at once, in a sandbox with a memory limit.
            let tarball_urls = declares.len() * (input.base_url.len() + 2 * spec_name_len(spec));
            let mut body = Vec::with_capacity(input.upstream.body.len() + tarball_urls);
            serde_json::to_writer(&mut body, &fields)
                .map_err(|e| PluginError::internal(format!("cannot print the packument: {e}")))
                .map(|()| Response::new(200, &content_type(input, fallback), body))
        }
    };
    let response = response.unwrap_or_else(|e| {
        Response::new(
            e.status,
            JSON,
            serde_json::json!({ "error": e.message }).to_string(),
        )
    });
    Rewritten {
        response: response.header("vary", "Accept"),
        declares,
    }
}

/// Bytes of the spec's package name (0 for none).
fn spec_name_len(spec: &IndexSpec) -> usize {
    spec.pkg.as_ref().map_or(0, |p| p.name.len())
}

/// `GET /{pkg}/{version-or-tag}`: the version a tag names, or the version itself.
fn one_version(
    spec: &IndexSpec,
    doc: &Fields<'_>,
    versions: Option<&Versions<'_>>,
) -> Result<Response, PluginError> {
    let wanted = params::text(&spec.params, VERSION);
    let tags: BTreeMap<String, Value> = doc
        .get("dist-tags")
        .and_then(|t| serde_json::from_str(t.get()).ok())
        .unwrap_or_default();
    let version = tags.get(wanted).and_then(Value::as_str).unwrap_or(wanted);
    let found = versions.and_then(|v| v.get(version)).ok_or_else(|| {
        let name = spec.pkg.as_ref().map_or("", |p| p.name.as_str());
        PluginError::not_found(format!("version or tag {wanted:?} of {name} not found"))
    })?;
    Ok(Response::json(to_json(found)))
}

/// The upstream's content type (npm's registry answers installs with the abbreviated
/// type), else `fallback`.
fn content_type(input: &RewriteInput, fallback: &str) -> String {
    let upstream = &input.upstream;
    let header = upstream
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str());
    match (upstream.content_type.as_str(), header) {
        ("", Some(value)) if !value.is_empty() => value.to_string(),
        ("", _) => fallback.to_string(),
        (value, _) => value.to_string(),
    }
}

/// A tarball URL as absolute: registries write absolute ones, but a relative one is
/// relative to the packument's own URL (RFC 3986 §5.2, without dot segments).
fn resolve(document: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    let (scheme, rest) = document.split_once("://").unwrap_or(("https", document));
    if let Some(network) = url.strip_prefix("//") {
        return format!("{scheme}://{network}");
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    if url.starts_with('/') {
        return format!("{scheme}://{authority}{url}");
    }
    let directory = rest.rsplit_once('/').map_or(authority, |(dir, _)| dir);
    format!("{scheme}://{directory}/{url}")
}

/// 502: the upstream answered, with something that is not what npm registries send.
fn malformed(what: &str, error: &dyn std::fmt::Display) -> PluginError {
    PluginError::new(
        502,
        format!("the upstream registry sent a malformed {what}: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{UPSTREAM, request, rewrite_input};
    use wharf_plugin_sdk::{ArtifactSource, Digest, HashAlgorithm, Method, Request};

    use super::*;
    use crate::routes::match_route;

    const BASE: &str = "http://wharf.test/api/packages/public/npm";

    fn client(path: &str) -> Request {
        request(Method::Get, path)
            .with_owner(Some("public"))
            .with_base_url(BASE)
    }

    fn planned(request: Request) -> FetchPlan {
        plan(&match_route(&request).expect("route").operation)
    }

    fn fetched(path: &str) -> (String, Option<String>) {
        match planned(client(path)) {
            FetchPlan::Document(r) => {
                assert!(r.head_validator.is_none());
                (r.path, r.accept)
            }
            other => panic!("{path}: expected a document, got {other:?}"),
        }
    }

    #[test]
    fn package_views_fetch_the_upstream_packument() {
        let full = Some(JSON.to_string());
        let short = Some(ABBREVIATED_ACCEPT.to_string());
        assert_eq!(fetched("/left-pad"), ("/left-pad".into(), full.clone()));
        // Every spelling of a scoped name asks for npm's.
        for path in ["/@types%2fnode", "/@types%2Fnode", "/@types/node"] {
            assert_eq!(fetched(path), ("/@types%2fnode".into(), full.clone()));
        }
        let install = client("/@types%2fnode").with_header("accept", ABBREVIATED_ACCEPT);
        let FetchPlan::Document(r) = planned(install) else {
            panic!("a document")
        };
        assert_eq!(
            (r.path.as_str(), r.accept),
            ("/@types%2fnode", short.clone())
        );
        assert_eq!(fetched("/@s/a/latest"), ("/@s%2fa".into(), full));
        assert_eq!(
            fetched("/-/package/@s%2fa/dist-tags"),
            ("/@s%2fa".into(), short)
        );
    }

    #[test]
    fn search_asks_the_upstream_the_normalized_search() {
        let request = client("/-/v1/search")
            .with_query("text", "Left Pad&x=1")
            .with_query("size", "5000");
        let FetchPlan::Document(r) = planned(request) else {
            panic!("a document")
        };
        assert_eq!(
            r.path,
            "/-/v1/search?text=left%20pad%26x%3D1&size=250&from=0"
        );
    }

    #[test]
    fn tarballs_come_from_the_packuments_declarations() {
        for path in [
            "/@s%2fa/-/a-1.0.0.tgz",
            "/@s/a/-/A-1.0.0.TGZ",
            "/@s/a/-/other.tgz",
            "/@s/a/-/1.0.0/a-1.0.0.tgz",
        ] {
            let FetchPlan::Artifact(artifact) = planned(client(path)) else {
                panic!("{path}: an artifact")
            };
            assert!(artifact.lead);
            assert_eq!(artifact.file.version.version, "", "{path}");
            assert_eq!(artifact.file.version.pkg.name, "@s/a");
            let install = client("/@s/a").with_header("accept", ABBREVIATED_ACCEPT);
            let abbreviated = match_route(&install).unwrap().operation;
            assert_eq!(artifact.source, ArtifactSource::DeclaredIn(abbreviated));
        }
        let FetchPlan::Artifact(a) = planned(client("/a/-/a-1.0.0.tgz")) else {
            panic!("an artifact")
        };
        assert_eq!(a.file.name, "a-1.0.0.tgz");
    }

    #[test]
    fn everything_else_is_not_found_upstream() {
        for path in [
            "/-/ping",
            "/-/whoami",
            "/-/v1/other",
            "/-/user/org.couchdb.user:a",
        ] {
            assert_eq!(planned(client(path)), FetchPlan::NotFound, "{path}");
        }
        // Names that would not stay one upstream path segment.
        assert_eq!(planned(client("/..")), FetchPlan::NotFound);
    }

    /// What `rewrite` makes of `body`, fetched for a GET of `path` (with `accept`).
    fn rewritten(path: &str, accept: Option<&str>, body: &str) -> Result<Rewritten, PluginError> {
        let request = match accept {
            Some(accept) => client(path).with_header("accept", accept),
            None => client(path),
        };
        let operation = match_route(&request).unwrap().operation;
        let upstream = match plan(&operation) {
            FetchPlan::Document(r) => r.path,
            other => panic!("{other:?}"),
        };
        rewrite(&rewrite_input(
            request,
            operation,
            &upstream,
            "application/json",
            body,
        ))
    }

    fn json(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    fn sha512_sri(byte: u8) -> String {
        integrity::sri(&Digest::from_bytes(HashAlgorithm::Sha512, &[byte; 64]).unwrap()).unwrap()
    }

    #[test]
    fn tarballs_point_back_and_are_declared_with_their_digests() {
        let body = serde_json::json!({
            "name": "@s/a",
            "dist-tags": {"latest": "1.0.0"},
            "versions": {"1.0.0": {"name": "@s/a", "version": "1.0.0", "dist": {
                "tarball": "https://registry.test/@s/a/-/a-1.0.0.tgz",
                "integrity": sha512_sri(1),
                "shasum": "AB".repeat(20),
                "signatures": [{"keyid": "k", "sig": "s"}],
            }}},
        });
        let out = rewritten("/@s%2fa", None, &body.to_string()).unwrap();
        let doc = json(&out.response);
        let dist = &doc["versions"]["1.0.0"]["dist"];
        assert_eq!(dist["tarball"], format!("{BASE}/@s/a/-/a-1.0.0.tgz"));
        assert_eq!(dist["signatures"][0]["sig"], "s");
        assert_eq!(dist["integrity"], sha512_sri(1));
        let [declared] = &out.declares[..] else {
            panic!("one declaration")
        };
        assert_eq!(
            (declared.name.as_str(), declared.version.as_str()),
            ("a-1.0.0.tgz", "1.0.0")
        );
        assert_eq!(declared.url, "https://registry.test/@s/a/-/a-1.0.0.tgz");
        assert_eq!(
            declared.digests,
            [
                Digest::from_bytes(HashAlgorithm::Sha512, &[1; 64]).unwrap(),
                Digest::from_hex(HashAlgorithm::Sha1, &"ab".repeat(20)).unwrap(),
            ]
        );
        // The declared name routes back to the file the plan fetches.
        let FetchPlan::Artifact(a) = planned(client("/@s/a/-/a-1.0.0.tgz")) else {
            panic!("an artifact")
        };
        assert_eq!(a.file.name, declared.name);
    }

    #[test]
    fn unscoped_abbreviated_documents_keep_their_type() {
        let body = r#"{"name":"left-pad","modified":"2024-01-01T00:00:00.000Z","dist-tags":{"latest":"1.3.0"},"versions":{"1.3.0":{"name":"left-pad","version":"1.3.0","deprecated":"use String.prototype.padStart()","dist":{"tarball":"https://registry.test/left-pad/-/left-pad-1.3.0.tgz","shasum":"5b8a3a7765dfe001261dde915589e782f8c94d1e"}}}}"#;
        let request = client("/left-pad").with_header("accept", ABBREVIATED_ACCEPT);
        let operation = match_route(&request).unwrap().operation;
        let input = rewrite_input(request, operation, "/left-pad", ABBREVIATED, body);
        let out = rewrite(&input).unwrap();
        assert_eq!(out.response.content_type, ABBREVIATED);
        let doc = json(&out.response);
        let v = &doc["versions"]["1.3.0"];
        assert_eq!(
            v["dist"]["tarball"],
            format!("{BASE}/left-pad/-/left-pad-1.3.0.tgz")
        );
        assert_eq!(v["deprecated"], "use String.prototype.padStart()");
        assert_eq!(doc["modified"], "2024-01-01T00:00:00.000Z");
        assert_eq!(out.declares[0].digests[0].algorithm, HashAlgorithm::Sha1);
    }

    #[test]
    fn versions_without_a_tarball_pass_through_undeclared() {
        let body = r#"{"name":"a","versions":{"1.0.0":{"version":"1.0.0"},"2.0.0":{"dist":{"shasum":"x"}}},"time":{"unpublished":{}}}"#;
        let out = rewritten("/a", None, body).unwrap();
        assert!(out.declares.is_empty());
        let doc = json(&out.response);
        assert_eq!(
            doc["versions"]["1.0.0"],
            serde_json::json!({"version": "1.0.0"})
        );
        assert_eq!(
            doc["versions"]["2.0.0"]["dist"],
            serde_json::json!({"shasum": "x"})
        );
        // An unpublished package: no versions at all.
        let gone = rewritten(
            "/a",
            None,
            r#"{"name":"a","time":{"unpublished":{"time":"t"}}}"#,
        );
        assert_eq!(
            json(&gone.unwrap().response)["time"]["unpublished"]["time"],
            "t"
        );
    }

    #[test]
    fn malformed_documents_are_a_502_saying_so() {
        for body in [
            "not json",
            "[1,2]",
            r#"{"versions":[]}"#,
            r#"{"versions":{"1.0.0":"x"}}"#,
            r#"{"versions":{"1.0.0":{"dist":"x"}}}"#,
        ] {
            let err = rewritten("/a", None, body).unwrap_err();
            assert_eq!(err.status, 502, "{body}");
            assert!(
                err.message
                    .starts_with("the upstream registry sent a malformed packument of a"),
                "{}",
                err.message
            );
        }
        let search = rewritten("/-/v1/search", None, "<html>").unwrap_err();
        assert_eq!(search.status, 502);
        assert!(
            search.message.contains("search results"),
            "{}",
            search.message
        );
    }

    #[test]
    fn one_version_and_dist_tags_are_cut_from_the_packument() {
        let body = serde_json::json!({
            "name": "a",
            "dist-tags": {"latest": "1.0.0", "next": "2.0.0-rc.1"},
            "versions": {
                "1.0.0": {"version": "1.0.0", "dist": {"tarball": "https://r/a/-/a-1.0.0.tgz"}},
                "2.0.0-rc.1": {"version": "2.0.0-rc.1", "dist": {"tarball": "/a/-/a-2.0.0-rc.1.tgz"}},
            },
        })
        .to_string();
        let next = rewritten("/a/next", None, &body).unwrap();
        assert_eq!(json(&next.response)["version"], "2.0.0-rc.1");
        assert_eq!(
            json(&next.response)["dist"]["tarball"],
            format!("{BASE}/a/-/a-2.0.0-rc.1.tgz")
        );
        // A relative tarball URL is resolved against the packument's.
        let relative = next
            .declares
            .iter()
            .find(|d| d.version == "2.0.0-rc.1")
            .unwrap();
        assert_eq!(relative.url, format!("{UPSTREAM}/a/-/a-2.0.0-rc.1.tgz"));
        let missing = rewritten("/a/3.0.0", None, &body).unwrap().response;
        assert_eq!(missing.status, 404);
        let tags = rewritten("/-/package/a/dist-tags", None, &body).unwrap();
        assert_eq!(
            json(&tags.response),
            serde_json::json!({"latest": "1.0.0", "next": "2.0.0-rc.1"})
        );
    }

    #[test]
    fn relative_urls_resolve_against_the_document() {
        let doc = "https://r.test/npm/@s%2fa?write=true";
        assert_eq!(resolve(doc, "http://x/a.tgz"), "http://x/a.tgz");
        assert_eq!(resolve(doc, "//cdn.test/a.tgz"), "https://cdn.test/a.tgz");
        assert_eq!(resolve(doc, "/a/-/a.tgz"), "https://r.test/a/-/a.tgz");
        assert_eq!(resolve(doc, "a.tgz"), "https://r.test/npm/a.tgz");
        assert_eq!(resolve("https://r.test", "a.tgz"), "https://r.test/a.tgz");
    }

    #[test]
    fn a_packument_of_2000_versions_is_rewritten_whole() {
        let versions: Map<String, Value> = (0..2000)
            .map(|i| {
                let v = format!("1.0.{i}");
                let dist = serde_json::json!({"tarball": format!("https://r/big/-/big-{v}.tgz"), "integrity": sha512_sri(7)});
                (v.clone(), serde_json::json!({"version": v, "dist": dist, "readme": "x".repeat(1000)}))
            })
            .collect();
        let body = serde_json::json!({"name": "big", "versions": versions}).to_string();
        let out = rewritten("/big", None, &body).unwrap();
        assert_eq!(out.declares.len(), 2000);
        let doc = json(&out.response);
        assert_eq!(doc["versions"].as_object().unwrap().len(), 2000);
        assert_eq!(
            doc["versions"]["1.0.1999"]["dist"]["tarball"],
            format!("{BASE}/big/-/big-1.0.1999.tgz")
        );
    }

    #[test]
    fn search_results_pass_through_with_their_type() {
        let body = r#"{"objects":[{"package":{"name":"a","links":{"npm":"https://npmjs.test/a"}}}],"total":1,"time":"t"}"#;
        let out = rewritten("/-/v1/search", None, body).unwrap();
        assert_eq!(out.response.body, body.as_bytes());
        assert_eq!(out.response.content_type, "application/json");
        assert!(out.declares.is_empty());
    }
}
