//! PyPI groups (issue 21): a project that exists in a hosted member is served only
//! from hosted members, so a public project of the same name cannot shadow a private
//! one (the dependency-confusion guard, on unless the group sets
//! `confusion_guard = false`); otherwise, and for the project list, the group's page
//! is the first member's that has one, whole. Each member's page links to that
//! member's own files, which the group serves from the first member that has them.

use wharf_plugin_sdk::members;
use wharf_plugin_sdk::{MergeInput, Operation, PluginError, Response};

use crate::routes::view;

pub fn merge(input: &MergeInput) -> Result<Response, PluginError> {
    let guard = input.confusion_guard && names_a_project(&input.operation);
    members::first_found(&input.members, guard)
        .cloned()
        .ok_or_else(|| PluginError::not_found("no member of the group has this project"))
}

fn names_a_project(operation: &Operation) -> bool {
    matches!(operation, Operation::RenderIndex(spec) if spec.view == view::PROJECT && spec.pkg.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::request;
    use wharf_plugin_sdk::{MemberDocument, Method};

    use crate::routes::match_route;

    fn member(owner: &str, hosted: bool, body: Option<&str>) -> MemberDocument {
        MemberDocument {
            owner: owner.into(),
            hosted,
            document: body.map(|b| Response::new(200, "text/html", b)),
        }
    }

    fn merged(
        path: &str,
        members: Vec<MemberDocument>,
        confusion_guard: bool,
    ) -> Result<String, u16> {
        let request = request(Method::Get, path);
        let input = MergeInput {
            operation: match_route(&request).unwrap().operation,
            base_url: request.base_url,
            owner: "all".into(),
            members,
            confusion_guard,
        };
        merge(&input)
            .map(|r| String::from_utf8(r.body).unwrap())
            .map_err(|e| e.status)
    }

    #[test]
    fn a_hosted_project_hides_the_proxys_under_the_guard() {
        let members = || {
            vec![
                member("public", false, Some("public internal-lib 9.9")),
                member("acme", true, Some("acme internal-lib 1.0")),
                member("other", true, None),
            ]
        };
        assert_eq!(
            merged("/simple/internal-lib/", members(), true).unwrap(),
            "acme internal-lib 1.0"
        );
        // Without the guard the first member with the project wins, whatever it is.
        assert_eq!(
            merged("/simple/internal-lib/", members(), false).unwrap(),
            "public internal-lib 9.9"
        );
    }

    #[test]
    fn a_project_only_upstream_comes_from_the_proxy() {
        let members = vec![
            member("acme", true, None),
            member("public", false, Some("public requests")),
            member("mirror", false, Some("mirror requests")),
        ];
        assert_eq!(
            merged("/simple/requests/", members, true).unwrap(),
            "public requests"
        );
    }

    #[test]
    fn the_project_list_is_the_first_members() {
        let members = vec![
            member("public", false, Some("public list")),
            member("acme", true, Some("acme list")),
        ];
        assert_eq!(merged("/simple/", members, true).unwrap(), "public list");
    }

    #[test]
    fn nobody_has_it() {
        let mut gone = member("public", false, None);
        gone.document = Some(Response::new(404, "text/plain", "gone"));
        let members = vec![member("acme", true, None), gone];
        assert_eq!(merged("/simple/nope/", members, true), Err(404));
        assert_eq!(merged("/simple/nope/", Vec::new(), false), Err(404));
    }
}
