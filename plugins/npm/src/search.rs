//! `npm search`: `GET /-/v1/search?text=&from=&size=` over the owner's packages.

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::params;
use wharf_plugin_sdk::{IndexInput, PackageDetail, Request, Response, VersionRef, host};

use wharf_plugin_sdk::time::iso8601;

/// Page size when the client sends none, and the most a page may hold (npm's limits).
const DEFAULT_SIZE: usize = 20;
const MAX_SIZE: usize = 250;

/// Index parameters of a search: the text (lower case), the offset and the page size,
/// with npm's defaults and cap applied, so spellings of one search share a rendering.
const TEXT: &str = "text";
const FROM: &str = "from";
const SIZE: &str = "size";

/// The search's parameters, from the request's query.
pub fn params(request: &Request) -> Vec<(String, String)> {
    let query = |name| request.query_param(name).unwrap_or_default();
    let text = query(TEXT).to_lowercase();
    let from: usize = query(FROM).parse().unwrap_or(0);
    let size = query(SIZE)
        .parse()
        .unwrap_or(DEFAULT_SIZE)
        .clamp(1, MAX_SIZE);
    params::owned(&[
        (TEXT, &text),
        (FROM, &from.to_string()),
        (SIZE, &size.to_string()),
    ])
}

/// The search a proxy asks its upstream for: the same normalized parameters, so one
/// cached upstream page answers every spelling of the search.
pub fn upstream_path(spec: &[(String, String)]) -> String {
    let encoded = |name| crate::names::encode(params::text(spec, name));
    format!(
        "/-/v1/search?text={}&size={}&from={}",
        encoded(TEXT),
        encoded(SIZE),
        encoded(FROM)
    )
}

/// The version a hit shows: its manifest (the stored metadata) and when it was published.
pub struct Shown {
    pub version: String,
    pub metadata: String,
    pub created: i64,
}

/// Stored versions beyond the listing's newest, asked of the host (faked in unit tests).
pub trait Versions {
    fn get(&self, pkg: &PackageDetail, version: &str) -> Option<Shown>;
}

/// The host's view of the owner's packages.
pub struct HostVersions;

impl Versions for HostVersions {
    fn get(&self, pkg: &PackageDetail, version: &str) -> Option<Shown> {
        let info = host::get_version(&VersionRef {
            pkg: pkg.pkg.clone(),
            version: version.to_string(),
        })?;
        Some(Shown {
            version: info.version,
            metadata: info.metadata,
            created: info.created,
        })
    }
}

/// What a hit shows: the version the `latest` dist-tag names, as `npm view` and an
/// install without a range take it, not the newest published (often a prerelease).
/// The listing holds each package's tags and newest version; another `latest` is read
/// from the host. Without a `latest` tag, the newest.
fn shown(pkg: &PackageDetail, versions: &impl Versions) -> Option<Shown> {
    let newest = pkg.versions.last();
    let latest = pkg
        .tags
        .iter()
        .find(|(tag, _)| tag == "latest")
        .map(|(_, version)| version.as_str());
    match (latest, newest) {
        (Some(latest), newest) if newest.is_none_or(|n| n.version != latest) => {
            versions.get(pkg, latest)
        }
        (_, newest) => newest.map(|n| Shown {
            version: n.version.clone(),
            metadata: n.metadata.clone(),
            created: n.created,
        }),
    }
}

pub fn render(input: &IndexInput) -> Response {
    render_with(input, &HostVersions)
}

fn render_with(input: &IndexInput, versions: &impl Versions) -> Response {
    let spec = &input.spec.params;
    let text = params::text(spec, TEXT);
    let from: usize = params::number(spec, FROM, 0);
    let size: usize = params::number(spec, SIZE, DEFAULT_SIZE);
    let terms: Vec<&str> = text.split_whitespace().collect();

    let mut hits: Vec<(usize, Value)> = input
        .listing
        .iter()
        .filter_map(|p| hit(p, &shown(p, versions)?, &terms, &input.base_url))
        .collect();
    // Exact name matches first, then by name.
    hits.sort_by(|a, b| {
        b.0.cmp(&a.0).then_with(|| {
            a.1["package"]["name"]
                .as_str()
                .cmp(&b.1["package"]["name"].as_str())
        })
    });
    let total = hits.len();
    let objects: Vec<Value> = hits
        .into_iter()
        .skip(from)
        .take(size)
        .map(|(_, v)| v)
        .collect();
    let newest = input.listing.iter().map(|p| p.modified).max().unwrap_or(0);
    let body = json!({ "objects": objects, "total": total, "time": iso8601(newest) });
    Response::json(body.to_string())
}

/// A search result for `pkg` showing `version` if every term occurs in its name,
/// description or keywords, with a rank (2 = exact name, 1 = name contains a term, 0 = elsewhere).
fn hit(pkg: &PackageDetail, version: &Shown, terms: &[&str], base: &str) -> Option<(usize, Value)> {
    let manifest: Map<String, Value> = serde_json::from_str(&version.metadata).unwrap_or_default();
    let name = pkg.pkg.name.as_str();
    let description = manifest
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let keywords: Vec<String> = manifest
        .get("keywords")
        .and_then(Value::as_array)
        .map(|k| {
            k.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let haystack = format!("{name} {description} {}", keywords.join(" ")).to_lowercase();
    if !terms.iter().all(|t| haystack.contains(t)) {
        return None;
    }
    let rank = if terms.len() == 1 && terms[0] == name {
        2
    } else {
        usize::from(terms.iter().any(|t| name.contains(t)))
    };
    let scope = name
        .strip_prefix('@')
        .and_then(|s| s.split_once('/'))
        .map_or("unscoped", |(scope, _)| scope);
    let publisher = manifest
        .get("_npmUser")
        .and_then(|u| u.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(pkg.pkg.owner.as_str());
    // Wharf has no popularity data: the score is the match rank, scaled to npm's 0..1.
    let score = [0.5, 0.8, 1.0][rank];
    let result = json!({
        "package": {
            "name": name,
            "scope": scope,
            "version": version.version,
            "description": description,
            "keywords": keywords,
            "date": iso8601(version.created),
            "links": { "npm": format!("{base}/{name}") },
            "publisher": { "username": publisher },
            "maintainers": [{ "username": publisher }],
        },
        "score": { "final": score, "detail": { "quality": score, "popularity": score, "maintenance": score } },
        "searchScore": score,
    });
    Some((rank, result))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use wharf_plugin_sdk::testing::{index_input, package, request, version};
    use wharf_plugin_sdk::{IndexSpec, Method, Operation};

    use super::*;

    /// Stored versions by number, as the host would answer `get-version`.
    struct Stored(HashMap<String, String>);

    impl Versions for Stored {
        fn get(&self, _pkg: &PackageDetail, version: &str) -> Option<Shown> {
            Some(Shown {
                version: version.to_string(),
                metadata: self.0.get(version)?.clone(),
                created: 7,
            })
        }
    }

    /// What `GET /-/v1/search` with this query asks to render.
    fn spec(query: &[(&str, &str)]) -> IndexSpec {
        let request = query
            .iter()
            .fold(request(Method::Get, "/-/v1/search"), |r, (name, value)| {
                r.with_query(name, value)
            });
        match crate::routes::match_route(&request).unwrap().operation {
            Operation::RenderIndex(spec) => spec,
            other => panic!("expected an index, got {other:?}"),
        }
    }

    fn search_page(query: &[(&str, &str)], listing: Vec<PackageDetail>, stored: &Stored) -> Value {
        let request = request(Method::Get, "/-/v1/search");
        let mut input = index_input(request, spec(query), None);
        input.listing_total = listing.len() as u64;
        input.listing = listing;
        serde_json::from_slice(&render_with(&input, stored).body).unwrap()
    }

    fn search(text: &str, listing: Vec<PackageDetail>, stored: &Stored) -> Value {
        search_page(&[("text", text)], listing, stored)
    }

    #[test]
    fn the_query_arrives_as_normalized_params() {
        let params = |query: &[(&str, &str)]| spec(query).params;
        assert_eq!(
            params(&[("text", "Left Pad"), ("from", "5"), ("size", "9999")]),
            params::owned(&[("text", "left pad"), ("from", "5"), ("size", "250")])
        );
        // Spellings of one search share a rendering; another page is another spec.
        assert_eq!(
            params(&[]),
            params(&[("text", ""), ("from", "x"), ("size", "20")])
        );
        assert_ne!(params(&[("from", "1")]), params(&[("from", "2")]));
        assert_ne!(params(&[("text", "a")]), params(&[("text", "b")]));
    }

    #[test]
    fn pages_follow_from_and_size() {
        let listing: Vec<PackageDetail> = ["app-a", "app-b", "app-c"]
            .iter()
            .map(|name| package(name, vec![version("1.0.0", "{}", Vec::new())]))
            .collect();
        let none = Stored(HashMap::new());
        let page = search_page(
            &[("text", "APP"), ("from", "1"), ("size", "1")],
            listing,
            &none,
        );
        assert_eq!(page["total"], 3);
        assert_eq!(page["objects"].as_array().unwrap().len(), 1);
        assert_eq!(page["objects"][0]["package"]["name"], "app-b");
        assert_eq!(
            page["objects"][0]["package"]["links"]["npm"],
            "http://wharf.test/api/packages/alice/test/app-b"
        );
    }

    #[test]
    fn hits_show_the_latest_tag_not_the_newest_version() {
        let manifest = |v: &str, description: &str| {
            json!({"name": "app", "version": v, "description": description}).to_string()
        };
        // The listing holds the newest version (a prerelease) and the tags.
        let mut app = package(
            "app",
            vec![version(
                "2.0.0-rc.1",
                &manifest("2.0.0-rc.1", "next"),
                Vec::new(),
            )],
        );
        app.tags = vec![
            ("latest".into(), "1.2.0".into()),
            ("next".into(), "2.0.0-rc.1".into()),
        ];
        let stored = Stored(HashMap::from([(
            "1.2.0".to_string(),
            manifest("1.2.0", "stable"),
        )]));
        let result = search("app", vec![app.clone()], &stored);
        let hit = &result["objects"][0]["package"];
        assert_eq!(
            (&hit["version"], &hit["description"]),
            (&json!("1.2.0"), &json!("stable"))
        );
        assert_eq!(hit["date"], iso8601(7));

        // `latest` on the newest needs no lookup; no `latest` shows the newest.
        app.tags = vec![("latest".into(), "2.0.0-rc.1".into())];
        let none = Stored(HashMap::new());
        assert_eq!(
            search("app", vec![app.clone()], &none)["objects"][0]["package"]["version"],
            "2.0.0-rc.1"
        );
        app.tags.clear();
        assert_eq!(
            search("app", vec![app], &none)["objects"][0]["package"]["version"],
            "2.0.0-rc.1"
        );
    }
}
