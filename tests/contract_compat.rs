//! Contract 0.2 plugins beside 0.3 ones: components built from the last 0.2 commit
//! (9256ea9, kept in `fixtures/contract-0.2`; `cargo rustc --lib --crate-type cdylib
//! --profile wasm --target wasm32-wasip2 -p wharf-format-NAME` there, as `host/build.rs`
//! builds bundled plugins) load through the host's conversion layer (`plugins::compat`)
//! and pass the scenarios the bundled 0.3 plugins pass, on a server whose other formats
//! are the bundled 0.3 ones.

use std::path::PathBuf;

use wharf::config::Config;
use wharf::plugins::api::ErrorStyle;
use wharf::plugins::contract::Track;
use wharf::plugins::{Repositories, Runtime, RuntimeLimits, check};
use wharf_tests::{StatusCode, TestServer, client, plugin_cache_dir};

use crate::generic::{put, upload_download_and_delete_on};
use crate::nuget_protocol::{self, Feed, nupkg};
use crate::oci_protocol::{self, Registry};

fn fixture(format: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/contract-0.2/{format}.wasm"))
}

/// A server whose generic, NuGet and OCI formats are the 0.2 components, at their
/// usual mounts.
fn server() -> wharf_tests::Builder {
    let at = |format: &str| format!("/api/packages/{{owner}}/{format}");
    TestServer::builder()
        .plugin("generic", &at("generic"), fixture("generic"))
        .plugin("nuget", &at("nuget"), fixture("nuget"))
        .plugin("oci", "/v2", fixture("oci"))
}

#[test]
fn plugin_check_reports_the_0_2_track() {
    let config = Config::default();
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    for format in ["generic", "nuget", "oci"] {
        let report = check::check_with(&runtime, &fixture(format), &config).unwrap();
        assert_eq!(report.track, Track::V02, "{format}");
        // What the 0.2 host assumed for every format is declared for it.
        assert_eq!(report.descriptor.credential_headers, ["x-nuget-apikey"]);
        let text = report.to_string();
        for expected in [
            "contract    0.2.0 (0.2.x, converted to and from the host's at every call; \
             this host implements wharf:format@0.3.2 and loads 0.3.x and 0.2.x)",
            "exports     wharf:format/plugin@0.2.0",
            "proxies     no proxy repositories",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }
    // The compiled artifacts went to the cache, not next to the components.
    let beside: Vec<_> = std::fs::read_dir(fixture("oci").parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.ends_with(".wasm"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    let oci = check::check_with(&runtime, &fixture("oci"), &config).unwrap();
    assert!(matches!(
        oci.descriptor.error_style,
        ErrorStyle::ErrorEnvelope
    ));
    assert!(
        oci.descriptor
            .error_codes
            .contains(&(404, "NAME_UNKNOWN".to_string()))
    );
}

fn fixture_0_3_0() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/contract-0.3.0/generic.wasm")
}

/// A 0.3.0 build exports `plugin` only (no `proxy` or `group`, which 0.3.1 added):
/// it loads on the current track and serves, and has no proxy repositories.
#[test]
fn generic_0_3_0_loads_and_serves_without_the_0_3_1_exports() {
    let config = Config::default();
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    let report = check::check_with(&runtime, &fixture_0_3_0(), &config).unwrap();
    assert_eq!(report.track, Track::Current);
    assert_eq!(report.repositories, Repositories::default());
    let text = report.to_string();
    for expected in [
        "contract    0.3.0 (this host implements wharf:format@0.3.2 and loads",
        "exports     wharf:format/plugin@0.3.0",
        "proxies     no proxy repositories (supports-proxy is false or not exported); \
         groups serve each document from their first member that has it",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let server = TestServer::builder()
        .plugin("generic", "/api/packages/{owner}/generic", fixture_0_3_0())
        .start();
    let plugin = &server.registry.format("generic").unwrap().plugin;
    assert_eq!(plugin.repositories, Repositories::default());
    upload_download_and_delete_on(&server);
}

/// A 0.3.1 build (generic from f998373, kept in `fixtures/contract-0.3.1`, built as the
/// 0.2 ones above) exports `proxy` and `group` but not `pages`, which 0.3.2 added: it
/// loads on the current track, keeps its proxy support and serves, and its packages'
/// pages have no format-specific part (no failure).
#[test]
fn generic_0_3_1_loads_and_serves_without_the_0_3_2_export() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/contract-0.3.1/generic.wasm");
    let config = Config::default();
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    let report = check::check_with(&runtime, &fixture, &config).unwrap();
    assert_eq!(report.track, Track::Current);
    let text = report.to_string();
    let exports = "exports     wharf:format/plugin@0.3.1, wharf:format/proxy@0.3.1, \
                   wharf:format/group@0.3.1\n";
    assert!(text.contains(exports), "{text}");
    let server = TestServer::builder()
        .plugin("generic", "/api/packages/{owner}/generic", fixture)
        .start();
    assert!(
        server
            .registry
            .format("generic")
            .unwrap()
            .plugin
            .supports_proxy()
    );
    upload_download_and_delete_on(&server);
    let t = &server.admin_token;
    assert_eq!(
        put(&server, t, "kept/1.0/a.bin", "bytes").status(),
        StatusCode::CREATED
    );
    let described =
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(server.registry.describe_package(
                "admin",
                "generic",
                "kept",
                None,
                &server.url,
            ));
    assert!(matches!(described, Ok(None)), "{described:?}");
}

/// Bundled plugins export `proxy` and `group` and say which they implement: generic
/// proxies files by path but has no documents to merge, npm does both.
#[test]
fn bundled_plugins_say_what_they_support() {
    let server = TestServer::start();
    let generic = &server.registry.format("generic").unwrap().plugin;
    assert!(generic.supports_proxy() && !generic.supports_groups());
    let npm = &server.registry.format("npm").unwrap().plugin;
    assert!(npm.supports_proxy() && npm.supports_groups());
}

#[test]
fn generic_0_2_uploads_downloads_and_deletes() {
    upload_download_and_delete_on(&server().start());
}

#[test]
fn generic_0_2_packages_are_listed_beside_a_0_3_format() {
    let server = server().start();
    let t = &server.admin_token;
    for path in ["alpha/1.0/a.bin", "alpha/2.0/a.bin", "beta/0.1/b.bin"] {
        assert_eq!(put(&server, t, path, "bytes").status(), StatusCode::CREATED);
    }
    let list = client()
        .get(format!("{}/api/v1/packages/admin?type=generic", server.url))
        .send()
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.headers()["x-total-count"], "2");
    let list: serde_json::Value = list.json().unwrap();
    assert_eq!(list[0]["name"], "alpha");
    assert_eq!(list[0]["latest_version"], "2.0");
    assert_eq!(list[1]["name"], "beta");
    // The bundled npm plugin, on 0.3, answers in the same server.
    let npm = client()
        .get(format!("{}/api/packages/admin/npm/alpha", server.url))
        .send()
        .unwrap();
    assert_eq!(npm.status(), StatusCode::NOT_FOUND);
    assert!(
        npm.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
}

#[test]
fn oci_0_2_upload_sessions_check_ranges_and_resume() {
    oci_protocol::chunked_uploads_check_ranges_and_resume_on(&Registry::with(server()));
}

#[test]
fn oci_0_2_manifests_push_by_tag_and_read_by_tag_and_digest() {
    oci_protocol::manifests_push_by_tag_and_read_by_tag_and_digest_on(&Registry::with(server()));
}

#[test]
fn oci_0_2_tag_lists_page() {
    oci_protocol::tags_list_pages_with_link_on(&Registry::with(server()));
}

/// Pushes authenticate with `X-NuGet-ApiKey`, which the 0.2 host knew and the
/// conversion declares as the plugin's credential header.
#[test]
fn nuget_0_2_pushes_and_serves_searches_and_the_v2_feed() {
    nuget_protocol::search_and_the_v2_feed_on(&Feed::with(server()));
}

/// A 0.2 feed prints the request's query in its next link, which 0.3 renders never see:
/// the route carries the query as params, so feeds differing only in a parameter the
/// route ignores are rendered and cached apart.
#[test]
fn a_0_2_rendering_that_reads_the_query_is_cached_per_query() {
    let feed = Feed::with(server());
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        let (status, message) = feed.push(&nupkg("Wharf.Core", version, ""));
        assert_eq!(status, StatusCode::CREATED, "{message}");
    }
    for flavour in ["sweet", "sour"] {
        let page = feed.text(&format!(
            "/FindPackagesById()?id='Wharf.Core'&$top=2&flavour={flavour}"
        ));
        assert_eq!(page.matches("<entry").count(), 2);
        assert!(page.contains(&format!("flavour={flavour}")), "{page}");
    }
}
