//! `wharf migrate`: an embedded registry filled through the HTTP API (generic, npm,
//! Maven, OCI) is copied into a scratch PostgreSQL database and moto; a server on the
//! target then serves every file byte for byte and accepts the old tokens. A second run
//! is a no-op, and a target holding something else is refused unless `--force`.

use serde_json::json;
use wharf_tests::postgres::ScratchDb;
use wharf_tests::s3::{self, Moto};
use wharf_tests::{Client, sha256_digest};

use super::*;

const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Fills `server` as admin; returns every (URL, bytes) it must serve afterwards.
fn populate(server: &TestServer, http: &Client) -> Vec<(String, Vec<u8>)> {
    let auth = format!("token {}", server.admin_token);
    let base = format!("{}/api/packages/admin", server.url);
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{base}/generic/tool/1.0/tool.bin"), big),
        (
            format!("{base}/generic/tool/1.1/tool.txt"),
            b"small".to_vec(),
        ),
        (
            format!("{base}/maven/org/acme/lib/1.0/lib-1.0.jar"),
            b"jar bytes".to_vec(),
        ),
    ];
    for (url, bytes) in &files {
        let res = http
            .put(url)
            .header("Authorization", &auth)
            .body(bytes.clone());
        assert_eq!(res.send().unwrap().status(), StatusCode::CREATED, "{url}");
    }
    files.push(publish_left_pad(server, b"an npm tarball"));

    let v2 = format!("{}/v2/admin/app", server.url);
    let oci = |req: reqwest::blocking::RequestBuilder| {
        req.basic_auth("admin", Some(&server.admin_token))
            .send()
            .unwrap()
    };
    let (config, layer) = (br#"{"os":"linux"}"#.to_vec(), b"layer bytes".to_vec());
    for blob in [&config, &layer] {
        let url = format!("{v2}/blobs/uploads/?digest={}", sha256_digest(blob));
        assert_eq!(
            oci(http.post(url).body(blob.clone())).status(),
            StatusCode::CREATED
        );
        files.push((format!("{v2}/blobs/{}", sha256_digest(blob)), blob.clone()));
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": IMAGE_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256_digest(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let put = http
        .put(format!("{v2}/manifests/v1"))
        .header("content-type", IMAGE_MANIFEST)
        .body(manifest.clone());
    assert_eq!(oci(put).status(), StatusCode::CREATED);
    files.push((format!("{v2}/manifests/v1"), manifest));
    files
}

/// Every file of `files` (URLs of `old`) as `new` serves it, with the admin token.
fn assert_serves(new: &TestServer, old: &str, files: &[(String, Vec<u8>)], token: &str) {
    for (url, bytes) in files {
        let url = url.replace(old, &new.url);
        let res = client()
            .get(&url)
            .basic_auth("admin", Some(token))
            .header("accept", IMAGE_MANIFEST)
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert!(
            res.bytes().unwrap().as_ref() == bytes.as_slice(),
            "{url} differs"
        );
    }
}

#[test]
fn an_embedded_registry_moves_to_postgres_and_s3_byte_identical() {
    let Some(database) = ScratchDb::create() else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    // The data dir outlives its server: migrate runs with the server stopped.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let source = TestServer::builder().data_dir(&data_dir).start();
    if source.on_postgres() {
        eprintln!("skipped: the source must be embedded (WHARF_TEST_DATABASE=postgres)");
        return;
    }
    let files = populate(&source, &client());
    let token = source.admin_token.clone();
    let old_url = source.url.clone();
    drop(source);

    let blobs = format!(
        "s3://{}/migrated-{}",
        s3::BUCKET,
        wharf_tests::next_number()
    );
    let args = [
        "migrate",
        "--to-database",
        &database.url,
        "--to-blobs",
        &blobs,
        "--to-s3-endpoint",
        &moto.endpoint,
        "--to-s3-region",
        "us-east-1",
    ];
    let said = wharf(&data_dir, &args, "").unwrap();
    assert!(said.contains("uploaded 7 blobs"), "{said}");
    assert!(said.contains("copied"), "{said}");
    let said = wharf(&data_dir, &args, "").unwrap();
    assert!(
        said.contains("uploaded 0 blobs") && said.contains("7 were there already"),
        "a rerun is a no-op: {said}"
    );
    assert!(said.contains("held this registry already"), "{said}");

    let (endpoint, blobs) = (moto.endpoint.clone(), blobs.clone());
    let target = TestServer::builder()
        .database(&database.url)
        .configure(move |config| {
            config.storage.blobs = blobs;
            config.storage.s3_endpoint = Some(endpoint);
            config.storage.s3_region = Some("us-east-1".into());
        })
        .start();
    assert!(target.on_postgres() && target.blobs_in_s3());
    assert_serves(&target, &old_url, &files, &token);
    // The old token writes, and ids go on after the copied ones.
    let res = client()
        .put(target.generic("admin", "after/1/x.txt"))
        .header("Authorization", format!("token {token}"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    drop(target);

    // The target now holds more than the source: refused, unless forced.
    let err = wharf(&data_dir, &args, "").unwrap_err().to_string();
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let said = wharf(&data_dir, &forced, "").unwrap();
    assert!(said.contains("copied"), "{said}");
}

/// `wharf backup` copies the embedded database only; on PostgreSQL it says to use
/// pg_dump.
#[test]
fn a_backup_of_a_postgres_registry_points_to_pg_dump() {
    let server = TestServer::builder().postgres().start();
    if !server.on_postgres() {
        return;
    }
    let dest = tempfile::tempdir().unwrap();
    let target = dest.path().join("b");
    let toml = format!(
        "[storage]\ndata_dir = {:?}\ndatabase = {:?}\n",
        server.data_dir(),
        server.database_setting()
    );
    let config = dest.path().join("registry.toml");
    std::fs::write(&config, toml).unwrap();
    let err = wharf(
        server.data_dir(),
        &[
            "--config",
            config.to_str().unwrap(),
            "backup",
            target.to_str().unwrap(),
        ],
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("pg_dump"), "{err}");
}
