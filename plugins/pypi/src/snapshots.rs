//! Snapshots of the simple-repository pages pip and uv read (PEP 503 HTML, PEP 691
//! JSON), byte for byte: a change to any of them shows up in review as a changed file
//! under `src/snapshots/`.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{file, package, request, routed_index_input, snapshot};
use wharf_plugin_sdk::{IndexInput, Method, PackageDetail, Request, VersionDetail, upstream};

use crate::routes::match_route;
use crate::simple::render;

const JSON: &str = "application/vnd.pypi.simple.v1+json";

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200;

/// A version as twine's upload stores it: its files, `Requires-Python`, and per-file
/// facts and yanks as properties.
fn uploaded(v: &str, files: &[(&str, bool, char)], properties: &[(&str, &str)]) -> VersionDetail {
    let files = files
        .iter()
        .map(|(name, lead, fill)| {
            let mut stored = file(name, 1234, &fill.to_string().repeat(64));
            stored.lead = *lead;
            stored.created = JAN_1;
            stored
        })
        .collect();
    let mut stored = wharf_plugin_sdk::testing::version(v, r#"{"requires_python":">=3.8"}"#, files);
    stored.created = JAN_1;
    stored.properties = properties
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    stored
}

/// `wharf-base`: 1.0.0 (a wheel with its PEP 658 metadata, and an sdist), and 1.1.0,
/// yanked, whose wheel needs a newer Python.
fn wharf_base() -> PackageDetail {
    let wheel_facts = r#"{"requires_python":">=3.9, <4"}"#;
    let mut detail = package(
        "wharf-base",
        vec![
            uploaded(
                "1.0.0",
                &[
                    ("wharf_base-1.0.0-py3-none-any.whl", true, 'a'),
                    ("wharf_base-1.0.0-py3-none-any.whl.metadata", false, 'b'),
                    ("wharf_base-1.0.0.tar.gz", true, 'c'),
                ],
                &[],
            ),
            uploaded(
                "1.1.0",
                &[("wharf_base-1.1.0-py3-none-any.whl", true, 'd')],
                &[
                    ("file:wharf_base-1.1.0-py3-none-any.whl", wheel_facts),
                    ("yanked", "true"),
                    ("yanked-reason", "broken <fast> \"path\""),
                ],
            ),
        ],
    );
    detail.created = JAN_1;
    detail.modified = JAN_1;
    detail
}

/// What `render-index` gets for `request`, routed as the host routes it, with the
/// package as its detail and as the owner's listing.
fn input(request: Request) -> IndexInput {
    let mut input = routed_index_input(request, match_route, Some(wharf_base()));
    input.listing = vec![wharf_base()];
    input.listing_total = 1;
    input
}

fn rendered(request: Request) -> String {
    snapshot(&render(&input(request)).expect("render"))
}

#[test]
fn project_page_html() {
    assert_snapshot!(rendered(request(Method::Get, "/simple/wharf-base/")));
}

#[test]
fn project_page_json() {
    let request = request(Method::Get, "/simple/wharf-base/").with_header("accept", JSON);
    assert_snapshot!(rendered(request));
}

#[test]
fn projects_html() {
    assert_snapshot!(rendered(request(Method::Get, "/simple/")));
}

#[test]
fn projects_json() {
    let request = request(Method::Get, "/simple/").with_header("accept", JSON);
    assert_snapshot!(rendered(request));
}

/// A proxy's rewritten page as a snapshot records it (see `upstream::snapshot`).
fn rewritten(input: wharf_plugin_sdk::RewriteInput) -> String {
    upstream::snapshot(&crate::proxy::rewrite(&input).expect("rewrite"))
}

#[test]
fn proxied_pypi_project_page_html() {
    use crate::proxy::tests::{input, pypi_html};
    assert_snapshot!(rewritten(input(
        "/simple/wharf-base/",
        "https://pypi.test/simple/wharf-base/",
        "text/html",
        &pypi_html()
    )));
}

#[test]
fn proxied_pypi_project_page_json() {
    use crate::proxy::tests::{input, pypi_json};
    assert_snapshot!(rewritten(input(
        "/simple/wharf-base/",
        "https://pypi.test/simple/wharf-base/",
        JSON,
        &pypi_json()
    )));
}

#[test]
fn proxied_pypiserver_project_page() {
    use crate::proxy::tests::{input, pypiserver_html};
    assert_snapshot!(rewritten(input(
        "/simple/wharf-base/",
        "http://127.0.0.1:8080/simple/wharf-base/",
        "text/html; charset=UTF-8",
        &pypiserver_html()
    )));
}
