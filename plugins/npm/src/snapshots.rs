//! Snapshots of the documents npm clients read, byte for byte: a change to any of them
//! shows up in review as a changed file under `src/snapshots/`.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{file, index_input, index_spec, package, request, snapshot};
use wharf_plugin_sdk::{Digest, HashAlgorithm, IndexInput, Method, PackageDetail, Request};

use crate::render::render;
use crate::routes::match_route;

/// 2024-01-01T00:00:00Z and a day later.
const JAN_1: i64 = 1_704_067_200;
const JAN_2: i64 = JAN_1 + 86_400;

/// `@acme/app` as `npm publish` stores it: 1.0.0 (`latest`) and 1.1.0-beta.1 (`beta`).
fn app() -> PackageDetail {
    let manifest = |v: &str| {
        format!(
            r##"{{"name":"@acme/app","version":"{v}","description":"An example app","main":"index.js","bin":{{"app":"cli.js"}},"scripts":{{"test":"node test.js","postinstall":"node setup.js"}},"dependencies":{{"left-pad":"^1.3.0"}},"engines":{{"node":">=18"}},"keywords":["example","app"],"license":"MIT","readme":"# app\n","_id":"@acme/app@{v}","_npmUser":{{"name":"alice","email":"alice@example.com"}},"dist":{{"integrity":"sha512-sent","shasum":"sent","tarball":"http://client/app.tgz"}}}}"##
        )
    };
    let versions = [("1.0.0", JAN_1, 'a'), ("1.1.0-beta.1", JAN_2, 'b')]
        .into_iter()
        .map(|(v, created, fill)| {
            let mut tgz = file(&format!("app-{v}.tgz"), 1234, &fill.to_string().repeat(64));
            tgz.created = created;
            tgz.digests.push(Digest {
                algorithm: HashAlgorithm::Sha1,
                hex: fill.to_string().repeat(40),
            });
            tgz.digests.push(Digest {
                algorithm: HashAlgorithm::Sha512,
                hex: fill.to_string().repeat(128),
            });
            let mut stored = wharf_plugin_sdk::testing::version(v, &manifest(v), vec![tgz]);
            stored.created = created;
            stored
        })
        .collect();
    let mut detail = package("@acme/app", versions);
    detail.created = JAN_1;
    detail.modified = JAN_2;
    detail.tags = vec![
        ("beta".into(), "1.1.0-beta.1".into()),
        ("latest".into(), "1.0.0".into()),
    ];
    detail
}

/// What `render-index` gets for `request`, routed as the host routes it.
fn input(request: Request, detail: Option<PackageDetail>) -> IndexInput {
    let spec = index_spec(match_route(&request).expect("route"));
    index_input(request, spec, detail)
}

fn rendered(input: IndexInput) -> String {
    snapshot(&render(input).expect("render"))
}

#[test]
fn full_packument() {
    let request = request(Method::Get, "/@acme%2fapp");
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn abbreviated_packument() {
    let request = request(Method::Get, "/@acme%2fapp").with_header(
        "accept",
        "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
    );
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn one_version() {
    let request = request(Method::Get, "/@acme%2fapp/latest");
    assert_snapshot!(rendered(input(request, Some(app()))));
}

#[test]
fn search() {
    let request = request(Method::Get, "/-/v1/search")
        .with_query("text", "app")
        .with_query("size", "20");
    let mut input = input(request, None);
    // The listing holds each package's tags and newest version; `latest` on the newest
    // needs no lookup in the host.
    let mut listed = app();
    listed.versions.remove(0);
    listed.tags = vec![("latest".into(), "1.1.0-beta.1".into())];
    input.listing = vec![listed];
    input.listing_total = 1;
    assert_snapshot!(rendered(input));
}

#[test]
fn dist_tags() {
    let request = request(Method::Get, "/-/package/@acme%2fapp/dist-tags");
    assert_snapshot!(rendered(input(request, Some(app()))));
}
