//! `npm search`: `GET /-/v1/search?text=&from=&size=` over the owner's packages.

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::{IndexInput, PackageDetail, Response};

use wharf_plugin_sdk::time::iso8601;

/// Page size when the client sends none, and the most a page may hold (npm's limits).
const DEFAULT_SIZE: usize = 20;
const MAX_SIZE: usize = 250;

/// The search argument as the route encodes it: text, from and size.
pub fn argument(text: &str, from: &str, size: &str) -> String {
    format!("{text}\u{0}{from}\u{0}{size}")
}

pub fn render(input: &IndexInput) -> Response {
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
        .filter_map(|p| hit(p, &terms, &input.request.base_url))
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

/// A search result for `pkg` if every term occurs in its name, description or
/// keywords, with a rank (2 = exact name, 1 = name contains a term, 0 = elsewhere).
fn hit(pkg: &PackageDetail, terms: &[&str], base: &str) -> Option<(usize, Value)> {
    let version = pkg.versions.last()?;
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
