//! Proxy repositories of a NuGet v3 feed (issue 21).
//!
//! A proxy answers the service index (and the v2 service documents) itself, as any
//! owner does, so every resource it names is this registry's. The v3 resources are
//! fetched from the upstream: registrations (index, pages, leaves), the flat
//! container's version lists and packages, search and autocomplete. The v2 OData feed
//! is not proxied (404): v3 clients never need it.
//!
//! Where the upstream keeps each resource: the plugin never sees the upstream's service
//! index when it plans, so four settings name the resources, each relative to the
//! proxy's upstream URL when it starts with `/`, else absolute. Their defaults are the
//! layout of Wharf's and Gitea's feeds, whose URL (`…/api/packages/{owner}/nuget`) is
//! then the upstream URL. nuget.org keeps them on other paths and hosts:
//!
//! | setting | default | nuget.org |
//! |---|---|---|
//! | `proxy-registrations` | `/registration` | `https://api.nuget.org/v3/registration5-semver1` |
//! | `proxy-flat-container` | `/package` | `https://api.nuget.org/v3-flatcontainer` |
//! | `proxy-search` | `/query` | `https://azuresearch-usnc.nuget.org/query` |
//! | `proxy-autocomplete` | `/autocomplete` | `https://azuresearch-usnc.nuget.org/autocomplete` |
//!
//! Settings are per format, so every NuGet proxy of one registry shares them.
//!
//! `rewrite` moves every URL below an upstream resource to the same place below this
//! registry's (`@id`, `packageContent`, `registration`, `parent`, and any other string
//! starting with one), keeping every other byte of the document. Registration leaves
//! declare their nupkg with its `packageHash` (sha512) when the document inlines it.
//! Packages are fetched from the flat container by their path, without digests: a
//! registration declares only the versions of its page (large packages inline none),
//! and the flat container is where every v3 client downloads from.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use wharf_plugin_sdk::params::{flag, text};
use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    DeclaredArtifact, Digest, FetchPlan, FileRef, HashAlgorithm, IndexSpec, Operation, PluginError,
    Response, RewriteInput, Rewritten, Selector, ServeSpec, SettingDecl, SettingKind, SettingValue,
    settings, upstream,
};

use crate::render::JSON;
use crate::routes::{param, view};

/// An upstream resource: the setting naming where the upstream keeps it, where this
/// registry serves it below the mount (the setting's default too: Wharf's and Gitea's
/// layout), and its type in a service index.
struct Resource {
    setting: &'static str,
    local: &'static str,
    kind: &'static str,
}

const REGISTRATIONS: Resource = Resource::new(
    "proxy-registrations",
    "/registration",
    "RegistrationsBaseUrl",
);
const FLAT_CONTAINER: Resource =
    Resource::new("proxy-flat-container", "/package", "PackageBaseAddress");
const SEARCH: Resource = Resource::new("proxy-search", "/query", "SearchQueryService");
const AUTOCOMPLETE: Resource = Resource::new(
    "proxy-autocomplete",
    "/autocomplete",
    "SearchAutocompleteService",
);

/// What a proxy accepts from the upstream: every v3 document is JSON.
const ACCEPT: &str = "application/json";

const RESOURCES: [&Resource; 4] = [&REGISTRATIONS, &FLAT_CONTAINER, &SEARCH, &AUTOCOMPLETE];

impl Resource {
    const fn new(setting: &'static str, local: &'static str, kind: &'static str) -> Self {
        Self {
            setting,
            local,
            kind,
        }
    }

    /// Its URL upstream: relative to the upstream's (`/registration`) or absolute,
    /// without a trailing slash.
    fn upstream(&self) -> String {
        settings::text(self.setting, self.local)
            .trim_end_matches('/')
            .to_string()
    }

    /// `rest` below it upstream, as a plan names it.
    fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.upstream())
    }
}

pub fn settings() -> Vec<SettingDecl> {
    RESOURCES
        .iter()
        .map(|r| SettingDecl {
            name: r.setting.into(),
            description: format!(
                "Where NuGet proxies find their upstream's {}: relative to the upstream \
                 URL when it starts with `/`, else absolute",
                r.kind
            ),
            kind: SettingKind::Text,
            default: SettingValue::Text(r.local.into()),
        })
        .collect()
}

pub fn plan(operation: &Operation) -> FetchPlan {
    match operation {
        Operation::RenderIndex(spec) => match document_path(spec) {
            Some(path) => FetchPlan::Document(upstream_get(path, Some(ACCEPT))),
            None => FetchPlan::NotFound,
        },
        Operation::Serve(ServeSpec {
            selector: Selector::File(file),
            digest_of: None,
        }) => FetchPlan::fetch(
            file.clone(),
            file.name.ends_with(".nupkg"),
            upstream_get(FLAT_CONTAINER.path(&package_file(file)), None),
            Vec::new(),
        ),
        _ => FetchPlan::NotFound,
    }
}

/// `/{id}/{version}/{file}` of the flat container, all lower case as NuGet spells it.
fn package_file(file: &FileRef) -> String {
    let id = file.version.pkg.name.to_lowercase();
    format!("/{id}/{}/{}", file.version.version, file.name)
}

/// Where upstream the document of a view is, or `None` for views a proxy has not.
fn document_path(spec: &IndexSpec) -> Option<String> {
    let p = &spec.params;
    let filter = || spec.listing.as_ref().map_or("", |l| l.filter.as_str());
    let page = || {
        [
            ("skip", text(p, param::SKIP)),
            ("take", text(p, param::TAKE)),
        ]
    };
    match spec.view.as_str() {
        view::SEARCH => Some(SEARCH.path(&query(p, &[&[("q", filter())], &page()[..]]))),
        view::AUTOCOMPLETE => {
            Some(AUTOCOMPLETE.path(&query(p, &[&[("q", filter())], &page()[..]])))
        }
        view::AUTOCOMPLETE_VERSIONS => {
            let id = spec.pkg.as_ref()?.name.as_str();
            Some(AUTOCOMPLETE.path(&query(p, &[&[("id", id)]])))
        }
        other => {
            let id = spec.pkg.as_ref()?.name.to_lowercase();
            let rest = match other {
                view::REGISTRATION => format!("/{id}/index.json"),
                view::REGISTRATION_PAGE => format!(
                    "/{id}/page/{}/{}.json",
                    text(p, param::LOWER),
                    text(p, param::UPPER)
                ),
                view::REGISTRATION_LEAF => format!("/{id}/{}.json", text(p, param::VERSION)),
                view::VERSIONS => return Some(FLAT_CONTAINER.path(&format!("/{id}/index.json"))),
                _ => return None,
            };
            Some(REGISTRATIONS.path(&rest))
        }
    }
}

/// `?…` with these pairs, then what the client may see (`prerelease`, `semVerLevel`).
fn query(params: &[(String, String)], groups: &[&[(&str, &str)]]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in groups.iter().flat_map(|g| g.iter()) {
        query.append_pair(name, value);
    }
    query.append_pair("prerelease", &flag(params, param::PRERELEASE).to_string());
    if flag(params, param::SEMVER2) {
        query.append_pair("semVerLevel", "2.0.0");
    }
    format!("?{}", query.finish())
}

pub fn rewrite(input: RewriteInput) -> Result<Rewritten, PluginError> {
    let Operation::RenderIndex(spec) = &input.operation else {
        return Err(PluginError::internal("NuGet proxies fetch only documents"));
    };
    let planned = document_path(spec)
        .ok_or_else(|| PluginError::internal(format!("no upstream {} document", spec.view)))?;
    let document: Value = serde_json::from_slice(&input.upstream.body)
        .map_err(|e| bad(&input.url, &format!("not JSON: {e}")))?;
    let expected = match spec.view.as_str() {
        view::VERSIONS => "versions",
        view::SEARCH | view::AUTOCOMPLETE | view::AUTOCOMPLETE_VERSIONS => "data",
        view::REGISTRATION | view::REGISTRATION_PAGE => "items",
        _ => "packageContent",
    };
    if document.get(expected).is_none() {
        return Err(bad(&input.url, &format!("no {expected:?}")));
    }
    let mut declares = Vec::new();
    declare(&document, &input.url, &mut declares)?;
    let moves = moves(&input, &planned)?;
    let body = rebased(&input.upstream.body, &moves);
    Ok(Rewritten {
        response: Response::new(200, JSON, body),
        declares,
    })
}

/// Upstream URL prefixes and what they become here, longest first.
fn moves(input: &RewriteInput, planned: &str) -> Result<Vec<(String, String)>, PluginError> {
    // A relative plan's document came from the upstream's URL plus that path.
    let root = if planned.starts_with('/') {
        let root = upstream::base_of(&input.url, planned);
        Some(root.ok_or_else(|| bad(&input.url, &format!("not fetched from {planned}")))?)
    } else {
        None
    };
    let base = input.base_url.trim_end_matches('/');
    let mut moves: Vec<(String, String)> = RESOURCES
        .iter()
        .filter_map(|r| {
            let from = match r.upstream() {
                relative if relative.starts_with('/') => format!("{}{relative}", root?),
                absolute => absolute,
            };
            Some((from, format!("{base}{}", r.local)))
        })
        .collect();
    moves.extend(root.map(|root| (root.to_string(), base.to_string())));
    // Most specific first: an upstream may keep one resource below another's URL.
    moves.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    Ok(moves)
}

/// `body` with every JSON string that starts with a moved prefix (followed by a path,
/// a query, a fragment or its end) starting with its new one instead.
fn rebased(body: &[u8], moves: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.iter().position(|&b| b == b'"') {
        out.extend_from_slice(&rest[..=at]);
        rest = &rest[at + 1..];
        let moved = moves.iter().find_map(|(from, to)| {
            let after = rest.strip_prefix(from.as_bytes())?;
            matches!(after.first(), Some(b'/' | b'?' | b'#' | b'"')).then_some((from, to))
        });
        if let Some((from, to)) = moved {
            out.extend_from_slice(to.as_bytes());
            rest = &rest[from.len()..];
        }
    }
    out.extend_from_slice(rest);
    out
}

/// The nupkgs of every registration leaf in `value` (objects with `packageContent`).
fn declare(value: &Value, url: &str, out: &mut Vec<DeclaredArtifact>) -> Result<(), PluginError> {
    match value {
        Value::Object(leaf) if leaf.get("packageContent").is_some_and(Value::is_string) => {
            let content = leaf["packageContent"].as_str().unwrap_or_default();
            let absolute = upstream::resolve(url, content)
                .ok_or_else(|| bad(url, &format!("packageContent {content:?}")))?;
            let segments: Vec<&str> = absolute.rsplitn(3, '/').collect();
            let [file, version, _] = segments[..] else {
                return Err(bad(url, &format!("packageContent {content:?}")));
            };
            if !file.to_lowercase().ends_with(".nupkg") || version.is_empty() {
                return Err(bad(
                    url,
                    &format!("packageContent {content:?} is not a nupkg"),
                ));
            }
            let digests = package_hash(leaf.get("catalogEntry"))
                .map_err(|why| bad(url, &why))?
                .into_iter()
                .collect();
            if !out.iter().any(|d| d.url == absolute) {
                out.push(DeclaredArtifact {
                    name: file.to_lowercase(),
                    version: version.to_lowercase(),
                    url: absolute,
                    digests,
                });
            }
            Ok(())
        }
        Value::Object(map) => map.values().try_for_each(|v| declare(v, url, out)),
        Value::Array(items) => items.iter().try_for_each(|v| declare(v, url, out)),
        _ => Ok(()),
    }
}

/// A catalog entry's `packageHash` (base64 sha512) as a digest; none when it has none
/// or names another algorithm.
fn package_hash(entry: Option<&Value>) -> Result<Option<Digest>, String> {
    let Some(hash) = entry
        .and_then(|e| e.get("packageHash"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let algorithm = entry
        .and_then(|e| e.get("packageHashAlgorithm"))
        .and_then(Value::as_str)
        .unwrap_or("SHA512");
    if !algorithm.eq_ignore_ascii_case("SHA512") {
        return Ok(None);
    }
    STANDARD
        .decode(hash)
        .ok()
        .and_then(|bytes| Digest::from_bytes(HashAlgorithm::Sha512, &bytes))
        .map(Some)
        .ok_or_else(|| format!("packageHash {hash:?} is not a base64 sha512"))
}

/// A document the proxy cannot serve: the upstream's fault, so 502.
fn bad(url: &str, why: &str) -> PluginError {
    PluginError::new(502, format!("upstream document {url}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture::{self, BASE, package, routed};
    use wharf_plugin_sdk::testing::{self, UPSTREAM};
    use wharf_plugin_sdk::{ArtifactSource, Method, Request, UpstreamFetch, UpstreamRequest};

    /// The mount of another Wharf's feed, below [`UPSTREAM`].
    const FEED: &str = "/api/packages/bob/nuget";

    fn request(path: &str, query: &[(&str, &str)]) -> Request {
        query.iter().fold(
            testing::request(Method::Get, path).with_base_url(BASE),
            |r, (name, value)| r.with_query(name, value),
        )
    }

    fn operation(path: &str, query: &[(&str, &str)]) -> Operation {
        crate::routes::match_route(&request(path, query))
            .expect("route")
            .operation
    }

    fn planned(path: &str, query: &[(&str, &str)]) -> FetchPlan {
        plan(&operation(path, query))
    }

    fn document(path: &str) -> FetchPlan {
        FetchPlan::Document(UpstreamRequest {
            path: path.into(),
            accept: Some(ACCEPT.into()),
            head_validator: None,
        })
    }

    /// nuget.org's resources, as its operators would set them.
    fn nuget_org<R>(f: impl FnOnce() -> R) -> R {
        let text = |v: &str| SettingValue::Text(v.into());
        testing::with_settings(
            &[
                (
                    REGISTRATIONS.setting,
                    text("https://api.nuget.org/v3/registration5-semver1/"),
                ),
                (
                    FLAT_CONTAINER.setting,
                    text("https://api.nuget.org/v3-flatcontainer"),
                ),
                (SEARCH.setting, text("https://search.test/query")),
                (
                    AUTOCOMPLETE.setting,
                    text("https://search.test/autocomplete"),
                ),
            ],
            f,
        )
    }

    #[test]
    fn registrations_and_version_lists_come_from_the_upstreams_resources() {
        for (path, upstream) in [
            (
                "/registration/Foo.Bar/index.json",
                "/registration/foo.bar/index.json",
            ),
            (
                "/registration/foo/page/1.0/2.0.0-RC.json",
                "/registration/foo/page/1.0.0/2.0.0-rc.json",
            ),
            (
                "/registration/foo/1.0.0.json",
                "/registration/foo/1.0.0.json",
            ),
            ("/package/Foo/index.json", "/package/foo/index.json"),
        ] {
            assert_eq!(planned(path, &[]), document(upstream), "{path}");
        }
        assert_eq!(
            nuget_org(|| planned("/registration/Foo/index.json", &[])),
            document("https://api.nuget.org/v3/registration5-semver1/foo/index.json")
        );
    }

    #[test]
    fn searches_are_forwarded_with_what_the_client_may_see() {
        let query = [
            ("q", " json "),
            ("skip", "5"),
            ("take", "7"),
            ("semVerLevel", "2.0.0"),
        ];
        assert_eq!(
            planned("/query", &query),
            document("/query?q=json&skip=5&take=7&prerelease=false&semVerLevel=2.0.0")
        );
        assert_eq!(
            planned("/autocomplete", &[("q", "a b&c"), ("prerelease", "true")]),
            document("/autocomplete?q=a+b%26c&skip=0&take=20&prerelease=true")
        );
        assert_eq!(
            nuget_org(|| planned("/autocomplete", &[("id", "Foo")])),
            document("https://search.test/autocomplete?id=Foo&prerelease=false")
        );
    }

    #[test]
    fn packages_are_fetched_from_the_flat_container() {
        let path = "/package/Foo.Bar/1.0.0.0-RC/foo.bar.1.0.0-rc.nupkg";
        let FetchPlan::Artifact(artifact) = planned(path, &[]) else {
            panic!("not an artifact");
        };
        assert!(artifact.lead);
        assert_eq!(artifact.file.name, "foo.bar.1.0.0-rc.nupkg");
        assert_eq!(artifact.file.version.version, "1.0.0-rc");
        let fetch = |path: &str| {
            ArtifactSource::Fetch(UpstreamFetch {
                request: UpstreamRequest {
                    path: path.into(),
                    accept: None,
                    head_validator: None,
                },
                digests: Vec::new(),
            })
        };
        assert_eq!(
            artifact.source,
            fetch("/package/foo.bar/1.0.0-rc/foo.bar.1.0.0-rc.nupkg")
        );
        let FetchPlan::Artifact(nuspec) = nuget_org(|| planned("/package/Foo/1.0/foo.nuspec", &[]))
        else {
            panic!("not an artifact");
        };
        assert!(!nuspec.lead);
        assert_eq!(
            nuspec.source,
            fetch("https://api.nuget.org/v3-flatcontainer/foo/1.0.0/foo.nuspec")
        );
    }

    #[test]
    fn service_documents_stay_the_proxys_and_v2_is_not_proxied() {
        assert!(matches!(
            operation("/index.json", &[]),
            Operation::Respond(_)
        ));
        for path in [
            "/FindPackagesById()",
            "/Packages(Id='Foo',Version='1.0')",
            "/Search()",
        ] {
            assert_eq!(
                planned(path, &[("id", "'Foo'")]),
                FetchPlan::NotFound,
                "{path}"
            );
        }
    }

    /// What the hosted plugin renders for `path` on a mount at `base`.
    fn hosted(base: &str, path: &str, versions: &[&str]) -> Vec<u8> {
        let mut input =
            fixture::routed_input(routed(path, &[]), Some(package("Foo.Bar", versions)));
        input.base_url = base.into();
        crate::render::render(&input).expect("render").body
    }

    /// What `rewrite` gets for the client's `path`, fetched from `url`.
    fn input(path: &str, url: &str, body: impl Into<Vec<u8>>) -> RewriteInput {
        let mut input =
            testing::rewrite_input(request(path, &[]), operation(path, &[]), "", JSON, body);
        input.url = url.into();
        input
    }

    #[test]
    fn a_wharf_registration_becomes_what_a_hosted_owner_serves() {
        for path in [
            "/registration/foo.bar/index.json",
            "/registration/foo.bar/1.0.0.json",
            "/registration/foo.bar/page/1.0.0/2.0.0.json",
            "/package/foo.bar/index.json",
        ] {
            let upstream = hosted(&format!("{UPSTREAM}{FEED}"), path, &["1.0.0", "2.0.0"]);
            let url = format!("{UPSTREAM}{FEED}{path}");
            let rewritten = rewrite(input(path, &url, upstream)).expect(path);
            assert_eq!(
                String::from_utf8(rewritten.response.body).unwrap(),
                String::from_utf8(hosted(BASE, path, &["1.0.0", "2.0.0"])).unwrap(),
                "{path}"
            );
        }
    }

    #[test]
    fn leaves_declare_their_nupkg_with_its_hash() {
        let path = "/registration/foo.bar/index.json";
        let upstream = hosted(&format!("{UPSTREAM}{FEED}"), path, &["1.0.0-RC"]);
        let rewritten = rewrite(input(path, &format!("{UPSTREAM}{FEED}{path}"), upstream)).unwrap();
        assert_eq!(
            rewritten.declares,
            [DeclaredArtifact {
                name: "foo.bar.1.0.0-rc.nupkg".into(),
                version: "1.0.0-rc".into(),
                url: format!("{UPSTREAM}{FEED}/package/foo.bar/1.0.0-rc/foo.bar.1.0.0-rc.nupkg"),
                // The fixture's sha512, which the document carries as base64.
                digests: vec![Digest {
                    algorithm: HashAlgorithm::Sha512,
                    hex: "ab".repeat(64)
                }],
            }]
        );
    }

    #[test]
    fn nuget_org_urls_move_by_resource_and_relative_content_resolves() {
        let path = "/registration/foo/1.0.0.json";
        let url = "https://api.nuget.org/v3/registration5-semver1/foo/1.0.0.json";
        let leaf = r#"{"@id":"https://api.nuget.org/v3/registration5-semver1/foo/1.0.0.json","catalogEntry":"https://api.nuget.org/v3/catalog0/data/2020.01.01/foo.1.0.0.json","packageContent":"https://api.nuget.org/v3-flatcontainer/foo/1.0.0/foo.1.0.0.nupkg","registration":"https://api.nuget.org/v3/registration5-semver1/foo/index.json","description":"see https://api.nuget.org/v3-flatcontainerx"}"#;
        let rewritten = nuget_org(|| rewrite(input(path, url, leaf))).unwrap();
        assert_eq!(
            String::from_utf8(rewritten.response.body).unwrap(),
            format!(
                r#"{{"@id":"{BASE}/registration/foo/1.0.0.json","catalogEntry":"https://api.nuget.org/v3/catalog0/data/2020.01.01/foo.1.0.0.json","packageContent":"{BASE}/package/foo/1.0.0/foo.1.0.0.nupkg","registration":"{BASE}/registration/foo/index.json","description":"see https://api.nuget.org/v3-flatcontainerx"}}"#
            )
        );
        assert_eq!(
            rewritten.declares[0].url,
            "https://api.nuget.org/v3-flatcontainer/foo/1.0.0/foo.1.0.0.nupkg"
        );
        assert!(rewritten.declares[0].digests.is_empty());
        let relative = r#"{"packageContent":"../../flat/foo/1.0.0/foo.1.0.0.nupkg"}"#;
        let declared = rewrite(input(
            path,
            &format!("{UPSTREAM}/registration/foo/1.0.0.json"),
            relative,
        ))
        .unwrap();
        // Resolved as RFC 3986 says, dot segments removed: the URL the host's HTTP
        // client fetches for the unresolved spelling too.
        assert_eq!(
            declared.declares[0].url,
            format!("{UPSTREAM}/flat/foo/1.0.0/foo.1.0.0.nupkg")
        );
    }

    #[test]
    fn a_resource_below_another_moves_to_its_own_place() {
        let text = |v: &str| SettingValue::Text(v.into());
        let settings = [
            (REGISTRATIONS.setting, text("/v3")),
            (FLAT_CONTAINER.setting, text("/v3/flat")),
        ];
        let leaf = format!(
            r#"{{"@id":"{UPSTREAM}/v3/foo/1.0.0.json","packageContent":"{UPSTREAM}/v3/flat/foo/1.0.0/foo.1.0.0.nupkg"}}"#
        );
        let url = format!("{UPSTREAM}/v3/foo/1.0.0.json");
        let path = "/registration/foo/1.0.0.json";
        let rewritten =
            testing::with_settings(&settings, || rewrite(input(path, &url, leaf))).unwrap();
        assert_eq!(
            String::from_utf8(rewritten.response.body).unwrap(),
            format!(
                r#"{{"@id":"{BASE}/registration/foo/1.0.0.json","packageContent":"{BASE}/package/foo/1.0.0/foo.1.0.0.nupkg"}}"#
            )
        );
    }

    #[test]
    fn each_resource_is_a_setting_defaulting_to_wharfs_layout() {
        let declared: Vec<(String, SettingValue)> = settings()
            .into_iter()
            .map(|s| (s.name, s.default))
            .collect();
        let text = |v: &str| SettingValue::Text(v.into());
        assert_eq!(
            declared,
            [
                ("proxy-registrations".into(), text("/registration")),
                ("proxy-flat-container".into(), text("/package")),
                ("proxy-search".into(), text("/query")),
                ("proxy-autocomplete".into(), text("/autocomplete")),
            ]
        );
    }

    #[test]
    fn malformed_documents_are_502() {
        let path = "/registration/foo/index.json";
        let url = format!("{UPSTREAM}/registration/foo/index.json");
        for body in [
            "<html>",
            r#"{"count":0}"#,
            r#"[{"items":[]}]"#,
            r#"{"items":[{"items":[{"packageContent":"x/y","catalogEntry":{}}]}]}"#,
            r#"{"items":[{"items":[{"packageContent":"/p/foo/1.0.0/foo.1.0.0.nupkg","catalogEntry":{"packageHash":"bm90IGEgaGFzaA=="}}]}]}"#,
            r#"{"items":[{"items":[{"packageContent":"mailto:x@y","catalogEntry":{}}]}]}"#,
        ] {
            let e = rewrite(input(path, &url, body)).unwrap_err();
            assert_eq!(e.status, 502, "{body}");
        }
        let versions = rewrite(input(
            "/package/foo/index.json",
            &format!("{UPSTREAM}/package/foo/index.json"),
            "{}",
        ));
        assert_eq!(versions.unwrap_err().status, 502);
        let elsewhere = rewrite(input(path, &format!("{UPSTREAM}/other"), r#"{"items":[]}"#));
        assert_eq!(elsewhere.unwrap_err().status, 502);
    }
}
