//! Snapshots of the documents cargo reads from the sparse index and the web API, byte
//! for byte: a change to any of them shows up in review as a changed file under
//! `src/snapshots/`.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{
    file, index_input, index_spec, package, request, routed_index_input, snapshot,
};
use wharf_plugin_sdk::{Method, Operation, PackageDetail, Request, VersionDetail, upstream};

use crate::publish::YANKED;
use crate::render::render;
use crate::routes::match_route;

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200;

/// 0.1.0 as `cargo publish` stores it: a renamed optional dependency, a target-specific
/// one, a dev-dependency, a `links` key and a `dep:` feature (so `features2`).
const V0_1_0: &str = r#"{"name":"demo-app","vers":"0.1.0","deps":[
    {"name":"json","req":"^1.0","features":["std"],"optional":true,"default_features":false,"target":null,"kind":"normal","package":"serde_json"},
    {"name":"libc","req":"^0.2","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"normal"},
    {"name":"proptest","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"dev"}],
    "features":{"default":["std"],"std":[]},"features2":{"json":["dep:json"]},
    "links":"demo","rust_version":"1.70","description":"A demo crate"}"#;

/// 0.2.0-rc.1: no dependencies, yanked.
const V0_2_0_RC_1: &str = r#"{"name":"demo-app","vers":"0.2.0-rc.1","deps":[],
    "features":{},"links":null,"rust_version":null,"description":"A demo crate, next"}"#;

fn published(v: &str, metadata: &str, day: i64, yanked: bool) -> VersionDetail {
    let mut crate_file = file(&format!("demo-app-{v}.crate"), 1234, &"ab".repeat(32));
    crate_file.created = JAN_1 + day * 86_400;
    let mut stored = wharf_plugin_sdk::testing::version(v, metadata, vec![crate_file]);
    stored.created = JAN_1 + day * 86_400;
    stored.properties = vec![(YANKED.into(), yanked.to_string())];
    stored
}

fn demo_app() -> PackageDetail {
    let mut detail = package(
        "demo-app",
        vec![
            published("0.1.0", V0_1_0, 0, false),
            published("0.2.0-rc.1", V0_2_0_RC_1, 1, true),
        ],
    );
    detail.created = JAN_1;
    detail.modified = JAN_1 + 86_400;
    detail
}

/// The document `request` renders, routed as the host routes it.
fn rendered(
    request: Request,
    detail: Option<PackageDetail>,
    listing: Vec<PackageDetail>,
) -> String {
    let mut input = routed_index_input(request, match_route, detail);
    input.listing_total = listing.len() as u64;
    input.listing = listing;
    snapshot(&render(input).expect("render"))
}

#[test]
fn config_json() {
    let request = request(Method::Get, "/config.json");
    match match_route(&request).expect("route").operation {
        Operation::Respond(response) => assert_snapshot!(snapshot(&response)),
        other => panic!("expected a fixed response, got {other:?}"),
    }
}

#[test]
fn index_file() {
    let request = request(Method::Get, "/de/mo/demo-app");
    assert_snapshot!(rendered(request, Some(demo_app()), Vec::new()));
}

#[test]
fn search() {
    let request = request(Method::Get, "/api/v1/crates").with_query("q", "demo");
    assert_snapshot!(rendered(request, None, vec![demo_app()]));
}

#[test]
fn owners() {
    let request = request(Method::Get, "/api/v1/crates/demo-app/owners");
    assert_snapshot!(rendered(request, Some(demo_app()), Vec::new()));
}

/// The index file of `demo-app` fetched from another Wharf's cargo registry, as a
/// proxy serves and declares it.
#[test]
fn proxy_index_file() {
    use wharf_plugin_sdk::testing::rewrite_input;
    let upstream = request(Method::Get, "/de/mo/demo-app");
    let spec = index_spec(match_route(&upstream).expect("route"));
    let body = render(index_input(upstream, spec, Some(demo_app()))).expect("render");
    let proxy = request(Method::Get, "/de/mo/demo-app")
        .with_owner(Some("wharf-two"))
        .with_base_url("http://wharf.test/api/packages/wharf-two/cargo");
    let operation = match_route(&proxy).expect("route").operation;
    let input = rewrite_input(proxy, operation, "/de/mo/demo-app", "text/plain", body.body);
    assert_snapshot!(upstream::snapshot(
        &crate::proxy::rewrite(input).expect("rewrite")
    ));
}
