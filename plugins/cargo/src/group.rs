//! Group repositories of cargo owners (issue 21): one document from the members'.
//!
//! An index file comes whole from one member: mixing versions across members would
//! let an upstream add versions to a private crate. With the dependency-confusion
//! guard on, a crate any hosted member has is served only from hosted members;
//! otherwise, and for owners, the first member with an answer serves. `cargo search`
//! shows every member's hits: their pages concatenated in member order, each crate
//! once (the first member's), cut to the page size, with the members' totals added.
//! Index lines hold no URLs, so a member's file is the group's as it is; downloads go
//! through the group's own `dl`, which the host serves from the first member that has
//! the `.crate`.

use serde_json::json;
use wharf_plugin_sdk::members::{self, Shape};
use wharf_plugin_sdk::{IndexSpec, MergeInput, Operation, PluginError, Response};

use crate::render;

/// What `cargo search` pages hold.
const SEARCH_PAGE: Shape = Shape {
    hits: "/crates",
    total: "/meta/total",
    name: "/name",
};

pub fn merge(input: MergeInput) -> Result<Response, PluginError> {
    let Operation::RenderIndex(IndexSpec { view, listing, .. }) = &input.operation else {
        return Err(PluginError::internal("cargo merges only index documents"));
    };
    if view == render::SEARCH {
        let limit = listing.as_ref().map_or(0, |l| l.limit as usize);
        let page = members::concat(&input.members, &SEARCH_PAGE, limit)?;
        let body = json!({ "crates": page.hits, "meta": { "total": page.total } });
        return Ok(Response::json(body.to_string()));
    }
    let guard = view == render::INDEX && input.confusion_guard;
    members::first_found(&input.members, guard)
        .cloned()
        .ok_or_else(|| PluginError::not_found("crate not found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wharf_plugin_sdk::testing::{self, hosted, merge_input, proxied};
    use wharf_plugin_sdk::{MemberDocument, Method, Request};

    /// A GET of `path`, whose query (`?a=b&c=d`) becomes the request's.
    fn request(path: &str) -> Request {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request = testing::request(Method::Get, path).with_owner(Some("all"));
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .fold(request, |r, (name, value)| r.with_query(name, value))
    }

    fn file(text: &str) -> Option<Response> {
        Some(Response::new(200, render::INDEX_TYPE, text))
    }

    fn merged(
        path: &str,
        guard: bool,
        members: Vec<MemberDocument>,
    ) -> Result<Response, PluginError> {
        let operation = crate::routes::match_route(&request(path))
            .unwrap()
            .operation;
        let mut input = merge_input(request(path), operation, members);
        input.confusion_guard = guard;
        merge(input)
    }

    #[test]
    fn a_hosted_crate_hides_upstream_versions() {
        let members = || {
            vec![
                proxied("crates-io", file("upstream 9.0.0\n")),
                hosted("acme", None),
                hosted("tools", file("tools 1.0.0\n")),
            ]
        };
        let served = merged("/in/te/internal-lib", true, members()).unwrap();
        assert_eq!(served.body, b"tools 1.0.0\n");
        let unguarded = merged("/in/te/internal-lib", false, members()).unwrap();
        assert_eq!(unguarded.body, b"upstream 9.0.0\n");
    }

    #[test]
    fn otherwise_the_first_member_with_the_crate_serves() {
        let members = vec![
            hosted("acme", None),
            proxied("mirror", Some(Response::new(404, "", ""))),
            proxied("crates-io", file("serde 1.0.0\n")),
        ];
        assert_eq!(
            merged("/se/rd/serde", true, members).unwrap().body,
            b"serde 1.0.0\n"
        );
        let none = merged("/se/rd/serde", true, vec![hosted("acme", None)]).unwrap_err();
        assert_eq!(none.status, 404);
    }

    #[test]
    fn search_shows_every_members_hits_once() {
        let page = |names: &[&str], total: u32| {
            let crates: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
            Some(Response::json(
                json!({ "crates": crates, "meta": { "total": total } }).to_string(),
            ))
        };
        let members = vec![
            hosted("acme", page(&["serde-ext", "internal-lib"], 2)),
            hosted("tools", None),
            hosted("more", page(&["Serde-Ext", "serde-x"], 5)),
        ];
        let served = merged("/api/v1/crates?per_page=2", true, members).unwrap();
        assert_eq!(
            served.body,
            br#"{"crates":[{"name":"serde-ext"},{"name":"internal-lib"}],"meta":{"total":7}}"#
        );
        let broken = vec![hosted("acme", Some(Response::json("<html>")))];
        assert_eq!(
            merged("/api/v1/crates", true, broken).unwrap_err().status,
            500
        );
    }
}
