//! Snapshots of the documents npm clients read, byte for byte: a change to any of them
//! shows up in review as a changed file under `src/snapshots/`.

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{
    file, hosted, merge_input, package, proxied, request, rewrite_input, routed_index_input,
    snapshot,
};
use wharf_plugin_sdk::{
    Digest, FetchPlan, HashAlgorithm, IndexInput, Method, PackageDetail, Request, Response,
    Rewritten,
};

use crate::group::merge;
use crate::proxy::{plan, rewrite};
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
    routed_index_input(request, match_route, detail)
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

/// `@acme/app` as the npm registry serves it: two versions (the older deprecated), a
/// signature and attestations, integrity and shasum, times.
const UPSTREAM_PACKUMENT: &str = r##"{"_id":"@acme/app","_rev":"7-4f2a","name":"@acme/app","description":"An example app","dist-tags":{"latest":"1.1.0","beta":"2.0.0-beta.1"},"versions":{"1.0.0":{"name":"@acme/app","version":"1.0.0","deprecated":"please upgrade","dependencies":{"left-pad":"^1.3.0"},"_npmUser":{"name":"alice","email":"alice@example.com"},"dist":{"integrity":"sha512-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==","shasum":"0102030405060708090a0b0c0d0e0f1011121314","tarball":"https://registry.upstream.test/@acme/app/-/app-1.0.0.tgz","fileCount":3,"unpackedSize":1234,"signatures":[{"keyid":"SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA","sig":"MEUCIQ"}]}},"1.1.0":{"name":"@acme/app","version":"1.1.0","dependencies":{"left-pad":"^1.3.0"},"dist":{"integrity":"sha512-QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+fw==","shasum":"4142434445464748494a4b4c4d4e4f5051525354","tarball":"https://registry.upstream.test/@acme/app/-/app-1.1.0.tgz","attestations":{"url":"https://registry.upstream.test/-/npm/v1/attestations/@acme%2fapp@1.1.0","provenance":{"predicateType":"https://slsa.dev/provenance/v1"}}}},"2.0.0-beta.1":{"name":"@acme/app","version":"2.0.0-beta.1"}},"time":{"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-03T00:00:00.000Z","1.0.0":"2024-01-01T00:00:00.000Z","1.1.0":"2024-01-02T00:00:00.000Z","2.0.0-beta.1":"2024-01-03T00:00:00.000Z"},"readme":"# app\n","license":"MIT"}"##;

/// The abbreviated `@acme/app` of the npm registry, for installs.
const UPSTREAM_ABBREVIATED: &str = r#"{"name":"@acme/app","modified":"2024-01-03T00:00:00.000Z","dist-tags":{"latest":"1.1.0"},"versions":{"1.1.0":{"name":"@acme/app","version":"1.1.0","dependencies":{"left-pad":"^1.3.0"},"hasInstallScript":true,"dist":{"integrity":"sha512-QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+fw==","shasum":"4142434445464748494a4b4c4d4e4f5051525354","tarball":"https://registry.upstream.test/@acme/app/-/app-1.1.0.tgz"}}}}"#;

/// A proxy's mount.
fn proxy_request(path: &str) -> Request {
    request(Method::Get, path)
        .with_owner(Some("npmjs"))
        .with_base_url("http://wharf.test/api/packages/npmjs/npm")
}

/// What a proxy serves for `request` when its upstream sent `body` (as `content_type`),
/// followed by what the document declares.
fn proxied_document(request: Request, content_type: &str, body: &str) -> String {
    let operation = match_route(&request).expect("route").operation;
    let FetchPlan::Document(upstream) = plan(&operation) else {
        panic!("a document plan")
    };
    let input = rewrite_input(request, operation, &upstream.path, content_type, body);
    let Rewritten { response, declares } = rewrite(&input).expect("rewrite");
    let mut out = format!("GET {}\n{}", input.url, snapshot(&response));
    out.push_str("\ndeclares:\n");
    for d in declares {
        out.push_str(&format!("{} {} {}\n", d.name, d.version, d.url));
        for digest in d.digests {
            out.push_str(&format!("  {:?} {}\n", digest.algorithm, digest.hex));
        }
    }
    out
}

#[test]
fn proxied_full_packument() {
    let request = proxy_request("/@acme%2fapp");
    assert_snapshot!(proxied_document(
        request,
        "application/json",
        UPSTREAM_PACKUMENT
    ));
}

#[test]
fn proxied_abbreviated_packument() {
    let request = proxy_request("/@acme/app").with_header(
        "accept",
        "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
    );
    let content_type = "application/vnd.npm.install-v1+json";
    assert_snapshot!(proxied_document(
        request,
        content_type,
        UPSTREAM_ABBREVIATED
    ));
}

/// A group's mount.
fn group_request(path: &str) -> Request {
    request(Method::Get, path)
        .with_owner(Some("all"))
        .with_base_url("http://wharf.test/api/packages/all/npm")
}

/// What a group serves for `request` from these members.
fn merged(request: Request, members: Vec<wharf_plugin_sdk::MemberDocument>) -> String {
    let operation = match_route(&request).expect("route").operation;
    snapshot(&merge(merge_input(request, operation, members)).expect("merge"))
}

#[test]
fn group_packument_guarded() {
    // acme's own `@acme/app` (rendered by the host) wins over the upstream's.
    let hosted_doc = render(input(request(Method::Get, "/@acme%2fapp"), Some(app()))).unwrap();
    let upstream = Response::json(UPSTREAM_PACKUMENT);
    assert_snapshot!(merged(
        group_request("/@acme%2fapp"),
        vec![
            proxied("npmjs", Some(upstream)),
            hosted("acme", Some(hosted_doc))
        ]
    ));
}

#[test]
fn group_search() {
    let page = |names: &[&str], total: u64| {
        let objects: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"package":{{"name":"{n}","version":"1.0.0"}},"searchScore":1}}"#))
            .collect();
        let body = format!(
            r#"{{"objects":[{}],"total":{total},"time":"2024-01-0{total}T00:00:00.000Z"}}"#,
            objects.join(",")
        );
        Some(Response::json(body))
    };
    assert_snapshot!(merged(
        group_request("/-/v1/search").with_query("text", "app"),
        vec![
            hosted("acme", page(&["@acme/app", "app-utils"], 2)),
            proxied("npmjs", page(&["app-utils", "@acme/app", "express-app"], 3)),
        ]
    ));
}
