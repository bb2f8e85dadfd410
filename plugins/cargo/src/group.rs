//! Group repositories of cargo owners (issue 21): one document from the members'.
//!
//! An index file comes whole from one member: mixing versions across members would
//! let an upstream add versions to a private crate. With the dependency-confusion
//! guard on, a crate any hosted member has is served only from hosted members;
//! otherwise, and for search and owners, the first member with an answer serves.
//! Index lines hold no URLs, so a member's file is the group's as it is; downloads go
//! through the group's own `dl`, which the host serves from the first member that has
//! the `.crate`.

use wharf_plugin_sdk::{IndexSpec, MemberDocument, MergeInput, Operation, PluginError, Response};

use crate::render;

pub fn merge(input: MergeInput) -> Result<Response, PluginError> {
    let Operation::RenderIndex(IndexSpec { view, .. }) = &input.operation else {
        return Err(PluginError::internal("cargo merges only index documents"));
    };
    let guarded = view == render::INDEX
        && input.confusion_guard
        && input.members.iter().any(|m| m.hosted && found(m).is_some());
    input
        .members
        .iter()
        .filter(|m| m.hosted || !guarded)
        .find_map(found)
        .cloned()
        .ok_or_else(|| PluginError::not_found("crate not found"))
}

/// The member's document, if it has one (a 200).
fn found(member: &MemberDocument) -> Option<&Response> {
    member
        .document
        .as_ref()
        .filter(|d| matches!(d.status, 0 | 200))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::Method;
    use wharf_plugin_sdk::testing::{self, hosted, merge_input, proxied};

    fn operation(path: &str) -> Operation {
        let request = testing::request(Method::Get, path).with_owner(Some("all"));
        crate::routes::match_route(&request).unwrap().operation
    }

    fn file(text: &str) -> Option<Response> {
        Some(Response::new(200, render::INDEX_TYPE, text))
    }

    fn merged(
        path: &str,
        guard: bool,
        members: Vec<MemberDocument>,
    ) -> Result<Response, PluginError> {
        let request = testing::request(Method::Get, path).with_owner(Some("all"));
        let mut input = merge_input(request, operation(path), members);
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
    fn search_is_not_guarded() {
        let members = vec![
            proxied("crates-io", Some(Response::json(r#"{"crates":[]}"#))),
            hosted("acme", Some(Response::json(r#"{"crates":[1]}"#))),
        ];
        let served = merged("/api/v1/crates", true, members).unwrap();
        assert_eq!(served.body, br#"{"crates":[]}"#);
    }
}
