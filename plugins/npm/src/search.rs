//! `npm search`: `GET /-/v1/search?text=&from=&size=` over the owner's packages.

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::{IndexInput, PackageDetail, Response, VersionRef, host};

use wharf_plugin_sdk::time::iso8601;

/// Page size when the client sends none, and the most a page may hold (npm's limits).
const DEFAULT_SIZE: usize = 20;
const MAX_SIZE: usize = 250;

/// The search argument as the route encodes it: text, from and size.
pub fn argument(text: &str, from: &str, size: &str) -> String {
    format!("{text}\u{0}{from}\u{0}{size}")
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
    let mut parts = input.spec.argument.split('\u{0}');
    let text = parts.next().unwrap_or_default().to_lowercase();
    let from: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let size: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SIZE)
        .clamp(1, MAX_SIZE);
    let terms: Vec<&str> = text.split_whitespace().collect();

    let mut hits: Vec<(usize, Value)> = input
        .listing
        .iter()
        .filter_map(|p| hit(p, &shown(p, versions)?, &terms, &input.request.base_url))
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

    use wharf_plugin_sdk::testing::{package, request, version};
    use wharf_plugin_sdk::{IndexSpec, Method};

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

    fn search(text: &str, listing: Vec<PackageDetail>, stored: &Stored) -> Value {
        let input = IndexInput {
            request: request(Method::Get, "/-/v1/search"),
            spec: IndexSpec {
                pkg: None,
                view: "search".into(),
                argument: argument(text, "", ""),
                digest_of: None,
                listing: None,
            },
            detail: None,
            listing_total: listing.len() as u64,
            listing,
        };
        serde_json::from_slice(&render_with(&input, stored).body).unwrap()
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
