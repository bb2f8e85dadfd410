//! The document cache against a local upstream: failover, negative caching, stale
//! serving, revalidation, declarations, single flight, offline, upstream tokens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::testing::{
    TestEngine, TextPlugin, Upstream, index, index_view, refused_url, reply, request,
};
use super::{CachedDocument, ProxyConfig, ProxyError, ProxyOwner, UpstreamCredentials};

const BASE: &str = "http://wharf.test/proxy";

async fn fetch(
    t: &TestEngine,
    proxy: &ProxyOwner,
    plugin: &TextPlugin,
    name: &str,
) -> Result<CachedDocument, ProxyError> {
    t.engine
        .document(proxy, plugin, &index(name), &request(BASE))
        .await
}

fn body(doc: &CachedDocument) -> String {
    String::from_utf8_lossy(&doc.document.body).into_owned()
}

fn config(upstreams: &[&str]) -> ProxyConfig {
    super::config::with_upstreams("text", upstreams.iter().map(|u| u.to_string()).collect())
}

#[tokio::test]
async fn a_refused_or_failing_upstream_passes_the_request_to_the_next() {
    let failing = Upstream::start(|_| reply(503, &[], "busy")).await;
    let good = Upstream::start(|_| reply(200, &[], "hello")).await;
    let refused = refused_url().await;
    let t = TestEngine::new();
    let proxy = t.proxy(config(&[&refused, &failing.url, &good.url]));
    let doc = fetch(&t, &proxy, &TextPlugin::default(), "app")
        .await
        .unwrap();
    assert_eq!(body(&doc), format!("{BASE}|hello"));
    assert!(!doc.stale);
    assert_eq!(
        (failing.seen(), good.seen()),
        (vec!["GET /app".to_string()], vec!["GET /app".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_does_not_answer_in_time_passes_the_request_on() {
    let silent = Upstream::start(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        reply(200, &[], "late")
    })
    .await;
    let good = Upstream::start(|_| reply(200, &[], "hello")).await;
    let mut t = TestEngine::new();
    t.engine.upstreams = Arc::new(super::upstream::Upstreams::with_timeouts(
        Duration::from_millis(200),
        Duration::from_millis(200),
    ));
    let proxy = t.proxy(config(&[&silent.url, &good.url]));
    let doc = fetch(&t, &proxy, &TextPlugin::default(), "app")
        .await
        .unwrap();
    assert_eq!(body(&doc), format!("{BASE}|hello"));
    assert_eq!(silent.hits(), 1);
}

#[tokio::test]
async fn a_404_is_remembered_for_the_negative_ttl_and_a_failure_is_not() {
    let gone = Upstream::start(|_| reply(404, &[], "no")).await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&gone.url]));
    for _ in 0..2 {
        let e = fetch(&t, &proxy, &plugin, "app").await.unwrap_err();
        assert!(matches!(e, ProxyError::NotFound(_)), "{e:?}");
    }
    assert_eq!(gone.hits(), 1, "the second 404 came from the cache");
    t.advance(61);
    assert!(fetch(&t, &proxy, &plugin, "app").await.is_err());
    assert_eq!(gone.hits(), 2, "asked again after negative_ttl");

    let failing = Upstream::start(|_| reply(503, &[], "busy")).await;
    let proxy = t.proxy(config(&[&failing.url]));
    for _ in 0..2 {
        let e = fetch(&t, &proxy, &plugin, "other").await.unwrap_err();
        assert_eq!(e.status(), 502, "{e:?}");
    }
    assert_eq!(failing.hits(), 2, "a 503 is never remembered as a 404");
}

#[tokio::test]
async fn a_cached_document_is_served_stale_when_the_upstream_dies() {
    let up = Upstream::start(|_| reply(200, &[("etag", "\"v1\"")], "hello")).await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    drop(up);
    let fresh = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert!(!fresh.stale, "within metadata_ttl nothing is asked");
    t.advance(301);
    let stale = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert!(stale.stale);
    assert_eq!(body(&stale), format!("{BASE}|hello"));
}

#[tokio::test]
async fn a_stale_document_is_revalidated_with_its_etag() {
    let up = Upstream::start(|parts| {
        match parts
            .headers
            .get("if-none-match")
            .map(|v| v.to_str().unwrap())
        {
            Some("\"v1\"") => reply(304, &[], ""),
            _ => reply(
                200,
                &[("etag", "\"v1\""), ("content-type", "text/x")],
                "hello",
            ),
        }
    })
    .await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    t.advance(301);
    let again = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert!(!again.stale);
    assert_eq!(body(&again), format!("{BASE}|hello"));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(up.hits(), 2, "the 304 made the document fresh again");
    assert_eq!(plugin.rewrites.load(Ordering::SeqCst), 1, "rewritten once");
    // Another mount's base URL is a new rewriting of the same raw document.
    let other = t
        .engine
        .document(&proxy, &plugin, &index("app"), &request("https://other/p"))
        .await
        .unwrap();
    assert_eq!(body(&other), "https://other/p|hello");
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn a_document_without_an_etag_is_revalidated_by_its_date() {
    const DATE: &str = "Wed, 02 Dec 2026 10:00:00 GMT";
    let up = Upstream::start(|parts| {
        match parts
            .headers
            .get("if-modified-since")
            .map(|v| v.to_str().unwrap())
        {
            Some(DATE) => reply(304, &[], ""),
            _ => reply(200, &[("last-modified", DATE)], "hello"),
        }
    })
    .await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    t.advance(301);
    let again = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(body(&again), format!("{BASE}|hello"));
    t.advance(299);
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(up.hits(), 2, "the 304 restarted metadata_ttl");
}

// Guards the memory cache's key: one raw body rewritten for two views stays two
// rewritings.
#[tokio::test]
async fn each_view_of_one_upstream_document_is_rewritten_for_itself() {
    let up = Upstream::start(|_| reply(200, &[], "hello")).await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    let other = t
        .engine
        .document(&proxy, &plugin, &index_view("app", "short"), &request(BASE))
        .await
        .unwrap();
    assert_eq!(body(&other), format!("{BASE}|short|hello"));
}

#[tokio::test]
async fn a_head_validator_revalidates_without_fetching_the_body() {
    let digest = Arc::new(Mutex::new("d1".to_string()));
    let current = digest.clone();
    let up = Upstream::start(move |_parts| {
        let d = current.lock().unwrap().clone();
        let status = if d == "gone" { 404 } else { 200 };
        reply(status, &[("x-digest", &d)], format!("body {d}"))
    })
    .await;
    let t = TestEngine::new();
    let plugin = TextPlugin {
        head_validator: Some("x-digest".into()),
        ..TextPlugin::default()
    };
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    t.advance(301);
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(up.seen(), ["GET /app", "HEAD /app"]);
    *digest.lock().unwrap() = "d2".into();
    t.advance(301);
    let changed = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(up.seen()[2..], ["HEAD /app", "GET /app"]);
    assert_eq!(body(&changed), format!("{BASE}|body d2"));
    *digest.lock().unwrap() = "gone".into();
    t.advance(301);
    let gone = fetch(&t, &proxy, &plugin, "app").await.unwrap_err();
    assert_eq!(
        gone.status(),
        404,
        "a HEAD answering 404 is remembered as one"
    );
}

#[tokio::test]
async fn what_the_upstream_drops_is_dropped_after_revalidation() {
    let versions = Arc::new(Mutex::new(
        "file a.tgz 1.0 /a.tgz\nfile b.tgz 2.0 /b.tgz".to_string(),
    ));
    let current = versions.clone();
    let up = Upstream::start(move |_| reply(200, &[], current.lock().unwrap().clone())).await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    fetch(&t, &proxy, &plugin, "app").await.unwrap();
    // Declarations belong to the document that declares them.
    let document = super::key::operation_key(&index("app")).unwrap();
    let declared = |file: &str| {
        t.db.read_now(|c| crate::db::proxy::declaration(c, t.owner_id, &document, file))
            .unwrap()
    };
    assert_eq!(declared("a.tgz").unwrap().url, format!("{}/a.tgz", up.url));
    *versions.lock().unwrap() = "file b.tgz 2.0 /b.tgz".into();
    t.advance(301);
    let doc = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert!(!body(&doc).contains("a.tgz"));
    assert_eq!(declared("a.tgz"), None);
    assert!(declared("b.tgz").is_some());
}

#[tokio::test]
async fn concurrent_misses_of_one_document_make_one_upstream_request() {
    let up = Upstream::start(|_| {
        std::thread::sleep(Duration::from_millis(100));
        reply(200, &[], "hello")
    })
    .await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[&up.url]));
    let all =
        futures_util::future::join_all((0..20).map(|_| fetch(&t, &proxy, &plugin, "app"))).await;
    assert!(
        all.iter()
            .all(|d| d.as_ref().is_ok_and(|d| body(d) == format!("{BASE}|hello")))
    );
    assert_eq!(up.hits(), 1);
    assert_eq!(plugin.plans.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn offline_serves_only_the_cache_and_never_asks_upstream() {
    let up = Upstream::start(|_| reply(200, &[], "hello")).await;
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    fetch(&t, &t.proxy(config(&[&up.url])), &plugin, "app")
        .await
        .unwrap();
    let mut offline = config(&[&up.url]);
    offline.offline = true;
    let offline = t.proxy(offline);
    t.advance(10_000);
    let cached = fetch(&t, &offline, &plugin, "app").await.unwrap();
    assert_eq!(body(&cached), format!("{BASE}|hello"));
    let missing = fetch(&t, &offline, &plugin, "other").await.unwrap_err();
    assert_eq!(missing.status(), 404);
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn a_bearer_challenge_is_answered_with_a_token_from_its_realm() {
    let own_url = Arc::new(OnceLock::<String>::new());
    let token_auth = Arc::new(Mutex::new(None::<String>));
    let tokens = Arc::new(AtomicUsize::new(0));
    let (url, seen_auth, issued) = (own_url.clone(), token_auth.clone(), tokens.clone());
    let up = Upstream::start(move |parts| {
        let auth = parts
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string());
        if parts.uri.path() == "/token" {
            assert_eq!(
                parts.uri.query(),
                Some("service=svc&scope=repo%3Aapp%3Apull")
            );
            *seen_auth.lock().unwrap() = auth;
            issued.fetch_add(1, Ordering::SeqCst);
            return reply(200, &[], r#"{"token":"t1","expires_in":300}"#);
        }
        if auth.as_deref() == Some("Bearer t1") {
            return reply(200, &[], "secret");
        }
        let challenge = format!(
            r#"Bearer realm="{}/token",service="svc",scope="repo:app:pull""#,
            url.get().unwrap()
        );
        reply(401, &[("www-authenticate", &challenge)], "")
    })
    .await;
    own_url.set(up.url.clone()).unwrap();
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let mut with_login = config(&[&up.url]);
    with_login.credentials = Some(UpstreamCredentials::Basic {
        username: "u".into(),
        password: "p".into(),
    });
    let proxy = t.proxy(with_login);
    let doc = fetch(&t, &proxy, &plugin, "app").await.unwrap();
    assert_eq!(body(&doc), format!("{BASE}|secret"));
    assert_eq!(
        token_auth.lock().unwrap().as_deref(),
        Some("Basic dTpw"),
        "the realm got the configured login"
    );
    // The next document below the same path carries the kept token at once.
    fetch(&t, &proxy, &plugin, "other").await.unwrap();
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
    assert_eq!(
        up.seen()[1..],
        [
            "GET /token?service=svc&scope=repo%3Aapp%3Apull",
            "GET /app",
            "GET /other"
        ]
    );
}

// Guards the executor's use: its handlers' futures must be Send, so the engine's are.
#[test]
fn the_engines_futures_can_move_between_threads() {
    fn send<T: Send>(_: T) {}
    let t = TestEngine::new();
    let plugin = TextPlugin::default();
    let proxy = t.proxy(config(&[]));
    let client = request(BASE);
    send(t.engine.document(&proxy, &plugin, &index("app"), &client));
    let op = super::testing::serve("app", "1.0", "app.tgz");
    send(t.engine.artifact(&proxy, &plugin, &op, &client));
}
