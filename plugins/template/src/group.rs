//! Group repositories: one index from the members'. A package's index is the union of
//! the members' versions, each version from the first member that has it (its files'
//! URLs point at that member). With the dependency-confusion guard on, a package any
//! hosted member has is taken from hosted members only, so a proxy's upstream cannot
//! add versions to it. Other documents (the owner listing) come from the first member
//! that has one.

use std::collections::BTreeSet;

use wharf_plugin_sdk::members::found;
use wharf_plugin_sdk::{
    IndexSpec, MemberDocument, MergeInput, Operation, PluginError, Response, json,
};

use crate::index::{self, Versions};

pub fn merge(input: &MergeInput) -> Result<Response, PluginError> {
    let found: Vec<(&MemberDocument, &Response)> = input
        .members
        .iter()
        .filter_map(|m| Some((m, found(m)?)))
        .collect();
    let guarded = input.confusion_guard && found.iter().any(|(m, _)| m.hosted);
    let mut found = found
        .into_iter()
        .filter(|(m, _)| m.hosted || !guarded)
        .peekable();
    let Operation::RenderIndex(IndexSpec { view, .. }) = &input.operation else {
        return Err(PluginError::internal("only indexes are merged"));
    };
    if view != index::VERSIONS {
        let (_, first) = found
            .next()
            .ok_or_else(|| PluginError::not_found("not found"))?;
        return Ok(first.clone());
    }
    let mut merged: Option<Versions<'_>> = None;
    let mut seen = BTreeSet::new();
    for (member, document) in found {
        let index: Versions<'_> = serde_json::from_slice(&document.body).map_err(|e| {
            PluginError::new(
                502,
                format!("member {} sent a malformed index: {e}", member.owner),
            )
        })?;
        let merged = merged.get_or_insert_with(|| Versions {
            name: index.name.clone(),
            versions: Vec::new(),
        });
        let new = index
            .versions
            .into_iter()
            .filter(|v| seen.insert(v.version.clone()));
        merged.versions.extend(new);
    }
    let mut merged = merged.ok_or_else(|| PluginError::not_found("no such package"))?;
    // Oldest first, as a single owner's index lists them.
    merged.versions.sort_by_key(|v| v.created);
    json::response(200, &merged)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wharf_plugin_sdk::testing::{self, hosted, proxied};
    use wharf_plugin_sdk::{Method, Plugin};

    use super::*;
    use crate::Template;

    /// A member's index of `notes` with these versions (and creation times).
    fn index(member: &str, versions: &[(&str, i64)]) -> Option<Response> {
        let versions: Vec<Value> = versions
            .iter()
            .map(|(v, created)| {
                json!({"version": v, "summary": member, "created": created, "downloads": 0, "files": []})
            })
            .collect();
        Some(Response::json(
            json!({"name": "notes", "versions": versions}).to_string(),
        ))
    }

    fn merged(
        guard: bool,
        members: Vec<MemberDocument>,
    ) -> Result<Vec<(String, String)>, PluginError> {
        let request = testing::request(Method::Get, "/notes");
        let operation = Template::match_route(request.clone()).unwrap().operation;
        let mut input = testing::merge_input(request, operation, members);
        input.confusion_guard = guard;
        let doc: Value = serde_json::from_slice(&merge(&input)?.body).unwrap();
        Ok(doc["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["version"].as_str().unwrap().into(),
                    v["summary"].as_str().unwrap().into(),
                )
            })
            .collect())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn versions_are_the_union_first_member_first() {
        let members = || {
            vec![
                hosted("acme", index("acme", &[("1.0", 1)])),
                hosted("empty", None),
                proxied(
                    "public",
                    index("public", &[("0.9", 0), ("1.0", 1), ("2.0", 2)]),
                ),
            ]
        };
        // The guard keeps the proxy out of a package acme has.
        assert_eq!(merged(true, members()).unwrap(), pairs(&[("1.0", "acme")]));
        assert_eq!(
            merged(false, members()).unwrap(),
            pairs(&[("0.9", "public"), ("1.0", "acme"), ("2.0", "public")])
        );
    }

    #[test]
    fn a_package_only_upstream_comes_from_the_proxy_and_none_is_404() {
        let proxy_only = vec![
            hosted("acme", None),
            proxied("public", index("public", &[("2.0", 2)])),
        ];
        assert_eq!(
            merged(true, proxy_only).unwrap(),
            pairs(&[("2.0", "public")])
        );
        let none = merged(true, vec![hosted("acme", None), proxied("public", None)]);
        assert_eq!(none.unwrap_err().status, 404);
    }
}
