//! Garbage collection on a registry holding OCI images: what it reclaims and when, what
//! it must never touch, and pushes racing it.

use std::time::{Duration, SystemTime};

use wharf::registry::gc::{self, Policy, Report};

use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);

/// The shipped defaults: unused uploads kept a day, orphaned bytes an hour.
const DEFAULTS: Policy = Policy {
    upload_grace: DAY,
    orphan_grace: HOUR,
};

fn collect(oci: &Registry, policy: Policy, at: SystemTime) -> Report {
    gc::collect(&oci.server.registry, policy, at).unwrap()
}

/// The bytes of a blob as `repo` serves them, or the status when it does not.
fn blob(oci: &Registry, repo: &str, digest: &str) -> Result<Vec<u8>, StatusCode> {
    let response = oci.get(&format!("{repo}/blobs/{digest}"));
    match response.status() {
        StatusCode::OK => Ok(response.bytes().unwrap().to_vec()),
        status => Err(status),
    }
}

#[test]
fn unreferenced_blobs_go_after_their_grace_and_nothing_else_does() {
    let oci = Registry::start();
    let (_, old) = oci.push_image("alice/app", "v1", b"layer one");
    let (kept_manifest, kept) = oci.push_image("alice/app", "v2", b"layer two");
    // The same layer in another repository (another manifest) keeps it alive there.
    let mut other = oci.image("alice/other", b"layer one");
    other["annotations"] = json!({"org.example.repository": "other"});
    let pushed = oci.push_manifest("alice/other", "v1", IMAGE_MANIFEST, &other);
    assert_eq!(pushed.status(), StatusCode::CREATED);
    // A layer whose manifest never came.
    let stray = oci.push_blob("alice/app", b"a stray upload");
    let delete = oci
        .request(Method::DELETE, &format!("alice/app/manifests/{old}"))
        .send()
        .unwrap();
    assert_eq!(delete.status(), StatusCode::ACCEPTED);
    let stored = oci.server.stored_blobs();

    // Now: the deleted manifest is unreferenced (marked), the stray upload still young.
    let now = SystemTime::now();
    let first = collect(&oci, DEFAULTS, now);
    assert_eq!(
        (first.blobs, first.unused_links, first.newly_orphaned),
        (0, 0, 1)
    );
    assert_eq!(
        blob(&oci, "alice/app", &stray),
        Ok(b"a stray upload".to_vec())
    );

    // Two days on: the stray upload's link and the deleted image's layer link in
    // alice/app go; the old manifest's bytes have waited out their hour.
    let later = collect(&oci, DEFAULTS, now + 2 * DAY);
    assert_eq!(later.unused_links, 2, "{later:?}");
    assert_eq!(later.blobs, 1, "the deleted manifest: {later:?}");
    assert_eq!(blob(&oci, "alice/app", &stray), Err(StatusCode::NOT_FOUND));
    assert_eq!(oci.server.stored_blobs(), stored - 1);

    // An hour after that the stray blob's bytes go too; layer one stays for alice/other.
    let last = collect(&oci, DEFAULTS, now + 2 * DAY + 2 * HOUR);
    assert_eq!((last.blobs, last.bytes), (1, 14), "{last:?}");
    assert_eq!(oci.server.stored_blobs(), stored - 2);

    // Everything still referenced is served whole.
    let manifest = oci.get(&format!("alice/app/manifests/{kept}"));
    assert_eq!(manifest.bytes().unwrap().to_vec(), kept_manifest);
    let image: Value = serde_json::from_slice(&kept_manifest).unwrap();
    for descriptor in [&image["config"], &image["layers"][0]] {
        let digest = descriptor["digest"].as_str().unwrap();
        assert!(blob(&oci, "alice/app", digest).is_ok(), "{digest}");
    }
    let other = oci.get("alice/other/manifests/v1").json::<Value>().unwrap();
    let layer_one = other["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        blob(&oci, "alice/other", layer_one),
        Ok(b"layer one".to_vec())
    );
    assert_eq!(collect(&oci, DEFAULTS, now + 3 * DAY), Report::default());
}

#[test]
fn abandoned_upload_sessions_expire() {
    let oci = Registry::start();
    let id = oci.open_session("alice/app");
    let session = &format!("alice/app/blobs/uploads/{id}");
    let patch = oci
        .request(Method::PATCH, session)
        .header("content-type", "application/octet-stream")
        .body(b"half a layer".to_vec())
        .send()
        .unwrap();
    assert_eq!(patch.status(), StatusCode::ACCEPTED);

    let now = SystemTime::now();
    assert_eq!(
        collect(&oci, DEFAULTS, now).sessions,
        0,
        "a live session stays"
    );
    assert_eq!(oci.get(session).status(), StatusCode::NO_CONTENT);
    assert_eq!(collect(&oci, DEFAULTS, now + 2 * DAY).sessions, 1);
    assert_refused(
        oci.get(session),
        StatusCode::NOT_FOUND,
        "BLOB_UPLOAD_UNKNOWN",
    );
    let session_files = oci.server.data_dir().join("tmp").join("sessions");
    assert_eq!(std::fs::read_dir(session_files).unwrap().count(), 0);
}

/// Uploads of a blob racing the collection of the very same bytes, which another
/// repository keeps dropping: with no grace at all, every push must still end with its
/// blob served whole, because the collector and a publish never interleave.
#[test]
fn collection_racing_pushes_of_the_same_bytes_loses_nothing() {
    let oci = Registry::start();
    let payload = b"bytes that keep losing their last reference".to_vec();
    let eager = Policy {
        upload_grace: DAY,
        orphan_grace: Duration::ZERO,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let collector = scope.spawn(|| {
            let mut collected = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                collected += collect(&oci, eager, SystemTime::now()).blobs;
            }
            collected
        });
        for round in 0..40 {
            let repo = format!("alice/race{}", round % 4);
            let digest = oci.push_blob(&repo, &payload);
            assert_eq!(
                blob(&oci, &repo, &digest),
                Ok(payload.clone()),
                "round {round}"
            );
            let unlink = oci
                .request(Method::DELETE, &format!("{repo}/blobs/{digest}"))
                .send()
                .unwrap();
            assert_eq!(unlink.status(), StatusCode::ACCEPTED, "round {round}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // The last unlink left the bytes unreferenced: they go now if they have not yet.
        let collected = collector.join().unwrap() + collect(&oci, eager, SystemTime::now()).blobs;
        assert!(collected > 0, "the collector did delete the bytes");
    });
    // A last push after all that is complete, too.
    let digest = oci.push_blob("alice/final", &payload);
    assert_eq!(blob(&oci, "alice/final", &digest), Ok(payload));
}

/// A collection cut short leaves blobs in the trash; the next start puts back those the
/// database still knows and purges the rest.
#[test]
fn the_trash_is_settled_at_startup() {
    let mut oci = Registry::start();
    if oci.server.blobs_in_s3() {
        return; // it moves files of the local blob directory by hand
    }
    let (_, manifest) = oci.push_image("alice/app", "v1", b"kept layer");
    let hex = manifest.trim_start_matches("sha256:");
    let blobs = oci.server.data_dir().join("blobs").join("sha256");
    let trash = oci.server.data_dir().join("trash").join("sha256");
    std::fs::rename(blobs.join(&hex[..2]).join(hex), trash.join(hex)).unwrap();
    let unknown = "f".repeat(64);
    std::fs::write(trash.join(&unknown), b"forgotten").unwrap();

    oci.server.restart();
    let pulled = oci.get(&format!("alice/app/manifests/{manifest}"));
    assert_eq!(pulled.status(), StatusCode::OK);
    assert_eq!(sha256(&pulled.bytes().unwrap()), manifest);
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
}

/// A blob used again while it waits out its orphan grace keeps its bytes.
#[test]
fn a_blob_used_again_within_its_grace_stays() {
    let oci = Registry::start();
    let bytes = b"dropped, then pushed again".to_vec();
    let digest = oci.push_blob("alice/a", &bytes);
    let unlink = oci
        .request(Method::DELETE, &format!("alice/a/blobs/{digest}"))
        .send()
        .unwrap();
    assert_eq!(unlink.status(), StatusCode::ACCEPTED);
    let now = SystemTime::now();
    assert_eq!(collect(&oci, DEFAULTS, now).newly_orphaned, 1);

    oci.push_blob("alice/b", &bytes);
    let later = collect(&oci, DEFAULTS, now + 2 * HOUR);
    assert_eq!((later.blobs, later.newly_orphaned), (0, 0), "{later:?}");
    assert_eq!(blob(&oci, "alice/b", &digest), Ok(bytes));
}

/// A publish puts its bytes into the store before its transaction commits: a commit
/// that fails there (or a crash) leaves a complete file no row records. The collector
/// removes such a file once it is older than the orphan grace, and nothing else.
#[test]
fn files_no_row_records_go_after_the_grace_and_nothing_else_does() {
    let oci = Registry::start();
    if oci.server.blobs_in_s3() {
        return; // it moves files of the local blob directory by hand
    }
    let (kept_manifest, kept) = oci.push_image("alice/app", "v1", b"kept layer");
    oci.server.break_blob_commits(true);
    let lost = b"a layer whose commit failed".to_vec();
    let digest = sha256(&lost);
    let push = oci
        .request(
            Method::POST,
            &format!("alice/app/blobs/uploads/?digest={digest}"),
        )
        .header("content-type", "application/octet-stream")
        .body(lost.clone())
        .send()
        .unwrap();
    assert_eq!(push.status(), StatusCode::INTERNAL_SERVER_ERROR);
    oci.server.break_blob_commits(false);
    let hex = digest.trim_start_matches("sha256:");
    let file = oci
        .server
        .data_dir()
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(hex);
    assert!(file.exists(), "complete bytes that no row records");
    assert_eq!(blob(&oci, "alice/app", &digest), Err(StatusCode::NOT_FOUND));
    let stored = oci.server.stored_blobs();

    // Younger than the grace: it stays (its publish could be one under way).
    let now = SystemTime::now();
    let first = collect(&oci, DEFAULTS, now);
    assert_eq!((first.unrecorded, first.blobs), (0, 0), "{first:?}");
    assert!(file.exists());

    // Past the grace every stored file is old enough; only the unrecorded one goes.
    let later = collect(&oci, DEFAULTS, now + 2 * HOUR);
    assert_eq!(
        (later.unrecorded, later.blobs, later.bytes),
        (1, 1, lost.len() as u64),
        "{later:?}"
    );
    assert!(!file.exists());
    assert_eq!(oci.server.stored_blobs(), stored - 1);
    assert_eq!(
        std::fs::read_dir(oci.server.data_dir().join("trash/sha256"))
            .unwrap()
            .count(),
        0
    );
    let manifest = oci.get(&format!("alice/app/manifests/{kept}"));
    assert_eq!(manifest.bytes().unwrap().to_vec(), kept_manifest);
    let image: Value = serde_json::from_slice(&kept_manifest).unwrap();
    for descriptor in [&image["config"], &image["layers"][0]] {
        let digest = descriptor["digest"].as_str().unwrap();
        assert!(blob(&oci, "alice/app", digest).is_ok(), "{digest}");
    }

    // The same bytes pushed again are stored and served whole.
    let again = oci.push_blob("alice/app", &lost);
    assert_eq!(blob(&oci, "alice/app", &again), Ok(lost));
    assert_eq!(collect(&oci, DEFAULTS, now + 4 * HOUR).unrecorded, 0);
}

/// A repository whose only content was a layer nobody used holds nothing once the
/// collector drops that link: it leaves the listings, and its tag list is unknown, as
/// for a repository never pushed to. One with a manifest stays.
#[test]
fn a_repository_emptied_by_the_collector_is_gone() {
    let oci = Registry::start();
    oci.push_blob("alice/lonely", b"a layer whose manifest never came");
    oci.push_image("alice/app", "v1", b"a used layer");
    let listed = || {
        let response = client()
            .get(format!("{}/api/v1/packages/alice", oci.server.url))
            .basic_auth("alice", Some(&oci.token))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().unwrap();
        let names: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        names
    };
    assert_eq!(listed(), ["app", "lonely"]);

    let report = collect(&oci, DEFAULTS, SystemTime::now() + 2 * DAY);
    assert_eq!(report.unused_links, 1, "{report:?}");
    assert_eq!(listed(), ["app"]);
    assert_refused(
        oci.get("alice/lonely/tags/list"),
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
    );
    assert_eq!(oci.tags("alice/app"), ["v1"]);
}
