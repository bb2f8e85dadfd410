//! Snapshots of the documents NuGet clients read, byte for byte: a change to any of
//! them shows up in review as a changed file under `src/snapshots/`.

use insta::assert_snapshot;
use serde_json::json;
use wharf_plugin_sdk::testing::{self, snapshot};
use wharf_plugin_sdk::{Method, Operation, PackageDetail};

use crate::render::fixture::{BASE, routed, routed_input, version, with_listing, with_versions};

/// `Acme.Tools` 1.0.0 and 1.1.0-beta.1 with the nuspec fields the feeds show.
fn tools() -> PackageDetail {
    let nuspec = json!({
        "title": "Acme Tools",
        "authors": "Alice, Bob",
        "description": "Tools for Acme & friends <3",
        "summary": "Acme tools",
        "releaseNotes": "Fixes",
        "tags": "acme tools",
        "projectUrl": "https://example.com/acme",
        "license": { "type": "expression", "value": "MIT" },
        "dependencyGroups": [
            { "targetFramework": "net8.0", "dependencies": [
                { "id": "Newtonsoft.Json", "range": "[13.0.1, )" }
            ] },
            { "targetFramework": "netstandard2.0", "dependencies": [] }
        ]
    });
    with_versions(
        "Acme.Tools",
        vec![
            version("Acme.Tools", "1.0.0", nuspec.clone()),
            version("Acme.Tools", "1.1.0-beta.1", nuspec),
        ],
    )
}

/// The document a GET of `path` with `query` renders for `detail`.
fn rendered(path: &str, query: &[(&str, &str)], detail: Option<PackageDetail>) -> String {
    let input = routed_input(routed(path, query), detail);
    snapshot(&crate::render::render(&input).expect("render"))
}

/// The fixed document a GET of `path` answers without the host's database.
fn responded(path: &str) -> String {
    let request = testing::request(Method::Get, path).with_base_url(BASE);
    match crate::routes::match_route(&request)
        .expect("route")
        .operation
    {
        Operation::Respond(response) => snapshot(&response),
        other => panic!("expected a fixed response, got {other:?}"),
    }
}

#[test]
fn service_index() {
    assert_snapshot!(responded("/index.json"));
}

#[test]
fn registration_index() {
    let path = "/registration/acme.tools/index.json";
    assert_snapshot!(rendered(path, &[], Some(tools())));
}

#[test]
fn registration_page() {
    let path = "/registration/acme.tools/page/1.0.0/1.1.0-beta.1.json";
    assert_snapshot!(rendered(path, &[], Some(tools())));
}

#[test]
fn v3_search() {
    let query = [
        ("q", "acme"),
        ("prerelease", "true"),
        ("semVerLevel", "2.0.0"),
    ];
    let input = routed_input(routed("/query", &query), None);
    let input = with_listing(input, vec![tools()]);
    assert_snapshot!(snapshot(&crate::render::render(&input).expect("render")));
}

#[test]
fn v2_service_document() {
    assert_snapshot!(responded("/"));
}

#[test]
fn v2_find_packages_by_id() {
    let path = "/FindPackagesById()";
    assert_snapshot!(rendered(path, &[("id", "'Acme.Tools'")], Some(tools())));
}

#[test]
fn registration_leaf() {
    let path = "/registration/acme.tools/1.1.0-beta.1.json";
    assert_snapshot!(rendered(path, &[], Some(tools())));
}

#[test]
fn flat_container_versions() {
    assert_snapshot!(rendered(
        "/package/acme.tools/index.json",
        &[],
        Some(tools())
    ));
}

#[test]
fn autocomplete() {
    let input = routed_input(routed("/autocomplete", &[("q", "acme")]), None);
    let input = with_listing(input, vec![tools()]);
    assert_snapshot!(snapshot(&crate::render::render(&input).expect("render")));
}

#[test]
fn v2_metadata_document() {
    assert_snapshot!(responded("/$metadata"));
}

#[test]
fn v2_entry() {
    let path = "/Packages(Id='Acme.Tools',Version='1.0.0')";
    assert_snapshot!(rendered(path, &[], Some(tools())));
}

#[test]
fn v2_search_page() {
    let query = [
        ("searchTerm", "'acme'"),
        ("$filter", "IsLatestVersion"),
        ("$top", "1"),
        ("includePrerelease", "true"),
    ];
    let input = routed_input(routed("/Search()", &query), None);
    let input = with_listing(input, vec![tools()]);
    assert_snapshot!(snapshot(&crate::render::render(&input).expect("render")));
}

#[test]
fn v2_search_count() {
    let input = routed_input(
        routed("/Search()/$count", &[("searchTerm", "'acme'")]),
        None,
    );
    let input = with_listing(input, vec![tools()]);
    assert_snapshot!(snapshot(&crate::render::render(&input).expect("render")));
}
