//! Resumable upload sessions, driven over HTTP through the `trap` fixture's session
//! routes (`tests/components/fixture.rs`), which answer with OCI-like templates:
//! `Location: /sessions/{pkg}/{id}`, `Range: 0-{end}` and, once finished,
//! `Location: /blobs/{pkg}/{digest}`.

use std::io::Read;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha512};
use wharf::db::tokens::Scope;
use wharf::registry::sessions;
use wharf_tests::sha256_digest as sha256;
use wharf_tests::{Client, StatusCode, TestServer, client, hex};

const TRAP: &str = env!("WHARF_TEST_TRAP_WASM");

struct Fixture {
    server: TestServer,
    alice: String,
    http: Client,
}

fn fixture_with(max_upload: Option<u64>) -> Fixture {
    let mut builder = TestServer::builder().plugin("trap", "/api/packages/{owner}/trap", TRAP);
    if let Some(limit) = max_upload {
        builder = builder.format_max_upload("trap", limit);
    }
    let server = builder.start();
    let alice = server.user("alice", Scope::Write);
    Fixture {
        server,
        alice,
        http: client(),
    }
}

fn fixture() -> Fixture {
    fixture_with(None)
}

fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex(&Sha512::digest(bytes)))
}

type Reply = (StatusCode, reqwest::header::HeaderMap, String);

impl Fixture {
    /// URL of a session path below alice's `trap` mount.
    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/packages/alice/trap/sessions/{path}",
            self.server.url
        )
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Reply {
        let res = request.bearer_auth(&self.alice).send().unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.text().unwrap())
    }

    /// Starts a session for `pkg`; returns its id.
    fn start(&self, pkg: &str) -> String {
        let (status, headers, body) = self.send(self.http.post(self.url(pkg)));
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(headers["range"], "0-0");
        let id = headers["upload-uuid"].to_str().unwrap().to_string();
        assert_eq!(
            headers["location"],
            format!("/sessions/{pkg}/{id}").as_str()
        );
        id
    }

    fn patch(&self, pkg: &str, id: &str, range: Option<&str>, bytes: &[u8]) -> Reply {
        let mut request = self
            .http
            .patch(self.url(&format!("{pkg}/{id}")))
            .body(bytes.to_vec());
        if let Some(range) = range {
            request = request.header("content-range", range);
        }
        self.send(request)
    }

    fn status(&self, pkg: &str, id: &str) -> Reply {
        self.send(self.http.get(self.url(&format!("{pkg}/{id}"))))
    }

    fn finish(&self, pkg: &str, id: &str, digest: &str, last: &[u8]) -> Reply {
        let url = format!("{}?digest={digest}", self.url(&format!("{pkg}/{id}")));
        self.send(self.http.put(url).body(last.to_vec()))
    }

    /// The stored bytes of a blob, read straight from the store.
    fn stored(&self, digest: &str) -> Option<Vec<u8>> {
        self.server
            .stored_blob(digest.strip_prefix("sha256:").unwrap())
    }

    /// Whether alice's package `pkg` of format trap has the blob linked.
    fn linked(&self, pkg: &str, digest: &str) -> bool {
        let (pkg, hex) = (
            pkg.to_string(),
            digest.strip_prefix("sha256:").unwrap().to_string(),
        );
        self.server
            .registry
            .db
            .read_sync(move |conn| {
                let owner = wharf::db::owners::by_name(conn, "alice")?.unwrap();
                match wharf::db::packages::find(conn, owner.id, "trap", &pkg)? {
                    Some(p) => wharf::db::blobs::package_has(conn, p.id, &hex),
                    None => Ok(false),
                }
            })
            .unwrap()
    }

    fn session_files(&self) -> usize {
        self.server.registry.sessions.file_count()
    }
}

#[test]
fn chunked_upload_round_trip() {
    let f = fixture();
    let id = f.start("app");
    let (status, headers, body) = f.patch("app", &id, Some("0-4"), b"hello");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(headers["range"], "0-4");
    assert_eq!(headers["location"], format!("/sessions/app/{id}").as_str());
    let (status, headers, _) = f.patch("app", &id, Some("5-10"), b" world");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["range"], "0-10");

    let (status, headers, _) = f.status("app", &id);
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["range"], "0-10");
    assert_eq!(headers["upload-uuid"], id.as_str());

    let whole = b"hello world, again";
    let digest = sha256(whole);
    let (status, headers, body) = f.finish("app", &id, &digest, b", again");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["location"], format!("/blobs/app/{digest}").as_str());
    assert_eq!(headers["content-digest"], digest.as_str());
    assert_eq!(f.stored(&digest).as_deref(), Some(&whole[..]));
    assert!(f.linked("app", &digest));
    assert_eq!(f.session_files(), 0, "the session file became the blob");
    assert_eq!(f.server.registry.sessions.live_count(), 0);
    assert_eq!(
        f.status("app", &id).0,
        StatusCode::NOT_FOUND,
        "the session is over"
    );
}

#[test]
fn a_chunk_out_of_order_is_416_with_the_range_to_resume_from() {
    let f = fixture();
    let id = f.start("app");
    assert_eq!(
        f.patch("app", &id, Some("0-2"), b"abc").0,
        StatusCode::ACCEPTED
    );
    let (status, headers, body) = f.patch("app", &id, Some("5-7"), b"fgh");
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{body}");
    assert_eq!(headers["range"], "0-2");
    assert_eq!(headers["location"], format!("/sessions/app/{id}").as_str());
    // The same chunk again (a retry of an append that arrived) is out of order too.
    assert_eq!(
        f.patch("app", &id, Some("0-2"), b"abc").0,
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    // Without Content-Range, a chunk goes at the end.
    let (status, headers, _) = f.patch("app", &id, None, b"de");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["range"], "0-4");
    let (status, _, _) = f.finish("app", &id, &sha256(b"abcde"), b"");
    assert_eq!(status, StatusCode::CREATED);
}

#[test]
fn a_second_request_on_a_busy_session_is_416() {
    let f = fixture();
    if f.server.blobs_in_s3() {
        // There a chunk is recorded once it is complete, so the status cannot show one
        // in flight; racing chunks are `cluster_sessions`' (one wins, the other is 416).
        return;
    }
    let id = f.start("app");
    // A chunk whose body is held back until we say so keeps the session busy. The
    // first read fills the client's whole buffer, so the client sends it at once.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let first = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Held(
        Option<std::sync::mpsc::Receiver<()>>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    );
    impl Read for Held {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                buf.fill(b'a');
                self.1.store(buf.len(), std::sync::atomic::Ordering::SeqCst);
                return Ok(buf.len());
            }
            if let Some(rx) = self.0.take() {
                let _ = rx.recv();
            }
            Ok(0)
        }
    }
    let url = f.url(&format!("app/{id}"));
    let token = f.alice.clone();
    let counted = first.clone();
    let slow = std::thread::spawn(move || {
        client()
            .patch(url)
            .bearer_auth(token)
            .body(reqwest::blocking::Body::new(Held(Some(held), counted)))
            .send()
            .unwrap()
            .status()
    });
    // Wait until the held chunk owns the session: its first bytes are stored. Status
    // reads take no lock. (Probing with appends instead raced the held request: when
    // it arrived during a probe, it was the one refused.) A deadline, not a count: on a
    // loaded machine the held request can take seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, headers, body) = f.status("app", &id);
        assert!(status.is_success(), "{status} {body}");
        let range = headers.get("range").and_then(|r| r.to_str().ok());
        if range.is_some_and(|r| r != "0-0") {
            break;
        }
        assert!(
            !slow.is_finished(),
            "the held chunk ended before it was released"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the held chunk never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, refused, _) = f.patch("app", &id, None, b"");
    release.send(()).unwrap();
    assert_eq!(
        status,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "a second request on a busy session"
    );
    assert!(refused.contains_key("range"));
    assert_eq!(slow.join().unwrap(), StatusCode::ACCEPTED);
    let sent = first.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        f.status("app", &id).1["range"],
        format!("0-{}", sent - 1).as_str()
    );
}

#[test]
fn cancel_then_404() {
    let f = fixture();
    let id = f.start("app");
    f.patch("app", &id, Some("0-2"), b"abc");
    let (status, _, body) = f.send(f.http.delete(f.url(&format!("app/{id}"))));
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(f.status("app", &id).0, StatusCode::NOT_FOUND);
    assert_eq!(f.patch("app", &id, None, b"x").0, StatusCode::NOT_FOUND);
    assert_eq!(f.session_files(), 0);
}

#[test]
fn a_wrong_digest_stores_nothing_and_ends_the_session() {
    let f = fixture();
    let id = f.start("app");
    f.patch("app", &id, Some("0-2"), b"abc");
    let (status, _, body) = f.finish("app", &id, &sha256(b"something else"), b"");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("digest mismatch"), "{body}");
    assert_eq!(f.server.stored_blobs(), 0);
    assert_eq!(f.session_files(), 0);
    assert_eq!(f.status("app", &id).0, StatusCode::NOT_FOUND);
    // Malformed digests are refused before anything happens to the session.
    let id = f.start("app");
    assert_eq!(
        f.finish("app", &id, "sha256:XYZ", b"").0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(f.status("app", &id).0, StatusCode::NO_CONTENT);
}

#[test]
fn sha512_digests_are_checked_and_kept() {
    let f = fixture();
    let id = f.start("app");
    f.patch("app", &id, Some("0-3"), b"data");
    let digest = sha512(b"data");
    let (status, headers, body) = f.finish("app", &id, &digest, b"");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["location"], format!("/blobs/app/{digest}").as_str());
    let sha = sha256(b"data");
    assert_eq!(f.stored(&sha).as_deref(), Some(&b"data"[..]));
    let hex = sha.strip_prefix("sha256:").unwrap().to_string();
    let kept = f
        .server
        .registry
        .db
        .read_sync(move |conn| wharf::db::blobs::digest(conn, &hex, "sha512"))
        .unwrap();
    assert_eq!(kept.as_deref(), digest.strip_prefix("sha512:"));

    // One-shot, and a wrong sha512.
    let url = |d: &str| format!("{}?digest={d}", f.url("app"));
    let (status, _, _) = f.send(f.http.post(url(&sha512(b"one"))).body("one"));
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = f.send(f.http.post(url(&sha512(b"one"))).body("two"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(f.server.stored_blobs(), 2);
}

#[test]
fn one_shot_upload() {
    let f = fixture();
    let digest = sha256(b"whole blob");
    let url = format!("{}?digest={digest}", f.url("app"));
    let (status, headers, body) = f.send(f.http.post(&url).body("whole blob"));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["location"], format!("/blobs/app/{digest}").as_str());
    assert_eq!(f.stored(&digest).as_deref(), Some(&b"whole blob"[..]));
    assert!(f.linked("app", &digest));
    let (status, _, _) = f.send(f.http.post(&url).body("not the blob"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(f.server.stored_blobs(), 1);
    assert_eq!(f.server.temp_files(), 0);
    assert_eq!(f.session_files(), 0, "no session for a one-shot upload");
}

#[test]
fn uploads_beyond_the_format_limit_are_413() {
    let f = fixture_with(Some(10));
    let id = f.start("app");
    // Declared too large: refused before reading.
    assert_eq!(
        f.patch("app", &id, Some("0-10"), &[b'x'; 11]).0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        f.patch("app", &id, Some("0-5"), &[b'x'; 6]).0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        f.patch("app", &id, Some("6-11"), &[b'x'; 6]).0,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the limit counts what the session already holds"
    );
    // Undeclared (chunked): cut off once past the limit, never beyond it on disk.
    let body = reqwest::blocking::Body::new(std::io::Cursor::new(vec![b'y'; 64]));
    let (status, _, _) = f.send(f.http.patch(f.url(&format!("app/{id}"))).body(body));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, headers, _) = f.status("app", &id);
    assert_eq!(status, StatusCode::NO_CONTENT);
    let end: u64 = headers["range"].to_str().unwrap()[2..].parse().unwrap();
    assert!(
        end < 10,
        "at most 10 bytes kept, range {:?}",
        headers["range"]
    );
    // One-shot too.
    let url = format!("{}?digest={}", f.url("app"), sha256(&[b'z'; 11]));
    assert_eq!(
        f.send(f.http.post(url).body(vec![b'z'; 11])).0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[test]
fn unknown_or_malformed_ids_are_404() {
    let f = fixture();
    let unknown = "0b7f1c2e-2d3a-4e5f-8a9b-0c1d2e3f4a5b";
    for id in [unknown, "..%2Fx", "..%2F..%2Fwharf.db", "not-an-id", "ABC"] {
        assert_eq!(f.status("app", id).0, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(
            f.patch("app", id, None, b"x").0,
            StatusCode::NOT_FOUND,
            "{id}"
        );
        assert_eq!(
            f.finish("app", id, &sha256(b"x"), b"").0,
            StatusCode::NOT_FOUND,
            "{id}"
        );
    }
    // The traversal did not reach the embedded database (PostgreSQL has no file there).
    assert!(f.server.on_postgres() || f.server.data_dir().join("wharf.db").exists());
}

#[test]
fn a_session_belongs_to_its_package_and_owner() {
    let f = fixture();
    let bob = f.server.user("bob", Scope::Write);
    let id = f.start("app");
    assert_eq!(f.patch("other", &id, None, b"x").0, StatusCode::NOT_FOUND);
    assert_eq!(f.status("other", &id).0, StatusCode::NOT_FOUND);
    // Bob, on his own mount, with alice's session id.
    let res = f
        .http
        .get(format!(
            "{}/api/packages/bob/trap/sessions/app/{id}",
            f.server.url
        ))
        .bearer_auth(bob)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Names compare case-insensitively.
    assert_eq!(f.status("APP", &id).0, StatusCode::NO_CONTENT);
}

#[test]
fn sessions_resume_after_a_restart() {
    let mut f = fixture();
    let id = f.start("app");
    f.patch("app", &id, Some("0-5"), b"before");
    f.server.restart();
    // Pooled connections went with the old server.
    f.http = client();
    let (status, headers, _) = f.status("app", &id);
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["range"], "0-5");
    let (status, _, body) = f.patch("app", &id, Some("6-11"), b" after");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // No hasher survived the restart: finishing rehashes the file.
    let digest = sha256(b"before after");
    let (status, _, body) = f.finish("app", &id, &digest, b"");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(f.stored(&digest).as_deref(), Some(&b"before after"[..]));
}

#[test]
fn expiry_removes_stale_sessions_and_orphan_files() {
    let f = fixture();
    if f.server.blobs_in_s3() {
        // No session files then: `cluster_sessions` expires parts in the object store.
        return;
    }
    let stale = f.start("app");
    let fresh = f.start("app");
    f.patch("app", &stale, None, b"old bytes");
    let dir = f.server.data_dir().join("tmp/sessions");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    let age = |name: &str| {
        std::fs::File::options()
            .append(true)
            .open(dir.join(name))
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    };
    age(&stale);
    // A file without a row (a crash between the two), old and new.
    let orphan = "11111111-1111-4111-8111-111111111111";
    std::fs::write(dir.join(orphan), b"x").unwrap();
    age(orphan);
    let young_orphan = "22222222-2222-4222-8222-222222222222";
    std::fs::write(dir.join(young_orphan), b"x").unwrap();

    // Both sessions began two hours ago; only the stale one has not been written since.
    f.server
        .registry
        .db
        .write_sync(|tx| {
            tx.execute("UPDATE upload_sessions SET created = created - 7200", &[])?;
            Ok(())
        })
        .unwrap();
    let ttl = Duration::from_secs(3600);
    let expired = sessions::expire(&f.server.registry, ttl, SystemTime::now()).unwrap();
    assert_eq!(
        expired,
        sessions::Expired {
            sessions: 1,
            orphan_files: 1
        }
    );
    assert_eq!(f.status("app", &stale).0, StatusCode::NOT_FOUND);
    assert_eq!(f.status("app", &fresh).0, StatusCode::NO_CONTENT);
    assert!(dir.join(young_orphan).exists());
    assert!(!dir.join(orphan).exists());

    // A row whose file is gone expires by its creation time.
    std::fs::remove_file(dir.join(&fresh)).unwrap();
    let expired = sessions::expire(&f.server.registry, ttl, SystemTime::now()).unwrap();
    assert_eq!(expired.sessions, 1);
    assert_eq!(f.status("app", &fresh).0, StatusCode::NOT_FOUND);
}

/// A finish whose commit fails (as on a crash or a full disk between putting the bytes
/// into the store and the commit) leaves the session as it was: its status, more
/// chunks, and a retried finish all work; the bytes the failed commit left in the
/// store never change and are collected later.
#[test]
fn a_finish_whose_commit_fails_leaves_the_session_resumable() {
    let f = fixture();
    let id = f.start("app");
    let (status, _, body) = f.patch("app", &id, Some("0-4"), b"first");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    f.server.break_blob_commits(true);
    let partial = sha256(b"first");
    let (status, _, body) = f.finish("app", &id, &partial, b"");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    f.server.break_blob_commits(false);
    assert!(!f.linked("app", &partial));

    let (status, headers, _) = f.status("app", &id);
    assert_eq!(status, StatusCode::NO_CONTENT, "the session is still there");
    assert_eq!(headers["range"], "0-4");
    // The failed finish left these bytes in the store; appending must not change them.
    assert_eq!(f.stored(&partial).as_deref(), Some(&b"first"[..]));
    let (status, _, body) = f.patch("app", &id, Some("5-10"), b" again");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(f.stored(&partial).as_deref(), Some(&b"first"[..]));

    let whole = sha256(b"first again");
    let (status, _, body) = f.finish("app", &id, &whole, b"");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(f.linked("app", &whole));
    assert_eq!(f.stored(&whole).as_deref(), Some(&b"first again"[..]));
    assert_eq!(f.session_files(), 0);

    let policy = wharf::registry::gc::Policy {
        upload_grace: Duration::from_secs(86400),
        orphan_grace: Duration::from_secs(3600),
    };
    let later = SystemTime::now() + Duration::from_secs(7200);
    let report = wharf::registry::gc::collect(&f.server.registry, policy, later).unwrap();
    assert_eq!(report.unrecorded, 1, "{report:?}");
    assert_eq!(f.stored(&partial), None);
    assert_eq!(f.stored(&whole).as_deref(), Some(&b"first again"[..]));
}

/// The same failure, then the client simply retries the finish.
#[test]
fn a_finish_retried_after_a_failed_commit_stores_the_blob() {
    let f = fixture();
    let id = f.start("app");
    f.patch("app", &id, Some("0-5"), b"layer!");
    let digest = sha256(b"layer!");
    f.server.break_blob_commits(true);
    assert_eq!(
        f.finish("app", &id, &digest, b"").0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    f.server.break_blob_commits(false);
    let (status, _, body) = f.finish("app", &id, &digest, b"");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(f.linked("app", &digest));
    assert_eq!(f.stored(&digest).as_deref(), Some(&b"layer!"[..]));
    assert_eq!(f.session_files(), 0);
    assert_eq!(f.status("app", &id).0, StatusCode::NOT_FOUND);
}
