//! Snapshots of the documents Maven clients read, byte for byte: a change to any of
//! them shows up in review as a changed file under `src/snapshots/`.
//!
//! Only the artifact-level `maven-metadata.xml` is rendered; a snapshot version's own
//! metadata is the file the deploy uploaded, served as stored.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{
    index_input, index_spec, package, request, routed_index_input, snapshot, version,
};
use wharf_plugin_sdk::{MemberDocument, MergeInput, Method, Operation, PackageDetail, Response};

use crate::metadata::render;
use crate::routes::match_route;

/// 2024-01-01T00:00:00Z, a day apart per version.
const JAN_1: i64 = 1_704_067_200;

/// `com.example:lib` with these versions, oldest first, as deploys store them.
fn lib(versions: &[&str]) -> PackageDetail {
    let versions = versions
        .iter()
        .zip(0..)
        .map(|(v, day)| {
            let mut stored = version(v, "", Vec::new());
            stored.created = JAN_1 + day * 86_400;
            stored
        })
        .collect::<Vec<_>>();
    let mut detail = package("com.example:lib", versions);
    detail.created = JAN_1;
    detail.modified = JAN_1 + 3 * 86_400 + 3_723;
    detail
}

fn rendered(path: &str, detail: PackageDetail) -> String {
    let request = request(Method::Get, path);
    snapshot(&render(&routed_index_input(request, match_route, Some(detail))).expect("render"))
}

#[test]
fn artifact_metadata() {
    let detail = lib(&["1.0", "1.1", "2.0-SNAPSHOT"]);
    assert_snapshot!(rendered("/com/example/lib/maven-metadata.xml", detail));
}

#[test]
fn artifact_metadata_of_snapshots_only() {
    let detail = lib(&["1.0-SNAPSHOT", "1.1-SNAPSHOT"]);
    assert_snapshot!(rendered("/com/example/lib/maven-metadata.xml", detail));
}

/// A group of hosted `alice` (snapshots and a new release) and a proxy of Central:
/// one list in Maven's order, `latest` and `release` recomputed.
#[test]
fn group_metadata() {
    let request = request(Method::Get, "/com/example/lib/maven-metadata.xml");
    let spec = index_spec(match_route(&request).expect("route"));
    let hosted = render(&index_input(
        request.clone(),
        spec.clone(),
        Some(lib(&["1.10", "2.0-SNAPSHOT", "2.0-alpha-1"])),
    ))
    .expect("render");
    let central = Response::new(200, "text/xml", crate::proxy::tests::CENTRAL_METADATA);
    let merged = crate::group::merge(&MergeInput {
        base_url: request.base_url,
        owner: "all".into(),
        operation: Operation::RenderIndex(spec),
        members: vec![
            MemberDocument {
                owner: "alice".into(),
                hosted: true,
                document: Some(hosted),
            },
            MemberDocument {
                owner: "central".into(),
                hosted: false,
                document: Some(central),
            },
        ],
        confusion_guard: true,
    })
    .expect("merge");
    assert_snapshot!(snapshot(&merged));
}
