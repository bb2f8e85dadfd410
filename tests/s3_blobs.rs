//! Blobs in an S3-compatible object store (`storage.blobs = "s3://…"`), against a real
//! S3 server on 127.0.0.1 (moto, `wharf_tests::s3`): publish and download (whole,
//! ranged, and large enough for a multipart upload), the collector deleting from the
//! bucket what nothing references and keeping the rest, an outage answered 503 with
//! nothing committed, redirects to presigned URLs, and a proxy caching into the bucket.
//!
//! The other protocol files run against S3 too with `WHARF_TEST_BLOBS=s3` (`.ci/run`
//! does so for a subset).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use wharf::registry::gc::{self, Policy};
use wharf_tests::s3::Moto;
use wharf_tests::{StatusCode, TestServer, client, sha256_hex};

use crate::generic::put;

/// The key prefix a test server keeps its blobs below.
fn prefix(server: &TestServer) -> String {
    let blobs = server.blobs_setting();
    let (_, prefix) = blobs
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .expect("blobs in S3");
    prefix.to_string()
}

fn on_s3(moto: &Moto) -> TestServer {
    TestServer::builder().s3(moto).start()
}

fn get(server: &TestServer, path: &str) -> reqwest::blocking::Response {
    client().get(server.generic("admin", path)).send().unwrap()
}

/// A ranged GET, answered 206.
fn ranged(server: &TestServer, path: &str, range: &str) -> reqwest::blocking::Response {
    let res = client()
        .get(server.generic("admin", path))
        .header("Range", range)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT, "{path} {range}");
    res
}

#[test]
fn publish_and_download_whole_ranged_and_multipart() {
    let Some(moto) = Moto::start() else { return };
    let server = on_s3(&moto);
    let t = &server.admin_token;
    // Past the single-PUT size: this one goes up in parts.
    let large: Vec<u8> = (0..(9 << 20) + 123).map(|i: u32| (i % 251) as u8).collect();
    for (path, bytes) in [
        ("tool/1.0.0/tool.tar.gz", b"payload-bytes".to_vec()),
        ("tool/1.0.0/big.bin", large.clone()),
    ] {
        assert_eq!(
            put(&server, t, path, bytes.clone()).status(),
            StatusCode::CREATED
        );
        let res = get(&server, path);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().unwrap().to_vec(), bytes, "{path}");
        let key = Moto::blob_key(&prefix(&server), &sha256_hex(&bytes));
        assert!(moto.keys(&key).contains(&key), "{key} is in the bucket");
        // Sent with its SHA-256 (storage.s3_checksums), per part, which the store
        // checked and combined: the SHA-256 of the parts' SHA-256s. (moto records a
        // single PUT's only when the request also names the algorithm, which
        // object_store leaves out; S3 checks it anyway.)
        if bytes.len() > 8 << 20 {
            let parts: Vec<u8> = bytes.chunks(8 << 20).flat_map(Sha256::digest).collect();
            let composite = STANDARD.encode(Sha256::digest(&parts));
            assert_eq!(moto.checksum(&key), Some(composite));
        }
    }
    assert_eq!(
        std::fs::read_dir(server.data_dir().join("blobs").join("sha256"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing is kept on local disk"
    );
    assert_eq!(server.temp_files(), 0);
    assert_eq!(server.stored_blobs(), 2);

    let res = ranged(&server, "tool/1.0.0/tool.tar.gz", "bytes=8-");
    assert_eq!(res.headers()["content-range"], "bytes 8-12/13");
    assert_eq!(res.text().unwrap(), "bytes");
    let res = ranged(&server, "tool/1.0.0/big.bin", "bytes=1000-8389999");
    assert_eq!(res.bytes().unwrap().to_vec(), &large[1000..8_390_000]);

    // The same bytes under another name: one object.
    assert_eq!(
        put(&server, t, "copy/1.0.0/tool.tar.gz", "payload-bytes").status(),
        StatusCode::CREATED
    );
    assert_eq!(server.stored_blobs(), 2);
}

/// A proxy on S3: what it fetches goes to the bucket (past the single-PUT size, in
/// parts, and before the transaction that records it), nothing stays on local disk, and
/// the cached copy is served from the bucket once the upstream is gone.
#[test]
fn a_proxy_caches_into_the_bucket_and_serves_from_it_with_the_upstream_gone() {
    let Some(moto) = Moto::start() else { return };
    let upstream = TestServer::start();
    let bytes: Vec<u8> = (0..(9 << 20) + 7).map(|i: u32| (i % 241) as u8).collect();
    let path = "tool/1.0.0/big.bin";
    let stored = put(&upstream, &upstream.admin_token, path, bytes.clone());
    assert_eq!(stored.status(), StatusCode::CREATED);
    let server = TestServer::builder()
        .s3(&moto)
        .toml(format!(
            "[proxies.files]\nformat = \"generic\"\nupstreams = [\"{}/api/packages/admin/generic\"]\n",
            upstream.url
        ))
        .start();
    let fetch = || client().get(server.generic("files", path)).send().unwrap();
    let res = fetch();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().unwrap().to_vec(), bytes, "streamed through");

    // The last byte is released once verified; storing follows.
    let key = Moto::blob_key(&prefix(&server), &sha256_hex(&bytes));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.packages_of("files").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the fetch was never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(moto.keys(&key).contains(&key), "{key} is in the bucket");
    assert_eq!(server.temp_files(), 0);

    drop(upstream);
    let res = fetch();
    assert_eq!(res.status(), StatusCode::OK, "served from the cache");
    assert_eq!(res.bytes().unwrap().to_vec(), bytes);
    assert_eq!(
        std::fs::read_dir(server.data_dir().join("blobs").join("sha256"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing is kept on local disk"
    );
}

#[test]
fn gc_deletes_unreferenced_blobs_from_the_bucket_and_keeps_the_rest() {
    let Some(moto) = Moto::start() else { return };
    let server = on_s3(&moto);
    let t = &server.admin_token;
    assert_eq!(
        put(&server, t, "gone/1.0.0/a.bin", "goes away").status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, t, "kept/1.0.0/b.bin", "stays").status(),
        StatusCode::CREATED
    );
    let deleted = client()
        .delete(server.generic("admin", "gone/1.0.0/a.bin"))
        .header("Authorization", format!("token {t}"))
        .send()
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());

    let policy = Policy {
        upload_grace: Duration::ZERO,
        orphan_grace: Duration::from_secs(3600),
    };
    let now = SystemTime::now();
    let first = gc::collect(&server.registry, policy, now).unwrap();
    assert_eq!((first.newly_orphaned, first.blobs), (1, 0), "{first:?}");
    let later = gc::collect(&server.registry, policy, now + Duration::from_secs(7200)).unwrap();
    assert_eq!((later.blobs, later.bytes), (1, 9), "{later:?}");

    let prefix = prefix(&server);
    let keys = moto.keys(&format!("{prefix}/"));
    let gone = Moto::blob_key(&prefix, &sha256_hex(b"goes away"));
    let kept = Moto::blob_key(&prefix, &sha256_hex(b"stays"));
    assert_eq!(keys, vec![kept], "the trash is empty too");
    assert!(!keys.contains(&gone));
    assert_eq!(get(&server, "kept/1.0.0/b.bin").text().unwrap(), "stays");

    // An object no row records (a publish cut short) goes once it is old enough.
    let stray = Moto::blob_key(&prefix, &sha256_hex(b"stray"));
    let put_stray = client()
        .put(format!(
            "{}/{}/{stray}",
            moto.endpoint,
            wharf_tests::s3::BUCKET
        ))
        .body("stray")
        .send()
        .unwrap();
    assert!(put_stray.status().is_success());
    let young = gc::collect(&server.registry, policy, SystemTime::now()).unwrap();
    assert_eq!(young.unrecorded, 0, "{young:?}");
    let old = gc::collect(
        &server.registry,
        policy,
        SystemTime::now() + Duration::from_secs(7200),
    )
    .unwrap();
    assert_eq!(old.unrecorded, 1, "{old:?}");
    assert_eq!(moto.keys(&format!("{prefix}/")).len(), 1);
}

#[test]
fn an_s3_outage_is_503_with_nothing_committed_and_recovers() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let server = on_s3(&moto);
    let t = &server.admin_token;
    assert_eq!(
        put(&server, t, "app/1.0.0/app.bin", "before").status(),
        StatusCode::CREATED
    );

    moto.stop();
    let refused = put(&server, t, "app/2.0.0/app.bin", "during");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        refused
            .text()
            .unwrap()
            .contains("blob storage is unavailable")
    );
    assert_eq!(
        get(&server, "app/1.0.0/app.bin").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(server.temp_files(), 0, "the staged upload is gone");

    // moto forgets its objects on restart: the bucket is back, empty.
    moto.restart();
    assert_eq!(
        get(&server, "app/2.0.0/app.bin").status(),
        StatusCode::NOT_FOUND,
        "the refused publish was not committed"
    );
    assert_eq!(
        put(&server, t, "app/2.0.0/app.bin", "during").status(),
        StatusCode::CREATED
    );
    assert_eq!(get(&server, "app/2.0.0/app.bin").text().unwrap(), "during");
}

#[test]
fn large_downloads_redirect_to_a_presigned_url() {
    let Some(moto) = Moto::start() else { return };
    let server = TestServer::builder()
        .s3(&moto)
        .configure(|config| config.storage.redirect_downloads = true)
        .start();
    let t = &server.admin_token;
    let large: Vec<u8> = (0..(2 << 20)).map(|i: u32| (i % 249) as u8).collect();
    assert_eq!(
        put(&server, t, "big/1.0.0/big.bin", large.clone()).status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, t, "big/1.0.0/small.txt", "small").status(),
        StatusCode::CREATED
    );

    let res = get(&server, "big/1.0.0/big.bin");
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&moto.endpoint), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let fetched = client().get(&location).send().unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().unwrap().to_vec(), large);

    // HEAD is answered here, and small files are served directly.
    let head = client()
        .head(server.generic("admin", "big/1.0.0/big.bin"))
        .send()
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(get(&server, "big/1.0.0/small.txt").text().unwrap(), "small");
}
