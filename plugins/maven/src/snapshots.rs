//! Snapshots of the documents Maven clients read, byte for byte: a change to any of
//! them shows up in review as a changed file under `src/snapshots/`.
//!
//! Only the artifact-level `maven-metadata.xml` is rendered; a snapshot version's own
//! metadata is the file the deploy uploaded, served as stored.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{index_input, index_spec, package, request, snapshot, version};
use wharf_plugin_sdk::{Method, PackageDetail};

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
    let spec = index_spec(match_route(&request).expect("route"));
    snapshot(&render(&index_input(request, spec, Some(detail))).expect("render"))
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
