//! Artifact downloads against a local upstream: one request for many clients, digest
//! checks, declarations, redirects, and clients that hang up.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;

use super::plugin::{ArtifactPlan, ArtifactSource, UpstreamFetch, UpstreamRequest};
use super::testing::{TestEngine, TextPlugin, Upstream, file_ref, index, reply, request, serve};
use super::{ArtifactBody, ArtifactHead, ProxyConfig, ProxyError, ProxyOwner};
use crate::plugins::api::{Digest, HashAlgorithm};
use crate::store::{Algorithm, digest};

const BASE: &str = "http://wharf.test/proxy";

/// 1 MiB of varied bytes.
fn payload() -> Vec<u8> {
    (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect()
}

/// A body sent in 64 KiB pieces, 5 ms apart, so clients arrive while it streams.
fn slow(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Bytes> = bytes.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    Body::from_stream(futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, std::io::Error>(chunk)
    }))
}

fn sha256(hex: String) -> Digest {
    Digest {
        algorithm: HashAlgorithm::Sha256,
        hex,
    }
}

fn fetch_plan(path: &str, digests: Vec<Digest>) -> ArtifactPlan {
    ArtifactPlan {
        file: file_ref("app", "1.0", "app.tgz"),
        lead: true,
        source: ArtifactSource::Fetch(UpstreamFetch {
            request: UpstreamRequest::get(path),
            digests,
        }),
    }
}

fn plugin(plan: ArtifactPlan) -> TextPlugin {
    let plugin = TextPlugin::default();
    *plugin.artifact.lock().unwrap() = Some(plan);
    plugin
}

async fn artifact(
    t: &TestEngine,
    proxy: &ProxyOwner,
    plugin: &TextPlugin,
) -> Result<ArtifactBody, ProxyError> {
    t.engine
        .artifact(
            proxy,
            plugin,
            &serve("app", "1.0", "app.tgz"),
            &request(BASE),
        )
        .await
}

/// The whole body a client gets, or the error its stream ends with.
async fn receive(t: &TestEngine, body: ArtifactBody) -> std::io::Result<Vec<u8>> {
    match body {
        ArtifactBody::Stored(row) => {
            let mut bytes = Vec::new();
            t.blobs.reader(&row.blob)?.read_to_end(&mut bytes)?;
            Ok(bytes)
        }
        ArtifactBody::Streaming(download) => {
            let mut stream = download.into_stream();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            t.engine.artifacts.settled().await;
            Ok(bytes)
        }
    }
}

fn config(url: &str) -> ProxyConfig {
    super::config::with_upstreams("text", vec![url.to_string()])
}

fn stored_fetch(t: &TestEngine) -> Option<(String, i64)> {
    t.db.read_now(|conn| {
        let Some(pkg) = crate::db::packages::find(conn, t.owner_id, "text", "app")? else {
            return Ok(None);
        };
        let Some(version) = crate::db::packages::version(conn, pkg.id, "1.0")? else {
            return Ok(None);
        };
        let Some(file) = crate::db::packages::file(conn, version.id, "app.tgz")? else {
            return Ok(None);
        };
        crate::db::proxy::fetch_of(conn, file.id)
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_misses_make_one_upstream_request() {
    let bytes = payload();
    let served = bytes.clone();
    let up = Upstream::start(move |_| {
        let length = served.len().to_string();
        let mut response = reply(
            200,
            &[("content-type", "application/x-tar")],
            slow(served.clone()),
        );
        response
            .headers_mut()
            .insert("content-length", length.parse().unwrap());
        response
    })
    .await;
    let t = TestEngine::new();
    let digest = sha256(digest::of_bytes(Algorithm::Sha256, &bytes));
    let plugin = plugin(fetch_plan("/app.tgz", vec![digest]));
    let proxy = t.proxy(config(&up.url));
    let clients = (0..50).map(|_| async {
        let body = artifact(&t, &proxy, &plugin).await.unwrap();
        receive(&t, body).await.unwrap()
    });
    let received = futures_util::future::join_all(clients).await;
    assert!(
        received.iter().all(|r| *r == bytes),
        "every client got the bytes"
    );
    assert_eq!(up.hits(), 1);

    let (url, _) = stored_fetch(&t).expect("stored with where it came from");
    assert_eq!(url, format!("{}/app.tgz", up.url));
    let later = artifact(&t, &proxy, &plugin).await.unwrap();
    let ArtifactBody::Stored(row) = later else {
        panic!("a later client is served from the store");
    };
    assert_eq!(
        (row.content_type.as_str(), row.lead),
        ("application/x-tar", true)
    );
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn bytes_that_do_not_match_the_digest_are_refused_and_not_stored() {
    let up = Upstream::start(|_| reply(200, &[], slow(payload()))).await;
    let t = TestEngine::new();
    let wrong = sha256(digest::of_bytes(Algorithm::Sha256, b"something else"));
    let plugin = plugin(fetch_plan("/app.tgz", vec![wrong]));
    let proxy = t.proxy(config(&up.url));
    let body = artifact(&t, &proxy, &plugin).await.unwrap();
    assert!(
        matches!(body, ArtifactBody::Streaming(_)),
        "the first bytes stream"
    );
    assert!(receive(&t, body).await.is_err(), "the transfer ends broken");
    assert_eq!(stored_fetch(&t), None);
    assert_eq!(t.blobs.temp_file_count(), 0, "the temp file is gone");
    // Nothing was remembered: the next client gets a new attempt.
    let again = artifact(&t, &proxy, &plugin).await.unwrap();
    assert!(receive(&t, again).await.is_err());
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn a_download_goes_on_when_its_client_hangs_up() {
    let up = Upstream::start(|_| reply(200, &[], slow(payload()))).await;
    let t = TestEngine::new();
    let plugin = plugin(fetch_plan("/app.tgz", Vec::new()));
    let proxy = t.proxy(config(&up.url));
    drop(artifact(&t, &proxy, &plugin).await.unwrap());
    for _ in 0..200 {
        if stored_fetch(&t).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stored_fetch(&t).is_some(), "stored although nobody waited");
    let body = artifact(&t, &proxy, &plugin).await.unwrap();
    assert_eq!(receive(&t, body).await.unwrap(), payload());
    assert_eq!(up.hits(), 1);
}

// Guards the credentials: they go to the configured upstreams only, never to another
// host an absolute URL names.
#[tokio::test]
async fn credentials_stay_with_the_configured_upstreams() {
    let authorization = |parts: &http::request::Parts| {
        let auth = parts
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string());
        reply(200, &[], auth.unwrap_or_else(|| "none".into()))
    };
    let configured = Upstream::start(authorization).await;
    let elsewhere = Upstream::start(authorization).await;
    let t = TestEngine::new();
    let mut with_token = config(&configured.url);
    with_token.credentials = Some(super::UpstreamCredentials::Bearer("secret".into()));
    let proxy = t.proxy(with_token);
    let own = plugin(fetch_plan(&format!("{}/a.tgz", configured.url), Vec::new()));
    let body = artifact(&t, &proxy, &own).await.unwrap();
    assert_eq!(receive(&t, body).await.unwrap(), b"Bearer secret");
    let mut foreign_plan = fetch_plan(&format!("{}/b.tgz", elsewhere.url), Vec::new());
    foreign_plan.file = file_ref("app", "1.0", "b.tgz");
    let foreign = plugin(foreign_plan);
    let op = serve("app", "1.0", "b.tgz");
    let body = t
        .engine
        .artifact(&proxy, &foreign, &op, &request(BASE))
        .await
        .unwrap();
    assert_eq!(receive(&t, body).await.unwrap(), b"none");
}

// Guards what a Range or HEAD request on a streaming artifact waits for: the stored row.
#[tokio::test]
async fn a_download_can_be_awaited_as_its_stored_file() {
    let up = Upstream::start(|_| reply(200, &[], slow(payload()))).await;
    let t = TestEngine::new();
    let plugin = plugin(fetch_plan("/app.tgz", Vec::new()));
    let proxy = t.proxy(config(&up.url));
    let ArtifactBody::Streaming(download) = artifact(&t, &proxy, &plugin).await.unwrap() else {
        panic!("the first client streams");
    };
    assert_eq!(download.content_type(), "application/octet-stream");
    let row = download.finished().await.unwrap();
    assert_eq!(row.size, payload().len() as u64);
    assert!(t.blobs.contains(&row.blob));
}

async fn head(
    t: &TestEngine,
    proxy: &ProxyOwner,
    plugin: &TextPlugin,
) -> Result<ArtifactHead, ProxyError> {
    let op = serve("app", "1.0", "app.tgz");
    t.engine
        .artifact_head(proxy, plugin, &op, &request(BASE))
        .await
}

// Guards against a HEAD that downloads: it asks the upstream's HEAD and stores nothing;
// once the artifact is stored, it is answered from the store.
#[tokio::test]
async fn a_head_asks_the_upstreams_head_and_stores_nothing() {
    let bytes = payload();
    let served = bytes.clone();
    let up = Upstream::start(move |parts| match parts.uri.path() {
        "/app.tgz" if parts.method == http::Method::HEAD => reply(
            200,
            &[
                ("content-type", "application/x-tar"),
                ("content-length", "1048576"),
            ],
            "",
        ),
        "/app.tgz" => reply(200, &[], served.clone()),
        _ => reply(404, &[], ""),
    })
    .await;
    let t = TestEngine::new();
    let hex = digest::of_bytes(Algorithm::Sha256, &bytes);
    let app = plugin(fetch_plan("/app.tgz", vec![sha256(hex.clone())]));
    let proxy = t.proxy(config(&up.url));
    let ArtifactHead::Upstream(answer) = head(&t, &proxy, &app).await.unwrap() else {
        panic!("not stored yet");
    };
    assert_eq!(
        (answer.content_type.as_str(), answer.length),
        ("application/x-tar", Some(1 << 20))
    );
    assert_eq!(
        answer.sha256(),
        Some(hex.as_str()),
        "the digest a GET verifies"
    );
    assert_eq!(up.seen(), ["HEAD /app.tgz"]);
    assert_eq!(stored_fetch(&t), None);
    assert_eq!(t.blobs.temp_file_count(), 0);

    let body = artifact(&t, &proxy, &app).await.unwrap();
    assert_eq!(receive(&t, body).await.unwrap(), bytes);
    let ArtifactHead::Stored(row) = head(&t, &proxy, &app).await.unwrap() else {
        panic!("stored by the GET");
    };
    assert_eq!(row.size, 1 << 20);
    assert_eq!(up.seen(), ["HEAD /app.tgz", "GET /app.tgz"]);

    // Other files of the version, not stored.
    let other = |path: &str| {
        let mut plan = fetch_plan(path, Vec::new());
        plan.file = file_ref("app", "1.0", "other.tgz");
        plugin(plan)
    };
    let gone = other("/missing.tgz");
    assert_eq!(head(&t, &proxy, &gone).await.unwrap_err().status(), 404);
    let mut offline = config(&up.url);
    offline.offline = true;
    let offline = t.proxy(offline);
    let refused = head(&t, &offline, &other("/app.tgz")).await.unwrap_err();
    assert_eq!(refused.status(), 404);
    assert_eq!(up.hits(), 3, "offline asks no upstream");
}

#[tokio::test]
async fn a_declared_artifact_comes_from_its_document_through_redirects() {
    let bytes = b"tarball".to_vec();
    let hex = digest::of_bytes(Algorithm::Sha256, &bytes);
    let document = format!(
        "file app.tgz 2.0 /files/app.tgz sha256:{hex}\nfile bad.tgz 2.0 /files/app.tgz sha256:{}",
        "0".repeat(64)
    );
    let served = bytes.clone();
    let up = Upstream::start(move |parts| match parts.uri.path() {
        "/app" => reply(200, &[], document.clone()),
        "/files/app.tgz" => reply(302, &[("location", "/cdn/app.tgz")], ""),
        "/cdn/app.tgz" => reply(200, &[], served.clone()),
        "/files/escape.tgz" => reply(302, &[("location", "file:///etc/passwd")], ""),
        _ => reply(404, &[], ""),
    })
    .await;
    let t = TestEngine::new();
    let proxy = t.proxy(config(&up.url));
    let declared = |name: &str| {
        plugin(ArtifactPlan {
            file: file_ref("app", "", name),
            lead: true,
            source: ArtifactSource::DeclaredIn(index("app")),
        })
    };
    let get = |plugin: TextPlugin, name: &'static str| {
        let (t, proxy) = (&t, &proxy);
        async move {
            let op = serve("app", "", name);
            let body = t
                .engine
                .artifact(proxy, &plugin, &op, &request(BASE))
                .await?;
            receive(t, body)
                .await
                .map_err(|e| ProxyError::Upstream(e.to_string()))
        }
    };
    assert_eq!(get(declared("app.tgz"), "app.tgz").await.unwrap(), bytes);
    let stored = t.db.read_now(|conn| {
        let pkg = crate::db::packages::find(conn, t.owner_id, "text", "app")?.unwrap();
        Ok(crate::db::packages::version(conn, pkg.id, "2.0")?.is_some())
    });
    assert!(stored.unwrap(), "recorded under the declared version");
    assert!(
        get(declared("bad.tgz"), "bad.tgz").await.is_err(),
        "declared digests are checked"
    );
    let missing = get(declared("nope.tgz"), "nope.tgz").await.unwrap_err();
    assert_eq!(missing.status(), 404);

    let escape = plugin(fetch_plan("/files/escape.tgz", Vec::new()));
    let refused = artifact(&t, &proxy, &escape)
        .await
        .err()
        .expect("not followed");
    assert_eq!(refused.status(), 502, "{refused:?}");
    let gone = plugin(fetch_plan("/missing.tgz", Vec::new()));
    assert_eq!(
        artifact(&t, &proxy, &gone).await.err().unwrap().status(),
        404
    );
}

/// Resident memory and its peak, in KiB, from `/proc/self/status`.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A figure, not a check that runs by default (it moves 1 GiB through the disk):
/// `cargo test -p wharf --lib -- --ignored --nocapture proxy::artifact_tests::one_gib`
/// prints the time and how much resident memory grew while three clients streamed a
/// 1 GiB download through the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves 1 GiB; run by hand for the figure"]
async fn one_gib_streams_through_in_flat_memory() {
    const GIB: usize = 1 << 30;
    static PIECE: [u8; 1 << 16] = [7; 1 << 16];
    let up = Upstream::start(|_| {
        let pieces = futures_util::stream::iter(
            (0..GIB / PIECE.len()).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&PIECE))),
        );
        let mut response = reply(200, &[], Body::from_stream(pieces));
        response
            .headers_mut()
            .insert("content-length", GIB.to_string().parse().unwrap());
        response
    })
    .await;
    let t = TestEngine::new();
    let plugin = plugin(fetch_plan("/layer", Vec::new()));
    let proxy = t.proxy(config(&up.url));
    let (rss_before, _) = memory_kib();
    let started = std::time::Instant::now();
    let clients = (0..3).map(|_| async {
        let body = artifact(&t, &proxy, &plugin).await.unwrap();
        let ArtifactBody::Streaming(download) = body else {
            panic!("the first clients stream");
        };
        let mut stream = download.into_stream();
        let mut received = 0usize;
        while let Some(chunk) = stream.next().await {
            received += chunk.unwrap().len();
        }
        received
    });
    let received = futures_util::future::join_all(clients).await;
    let took = started.elapsed();
    let (rss_after, peak) = memory_kib();
    assert!(received.iter().all(|r| *r == GIB));
    println!(
        "1 GiB to 3 clients in {:.1} s; RSS {} MiB before, {} MiB after, peak {} MiB",
        took.as_secs_f64(),
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024
    );
    assert!(
        peak.saturating_sub(rss_before) < 64 * 1024,
        "memory grew by 64 MiB or more"
    );
    assert_eq!(up.hits(), 1);
}
