//! Snapshots of the documents NuGet clients read, byte for byte: a change to any of
//! them shows up in review as a changed file under `src/snapshots/`.

use insta::assert_snapshot;
use serde_json::json;
use wharf_plugin_sdk::testing::{self, snapshot};
use wharf_plugin_sdk::{Method, Operation, PackageDetail, upstream};

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

/// A proxy's mount, whose owner is the proxy.
fn proxy_request(path: &str, query: &[(&str, &str)]) -> wharf_plugin_sdk::Request {
    query.iter().fold(
        testing::request(Method::Get, path)
            .with_owner(Some("nuget-org"))
            .with_base_url("http://wharf.test/api/packages/nuget-org/nuget"),
        |r, (name, value)| r.with_query(name, value),
    )
}

/// The request a proxy plans for a GET of `path`, then what it serves and declares
/// when the upstream answers `body`.
fn proxied(path: &str, query: &[(&str, &str)], body: &[u8]) -> String {
    use wharf_plugin_sdk::FetchPlan;
    let request = proxy_request(path, query);
    let operation = crate::routes::match_route(&request)
        .expect("route")
        .operation;
    let FetchPlan::Document(upstream) = crate::proxy::plan(&operation) else {
        panic!("a document plan");
    };
    let mut input = testing::rewrite_input(request, operation, "", crate::render::JSON, body);
    input.url = match upstream.path.starts_with('/') {
        true => format!("{}{}", upstream_feed(), upstream.path),
        false => upstream.path.clone(),
    };
    let rewritten = crate::proxy::rewrite(input.clone()).expect("rewrite");
    format!("GET {}\n{}", input.url, upstream::snapshot(&rewritten))
}

/// The mount of another Wharf's feed, the upstream of [`proxied`] documents.
fn upstream_feed() -> String {
    format!("{}/api/packages/bob/nuget", testing::UPSTREAM)
}

/// What the hosted plugin renders for `path` at [`upstream_feed`].
fn upstream_wharf(path: &str, query: &[(&str, &str)], detail: Option<PackageDetail>) -> Vec<u8> {
    let mut input = routed_input(routed(path, query), detail);
    input.base_url = upstream_feed();
    crate::render::render(&input).expect("render").body
}

#[test]
fn proxied_registration_from_wharf() {
    let path = "/registration/acme.tools/index.json";
    let body = upstream_wharf(path, &[], Some(tools()));
    assert_snapshot!(proxied(path, &[], &body));
}

#[test]
fn proxied_search_from_wharf() {
    let query = [
        ("q", "acme"),
        ("prerelease", "true"),
        ("semVerLevel", "2.0.0"),
    ];
    let mut input = routed_input(routed("/query", &query), None);
    input.base_url = upstream_feed();
    let input = with_listing(input, vec![tools()]);
    let body = crate::render::render(&input).expect("render").body;
    assert_snapshot!(proxied("/query", &query, &body));
}

/// A registration index as nuget.org serves it (`registration5-semver1`), cut down to
/// one version: catalog entries live in its catalog, packages in its flat container.
const NUGET_ORG_REGISTRATION: &str = r#"{"@id":"https://api.nuget.org/v3/registration5-semver1/acme.tools/index.json","@type":["catalog:CatalogRoot","PackageRegistration","catalog:Permalink"],"commitId":"0b8c8d5e-1b7e-4f4a-9d52-3f6c1a0c9e11","commitTimeStamp":"2024-01-02T03:04:05.6789012+00:00","count":1,"items":[{"@id":"https://api.nuget.org/v3/registration5-semver1/acme.tools/index.json#page/1.0.0/1.0.0","@type":"catalog:CatalogPage","commitId":"0b8c8d5e-1b7e-4f4a-9d52-3f6c1a0c9e11","commitTimeStamp":"2024-01-02T03:04:05.6789012+00:00","count":1,"items":[{"@id":"https://api.nuget.org/v3/registration5-semver1/acme.tools/1.0.0.json","@type":"Package","commitId":"0b8c8d5e-1b7e-4f4a-9d52-3f6c1a0c9e11","commitTimeStamp":"2024-01-02T03:04:05.6789012+00:00","catalogEntry":{"@id":"https://api.nuget.org/v3/catalog0/data/2024.01.02.03.04.05/acme.tools.1.0.0.json","@type":"PackageDetails","authors":"Alice","dependencyGroups":[{"@id":"https://api.nuget.org/v3/catalog0/data/2024.01.02.03.04.05/acme.tools.1.0.0.json#dependencygroup/net8.0","@type":"PackageDependencyGroup","dependencies":[{"@id":"https://api.nuget.org/v3/catalog0/data/2024.01.02.03.04.05/acme.tools.1.0.0.json#dependencygroup/net8.0/newtonsoft.json","@type":"PackageDependency","id":"Newtonsoft.Json","range":"[13.0.1, )","registration":"https://api.nuget.org/v3/registration5-semver1/newtonsoft.json/index.json"}],"targetFramework":"net8.0"}],"description":"Tools","id":"Acme.Tools","listed":true,"packageContent":"https://api.nuget.org/v3-flatcontainer/acme.tools/1.0.0/acme.tools.1.0.0.nupkg","projectUrl":"https://example.com/acme","published":"2024-01-02T03:04:05.123+00:00","version":"1.0.0"},"packageContent":"https://api.nuget.org/v3-flatcontainer/acme.tools/1.0.0/acme.tools.1.0.0.nupkg","registration":"https://api.nuget.org/v3/registration5-semver1/acme.tools/index.json"}],"parent":"https://api.nuget.org/v3/registration5-semver1/acme.tools/index.json","lower":"1.0.0","upper":"1.0.0"}],"@context":{"@vocab":"http://schema.nuget.org/schema#","catalog":"http://schema.nuget.org/catalog#","items":{"@id":"catalog:item","@container":"@set"},"parent":{"@id":"catalog:parent","@type":"@id"}}}"#;

#[test]
fn proxied_registration_from_nuget_org() {
    use wharf_plugin_sdk::SettingValue::Text;
    let settings = [
        (
            "proxy-registrations",
            Text("https://api.nuget.org/v3/registration5-semver1".into()),
        ),
        (
            "proxy-flat-container",
            Text("https://api.nuget.org/v3-flatcontainer".into()),
        ),
    ];
    let path = "/registration/Acme.Tools/index.json";
    let shown = testing::with_settings(&settings, || {
        proxied(path, &[], NUGET_ORG_REGISTRATION.as_bytes())
    });
    assert_snapshot!(shown);
}
