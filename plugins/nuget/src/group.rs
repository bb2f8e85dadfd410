//! Group repositories of NuGet owners (issue 21): one document from the members'.
//!
//! A package's documents (registrations, version lists, v2 entries) come from the
//! first member that has the id, as the issue asks for NuGet: no dependency-confusion
//! guard, since NuGet clients resolve ids per source and sign packages. Searches and
//! id autocompletion show every member's hits: the members' pages concatenated in
//! member order, each id once (the first member's hit), cut to the page size the client
//! asked for, with `totalHits` the sum of the members' (an id in two members counts
//! twice there). Each member's document keeps its own URLs: a hit or a registration
//! leads the client to the member that has it.

use serde_json::json;
use wharf_plugin_sdk::members::{self, Shape};
use wharf_plugin_sdk::params::number;
use wharf_plugin_sdk::{IndexSpec, MergeInput, Operation, PluginError, Response};

use crate::render::json_response;
use crate::routes::{param, view};

pub fn merge(input: MergeInput) -> Result<Response, PluginError> {
    let Operation::RenderIndex(IndexSpec { view, params, .. }) = &input.operation else {
        return Err(PluginError::internal("NuGet merges only index documents"));
    };
    match view.as_str() {
        view::SEARCH | view::AUTOCOMPLETE => {
            let shape = Shape {
                hits: "/data",
                total: "/totalHits",
                // Search hits are objects with an `id`, autocompletions the ids themselves.
                name: if view == view::SEARCH { "/id" } else { "" },
            };
            let page = members::concat(&input.members, &shape, number(params, param::TAKE, 0))?;
            Ok(json_response(
                &json!({ "totalHits": page.total, "data": page.hits }),
            ))
        }
        _ => members::first_found(&input.members, false)
            .cloned()
            .ok_or_else(|| PluginError::not_found("package not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wharf_plugin_sdk::testing::{self, hosted, merge_input, proxied};
    use wharf_plugin_sdk::{MemberDocument, Method};

    fn merged(
        path: &str,
        query: &[(&str, &str)],
        members: Vec<MemberDocument>,
    ) -> Result<Response, PluginError> {
        let request = query.iter().fold(
            testing::request(Method::Get, path).with_owner(Some("all")),
            |r, (name, value)| r.with_query(name, value),
        );
        let operation = crate::routes::match_route(&request).unwrap().operation;
        merge(merge_input(request, operation, members))
    }

    fn json(text: &str) -> Option<Response> {
        Some(Response::json(text.to_string()))
    }

    #[test]
    fn a_package_comes_from_the_first_member_that_has_it_unguarded() {
        let members = vec![
            hosted("acme", None),
            proxied("nuget-org", json(r#"{"from":"nuget.org"}"#)),
            hosted("tools", json(r#"{"from":"tools"}"#)),
        ];
        let served = merged("/registration/foo/index.json", &[], members).unwrap();
        assert_eq!(served.body, br#"{"from":"nuget.org"}"#);
        let none = merged("/package/foo/index.json", &[], vec![hosted("acme", None)]);
        assert_eq!(none.unwrap_err().status, 404);
    }

    #[test]
    fn searches_show_every_members_hits_once() {
        let members = vec![
            hosted(
                "acme",
                json(
                    r#"{"totalHits":2,"data":[{"id":"Acme.Json","v":"acme"},{"id":"Newtonsoft.Json","v":"acme"}]}"#,
                ),
            ),
            proxied("nuget-org", None),
            proxied(
                "mirror",
                json(
                    r#"{"totalHits":2,"data":[{"id":"newtonsoft.json","v":"mirror"},{"id":"Json.More","v":"mirror"}]}"#,
                ),
            ),
        ];
        let served = merged("/query", &[("q", "json"), ("take", "2")], members).unwrap();
        let page: Value = serde_json::from_slice(&served.body).unwrap();
        assert_eq!(
            page,
            serde_json::json!({"totalHits":4,"data":[{"id":"Acme.Json","v":"acme"},{"id":"Newtonsoft.Json","v":"acme"}]})
        );
        let ids = vec![
            hosted("acme", json(r#"{"totalHits":1,"data":["Acme.Json"]}"#)),
            proxied(
                "nuget-org",
                json(r#"{"totalHits":2,"data":["acme.json","Json.More"]}"#),
            ),
        ];
        let served = merged("/autocomplete", &[("q", "json")], ids).unwrap();
        assert_eq!(
            served.body,
            br#"{"data":["Acme.Json","Json.More"],"totalHits":3}"#
        );
        let broken = vec![hosted("acme", json("<html>"))];
        assert_eq!(merged("/query", &[], broken).unwrap_err().status, 500);
    }
}
