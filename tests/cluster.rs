//! Three nodes serving one registry (issue 22): one PostgreSQL database, one S3 prefix
//! in moto, haproxy round-robin in front (`wharf_tests::cluster`). Real clients go
//! through the balancer; the checks of what a node serves go to each node directly.
//!
//! Each test starts its own cluster (a scratch database, moto, haproxy, three node
//! processes); a missing PostgreSQL, moto or haproxy skips outside CI and fails under
//! `CI=true`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wharf::db::tokens::Scope;
use wharf::registry::gc;
use wharf_tests::cluster::Cluster;
use wharf_tests::npm::{NpmEnv, installed_version, publish_body};
use wharf_tests::{StatusCode, basic, client, require_tool, sha256_hex};

use crate::maven::{GROUP, MavenEnv, read};
use crate::oci::oci_clients::{Skopeo, alices_artifacts, oras_python};
use crate::oci::{creds, pull_matches, push, two_images};

/// Not a test of its own: the process a cluster node runs in (see
/// `wharf_tests::cluster`). Without `WHARF_CLUSTER_NODE` it returns at once.
#[test]
fn node_process() {
    wharf_tests::cluster::serve_node_if_asked();
}

/// Three nodes with user alice; her write token.
fn three_nodes() -> Option<(Cluster, String)> {
    let cluster = Cluster::builder(3).user("alice").start()?;
    let token = cluster.token("alice", Scope::Write);
    Some((cluster, token))
}

/// An npm publish of `name@version` with `tarball`, as npm sends it, to `registry`.
fn npm_put(registry: &str, token: &str, name: &str, version: &str, tarball: &[u8]) -> StatusCode {
    client()
        .put(format!("{registry}{name}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(publish_body(name, version, tarball, None).to_string())
        .send()
        .expect("the publish is answered")
        .status()
}

#[test]
fn npm_publishes_and_installs_through_the_balancer() {
    if !require_tool("npm") {
        return;
    }
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let env = NpmEnv::for_registry(&cluster.npm_registry("alice"), Some(&token));
    // Three publishes: round-robin sends each to another node.
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        env.publish(json!({ "name": "spread-lib", "version": version }), &[]);
    }
    env.publish(
        json!({ "name": "spread-app", "version": "1.0.0",
                "dependencies": { "spread-lib": "^1.0.0" } }),
        &[],
    );
    let project = env.project("consumer");
    env.npm(&project, &["install", "spread-app", "spread-lib@1.1.0"]);
    assert_eq!(installed_version(&project, "spread-app"), "1.0.0");
    assert_eq!(installed_version(&project, "spread-lib"), "1.1.0");
    // A fresh cache installs the newest through whichever nodes answer.
    let fresh = NpmEnv::for_registry(&cluster.npm_registry("alice"), Some(&token));
    let project = fresh.project("fresh");
    fresh.npm(&project, &["install", "spread-lib"]);
    assert_eq!(installed_version(&project, "spread-lib"), "1.2.0");
}

#[test]
fn a_change_through_one_node_is_in_the_next_document_and_file_of_every_other() {
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|i| cluster.nodes[i].url.clone());
    let http = client();
    let packument = |node: &str| -> Value {
        http.get(format!("{node}/api/packages/alice/npm/fresh-doc"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let search = |node: &str| -> Value {
        http.get(format!(
            "{node}/api/packages/alice/npm/-/v1/search?text=fresh"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap()
    };
    let file = |node: &str, version: &str| {
        http.get(format!(
            "{node}/api/packages/alice/npm/fresh-doc/-/fresh-doc-{version}.tgz"
        ))
        .send()
        .unwrap()
    };
    let registry = format!("{a}/api/packages/alice/npm/");
    for round in 0..50 {
        let version = format!("1.0.{round}");
        let tarball = format!("round {round}");
        // B and C keep the tarball's absence at the revision they saw (a row lookup
        // they may reuse while it holds).
        for node in [&b, &c] {
            assert_eq!(file(node, &version).status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(
            npm_put(&registry, &token, "fresh-doc", &version, tarball.as_bytes()),
            StatusCode::CREATED
        );
        for node in [&b, &c] {
            let got = file(node, &version);
            assert_eq!(got.status(), StatusCode::OK, "round {round} on {node}");
            assert_eq!(got.text().unwrap(), tarball, "round {round} on {node}");
        }
        // B and C cached the document of the round before; neither may serve it now.
        for node in [&b, &c] {
            let doc = packument(node);
            assert_eq!(
                doc["dist-tags"]["latest"], version,
                "round {round} on {node}"
            );
            assert!(
                doc["versions"][&version].is_object(),
                "round {round} on {node}"
            );
            let listing = search(node);
            assert_eq!(
                listing["objects"][0]["package"]["version"], version,
                "search, round {round} on {node}: {listing}"
            );
        }
    }
    // A file B and C served (and keep the row of) is deleted through A: neither serves
    // it again.
    let generic = |node: &str| format!("{node}/api/packages/alice/generic/kept/1/f.bin");
    let put = http
        .put(generic(&a))
        .header("authorization", format!("token {token}"))
        .body("kept bytes")
        .send()
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    for node in [&b, &c] {
        let got = http.get(generic(node)).send().unwrap();
        assert_eq!(got.text().unwrap(), "kept bytes", "on {node}");
    }
    let deleted = http
        .delete(generic(&a))
        .header("authorization", format!("token {token}"))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for node in [&b, &c] {
        let got = http.get(generic(node)).send().unwrap();
        assert_eq!(got.status(), StatusCode::NOT_FOUND, "on {node}");
    }
}

#[test]
fn twenty_concurrent_publishes_of_one_version_over_three_nodes_keep_one() {
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let registry = Arc::new(cluster.npm_registry("alice"));
    let token = Arc::new(token);
    let start = Arc::new(std::sync::Barrier::new(20));
    let outcomes: Vec<(usize, StatusCode)> = (0..20)
        .map(|i| {
            let (registry, token, start) = (registry.clone(), token.clone(), start.clone());
            std::thread::spawn(move || {
                let tarball = format!("contender {i}");
                start.wait();
                (
                    i,
                    npm_put(&registry, &token, "contested", "1.0.0", tarball.as_bytes()),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let winners: Vec<usize> = outcomes
        .iter()
        .filter(|(_, s)| *s == StatusCode::CREATED)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let conflicts = outcomes
        .iter()
        .filter(|(_, s)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!(conflicts, 19, "{outcomes:?}");
    // Every node serves the winner's tarball, and only it.
    for node in &cluster.nodes {
        let tarball = client()
            .get(format!(
                "{}/api/packages/alice/npm/contested/-/contested-1.0.0.tgz",
                node.url
            ))
            .send()
            .unwrap();
        assert_eq!(tarball.status(), StatusCode::OK);
        assert_eq!(
            tarball.bytes().unwrap().as_ref(),
            format!("contender {}", winners[0]).as_bytes()
        );
    }
    assert_eq!(
        blob_rows(&cluster).len(),
        1,
        "one blob row for the one version"
    );
    // The losers' objects reached the bucket before their commits failed; no row
    // records them, and the collector removes them (here with no grace period).
    collect(&cluster);
    assert_eq!(objects(&cluster), blob_rows(&cluster));
}

#[test]
fn a_registry_token_minted_on_one_node_works_on_the_others() {
    let Some((cluster, _)) = three_nodes() else {
        return;
    };
    let http = client();
    let minted: Value = http
        .get(format!(
            "{}/v2/token?service=wharf&scope=repository:alice/app:pull,push",
            cluster.nodes[0].url
        ))
        .header("authorization", basic("alice", "alice-password"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = minted["token"].as_str().expect("a token").to_string();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let digest = format!("sha256:{}", sha256_hex(config));
    // Pushed on B with A's token, read back on C with it.
    let pushed = http
        .post(format!(
            "{}/v2/alice/app/blobs/uploads/?digest={digest}",
            cluster.nodes[1].url
        ))
        .bearer_auth(&token)
        .body(config.to_vec())
        .send()
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED, "{:?}", pushed.text());
    let read = http
        .get(format!(
            "{}/v2/alice/app/blobs/{digest}",
            cluster.nodes[2].url
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.bytes().unwrap().as_ref(), config);
}

/// The sha256 of every object of the cluster's blobs in the bucket, sorted.
fn objects(cluster: &Cluster) -> Vec<String> {
    let blobs = cluster.blobs_setting();
    let (_, prefix) = blobs
        .trim_start_matches("s3://")
        .split_once('/')
        .expect("s3://bucket/prefix");
    let mut found: Vec<String> = cluster
        .moto
        .keys(&format!("{prefix}/blobs/"))
        .iter()
        .map(|key| key.rsplit('/').next().unwrap().to_string())
        .collect();
    found.sort();
    found
}

/// The sha256 of every blob row, sorted.
fn blob_rows(cluster: &Cluster) -> Vec<String> {
    cluster
        .db
        .read_sync(|conn| {
            conn.query_vec("SELECT sha256 FROM blobs ORDER BY sha256", &[], |r| {
                r.get(0)
            })
        })
        .unwrap()
}

/// One collection beside the nodes, as `wharf gc` runs it, keeping nothing
/// unreferenced, for a test whose uploads are all answered: S3 dates objects to the
/// second, so "now" is a little ahead to count the newest as older than it.
fn collect(cluster: &Cluster) -> gc::Report {
    let policy = gc::Policy {
        upload_grace: Duration::ZERO,
        orphan_grace: Duration::ZERO,
    };
    let now = SystemTime::now() + Duration::from_secs(2);
    gc::collect(&cluster.attach(), policy, now).expect("gc runs")
}

/// Waits for `f` to hold, up to `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The upload the kill test cuts: the issue's 1 GiB, sent up to twice. Uploads that
/// name their SHA-256 spare moto a CRC64 of the whole object in Python at completion,
/// which had made 1 GiB cost 80-89 s here; now the test takes ~40 s on 2 cores (28 s
/// for the upload with the kill and the retry).
const LARGE: u64 = 1 << 30;

/// Bytes no two offsets of which repeat in a short period, written in 8 MiB pieces.
fn write_large(path: &std::path::Path, size: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut piece = vec![0u8; 8 << 20];
    for _ in 0..size / piece.len() as u64 {
        for chunk in piece.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        std::io::Write::write_all(&mut file, &piece).unwrap();
    }
}

/// The sha256 (hex) of what `url` serves, hashed as it streams.
fn sha256_of_download(url: &str) -> String {
    let mut response = client().get(url).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let mut hasher = Sha256::new();
    std::io::copy(&mut response, &mut hasher).unwrap();
    wharf_tests::hex(&hasher.finalize())
}

/// Nothing half-visible: every version has its files, every blob row its object and
/// every object its row.
fn assert_consistent(cluster: &Cluster) {
    let bare_versions: i64 = cluster
        .db
        .read_sync(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM versions v
                 WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.version_id = v.id)",
                &[],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(bare_versions, 0, "versions without files");
    assert_eq!(
        objects(cluster),
        blob_rows(cluster),
        "objects and blob rows"
    );
}

#[test]
fn a_node_killed_mid_upload_leaves_nothing_and_the_retry_completes() {
    if !require_tool("curl") {
        return;
    }
    let Some((mut cluster, token)) = three_nodes() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.bin");
    write_large(&file, LARGE);
    let url = format!(
        "{}/api/packages/alice/generic/large/1.0.0/large.bin",
        cluster.url
    );
    let started = Instant::now();
    // curl retries through the balancer after any failure, the upload from its start.
    let upload = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--retry", "5", "--retry-all-errors", "--retry-delay", "1"])
        // Slow enough that the kill below lands mid-body on a fast machine too.
        .args(["--limit-rate", "64M"])
        .arg("-T")
        .arg(&file)
        .args(["-H", &format!("Authorization: token {token}"), &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl runs");
    let mut victim = None;
    assert!(
        eventually(Duration::from_secs(30), || {
            victim = cluster
                .nodes
                .iter()
                .position(|n| n.staged().iter().any(|size| *size >= LARGE / 4));
            victim.is_some()
        }),
        "no node received a quarter of the upload"
    );
    let victim = victim.unwrap();
    cluster.nodes[victim].kill();
    let out = upload.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "curl: {said}");
    eprintln!(
        "{} MiB uploaded in {:?} with a kill of node {victim} mid-body",
        LARGE >> 20,
        started.elapsed()
    );

    // The restarted node removed what it had staged; nothing else was left anywhere.
    cluster.nodes[victim].restart();
    for node in &cluster.nodes {
        assert_eq!(
            node.staged(),
            Vec::<u64>::new(),
            "staged files on {}",
            node.url
        );
    }
    let versions: i64 = cluster
        .db
        .read_sync(|conn| conn.query_row("SELECT COUNT(*) FROM files", &[], |r| r.get(0)))
        .unwrap();
    assert_eq!(versions, 1);
    assert_consistent(&cluster);
    let expected = {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&file).unwrap(), &mut hasher).unwrap();
        wharf_tests::hex(&hasher.finalize())
    };
    assert_eq!(sha256_of_download(&url), expected);
}

#[test]
fn gc_beside_the_nodes_while_they_publish_loses_nothing_referenced() {
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    // Four contents: a publish often stores bytes that a delete just left without a
    // reference, the race between the collector and a publish on another node.
    let content = |i: usize| format!("content {}", i % 4).into_bytes();
    let url = |node: &str, i: usize| format!("{node}/api/packages/alice/generic/churn/{i}/f.bin");
    const PUBLISHES: usize = 24;
    let publisher = {
        let token = token.clone();
        let (b, c) = (cluster.nodes[1].url.clone(), cluster.nodes[2].url.clone());
        std::thread::spawn(move || {
            let http = client();
            for i in 0..PUBLISHES {
                let put = http
                    .put(url(&b, i))
                    .header("authorization", format!("token {token}"))
                    .body(content(i))
                    .send()
                    .unwrap();
                assert_eq!(put.status(), StatusCode::CREATED, "publish {i}");
                // Odd versions go again at once, orphaning their bytes.
                if i % 2 == 1 {
                    let delete = http
                        .delete(url(&c, i))
                        .header("authorization", format!("token {token}"))
                        .send()
                        .unwrap();
                    assert_eq!(delete.status(), StatusCode::NO_CONTENT, "delete {i}");
                }
            }
        })
    };
    let admin = cluster.attach();
    // A grace short enough that bytes orphaned a moment ago are collected while the
    // publisher uses them again.
    let policy = gc::Policy {
        upload_grace: Duration::from_secs(1),
        orphan_grace: Duration::from_secs(1),
    };
    let (mut runs, mut collected) = (0, 0);
    while !publisher.is_finished() {
        collected += gc::collect(&admin, policy, SystemTime::now())
            .expect("gc runs")
            .blobs;
        runs += 1;
    }
    publisher
        .join()
        .expect("every publish and delete succeeded");
    eprintln!("{PUBLISHES} publishes beside {runs} collections, which took {collected} blobs");
    assert!(collected > 0, "the collector raced nothing");
    for i in (0..PUBLISHES).step_by(2) {
        let got = client().get(url(&cluster.url, i)).send().unwrap();
        assert_eq!(got.status(), StatusCode::OK, "version {i}");
        assert_eq!(got.bytes().unwrap().as_ref(), content(i), "version {i}");
    }
    collect(&cluster);
    assert_consistent(&cluster);
}

#[test]
fn skopeo_pushes_and_pulls_through_the_balancer() {
    if !require_tool("skopeo") || !require_tool("umoci") {
        return;
    }
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let skopeo = Skopeo::new(cluster.url.trim_start_matches("http://"));
    let alice = creds("alice", &token);
    let layout = two_images();
    // The token flow, the blob uploads and the manifest each go to the next node.
    push(&skopeo, &layout, "1", "alice/img:1", Some(&alice));
    push(&skopeo, &layout, "2", "alice/img:2", Some(&alice));
    pull_matches(&skopeo, "alice/img:1", Some(&alice), &layout, "1");
    pull_matches(&skopeo, "alice/img:2", Some(&alice), &layout, "2");
}

#[test]
fn mvn_deploys_and_resolves_through_the_balancer() {
    if !require_tool("mvn") {
        return;
    }
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let repository = format!("{}/api/packages/alice/maven", cluster.url);
    let env = MavenEnv::for_repository(repository, Some(("alice", &token)));
    let (base, app) = (env.project("lib-base"), env.project("lib-app"));
    env.deploy_ok(&base);
    env.deploy_ok(&app);
    // Nothing of ours in the local repository: app, and base through app's pom, come
    // from whichever nodes answer, checked against their `.sha1`.
    env.forget();
    env.get_ok("com.example.wharf:app:1.0.0");
    for (project, artifact) in [(&base, "base"), (&app, "app")] {
        let jar = format!("{GROUP}/{artifact}/1.0.0/{artifact}-1.0.0.jar");
        let built = read(project.join(format!("target/{artifact}-1.0.0.jar")));
        assert!(read(env.local(&jar)) == built, "{jar} as deployed");
        for node in &cluster.nodes {
            let url = format!("{}/api/packages/alice/maven/{jar}", node.url);
            assert!(client().get(url).send().unwrap().bytes().unwrap() == built);
        }
    }
}

#[test]
fn oras_chunked_push_alternates_between_nodes() {
    let Some(python) = oras_python() else {
        return;
    };
    if !require_tool("skopeo") || !require_tool("umoci") {
        return;
    }
    let Some((cluster, token)) = three_nodes() else {
        return;
    };
    let registry = cluster.url.trim_start_matches("http://").to_string();
    let skopeo = Skopeo::new(&registry);
    push(
        &skopeo,
        &two_images(),
        "1",
        "alice/img:1",
        Some(&creds("alice", &token)),
    );
    // Round-robin sends each chunk of the chunked push to the next node.
    alices_artifacts(&python, &registry, &token, &[]);
}

#[test]
fn failed_logins_on_several_nodes_lock_the_name_on_all() {
    let Some(cluster) = Cluster::builder(3)
        .toml("[server]\nlogin_failures_per_user = 3\nlogin_failures_per_address = 0\n")
        .user("alice")
        .start()
    else {
        return;
    };
    let attempt = |node: &str, password: &str| {
        client()
            .get(format!("{node}/api/packages/alice/npm/-/whoami"))
            .header("authorization", basic("alice", password))
            .send()
            .unwrap()
            .status()
    };
    for node in &cluster.nodes {
        assert_eq!(attempt(&node.url, "wrong"), StatusCode::UNAUTHORIZED);
    }
    // Three failures in all, one per node: the name is locked on every node.
    for node in &cluster.nodes {
        assert_eq!(
            attempt(&node.url, "alice-password"),
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            node.url
        );
    }
}

#[test]
fn a_revoked_token_or_changed_password_is_refused_by_every_node_at_once() {
    let Some((cluster, _)) = three_nodes() else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|i| cluster.nodes[i].url.clone());
    let http = client();
    let created: Value = http
        .post(format!("{a}/api/v1/users/alice/tokens"))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"name": "ci", "scopes": ["write:package"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (secret, id) = (created["sha1"].as_str().unwrap(), &created["id"]);
    let minted: Value = http
        .get(format!(
            "{b}/v2/token?service=wharf&scope=repository:alice/app:pull"
        ))
        .basic_auth("alice", Some(secret))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let registry_token = minted["token"].as_str().unwrap();
    let whoami = |node: &str, auth: &str| {
        http.get(format!("{node}/api/packages/alice/npm/-/whoami"))
            .header("authorization", auth)
            .send()
            .unwrap()
            .status()
    };
    let tags = |node: &str| {
        http.get(format!("{node}/v2/alice/app/tags/list"))
            .bearer_auth(registry_token)
            .send()
            .unwrap()
            .status()
    };
    let (token_auth, password) = (format!("Bearer {secret}"), basic("alice", "alice-password"));
    // Every node has seen the token, the registry token and the password succeed (and
    // remembered the password).
    for node in [&a, &b, &c] {
        assert_eq!(whoami(node, &token_auth), StatusCode::OK);
        assert_eq!(whoami(node, &password), StatusCode::OK);
        assert_ne!(tags(node), StatusCode::UNAUTHORIZED);
    }
    let revoked = http
        .delete(format!("{a}/api/v1/users/alice/tokens/{id}"))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for node in [&b, &c] {
        assert_eq!(
            whoami(node, &token_auth),
            StatusCode::UNAUTHORIZED,
            "{node}"
        );
        assert_eq!(tags(node), StatusCode::UNAUTHORIZED, "{node}");
    }
    // `wharf user passwd` against the shared database, from no node at all.
    wharf::registry::accounts::set_password(&cluster.db, "alice", "alice-new-password").unwrap();
    for node in [&a, &b, &c] {
        assert_eq!(whoami(node, &password), StatusCode::UNAUTHORIZED, "{node}");
        assert_eq!(
            whoami(node, &basic("alice", "alice-new-password")),
            StatusCode::OK
        );
    }
}
