//! Group repositories of npm owners (issue 21): one packument from the members'.
//!
//! A package comes whole from one member, as npm's peers do it: mixing versions
//! across members would let an upstream add versions to a private package. With the
//! dependency-confusion guard on, a name any hosted member has is served only from
//! hosted members. Each member's document already points its tarballs at that
//! member, and its times and attestations pass through as they are.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use wharf_plugin_sdk::members::{self, found};
use wharf_plugin_sdk::time::iso8601;
use wharf_plugin_sdk::{IndexSpec, MergeInput, Operation, PluginError, Response};

use crate::render::{self, to_json};
use crate::routes::view;

pub fn merge(input: MergeInput) -> Result<Response, PluginError> {
    let Operation::RenderIndex(IndexSpec { view: kind, .. }) = &input.operation else {
        return Err(PluginError::internal("npm merges only index documents"));
    };
    if kind == view::SEARCH {
        return search(&input);
    }
    members::first_found(&input.members, input.confusion_guard)
        .cloned()
        .ok_or_else(render::package_not_found)
}

/// A page of `npm search` results, as members render it.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    objects: Vec<&'a RawValue>,
    #[serde(default)]
    total: u64,
    #[serde(default)]
    time: String,
}

/// What a hit's name is read from; the rest of it passes through unread.
#[derive(Deserialize)]
struct Hit {
    package: Named,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// The merged page, in the key order hosted search pages have.
#[derive(Serialize)]
struct Merged<'a> {
    objects: Vec<&'a RawValue>,
    time: String,
    total: u64,
}

/// The members' hits in member order, each name once: the first member's hit wins,
/// and with the guard on, a hosted member's wins over any proxy's. `total` is the
/// members' totals less the hits dropped as duplicates. Each member's page is already
/// its `from`/`size` page, so a group page holds up to `size` hits per member and
/// pages through all of them.
fn search(input: &MergeInput) -> Result<Response, PluginError> {
    let mut pages = Vec::new();
    for member in &input.members {
        let Some(document) = found(member) else {
            continue;
        };
        let page: Page<'_> = serde_json::from_slice(&document.body).map_err(|e| {
            PluginError::new(
                502,
                format!(
                    "group member {} sent malformed search results: {e}",
                    member.owner
                ),
            )
        })?;
        let names = page
            .objects
            .iter()
            .map(|hit| serde_json::from_str::<Hit>(hit.get()).map(|h| h.package.name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                PluginError::new(
                    502,
                    format!(
                        "group member {} sent a search hit without a name: {e}",
                        member.owner
                    ),
                )
            })?;
        pages.push((member.hosted, page, names));
    }
    let hosted: BTreeSet<&str> = if input.confusion_guard {
        pages
            .iter()
            .filter(|(hosted, ..)| *hosted)
            .flat_map(|(_, _, names)| names.iter().map(String::as_str))
            .collect()
    } else {
        BTreeSet::new()
    };
    let mut seen = BTreeSet::new();
    let mut merged = Merged {
        objects: Vec::new(),
        time: iso8601(0),
        total: 0,
    };
    let mut dropped = 0;
    for (is_hosted, page, names) in &pages {
        merged.total += page.total;
        merged.time = merged.time.clone().max(page.time.clone());
        for (hit, name) in page.objects.iter().zip(names) {
            let shadowed = !is_hosted && hosted.contains(name.as_str());
            if shadowed || !seen.insert(name.as_str()) {
                dropped += 1;
                continue;
            }
            merged.objects.push(hit);
        }
    }
    merged.total = merged.total.saturating_sub(dropped);
    Ok(Response::json(to_json(&merged)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wharf_plugin_sdk::testing::{hosted, merge_input, proxied, request};
    use wharf_plugin_sdk::{MemberDocument, Method};

    use super::*;
    use crate::routes::match_route;

    /// A member's packument of `name`, naming the member so the winner shows.
    fn packument(member: &str, version: &str) -> Option<Response> {
        let doc = json!({"name": "internal-lib", "dist-tags": {"latest": version}, "from": member});
        Some(Response::json(doc.to_string()).header("vary", "Accept"))
    }

    fn merged_from(
        path: &str,
        guard: bool,
        members: Vec<MemberDocument>,
    ) -> Result<Value, PluginError> {
        let request = request(Method::Get, path).with_owner(Some("all"));
        let operation = match_route(&request).unwrap().operation;
        let mut input = merge_input(request, operation, members);
        input.confusion_guard = guard;
        let response = merge(input)?;
        assert_eq!(
            response.headers,
            [("vary".to_string(), "Accept".to_string())]
        );
        Ok(serde_json::from_slice(&response.body).unwrap())
    }

    fn winner(guard: bool, members: Vec<MemberDocument>) -> Result<Value, PluginError> {
        merged_from("/internal-lib", guard, members).map(|doc| doc["from"].clone())
    }

    #[test]
    fn a_hosted_name_is_served_only_from_hosted_members() {
        let members = || {
            vec![
                proxied("npmjs", packument("npmjs", "99.0.0")),
                hosted("acme", packument("acme", "1.0.0")),
            ]
        };
        assert_eq!(winner(true, members()).unwrap(), "acme");
        // Without the guard the first member that has it wins, whole.
        assert_eq!(winner(false, members()).unwrap(), "npmjs");
    }

    #[test]
    fn the_first_member_with_the_package_wins() {
        let hosted_only = vec![
            hosted("empty", None),
            hosted("acme", packument("acme", "1.0.0")),
            hosted("beta", packument("beta", "2.0.0")),
        ];
        assert_eq!(winner(true, hosted_only).unwrap(), "acme");
        let proxy_only = vec![
            hosted("acme", None),
            proxied("mirror", Some(Response::new(500, "application/json", "{}"))),
            proxied("npmjs", packument("npmjs", "1.0.0")),
        ];
        assert_eq!(winner(true, proxy_only).unwrap(), "npmjs");
    }

    #[test]
    fn no_member_with_the_package_is_npms_404() {
        let err = winner(true, vec![hosted("acme", None), proxied("npmjs", None)]).unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (404, "package not found")
        );
        assert_eq!(winner(true, Vec::new()).unwrap_err().status, 404);
    }

    /// A member's page of search hits for these names, with its total and time.
    fn hits(member: &str, names: &[&str], total: u64, time: &str) -> Option<Response> {
        let objects: Vec<Value> = names
            .iter()
            .map(|n| json!({"package": {"name": n}, "from": member}))
            .collect();
        let page = json!({"objects": objects, "total": total, "time": time});
        Some(Response::json(page.to_string()))
    }

    fn searched(guard: bool, members: Vec<MemberDocument>) -> Result<Value, PluginError> {
        let request = request(Method::Get, "/-/v1/search")
            .with_owner(Some("all"))
            .with_query("text", "lib");
        let operation = match_route(&request).unwrap().operation;
        let mut input = merge_input(request, operation, members);
        input.confusion_guard = guard;
        Ok(serde_json::from_slice(&merge(input)?.body).unwrap())
    }

    fn names(page: &Value) -> Vec<&str> {
        page["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["package"]["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn search_pages_concatenate_each_name_once() {
        let members = || {
            vec![
                proxied(
                    "npmjs",
                    hits(
                        "npmjs",
                        &["lib-a", "internal-lib"],
                        40,
                        "2024-01-03T00:00:00.000Z",
                    ),
                ),
                hosted(
                    "acme",
                    hits(
                        "acme",
                        &["internal-lib", "lib-b"],
                        2,
                        "2024-01-01T00:00:00.000Z",
                    ),
                ),
                hosted("gone", None),
            ]
        };
        let guarded = searched(true, members()).unwrap();
        assert_eq!(names(&guarded), ["lib-a", "internal-lib", "lib-b"]);
        assert_eq!(guarded["total"], 41);
        assert_eq!(guarded["time"], "2024-01-03T00:00:00.000Z");
        assert_eq!(guarded["objects"][1]["from"], "acme");
        // Without the guard the first member's hit wins.
        let open = searched(false, members()).unwrap();
        assert_eq!(names(&open), ["lib-a", "internal-lib", "lib-b"]);
        assert_eq!(open["objects"][1]["from"], "npmjs");
        let empty = searched(true, Vec::new()).unwrap();
        assert_eq!(
            empty,
            json!({"objects": [], "time": iso8601(0), "total": 0})
        );
    }

    #[test]
    fn malformed_member_search_results_are_a_502() {
        let err = searched(true, vec![proxied("npmjs", Some(Response::json("<html>")))]);
        assert_eq!(err.unwrap_err().status, 502);
        let nameless = Some(Response::json(r#"{"objects":[{"package":{}}],"total":1}"#));
        assert_eq!(
            searched(true, vec![proxied("npmjs", nameless)])
                .unwrap_err()
                .status,
            502
        );
    }
}
