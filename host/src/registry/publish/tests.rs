use super::*;
use crate::config::MinFree;
use crate::store::BlobStore;

/// A plan storing one file decoded from base64 `range` of the upload.
fn base64_plan(range: api::ByteRange) -> api::PublishPlan {
    api::PublishPlan {
        pkg: api::PackageRef {
            owner: "alice".into(),
            name: "pkg".into(),
        },
        versions: vec![api::PlanVersion {
            version: "1.0.0".into(),
            mode: VersionMode::Create,
            metadata: String::new(),
            files: vec![api::PlanFile {
                name: "pkg.tgz".into(),
                source: FileSource::Base64Slice(range),
                content_type: String::new(),
                lead: true,
                overwrite: false,
                expect: None,
            }],
            tags: Vec::new(),
            properties: Vec::new(),
            references: Vec::new(),
        }],
        reply: api::Response {
            status: 0,
            content_type: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        },
    }
}

fn staged(store: &BlobStore, bytes: &[u8]) -> StagedBlob {
    let mut writer = store.writer(&[]).unwrap();
    writer.write(bytes).unwrap();
    writer.finish().unwrap()
}

#[test]
fn bad_base64_is_the_clients_fault_and_a_full_disk_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let roomy = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
    let body = b"!!not base64!!";
    let range = api::ByteRange {
        offset: 0,
        length: body.len() as u64,
    };
    let upload = staged(&roomy, body);
    let refused = materialize(&roomy, upload, &base64_plan(range), &[]);
    assert!(
        matches!(&refused, Err(Error::BadRequest(m)) if m.contains("invalid base64")),
        "{:?}",
        refused.err()
    );

    // The same store with no room for another blob: the decoded copy cannot be
    // written, which is a 507, not the client's base64.
    let full = BlobStore::attach(dir.path(), MinFree::Percent(100.0)).unwrap();
    if full.space().status().total_bytes == 0 {
        return; // Free space cannot be measured here.
    }
    let upload = staged(&roomy, b"aGVsbG8=");
    let range = api::ByteRange {
        offset: 0,
        length: 8,
    };
    let refused = materialize(&full, upload, &base64_plan(range), &[]);
    assert!(
        matches!(refused, Err(Error::InsufficientStorage { .. })),
        "{:?}",
        refused.err()
    );
}

fn reference_to(bytes: &[u8]) -> api::BlobReference {
    api::BlobReference {
        digest: api::Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: db::packages::fixture::sha256(bytes),
        },
        size: bytes.len() as u64,
    }
}

// Guards the batched check of a manifest's references (issue 22: thousands of them
// were a round trip each on PostgreSQL): every one must be the package's blob with
// its size, a missing one or another package's is refused as unknown, and all are
// recorded.
#[test]
fn references_are_checked_all_at_once_and_a_missing_one_is_refused() {
    use db::packages::fixture::{Pkg, engines, owner};
    for engine in engines("references_checked_at_once") {
        engine
            .db
            .write_sync(|tx| {
                let alice = owner(tx, "alice");
                let image = Pkg::new(alice, "oci", "image");
                let package_id = image.id(tx);
                let layers: Vec<Vec<u8>> = (0..1000)
                    .map(|i| format!("layer {i}").into_bytes())
                    .collect();
                for layer in &layers {
                    let sha256 = db::packages::fixture::sha256(layer);
                    db::blobs::insert(tx, &sha256, layer.len() as u64)?;
                    db::blobs::link_to_package(tx, package_id, &sha256)?;
                }
                image.put(tx, "config", "config.json", b"{}");
                Pkg::new(alice, "oci", "other").put(tx, "1", "theirs", b"theirs");
                let version_id = image.version(tx, "manifest");
                let mut references: Vec<_> = layers.iter().map(|l| reference_to(l)).collect();
                references.push(reference_to(b"{}"));

                reference(tx, package_id, version_id, &references)?;
                let recorded: i64 = tx.query_row(
                    "SELECT count(*) FROM version_refs WHERE version_id = ?1",
                    &[&version_id],
                    |r| r.get(0),
                )?;
                assert_eq!(recorded, 1001);

                for stranger in [&b"never stored"[..], b"theirs"] {
                    let mut with_missing = references.clone();
                    with_missing.insert(500, reference_to(stranger));
                    let refused = reference(tx, package_id, version_id, &with_missing);
                    assert!(
                        matches!(&refused, Err(Error::NotFound(m)) if m.contains("is unknown")),
                        "{refused:?}"
                    );
                }
                let mut wrong_size = references.clone();
                wrong_size[3].size += 1;
                let refused = reference(tx, package_id, version_id, &wrong_size);
                assert!(
                    matches!(&refused, Err(Error::BadRequest(m)) if m.contains("bytes")),
                    "{refused:?}"
                );
                Ok(())
            })
            .unwrap();
    }
}
