//! Maven groups: the artifact-level `maven-metadata.xml` of a group lists every version
//! any member it reads from has (issue 21: the union, no dependency-confusion guard for
//! Maven), in Maven's version order, with `latest` (the greatest version) and `release`
//! (the greatest non-snapshot) recomputed and the newest `lastUpdated`. Files, and a
//! snapshot version's own metadata, are served by the host from the first member that
//! has them. A group-level document (plugin prefixes, no versions) is the first
//! member's, whole.

use wharf_plugin_sdk::members::found;
use wharf_plugin_sdk::{LogLevel, MergeInput, Operation, PluginError, Response, log};

use crate::metadata::{self, Versioning};
use crate::path::{Artifact, is_snapshot};
use crate::version;

pub fn merge(input: &MergeInput) -> Result<Response, PluginError> {
    let documents: Vec<(&str, &Response)> = input
        .members
        .iter()
        .filter_map(|m| Some((m.owner.as_str(), found(m)?)))
        .collect();
    let Some((_, first)) = documents.first() else {
        return Err(PluginError::not_found(
            "no member of the group has this artifact",
        ));
    };
    let read: Vec<metadata::Read> = documents
        .iter()
        .filter_map(|(owner, document)| match metadata::read(&document.body) {
            Ok(read) => Some(read),
            Err(e) => {
                // Members' documents were rendered or checked already; one that is not
                // metadata after all is left out rather than failing the group.
                log(
                    LogLevel::Warn,
                    &format!(
                        "group {}: member {owner}'s maven-metadata.xml left out: {e}",
                        input.owner
                    ),
                );
                None
            }
        })
        .collect();
    if read.iter().all(|r| r.versions.is_empty()) {
        return Ok((*first).clone());
    }
    let mut versions: Vec<&str> = read
        .iter()
        .flat_map(|r| r.versions.iter().map(String::as_str))
        .collect();
    versions.sort_by(|a, b| version::compare(a, b).then_with(|| a.cmp(b)));
    versions.dedup();
    let named = named_artifact(&input.operation);
    let (group, artifact) = read
        .iter()
        .find(|r| !r.group.is_empty() && !r.artifact.is_empty())
        .map(|r| (r.group.clone(), r.artifact.clone()))
        .or(named.map(|a| (a.group, a.artifact)))
        .unwrap_or_default();
    let last_updated = read
        .iter()
        .map(|r| r.last_updated.as_str())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .max()
        .unwrap_or_default();
    let body = metadata::write(&Versioning {
        group: &group,
        artifact: &artifact,
        latest: versions.last().copied(),
        release: versions.iter().rev().copied().find(|v| !is_snapshot(v)),
        versions: &versions,
        last_updated,
    });
    Ok(Response::new(200, "text/xml", body))
}

/// The artifact the merged document is about, from the operation.
fn named_artifact(operation: &Operation) -> Option<Artifact> {
    match operation {
        Operation::RenderIndex(spec) => Artifact::from_name(&spec.pkg.as_ref()?.name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::request;
    use wharf_plugin_sdk::{MemberDocument, Method};

    use crate::proxy::tests::CENTRAL_METADATA;
    use crate::routes::match_route;

    fn metadata(versions: &[&str], last_updated: &str) -> Response {
        let versions: Vec<String> = versions
            .iter()
            .map(|v| format!("<version>{v}</version>"))
            .collect();
        let body = format!(
            "<metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning>\
             <latest>ignored</latest><versions>{}</versions><lastUpdated>{last_updated}</lastUpdated>\
             </versioning></metadata>",
            versions.concat()
        );
        Response::new(200, "text/xml", body)
    }

    fn member(owner: &str, hosted: bool, document: Option<Response>) -> MemberDocument {
        MemberDocument {
            owner: owner.into(),
            hosted,
            document,
        }
    }

    fn input(members: Vec<MemberDocument>, confusion_guard: bool) -> MergeInput {
        let request = request(Method::Get, "/com/example/lib/maven-metadata.xml");
        MergeInput {
            operation: match_route(&request).unwrap().operation,
            base_url: request.base_url,
            owner: "all".into(),
            members,
            confusion_guard,
        }
    }

    fn merged(members: Vec<MemberDocument>, confusion_guard: bool) -> String {
        let response = merge(&input(members, confusion_guard)).unwrap();
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, "text/xml")
        );
        String::from_utf8(response.body).unwrap()
    }

    #[test]
    fn versions_are_the_union_in_maven_order_whatever_the_guard() {
        for guard in [true, false] {
            let xml = merged(
                vec![
                    member(
                        "acme",
                        true,
                        Some(metadata(&["1.10", "2.0-SNAPSHOT", "1.2"], "20240101000000")),
                    ),
                    member("empty", true, None),
                    member(
                        "central",
                        false,
                        Some(metadata(&["1.9", "1.10", "1.11-rc1"], "20240301000000")),
                    ),
                ],
                guard,
            );
            assert_eq!(
                xml,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  \
                 <groupId>com.example</groupId>\n  <artifactId>lib</artifactId>\n  <versioning>\n    \
                 <latest>2.0-SNAPSHOT</latest>\n    <release>1.11-rc1</release>\n    <versions>\n      \
                 <version>1.2</version>\n      <version>1.9</version>\n      <version>1.10</version>\n      \
                 <version>1.11-rc1</version>\n      <version>2.0-SNAPSHOT</version>\n    </versions>\n    \
                 <lastUpdated>20240301000000</lastUpdated>\n  </versioning>\n</metadata>\n"
            );
        }
    }

    #[test]
    fn release_is_absent_when_every_version_is_a_snapshot() {
        let xml = merged(
            vec![
                member("a", true, Some(metadata(&["1.0-SNAPSHOT"], ""))),
                member("b", false, Some(metadata(&["1.1-SNAPSHOT"], ""))),
            ],
            true,
        );
        assert!(xml.contains("<latest>1.1-SNAPSHOT</latest>"), "{xml}");
        assert!(!xml.contains("<release>"), "{xml}");
        assert!(xml.contains("<lastUpdated></lastUpdated>"), "{xml}");
    }

    #[test]
    fn one_member_is_sorted_too_and_broken_members_are_left_out() {
        let broken = Response::new(200, "text/xml", "<html/>");
        let xml = merged(
            vec![
                member("broken", false, Some(broken)),
                member(
                    "central",
                    false,
                    Some(Response::new(200, "text/xml", CENTRAL_METADATA)),
                ),
            ],
            true,
        );
        assert!(xml.contains("<latest>1.10</latest>"), "{xml}");
        assert!(
            xml.contains("<version>1.9</version>\n      <version>1.10</version>"),
            "{xml}"
        );
    }

    #[test]
    fn documents_without_versions_are_the_first_members() {
        let plugins = Response::new(200, "text/xml", "<metadata><plugins/></metadata>");
        let response = merge(&input(
            vec![
                member("acme", true, None),
                member("central", false, Some(plugins.clone())),
                member("other", false, Some(metadata(&[], ""))),
            ],
            true,
        ))
        .unwrap();
        assert_eq!(response.body, plugins.body);
    }

    #[test]
    fn no_member_with_the_artifact_is_a_404() {
        let err = merge(&input(
            vec![
                member("acme", true, None),
                member("central", false, Some(Response::new(404, "text/plain", ""))),
            ],
            true,
        ))
        .unwrap_err();
        assert_eq!(err.status, 404);
    }
}
