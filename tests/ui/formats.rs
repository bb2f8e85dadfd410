//! One package of each bundled format for the UI test, published over HTTP in the
//! shape each format's client sends (small, made here: the pages are under test, not
//! the publishing), and what each package's page must show: its install command, and a
//! setup or install snippet with this registry's URL filled in.
//!
//! generic and npm are published by the test itself (with READMEs and two versions);
//! this file adds maven, nuget, oci, cargo, pypi and helm to alice's public packages.

use std::io::Write;

use serde_json::json;
use wharf_tests::{TestServer, client, sha256_digest, sha256_hex};

pub const CARGO_WASM: &str = env!("WHARF_TEST_CARGO_WASM");
pub const PYPI_WASM: &str = env!("WHARF_TEST_PYPI_WASM");

/// The server with every bundled format: cargo and PyPI ship as `.wasm` files beside
/// the binary, mounted where `registry.toml`'s comments put them.
pub fn server() -> TestServer {
    TestServer::builder()
        .plugin("cargo", "/api/packages/{owner}/cargo", CARGO_WASM)
        .plugin("pypi", "/api/packages/{owner}/pypi", PYPI_WASM)
        .start()
}

/// What one package's page must show.
pub struct Expected {
    pub format: &'static str,
    /// The name as the owner's package list shows it (a link to the page).
    pub listed: String,
    /// The first install snippet.
    pub install: String,
    /// Text some snippet holds: this registry's URL (or its host, for images) where
    /// that format's client is pointed.
    pub registry: String,
}

/// alice's packages of the formats the test does not publish itself; with `ui-tool`
/// (generic) and `ui-widget` (npm), every bundled format's page.
pub fn publish(server: &TestServer, token: &str) -> Vec<Expected> {
    let url = &server.url;
    let host = url.trim_start_matches("http://");
    let mount = |format: &str| format!("{url}/api/packages/alice/{format}");
    let put = |path: String, body: Vec<u8>| sent(client().put(path).body(body), token);

    // maven: a POM and its jar, as `mvn deploy` uploads them.
    let dir = format!("{}/com/example/ui-lib/1.0", mount("maven"));
    put(format!("{dir}/ui-lib-1.0.pom"), POM.into());
    put(
        format!("{dir}/ui-lib-1.0.jar"),
        b"PK\x03\x04 a jar".to_vec(),
    );

    // nuget: a nupkg as the whole body (older clients' push); the id keeps its case.
    put(format!("{}/", mount("nuget")), nupkg());

    // oci: a config, a layer and a manifest tagged 1.0, in alice's repository.
    let repo = format!("{url}/v2/alice/ui-image");
    let mut described = Vec::new();
    for (media_type, blob) in [
        ("application/vnd.oci.image.config.v1+json", &b"{}"[..]),
        ("application/vnd.oci.image.layer.v1.tar+gzip", b"layer"),
    ] {
        let digest = sha256_digest(blob);
        let upload = format!("{repo}/blobs/uploads/?digest={digest}");
        sent(client().post(upload).body(blob.to_vec()), token);
        described.push(json!({"mediaType": media_type, "digest": digest, "size": blob.len()}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": described[0], "layers": [described[1]],
        "annotations": {"org.opencontainers.image.description": "An image for the UI"},
    });
    let push = client()
        .put(format!("{repo}/manifests/1.0"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string());
    sent(push, token);

    // cargo: the publish body (JSON length, JSON, crate length, crate).
    let meta = json!({"name": "ui-crate", "vers": "0.1.0", "deps": [], "features": {},
        "authors": ["alice"], "description": "A crate for the UI", "license": "MIT"})
    .to_string();
    let krate = gzip(b"a crate");
    let mut body = (meta.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(meta.as_bytes());
    body.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    body.extend_from_slice(&krate);
    put(format!("{}/api/v1/crates/new", mount("cargo")), body);

    // pypi: twine's form, the project named in another spelling than PyPI's normal one.
    let sdist = b"an sdist";
    let digest = sha256_hex(sdist);
    let fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", "UI_Py"),
        ("version", "1.0"),
        ("filetype", "sdist"),
        ("summary", "A project for the UI"),
        ("sha256_digest", &digest),
    ];
    let (content_type, body) = form(&fields, "ui_py-1.0.tar.gz", sdist);
    let upload = client()
        .post(format!("{}/", mount("pypi")))
        .header("content-type", content_type)
        .body(body);
    sent(upload, token);

    // helm: a packaged chart as the raw body, as Gitea's docs upload it with curl.
    let chart = client()
        .post(format!("{}/api/charts", mount("helm")))
        .body(chart_tgz());
    sent(chart, token);

    vec![
        Expected {
            format: "maven",
            listed: "com.example:ui-lib".into(),
            install: "<dependency>\n  <groupId>com.example</groupId>\n  \
                      <artifactId>ui-lib</artifactId>\n  <version>1.0</version>\n</dependency>"
                .into(),
            registry: format!("<url>{}</url>", mount("maven")),
        },
        Expected {
            format: "nuget",
            listed: "UI.Package".into(),
            install: "dotnet add package UI.Package --version 1.0.0".into(),
            registry: format!("{}/index.json", mount("nuget")),
        },
        Expected {
            format: "oci",
            listed: "ui-image".into(),
            install: format!("docker pull {host}/alice/ui-image:1.0"),
            registry: format!("docker login {host}"),
        },
        Expected {
            format: "cargo",
            listed: "ui-crate".into(),
            install: "cargo add ui-crate@0.1.0 --registry wharf-alice".into(),
            registry: format!("index = \"sparse+{}/\"", mount("cargo")),
        },
        Expected {
            format: "pypi",
            listed: "ui-py".into(),
            install: format!(
                "pip install --index-url {}/simple/ ui-py==1.0",
                mount("pypi")
            ),
            registry: format!("{}/simple/", mount("pypi")),
        },
        Expected {
            format: "helm",
            listed: "ui-chart".into(),
            install: "helm pull alice/ui-chart --version 1.0.0\n\
                      helm install RELEASE alice/ui-chart --version 1.0.0"
                .into(),
            registry: format!("alice {}\nhelm repo update", mount("helm")),
        },
    ]
}

/// Sends `request` with alice's token as Basic credentials (what every one of these
/// clients can send) and checks it was accepted.
fn sent(request: reqwest::blocking::RequestBuilder, token: &str) {
    let response = request.basic_auth("alice", Some(token)).send().unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().unwrap_or_default()
    );
}

const POM: &str = "<?xml version=\"1.0\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n\
    <modelVersion>4.0.0</modelVersion>\n<groupId>com.example</groupId>\n\
    <artifactId>ui-lib</artifactId>\n<version>1.0</version>\n<name>UI lib</name>\n\
    <description>A library for the UI</description>\n</project>\n";

/// A nupkg (a zip) holding only its nuspec.
fn nupkg() -> Vec<u8> {
    let nuspec = "<?xml version=\"1.0\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n\
        <metadata><id>UI.Package</id><version>1.0.0</version><authors>alice</authors>\
        <description>A NuGet package for the UI</description></metadata>\n</package>\n";
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "UI.Package.nuspec",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(nuspec.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// A chart as `helm package` makes it: `ui-chart/Chart.yaml` in a gzipped tar.
fn chart_tgz() -> Vec<u8> {
    let chart_yaml = b"apiVersion: v2\nname: ui-chart\nversion: 1.0.0\n\
        description: A chart for the UI\ntype: application\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(chart_yaml.len() as u64);
    header.set_mode(0o644);
    let mut archive = tar::Builder::new(Vec::new());
    archive
        .append_data(&mut header, "ui-chart/Chart.yaml", &chart_yaml[..])
        .unwrap();
    gzip(&archive.into_inner().unwrap())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A multipart form of `fields` and one file part `content`; the content type and body.
fn form(fields: &[(&str, &str)], file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "wharf-ui-form";
    let mut body = Vec::new();
    for (name, value) in fields {
        let part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        );
        body.extend_from_slice(part.as_bytes());
    }
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; \
         filename=\"{file_name}\"\r\n\r\n"
    );
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
