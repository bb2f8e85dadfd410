//! Routes, uploads (raw and multipart, good and hostile charts) and `index.yaml`.

use std::io::Write;

use insta::assert_snapshot;
use wharf_plugin_sdk::testing::{FakeUpload, OWNER, file, package, request, version};
use wharf_plugin_sdk::{
    DeleteTarget, FileSource, IndexInput, Method, Operation, PackageDetail, Plugin, Selector,
    VersionMode,
};

use crate::Helm;
use crate::upload::plan;

const CHART_YAML: &str = "apiVersion: v2
name: my.app
version: 1.0.0-rc.1+b5
appVersion: \"3.1\"
description: A chart whose name has a dot
keywords: [web]
maintainers:
  - name: Jane
    email: jane@example.com
dependencies:
  - name: redis
    version: 17.x
    repository: https://charts.example.com
    import-values: [data, {child: a, parent: b}]
annotations:
  category: Database
deprecated: true
";

/// A `helm package`-shaped archive: gzipped tar, everything under the chart's directory.
fn tgz(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, content.as_bytes())
            .unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&builder.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn chart() -> Vec<u8> {
    tgz(&[
        ("my.app/Chart.yaml", CHART_YAML),
        ("my.app/values.yaml", "replicas: 1\n"),
        (
            "my.app/charts/redis/Chart.yaml",
            "apiVersion: v2\nname: redis\nversion: 17.0.0\n",
        ),
    ])
}

fn upload_spec(force: bool) -> wharf_plugin_sdk::UploadSpec {
    let route = Helm::match_route(
        request(Method::Post, "/api/charts")
            .with_query("force", if force { "true" } else { "false" }),
    )
    .unwrap();
    let Operation::AcceptUpload(spec) = route.operation else {
        panic!("{route:?}")
    };
    spec
}

#[test]
fn routes() {
    let route = |method, path: &str| Helm::match_route(request(method, path));
    assert!(matches!(
        route(Method::Get, "/index.yaml").unwrap().operation,
        Operation::RenderIndex(spec) if spec.pkg.is_none() && spec.listing.as_ref().unwrap().all_versions
    ));
    let Operation::Serve(serve) = route(Method::Head, "/charts/my.app-1.0.0-rc.1%2Bb5.tgz")
        .unwrap()
        .operation
    else {
        panic!()
    };
    let Selector::OwnerFile(file) = serve.selector else {
        panic!()
    };
    assert_eq!(
        (file.owner.as_str(), file.name.as_str()),
        (OWNER, "my.app-1.0.0-rc.1+b5.tgz")
    );
    let Operation::Delete(DeleteTarget::Version(v)) =
        route(Method::Delete, "/api/charts/my.app/1.2")
            .unwrap()
            .operation
    else {
        panic!()
    };
    assert_eq!((v.pkg.name.as_str(), v.version.as_str()), ("my.app", "1.2"));
    assert_eq!(
        route(Method::Delete, "/api/charts/a%2Fb/1")
            .unwrap_err()
            .status,
        400
    );
    assert_eq!(route(Method::Put, "/index.yaml").unwrap_err().status, 405);
    assert!(matches!(
        route(Method::Get, "/elsewhere").unwrap().operation,
        Operation::NotFound
    ));
    assert!(
        upload_spec(false).pkg.name.is_empty(),
        "the body names the chart"
    );
}

#[test]
fn a_raw_upload_becomes_the_charts_version() {
    let body = FakeUpload::new(chart());
    let plan = plan(
        &request(Method::Post, "/api/charts"),
        &upload_spec(false),
        &body,
    )
    .unwrap();
    assert_eq!(
        (plan.pkg.owner.as_str(), plan.pkg.name.as_str()),
        (OWNER, "my.app")
    );
    let v = &plan.versions[0];
    assert_eq!(
        (v.version.as_str(), v.mode),
        ("1.0.0-rc.1+b5", VersionMode::Create)
    );
    assert_eq!(v.files[0].name, "my.app-1.0.0-rc.1+b5.tgz");
    assert!(v.files[0].lead && v.files[0].source == FileSource::Whole);
    let stored: serde_json::Value = serde_json::from_str(&v.metadata).unwrap();
    assert_eq!(stored["dependencies"][0]["import-values"][1]["parent"], "b");
    assert_eq!(stored["annotations"]["category"], "Database");
    assert_eq!(plan.reply.status, 201);
    let forced = plan_of(&chart(), true);
    assert_eq!(forced.versions[0].mode, VersionMode::CreateOrReplace);
}

fn plan_of(bytes: &[u8], force: bool) -> wharf_plugin_sdk::PublishPlan {
    plan(
        &request(Method::Post, "/api/charts"),
        &upload_spec(force),
        &FakeUpload::new(bytes),
    )
    .unwrap()
}

#[test]
fn a_multipart_upload_keeps_the_chart_and_its_provenance() {
    let chart = chart();
    let mut body =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"c.tgz\"\r\n\r\n"
            .to_vec();
    body.extend_from_slice(&chart);
    body.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"prov\"; filename=\"c.tgz.prov\"\r\n\r\nSIGNED\r\n--XyZ--\r\n");
    let upload = FakeUpload::new(body);
    let req = request(Method::Post, "/api/charts")
        .with_header("Content-Type", "multipart/form-data; boundary=XyZ");
    let plan = plan(&req, &upload_spec(false), &upload).unwrap();
    let files = &plan.versions[0].files;
    assert_eq!(upload.stored(&files[0].source), chart);
    assert_eq!(files[1].name, "my.app-1.0.0-rc.1+b5.tgz.prov");
    assert_eq!(upload.stored(&files[1].source), b"SIGNED");
    let no_chart = FakeUpload::new(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n".to_vec(),
    );
    assert!(
        crate::upload::plan(&req, &upload_spec(false), &no_chart)
            .unwrap_err()
            .message
            .contains("\"chart\"")
    );
}

#[test]
fn bad_charts_are_a_400_saying_why() {
    let refused = |bytes: Vec<u8>, expected: &str| {
        let upload = FakeUpload::new(bytes);
        let err = plan(
            &request(Method::Post, "/api/charts"),
            &upload_spec(false),
            &upload,
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains(expected),
            "{expected:?} not in {}",
            err.message
        );
    };
    refused(b"not a chart".to_vec(), "not a valid tar");
    refused(tgz(&[("a/values.yaml", "")]), "has no Chart.yaml");
    refused(tgz(&[("a/Chart.yaml", "name: [")]), "invalid Chart.yaml");
    let chart_yaml = |body: &str| tgz(&[("a/Chart.yaml", body)]);
    refused(
        chart_yaml("apiVersion: v3\nname: a\nversion: 1.0.0\n"),
        "apiVersion \"v3\"",
    );
    refused(
        chart_yaml("apiVersion: v2\nname: a/b\nversion: 1.0.0\n"),
        "name \"a/b\" is invalid",
    );
    refused(
        chart_yaml("apiVersion: v2\nname: a\nversion: one\n"),
        "not a valid SemVer",
    );
    refused(
        chart_yaml("apiVersion: v1\nname: a\nversion: 1\ntype: other\n"),
        "type \"other\"",
    );
    // Helm takes loose SemVer.
    assert_eq!(
        plan_of(
            &chart_yaml("apiVersion: v1\nname: a\nversion: v1.2\n"),
            false
        )
        .versions[0]
            .version,
        "v1.2"
    );
}

#[test]
fn index_yaml_lists_every_version_newest_first_with_digests_and_urls() {
    let stored = |yaml: &str| {
        let v = plan_of(&tgz(&[("c/Chart.yaml", yaml)]), false)
            .versions
            .remove(0);
        let mut detail = version(
            &v.version,
            &v.metadata,
            vec![file(&v.files[0].name, 10, &"ab".repeat(32))],
        );
        detail.created = 1_700_000_000;
        detail
    };
    let modified_at = |modified, package| PackageDetail {
        modified,
        ..package
    };
    let app = package(
        "my.app",
        vec![
            stored("apiVersion: v1\nname: my.app\nversion: 0.9.0\n"),
            stored(CHART_YAML),
        ],
    );
    let other = package(
        "tool",
        vec![stored(
            "apiVersion: v2\nname: tool\nversion: 2.0.0\ntype: library\n",
        )],
    );
    let Operation::RenderIndex(spec) = Helm::match_route(request(Method::Get, "/index.yaml"))
        .unwrap()
        .operation
    else {
        panic!()
    };
    let mut input = IndexInput {
        base_url: "http://wharf.test/api/packages/alice/helm".into(),
        owner: Some(OWNER.into()),
        spec,
        detail: None,
        // `generated` is the last change among them, 2023-11-14T22:15:00Z.
        listing: vec![
            modified_at(1_700_000_100, app),
            modified_at(1_700_000_050, other),
        ],
        listing_total: 2,
        rendered_at: wharf_plugin_sdk::testing::RENDERED_AT,
    };
    let response = Helm::render_index(input.clone()).unwrap();
    assert_eq!(response.content_type, "application/yaml");
    // Rendered again later (a restart, another node): the same bytes.
    input.rendered_at += 3600;
    assert_eq!(Helm::render_index(input).unwrap(), response);
    assert_snapshot!(String::from_utf8(response.body).unwrap());
}
