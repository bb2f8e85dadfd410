//! Group repositories of OCI owners (issue 21): a repository's listings come whole from
//! the first member that has it, never a union: a tag of one member names a manifest
//! the others may not have, and the host serves a group's manifests and blobs from the
//! first member that has them too. With the dependency-confusion guard on, a repository
//! a hosted member has is listed only from hosted members. A listing is renamed for the
//! group (the tag list's `name`, the paging `Link`); referrers pass through unchanged.

use serde_json::Value;
use wharf_plugin_sdk::members::{self, found};
use wharf_plugin_sdk::{MemberDocument, MergeInput, Operation, PluginError, Response};

use crate::listing;
use crate::render::{referrers_index, unknown_repository};
use crate::routes::{REFERRERS_VIEW, TAGS_VIEW};

pub fn merge(input: &MergeInput) -> Result<Response, PluginError> {
    let Operation::RenderIndex(spec) = &input.operation else {
        return Err(PluginError::internal("OCI groups merge listings only"));
    };
    let member = match spec.view.as_str() {
        TAGS_VIEW => first(input, |_| true).ok_or_else(unknown_repository)?,
        // Every member answers referrers, with an empty index where it has no such
        // repository: the first that lists any has the subject. The guard hides a
        // proxy's only behind a hosted member's non-empty index: a subject digest
        // names the same bytes in every member, so no name can be confused here.
        REFERRERS_VIEW => match first(input, has_manifests).or_else(|| first(input, |_| true)) {
            Some(member) => member,
            None => return Ok(referrers_index(Vec::new())),
        },
        _ => {
            return members::first_found(&input.members, input.confusion_guard)
                .cloned()
                .ok_or_else(unknown_repository);
        }
    };
    let document = found(member).ok_or_else(unknown_repository)?;
    listing::relocate(document, &input.owner, &input.base_url, spec).map_err(|why| {
        PluginError::with_code(
            502,
            crate::UPSTREAM_CODE,
            format!(
                "group member {} sent a malformed {} listing: {why}",
                member.owner, spec.view
            ),
        )
    })
}

/// The first member whose document `has` what is asked, guarded (see
/// [`members::first`]).
fn first(input: &MergeInput, has: impl Fn(&Response) -> bool) -> Option<&MemberDocument> {
    members::first(&input.members, input.confusion_guard, has)
}

/// Whether a referrers index lists any manifest.
fn has_manifests(index: &Response) -> bool {
    serde_json::from_slice::<Value>(&index.body)
        .ok()
        .and_then(|index| Some(!index.get("manifests")?.as_array()?.is_empty()))
        .unwrap_or(false)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;
    use wharf_plugin_sdk::Method;
    use wharf_plugin_sdk::testing::request;

    use super::*;
    use crate::routes::match_route;

    const D: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";

    /// A member's answer: its owner, whether it is hosted, and its document (`None`: 404).
    pub fn member(owner: &str, hosted: bool, document: Option<Response>) -> MemberDocument {
        MemberDocument {
            owner: owner.into(),
            hosted,
            document,
        }
    }

    /// The tag list of `{owner}/app`, as the member rendered it, with a next page.
    pub fn tags(owner: &str, tags: &[&str]) -> Option<Response> {
        let body = json!({"name": format!("{owner}/app"), "tags": tags});
        let link = format!(
            "</v2/{owner}/app/tags/list?n=2&last={}>; rel=\"next\"",
            tags[1]
        );
        Some(Response::json(body.to_string()).header("Link", link))
    }

    /// What the host hands `merge` for `path` on the group `all`.
    pub fn input(path: &str, guard: bool, members: Vec<MemberDocument>) -> MergeInput {
        let request = request(Method::Get, &format!("/all/app{path}"))
            .with_owner(None)
            .with_base_url("http://wharf.test/v2");
        MergeInput {
            base_url: request.base_url.clone(),
            owner: "all".into(),
            operation: match_route(&request).expect("route").operation,
            members,
            confusion_guard: guard,
        }
    }

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    fn link(response: &Response) -> &str {
        listing::header(response, "link").unwrap_or_default()
    }

    #[test]
    fn tags_come_whole_from_the_first_member_that_has_the_repository() {
        let members = vec![
            member("acme", true, None),
            member("hub", false, tags("hub", &["1", "2", "3"])),
            member("mirror", false, tags("mirror", &["1", "2", "9"])),
        ];
        let merged = merge(&input("/tags/list", true, members)).unwrap();
        assert_eq!(
            body(&merged),
            json!({"name": "all/app", "tags": ["1", "2", "3"]})
        );
        assert_eq!(
            link(&merged),
            "</v2/all/app/tags/list?n=2&last=2>; rel=\"next\""
        );
    }

    #[test]
    fn with_the_guard_a_hosted_repository_hides_the_proxies() {
        let members = || {
            vec![
                member("hub", false, tags("hub", &["1", "2", "666"])),
                member("acme", true, tags("acme", &["1", "2"])),
            ]
        };
        let guarded = merge(&input("/tags/list", true, members())).unwrap();
        assert_eq!(body(&guarded)["tags"], json!(["1", "2"]));
        let unguarded = merge(&input("/tags/list", false, members())).unwrap();
        assert_eq!(body(&unguarded)["tags"], json!(["1", "2", "666"]));
    }

    #[test]
    fn no_member_with_the_repository_is_name_unknown() {
        let error = Some(Response::new(404, "application/json", "{}"));
        let members = vec![member("acme", true, error), member("hub", false, None)];
        let e = merge(&input("/tags/list", true, members)).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (404, "NAME_UNKNOWN"));
    }

    #[test]
    fn a_malformed_member_listing_is_a_bad_gateway() {
        let broken = Some(Response::json("[]"));
        let e = merge(&input(
            "/tags/list",
            true,
            vec![member("hub", false, broken)],
        ))
        .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (502, "UNAVAILABLE"));
        assert!(e.message.contains("hub"), "{}", e.message);
    }

    /// A referrers index listing `digests`, as a member sent it.
    pub fn referrers(digests: &[&str]) -> Option<Response> {
        let manifests: Vec<Value> = digests.iter().map(|d| json!({"digest": d})).collect();
        let body = json!({"schemaVersion": 2, "mediaType": crate::manifest::OCI_INDEX, "manifests": manifests});
        Some(Response::new(
            200,
            crate::manifest::OCI_INDEX,
            body.to_string(),
        ))
    }

    #[test]
    fn referrers_come_unchanged_from_the_first_member_listing_any() {
        let path = format!("/referrers/{D}");
        let members = vec![
            member("acme", true, referrers(&[])),
            member("hub", false, referrers(&["sha256:sig"])),
            member("mirror", false, referrers(&["sha256:other"])),
        ];
        let merged = merge(&input(&path, true, members)).unwrap();
        assert_eq!(merged.body, referrers(&["sha256:sig"]).unwrap().body);
        let none = vec![
            member("acme", true, referrers(&[])),
            member("hub", false, None),
        ];
        let merged = merge(&input(&path, true, none)).unwrap();
        assert_eq!(body(&merged)["manifests"], json!([]));
        let merged = merge(&input(&path, true, Vec::new())).unwrap();
        assert_eq!(
            (merged.status, body(&merged)["manifests"].clone()),
            (200, json!([])),
            "no readable member: no referrers, as for an unknown repository"
        );
    }
}
