//! Two nodes on one PostgreSQL database and one object store (moto), in-process
//! (issue 22): what a node used to keep to itself is shared. OCI upload sessions whose
//! chunks and finish go to different nodes, the offset and digest checks across them,
//! expiry and the collector around session parts; failed sign-ins counted on both
//! nodes; registry tokens minted on one node and accepted on the other.
//!
//! Balancer tests with real clients are elsewhere; these talk to each node directly.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::blocking::{RequestBuilder, Response};
use wharf::db::tokens::Scope;
use wharf::registry::sessions;
use wharf_tests::postgres::ScratchDb;
use wharf_tests::s3::{BUCKET, Moto};
use wharf_tests::sha256_digest as sha256;
use wharf_tests::{StatusCode, TestServer, basic, client, next_number};

/// Two nodes of one registry, and what they share (kept alive while the test runs).
struct Cluster {
    a: TestServer,
    b: TestServer,
    /// alice's token (write), valid on both nodes.
    token: String,
    _db: ScratchDb,
    _moto: Moto,
}

/// A node on `database` with its blobs below `prefix` in `moto`.
fn node(
    database: &str,
    moto: &Moto,
    prefix: &str,
    server: impl FnOnce(&mut wharf::config::ServerConfig) + 'static,
) -> TestServer {
    let (endpoint, blobs) = (moto.endpoint.clone(), format!("s3://{BUCKET}/{prefix}"));
    TestServer::builder()
        .database(database)
        .configure(move |config| {
            // One prefix for both nodes (`Builder::s3` gives each server its own).
            config.storage.blobs = blobs;
            config.storage.s3_endpoint = Some(endpoint);
            config.storage.s3_region = Some("us-east-1".into());
        })
        .server(server)
        .start()
}

/// Two nodes, or `None` (the reason printed) without PostgreSQL or moto outside CI.
fn cluster_with(
    server: impl Fn(&mut wharf::config::ServerConfig) + Clone + 'static,
) -> Option<Cluster> {
    let db = ScratchDb::create()?;
    let moto = Moto::start()?;
    let prefix = format!("cluster-{}-{}", std::process::id(), next_number());
    let a = node(&db.url, &moto, &prefix, server.clone());
    let b = node(&db.url, &moto, &prefix, server);
    let token = a.user("alice", Scope::Write);
    Some(Cluster {
        a,
        b,
        token,
        _db: db,
        _moto: moto,
    })
}

fn cluster() -> Option<Cluster> {
    cluster_with(|_| {})
}

fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

impl Cluster {
    /// A request as alice to `/v2/{rest}` on `node`.
    fn request(&self, node: &TestServer, method: Method, rest: &str) -> RequestBuilder {
        client()
            .request(method, format!("{}/v2/{rest}", node.url))
            .basic_auth("alice", Some(&self.token))
    }

    /// Starts an upload of `alice/app` on `node`; the session's path below `/v2`.
    fn start(&self, node: &TestServer) -> String {
        let res = self
            .request(node, Method::POST, "alice/app/blobs/uploads/")
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let location = header(&res, "location");
        let id = location.rsplit('/').next().unwrap();
        format!("alice/app/blobs/uploads/{id}")
    }

    /// PATCHes `bytes` at `start` of the session to `node`.
    fn patch(&self, node: &TestServer, session: &str, start: usize, bytes: &[u8]) -> Response {
        let range = format!("{start}-{}", start + bytes.len() - 1);
        self.request(node, Method::PATCH, session)
            .header("content-range", range)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .unwrap()
    }

    fn finish(&self, node: &TestServer, session: &str, digest: &str) -> Response {
        self.request(node, Method::PUT, &format!("{session}?digest={digest}"))
            .send()
            .unwrap()
    }

    fn blob(&self, node: &TestServer, digest: &str) -> Response {
        self.request(node, Method::GET, &format!("alice/app/blobs/{digest}"))
            .send()
            .unwrap()
    }

    /// Sessions that have parts in the object store (both nodes see the same).
    fn sessions_with_parts(&self) -> usize {
        let remote = self.a.registry.blobs.remote().expect("blobs in S3");
        remote.sessions_with_parts().unwrap().len()
    }

    fn session_rows(&self) -> i64 {
        self.b
            .registry
            .db
            .read_sync(|conn| {
                conn.query_row("SELECT COUNT(*) FROM upload_sessions", &[], |r| {
                    r.get::<i64>(0)
                })
            })
            .unwrap()
    }
}

/// Chunks of one upload as a client behind a balancer sends them.
fn chunks() -> Vec<Vec<u8>> {
    (0..4u8)
        .map(|i| (0..300_000u32).map(|n| (n as u8) ^ i).collect())
        .collect()
}

#[test]
fn chunks_alternate_between_nodes_and_a_node_without_the_running_hash_finishes() {
    let Some(c) = cluster() else {
        return;
    };
    let chunks = chunks();
    let whole = chunks.concat();
    let digest = sha256(&whole);
    let session = c.start(&c.a);
    let mut at = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let node = if i % 2 == 0 { &c.a } else { &c.b };
        let res = c.patch(node, &session, at, chunk);
        assert_eq!(res.status(), StatusCode::ACCEPTED, "chunk {i}");
        at += chunk.len();
        assert_eq!(header(&res, "range"), format!("0-{}", at - 1));
        // Either node tells where the upload stands.
        let other = if i % 2 == 0 { &c.b } else { &c.a };
        let status = c.request(other, Method::GET, &session).send().unwrap();
        assert_eq!(status.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&status, "range"), format!("0-{}", at - 1));
    }
    // A got the first and third chunk, B the second and last: neither saw them all, and
    // the finish lands on B, which reads the parts back to hash them.
    let res = c.finish(&c.b, &session, &digest);
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().unwrap());
    assert_eq!(header(&res, "docker-content-digest"), digest);
    for node in [&c.a, &c.b] {
        let got = c.blob(node, &digest);
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().unwrap().as_ref(), whole.as_slice());
    }
    assert_eq!(c.sessions_with_parts(), 0, "the parts went with the finish");
    assert_eq!(c.session_rows(), 0);
    assert_eq!(
        c.request(&c.a, Method::GET, &session)
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // All chunks on one node: its running hash covers the upload.
    let session = c.start(&c.b);
    let (first, second) = (b"one node ".as_slice(), b"does it all".as_slice());
    assert_eq!(
        c.patch(&c.b, &session, 0, first).status(),
        StatusCode::ACCEPTED
    );
    let res = c.patch(&c.b, &session, first.len(), second);
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let digest = sha256(&[first, second].concat());
    assert_eq!(
        c.finish(&c.b, &session, &digest).status(),
        StatusCode::CREATED
    );
    assert_eq!(
        c.blob(&c.a, &digest).bytes().unwrap().as_ref(),
        b"one node does it all"
    );
}

#[test]
fn a_chunk_at_a_taken_offset_is_416_on_the_other_node() {
    let Some(c) = cluster() else {
        return;
    };
    let session = c.start(&c.a);
    assert_eq!(
        c.patch(&c.a, &session, 0, &[1u8; 100]).status(),
        StatusCode::ACCEPTED
    );
    let again = c.patch(&c.b, &session, 0, &[2u8; 100]);
    assert_eq!(again.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&again, "range"), "0-99");
    let ahead = c.patch(&c.b, &session, 150, &[2u8; 10]);
    assert_eq!(ahead.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&ahead, "range"), "0-99");

    // Two nodes racing for the same offset: exactly one chunk is recorded.
    let racing: Vec<StatusCode> = std::thread::scope(|scope| {
        let sends: Vec<_> = [(&c.a, 3u8), (&c.b, 4u8)]
            .into_iter()
            .map(|(node, byte)| {
                let (c, session) = (&c, &session);
                scope.spawn(move || c.patch(node, session, 100, &[byte; 200_000]).status())
            })
            .collect();
        sends.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let won = racing
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(won, 1, "{racing:?}");
    assert!(
        racing.contains(&StatusCode::RANGE_NOT_SATISFIABLE),
        "{racing:?}"
    );
    let status = c.request(&c.b, Method::GET, &session).send().unwrap();
    assert_eq!(header(&status, "range"), "0-200099");
    let winner = if racing[0] == StatusCode::ACCEPTED {
        3u8
    } else {
        4u8
    };
    let whole = [vec![1u8; 100], vec![winner; 200_000]].concat();
    let res = c.finish(&c.a, &session, &sha256(&whole));
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().unwrap());
    assert_eq!(
        c.sessions_with_parts(),
        0,
        "the losing chunk's object went too"
    );
}

#[test]
fn a_wrong_digest_at_the_finish_stores_nothing_on_either_node() {
    let Some(c) = cluster() else {
        return;
    };
    for finisher in [&c.a, &c.b] {
        let session = c.start(&c.a);
        assert_eq!(
            c.patch(&c.a, &session, 0, b"first ").status(),
            StatusCode::ACCEPTED
        );
        assert_eq!(
            c.patch(&c.b, &session, 6, b"second").status(),
            StatusCode::ACCEPTED
        );
        // A holds no hash covering both chunks, B none covering the first: both read
        // the parts back, and refuse.
        let wrong = sha256(b"something else");
        let res = c.finish(finisher, &session, &wrong);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().unwrap().contains("DIGEST_INVALID"));
        assert_eq!(
            c.request(&c.b, Method::GET, &session)
                .send()
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND,
            "the session is over"
        );
    }
    assert_eq!(c.a.stored_blobs(), 0);
    assert_eq!(c.sessions_with_parts(), 0);
    assert_eq!(c.session_rows(), 0);
}

#[test]
fn expiry_removes_the_parts_of_abandoned_sessions_and_the_collector_leaves_live_ones() {
    let Some(c) = cluster() else {
        return;
    };
    let abandoned = c.start(&c.a);
    assert_eq!(
        c.patch(&c.b, &abandoned, 0, b"never finished").status(),
        StatusCode::ACCEPTED
    );
    let live = c.start(&c.b);
    assert_eq!(
        c.patch(&c.a, &live, 0, b"still going").status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(c.sessions_with_parts(), 2);

    // The collector a day later, when every object is past the orphan grace, takes no
    // session parts (the sessions themselves are within the upload grace).
    let policy = wharf::registry::gc::Policy {
        upload_grace: Duration::from_secs(2 * 86_400),
        orphan_grace: Duration::from_secs(60),
    };
    let later = SystemTime::now() + Duration::from_secs(86_400);
    wharf::registry::gc::collect(&c.b.registry, policy, later).unwrap();
    assert_eq!(c.sessions_with_parts(), 2);

    // Both sessions began two hours ago; the abandoned one was last written then (by
    // any node), the live one just now.
    let id = abandoned.rsplit('/').next().unwrap().to_string();
    c.a.registry
        .db
        .write_sync(move |tx| {
            tx.execute("UPDATE upload_sessions SET created = created - 7200", &[])?;
            tx.execute(
                "UPDATE upload_sessions SET updated = updated - 7200 WHERE id = ?1",
                &[&id],
            )?;
            Ok(())
        })
        .unwrap();
    let ttl = Duration::from_secs(3600);
    let expired = sessions::expire(&c.a.registry, ttl, SystemTime::now()).unwrap();
    assert_eq!(
        expired,
        sessions::Expired {
            sessions: 1,
            orphan_files: 0
        }
    );
    assert_eq!(c.sessions_with_parts(), 1);
    assert_eq!(
        c.request(&c.b, Method::GET, &abandoned)
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // Parts whose row is gone (a node died between a finish's commit and the parts'
    // removal) go once they are older than the time to live.
    c.a.registry
        .db
        .write_sync(|tx| tx.execute_batch("DELETE FROM upload_sessions"))
        .unwrap();
    let now = sessions::expire(&c.b.registry, ttl, SystemTime::now()).unwrap();
    assert_eq!(now, sessions::Expired::default(), "too young");
    let later = SystemTime::now() + Duration::from_secs(7200);
    let expired = sessions::expire(&c.b.registry, ttl, later).unwrap();
    assert_eq!(expired.orphan_files, 1);
    assert_eq!(c.sessions_with_parts(), 0);
}

#[test]
fn failed_sign_ins_spread_over_two_nodes_lock_the_name_on_both() {
    let Some(c) = cluster_with(|s| {
        s.login_failures_per_user = 3;
        s.login_failures_per_address = 0;
        s.login_window_secs = 60;
    }) else {
        return;
    };
    let attempt = |node: &TestServer, password: &str| {
        client()
            .get(format!("{}/v2/alice/app/tags/list", node.url))
            .header("authorization", basic("alice", password))
            .send()
            .unwrap()
            .status()
    };
    for node in [&c.a, &c.b, &c.a] {
        assert_eq!(attempt(node, "wrong"), StatusCode::UNAUTHORIZED);
    }
    for node in [&c.a, &c.b] {
        assert_eq!(
            attempt(node, "alice-password"),
            StatusCode::TOO_MANY_REQUESTS,
            "locked on every node, even with the right password"
        );
    }
}

#[test]
fn a_registry_token_minted_on_one_node_is_accepted_on_the_other() {
    let Some(c) = cluster() else {
        return;
    };
    let minted = client()
        .get(format!(
            "{}/v2/token?service=wharf&scope=repository:alice/app:pull,push",
            c.a.url
        ))
        .header("authorization", basic("alice", "alice-password"))
        .send()
        .unwrap();
    assert_eq!(minted.status(), StatusCode::OK);
    let body: serde_json::Value = minted.json().unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let bytes = b"pushed with a token from node A";
    let digest = sha256(bytes);
    let pushed = client()
        .post(format!(
            "{}/v2/alice/app/blobs/uploads/?digest={digest}",
            c.b.url
        ))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let pulled = client()
        .get(format!("{}/v2/alice/app/blobs/{digest}", c.a.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(pulled.bytes().unwrap().as_ref(), bytes);
}
