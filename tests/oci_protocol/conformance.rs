//! What the distribution-spec conformance checks found missing: manifests addressed by
//! `sha512:`, an out-of-order last chunk on the closing `PUT`, pulls of references that
//! cannot name a manifest, and manifests with very many references.

use std::time::Instant;

use sha2::Sha256;

use wharf::db::{blobs, owners, packages};

use super::*;

pub(super) fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{:x}", Sha512::digest(bytes))
}

#[test]
fn manifests_are_pushed_and_pulled_by_sha512() {
    let oci = Registry::start();
    let manifest = oci.image("alice/app", b"a layer");
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = sha512(&bytes);
    let push = oci.push_manifest("alice/app", &digest, IMAGE_MANIFEST, &manifest);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    assert_eq!(header(&push, "docker-content-digest"), digest);
    assert!(header(&push, "location").ends_with(&format!("/manifests/{digest}")));

    let get = oci.get(&format!("alice/app/manifests/{digest}"));
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(header(&get, "docker-content-digest"), digest);
    assert_eq!(header(&get, "content-type"), IMAGE_MANIFEST);
    assert_eq!(get.bytes().unwrap().as_ref(), bytes.as_slice());
    let head = oci
        .request(Method::HEAD, &format!("alice/app/manifests/{digest}"))
        .send()
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), bytes.len().to_string());
    // The sha256 names it too, and another repository does not have it.
    let by_sha256 = oci.get(&format!("alice/app/manifests/{}", sha256(&bytes)));
    assert_eq!(by_sha256.status(), StatusCode::OK);
    let elsewhere = oci.get(&format!("alice/other/manifests/{digest}"));
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
}

/// A last chunk sent with the closing `PUT` that does not start where the upload ends
/// is a 416, as for `PATCH`, and the upload stays resumable.
#[test]
fn an_out_of_order_last_chunk_on_put_is_416_and_the_session_survives() {
    let oci = Registry::start();
    let (first, second) = (vec![1u8; 1000], vec![2u8; 500]);
    let whole = [first.clone(), second.clone()].concat();
    let id = oci.open_session("alice/app");
    let session = format!("alice/app/blobs/uploads/{id}");
    let patch = oci
        .request(Method::PATCH, &session)
        .header("content-range", "0-999")
        .body(first)
        .send()
        .unwrap();
    assert_eq!(patch.status(), StatusCode::ACCEPTED);

    let put = |range: &str| {
        oci.request(Method::PUT, &format!("{session}?digest={}", sha256(&whole)))
            .header("content-range", range)
            .header("content-type", "application/octet-stream")
            .body(second.clone())
            .send()
            .unwrap()
    };
    let skipped = put("1200-1699");
    assert_eq!(skipped.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(
        skipped.headers().get("docker-content-digest").is_none(),
        "a 416 stores no blob: {:?}",
        skipped.headers()
    );
    assert_refused(
        skipped,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "BLOB_UPLOAD_INVALID",
    );
    let status = oci.get(&session);
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&status, "range"), "0-999");

    let finished = put("1000-1499");
    assert_eq!(finished.status(), StatusCode::CREATED, "{}", text(finished));
    let blob = oci.get(&format!("alice/app/blobs/{}", sha256(&whole)));
    assert_eq!(blob.bytes().unwrap().as_ref(), whole.as_slice());
}

#[test]
fn pulling_a_reference_that_cannot_be_a_manifest_is_manifest_unknown() {
    let oci = Registry::start();
    oci.push_image("alice/app", "v1", b"a layer");
    for reference in [".INVALID_MANIFEST_NAME", "-x", "sha256:nothex"] {
        let path = format!("alice/app/manifests/{reference}");
        assert_refused(oci.get(&path), StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
        let head = oci.request(Method::HEAD, &path).send().unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND, "{reference}");
    }
    // Pushing under such a reference is still a bad request.
    let manifest = oci.image("alice/app", b"a layer");
    let push = oci.push_manifest("alice/app", ".INVALID", IMAGE_MANIFEST, &manifest);
    assert_refused(push, StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
}

/// The plugin's default reference limit (its setting `max-references`).
const MAX_REFERENCES: usize = 10_000;

/// `count` distinct blobs of one byte each, recorded as pushed to `alice/{repo}`, and
/// a manifest naming them all (the config among them). Pushing that many blobs over
/// HTTP would take minutes; the manifest check only needs their rows.
fn wide_manifest(oci: &Registry, repo: &str, count: usize) -> Value {
    let digests: Vec<String> = (0..count)
        .map(|i| format!("{:x}", Sha256::digest(format!("{repo} {i}"))))
        .collect();
    let rows = digests.clone();
    let repo_name = repo.to_string();
    oci.server
        .registry
        .db
        .write_sync(move |tx| {
            let alice = owners::by_name(tx, "alice")?.expect("alice exists");
            let package = packages::ensure(tx, alice.id, "oci", &repo_name)?;
            for hex in &rows {
                blobs::insert(tx, hex, 1)?;
                blobs::link_to_package(tx, package, hex)?;
            }
            Ok(())
        })
        .unwrap();
    let descriptor = |hex: &String, media_type: &str| json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": 1});
    json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": descriptor(&digests[0], CONFIG),
        "layers": digests[1..].iter().map(|hex| descriptor(hex, LAYER)).collect::<Vec<_>>(),
    })
}

/// Checking a manifest costs time linear in its references (8,000 used to exhaust the
/// plugin's 2 s), so the most a manifest may have pass within the default time limit,
/// even in a debug build; one more is refused before any is checked.
#[test]
fn a_manifest_with_many_references_is_checked_quickly_and_too_many_are_refused() {
    // On PostgreSQL each reference the plugin checks is a round trip to the server
    // (10,000 of them), which the default limit, measured for SQLite's in-process
    // lookups, does not cover on a loaded CI machine; the limits are checked all the same.
    let builder = TestServer::builder();
    let builder = if wharf_tests::postgres::wanted_by_default() {
        builder.plugin_time_ms(20_000)
    } else {
        builder
    };
    let oci = Registry::with(builder);
    let widest = wide_manifest(&oci, "wide", MAX_REFERENCES);
    let started = Instant::now();
    let push = oci.push_manifest("alice/wide", "v1", IMAGE_MANIFEST, &widest);
    let took = started.elapsed();
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    eprintln!("a manifest of {MAX_REFERENCES} references was stored in {took:?}");

    let too_wide = wide_manifest(&oci, "wider", MAX_REFERENCES + 1);
    let push = oci.push_manifest("alice/wider", "v1", IMAGE_MANIFEST, &too_wide);
    assert_refused(push, StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    assert_eq!(
        oci.get("alice/wider/manifests/v1").status(),
        StatusCode::NOT_FOUND
    );
}

/// `[formats.oci.settings]` reaches the plugin: a lower `max-references` refuses a
/// manifest the default accepts.
#[test]
fn an_operator_setting_changes_the_reference_limit() {
    let oci = Registry::with(TestServer::builder().configure(|config| {
        let settings = &mut config.formats.get_mut("oci").unwrap().settings;
        settings.insert("max-references".into(), toml::Value::Integer(3));
    }));
    let narrow = wide_manifest(&oci, "narrow", 3);
    let push = oci.push_manifest("alice/narrow", "v1", IMAGE_MANIFEST, &narrow);
    assert_eq!(push.status(), StatusCode::CREATED, "{}", text(push));
    let wider = wide_manifest(&oci, "wider", 4);
    let push = oci.push_manifest("alice/wider", "v1", IMAGE_MANIFEST, &wider);
    assert_refused(push, StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
}
