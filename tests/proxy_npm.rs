//! npm proxy and group repositories (issue 21) with the real npm, pnpm and yarn, against
//! real upstreams on 127.0.0.1: one Verdaccio shared by every test here (its fixture
//! packages are published once), or a second Wharf. Each test has its own Wharf and its
//! own counting proxy in front of the upstream, so counts and caches never mix.

use std::path::Path;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use wharf::db::tokens::Scope;
use wharf_tests::counting_proxy::CountingProxy;
use wharf_tests::npm::{NpmEnv, installed_version};
use wharf_tests::verdaccio::Verdaccio;
use wharf_tests::{StatusCode, TestServer, client, repositories, require_tool, run, said};

/// The proxy and the group every Wharf here serves.
const PROXY: &str = "npm-public";
const GROUP: &str = "npm-all";

/// The Verdaccio all tests share, with the fixtures published, or `None` (reason
/// printed) when a client is missing outside CI. It dies with the test process.
fn upstream() -> Option<&'static Verdaccio> {
    static SHARED: OnceLock<Option<Verdaccio>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let verdaccio = Verdaccio::start()?;
            publish_fixtures(&verdaccio);
            Some(verdaccio)
        })
        .as_ref()
}

/// `up-lib@1.0.0` (requires `up-dep@^1.0.0`), `internal-lib@2.0.0` (the name acme
/// also has, lower), and `blob-lib`, whose 1 MiB tarball tests fetch by hand.
fn publish_fixtures(verdaccio: &Verdaccio) {
    verdaccio.publish(json!({ "name": "up-dep", "version": "1.0.0" }), &[]);
    verdaccio.publish(
        json!({ "name": "up-lib", "version": "1.0.0", "dependencies": { "up-dep": "^1.0.0" } }),
        &[(
            "index.js",
            b"module.exports = \"up-lib@1.0.0 with \" + require(\"up-dep\");\n",
        )],
    );
    verdaccio.publish(json!({ "name": "internal-lib", "version": "2.0.0" }), &[]);
    verdaccio.publish(
        json!({ "name": "blob-lib", "version": "1.0.0" }),
        &[("data.bin", &incompressible(1 << 20, "blob-lib"))],
    );
}

/// `len` bytes gzip cannot shrink (a SHA-256 chain), so a tarball is about as large.
fn incompressible(len: usize, seed: &str) -> Vec<u8> {
    let mut block = Sha256::digest(seed.as_bytes());
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

/// The `registry.toml` of a Wharf proxying `upstream` as `npm-public` (with
/// `proxy_options`) and grouping hosted `acme` before it as `npm-all`.
fn config(upstream: &str, proxy_options: &[&str]) -> String {
    repositories::proxy(PROXY, "npm", &[upstream], proxy_options)
        + &repositories::group(GROUP, "npm", &["acme", PROXY], &[])
}

/// A Wharf (with user acme) proxying `upstream`.
fn wharf(upstream: &str, proxy_options: &[&str]) -> TestServer {
    TestServer::builder()
        .user("acme")
        .toml(config(upstream, proxy_options))
        .start()
}

/// What `node -e` printed for `script`, run in `project`.
fn node(env: &NpmEnv, project: &Path, script: &str) -> String {
    let out = env.run("node", project, &["-e", script]);
    assert!(out.status.success(), "node -e {script:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The `sha512-…` integrity npm declares for `bytes`.
fn integrity(bytes: &[u8]) -> String {
    format!("sha512-{}", STANDARD.encode(Sha512::digest(bytes)))
}

/// A tarball as Verdaccio serves it, and the integrity its packument declares.
fn upstream_tarball(verdaccio: &Verdaccio, name: &str) -> (Vec<u8>, String) {
    let packument = verdaccio.packument(name);
    let declared = packument["versions"]["1.0.0"]["dist"]["integrity"]
        .as_str()
        .unwrap()
        .to_string();
    let res = client()
        .get(format!("{}{name}/-/{name}-1.0.0.tgz", verdaccio.url))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().unwrap().to_vec();
    assert_eq!(integrity(&bytes), declared, "Verdaccio's own tarball");
    (bytes, declared)
}

/// The tarball URL of `name@1.0.0` in the proxy's packument (read through Wharf, as a
/// client would before fetching it); it must point back at the proxy.
fn proxied_tarball_url(server: &TestServer, name: &str) -> String {
    let res = client()
        .get(format!("{}{name}", server.npm_registry(PROXY)))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "packument of {name}");
    let packument: Value = res.json().unwrap();
    let url = packument["versions"]["1.0.0"]["dist"]["tarball"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with(&server.npm_registry(PROXY)), "{url}");
    url
}

/// Which tarball `package-lock.json` resolved `name` to.
fn resolved(project: &Path, name: &str) -> String {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("package-lock.json")).unwrap())
            .unwrap();
    lock["packages"][format!("node_modules/{name}")]["resolved"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The pieces below work without the proxy: Verdaccio starts with the fixtures and
/// npm installs from it, the counting proxy counts, rewrites, corrupts, delays and
/// stops, and a second Wharf runs beside a first, reopening a data dir on its address.
#[test]
fn harness_upstreams_count_corrupt_and_stop() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let mut counting = CountingProxy::start(&verdaccio.url);
    let through = format!("{}/", counting.url);

    // npm installs up-lib with its dependency from Verdaccio, through the counter.
    let env = NpmEnv::for_registry(&through, None);
    let project = env.project("direct");
    env.npm(&project, &["install", "up-lib"]);
    assert_eq!(installed_version(&project, "up-dep"), "1.0.0");
    assert_eq!(
        node(&env, &project, "console.log(require('up-lib'))"),
        "up-lib@1.0.0 with up-dep@1.0.0"
    );
    assert!(
        resolved(&project, "up-lib").starts_with(&through),
        "rewritten tarball URL"
    );
    assert_eq!(counting.count("/up-lib-1.0.0.tgz"), 1);
    assert_eq!(counting.count("/up-dep-1.0.0.tgz"), 1);
    assert_eq!(counting.count("/up-lib"), 1, "{:?}", counting.requests());

    // Corruption flips one byte, keeping the length; healing serves the bytes again.
    let (good, declared) = upstream_tarball(verdaccio, "blob-lib");
    let url = format!("{through}blob-lib/-/blob-lib-1.0.0.tgz");
    counting.corrupt("/blob-lib-1.0.0.tgz");
    let bad = client().get(&url).send().unwrap().bytes().unwrap();
    assert_eq!(bad.len(), good.len());
    assert_ne!(integrity(&bad), declared);
    counting.heal();
    let healed = client().get(&url).send().unwrap().bytes().unwrap();
    assert!(healed == good, "healed bytes differ");

    // A delay holds the response.
    counting.delay("/blob-lib-1.0.0.tgz", Duration::from_millis(300));
    let started = Instant::now();
    assert!(client().get(&url).send().unwrap().status().is_success());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(counting.count("/blob-lib-1.0.0.tgz"), 3);

    // Stopped, it refuses connections.
    counting.stop();
    assert!(client().get(&url).send().is_err(), "stopped proxy answered");

    // A second Wharf as an upstream beside a first, each with its own data dir.
    let upstream_wharf = wharf_with_w_lib();
    let data = tempfile::tempdir().unwrap();
    let first = TestServer::builder()
        .user("acme")
        .data_dir(data.path())
        .toml("[limits]\nplugin_time_ms = 20000\n")
        .start();
    assert_ne!(first.url, upstream_wharf.url);
    let acme = first.token("acme", Scope::Write, None);
    NpmEnv::new(&first, "acme", Some(&acme))
        .publish(json!({ "name": "kept", "version": "1.0.0" }), &[]);
    let installer = NpmEnv::new(&upstream_wharf, "alice", None);
    let project = installer.project("from-second-wharf");
    installer.npm(&project, &["install", "w-lib"]);
    assert_eq!(installed_version(&project, "w-dep"), "1.0.0");
    // Reopened on the same data dir and address, with another configuration.
    let addr = first.addr;
    drop(first);
    let second = TestServer::builder()
        .data_dir(data.path())
        .listen(addr)
        .start();
    assert_eq!(second.addr, addr);
    let kept = client()
        .get(format!("{}kept", second.npm_registry("acme")))
        .send()
        .unwrap();
    assert_eq!(kept.status(), StatusCode::OK);
}

/// A Wharf whose user alice has `w-lib@1.0.0`, requiring `w-dep@^1.0.0` (1.0.0).
fn wharf_with_w_lib() -> TestServer {
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let alice = NpmEnv::new(&server, "alice", Some(&token));
    alice.publish(json!({ "name": "w-dep", "version": "1.0.0" }), &[]);
    alice.publish(
        json!({ "name": "w-lib", "version": "1.0.0", "dependencies": { "w-dep": "^1.0.0" } }),
        &[(
            "index.js",
            b"module.exports = \"w-lib@1.0.0 with \" + require(\"w-dep\");\n",
        )],
    );
    server
}

/// (i) A package that exists only upstream installs with its dependency, and every
/// tarball npm fetched came from the proxy, once from the upstream.
#[test]
fn npm_installs_an_upstream_package_through_a_proxy() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &[]);
    let env = NpmEnv::for_registry(&server.npm_registry(PROXY), None);
    let project = env.project("consumer");
    env.npm(&project, &["install", "up-lib"]);
    assert_eq!(installed_version(&project, "up-lib"), "1.0.0");
    assert_eq!(installed_version(&project, "up-dep"), "1.0.0");
    assert_eq!(
        node(&env, &project, "console.log(require('up-lib'))"),
        "up-lib@1.0.0 with up-dep@1.0.0"
    );
    for name in ["up-lib", "up-dep"] {
        let url = resolved(&project, name);
        assert!(
            url.starts_with(&server.npm_registry(PROXY)),
            "{name}: {url}"
        );
        assert_eq!(counting.count(&format!("/{name}-1.0.0.tgz")), 1);
    }

    // A second project (fresh npm cache) is served from Wharf's cache.
    std::fs::remove_dir_all(env.home().join("cache")).ok();
    let again = env.project("again");
    env.npm(&again, &["install", "up-lib"]);
    assert_eq!(counting.count(".tgz"), 2, "{:?}", counting.requests());
}

/// (ii) pnpm and yarn do the same through the proxy.
#[test]
fn pnpm_and_yarn_install_an_upstream_package_through_a_proxy() {
    if !require_tool("pnpm") || !require_tool("yarn") {
        return;
    }
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &[]);
    let env = NpmEnv::for_registry(&server.npm_registry(PROXY), None);

    let project = env.project("with-pnpm");
    // pnpm holds back versions younger than a day by default; these are seconds old.
    std::fs::write(
        project.join("pnpm-workspace.yaml"),
        "minimumReleaseAge: 0\n",
    )
    .unwrap();
    let out = env.run("pnpm", &project, &["add", "up-lib", "--ignore-scripts"]);
    assert!(out.status.success(), "pnpm add failed");
    assert_eq!(installed_version(&project, "up-lib"), "1.0.0");
    let lock = std::fs::read_to_string(project.join("pnpm-lock.yaml")).unwrap();
    assert!(lock.contains("up-dep@1.0.0"), "{lock}");
    assert_eq!(
        node(&env, &project, "console.log(require('up-lib'))"),
        "up-lib@1.0.0 with up-dep@1.0.0"
    );

    let project = env.project("with-yarn");
    let out = env.run(
        "yarn",
        &project,
        &["add", "up-lib", "--ignore-scripts", "--non-interactive"],
    );
    assert!(out.status.success(), "yarn add failed");
    assert_eq!(installed_version(&project, "up-dep"), "1.0.0");
    let lock = std::fs::read_to_string(project.join("yarn.lock")).unwrap();
    assert!(lock.contains(&server.npm_registry(PROXY)), "{lock}");
    assert_eq!(
        node(&env, &project, "console.log(require('up-lib'))"),
        "up-lib@1.0.0 with up-dep@1.0.0"
    );
}

/// (iii) One project, one registry URL: a hosted scoped package of acme (which itself
/// requires an upstream package) and an upstream package, through the group.
#[test]
fn npm_installs_hosted_and_upstream_packages_through_a_group() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &[]);
    let acme = server.token("acme", Scope::Write, None);
    NpmEnv::new(&server, "acme", Some(&acme)).publish(
        json!({ "name": "@acme/internal", "version": "1.0.0",
                "dependencies": { "up-dep": "^1.0.0" } }),
        &[(
            "index.js",
            b"module.exports = \"@acme/internal with \" + require(\"up-dep\");\n",
        )],
    );

    let env = NpmEnv::for_registry(&server.npm_registry(GROUP), None);
    let project = env.project("mixed");
    env.npm(&project, &["install", "@acme/internal", "up-lib"]);
    assert_eq!(installed_version(&project, "@acme/internal"), "1.0.0");
    assert_eq!(installed_version(&project, "up-lib"), "1.0.0");
    assert_eq!(
        node(
            &env,
            &project,
            "console.log(require('@acme/internal') + ' / ' + require('up-lib'))"
        ),
        "@acme/internal with up-dep@1.0.0 / up-lib@1.0.0 with up-dep@1.0.0"
    );
}

/// (iv) With the upstream down (connections refused) and the metadata stale, a fresh
/// npm (empty cache) installs what a first install cached.
#[test]
fn npm_installs_from_the_cache_while_the_upstream_is_down() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let mut counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &["metadata_ttl = \"1s\""]);
    let env = NpmEnv::for_registry(&server.npm_registry(PROXY), None);
    env.npm(&env.project("warm"), &["install", "up-lib"]);

    counting.stop();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::remove_dir_all(env.home().join("cache")).unwrap();
    let project = env.project("during-outage");
    env.npm(&project, &["install", "up-lib"]);
    assert_eq!(
        node(&env, &project, "console.log(require('up-lib'))"),
        "up-lib@1.0.0 with up-dep@1.0.0"
    );
}

/// (v) `offline = true`: a server reopened on a warm cache as offline installs from it
/// and never contacts the upstream, not even for what it does not have.
#[test]
fn an_offline_proxy_never_contacts_its_upstream() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let upstream_url = format!("{}/", counting.url);
    let data = tempfile::tempdir().unwrap();
    let online = TestServer::builder()
        .user("acme")
        .data_dir(data.path())
        .toml(config(&upstream_url, &[]))
        .start();
    let addr = online.addr;
    let env = NpmEnv::for_registry(&online.npm_registry(PROXY), None);
    env.npm(&env.project("warm"), &["install", "up-lib"]);
    drop(online);
    let before = counting.requests().len();
    assert!(before > 0);

    let offline = TestServer::builder()
        .data_dir(data.path())
        .listen(addr)
        .toml(config(&upstream_url, &["offline = true"]))
        .start();
    std::fs::remove_dir_all(env.home().join("cache")).unwrap();
    let project = env.project("offline");
    env.npm(&project, &["install", "up-lib"]);
    assert_eq!(installed_version(&project, "up-dep"), "1.0.0");
    // npm would retry a 5xx for over a minute; one answer is enough here.
    let mut missing = env.command("npm", &project);
    missing
        .args(["install", "internal-lib"])
        .env("npm_config_fetch_retries", "0");
    let missing = run(missing, "npm install internal-lib");
    assert!(
        !missing.status.success(),
        "an uncached package installed offline"
    );
    let packument = client()
        .get(format!("{}blob-lib", offline.npm_registry(PROXY)))
        .send()
        .unwrap();
    assert!(!packument.status().is_success());
    assert_eq!(
        counting.requests()[before..],
        [] as [String; 0],
        "an offline proxy contacted its upstream"
    );
}

/// (vi) 50 concurrent requests for one uncached tarball: one upstream request, 50
/// identical bodies with the upstream's sha512.
#[test]
fn concurrent_misses_for_one_tarball_make_one_upstream_request() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    // The upstream answers slowly, so every request arrives while the first is a miss.
    counting.delay("/blob-lib-1.0.0.tgz", Duration::from_millis(500));
    let server = wharf(&format!("{}/", counting.url), &[]);
    let (_, declared) = upstream_tarball(verdaccio, "blob-lib");
    let url = proxied_tarball_url(&server, "blob-lib");

    let barrier = Barrier::new(50);
    let bodies: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                scope.spawn(|| {
                    let http = client();
                    barrier.wait();
                    let res = http.get(&url).send().unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                    res.bytes().unwrap().to_vec()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        counting.count("/blob-lib-1.0.0.tgz"),
        1,
        "{:?}",
        counting.requests()
    );
    assert!(bodies.iter().all(|b| b == &bodies[0]), "bodies differ");
    assert_eq!(integrity(&bodies[0]), declared);
}

/// (vii) A tarball whose bytes do not match the declared integrity is refused (the
/// transfer fails) and not cached: once the upstream serves the right bytes, the next
/// request fetches them.
#[test]
fn a_corrupted_upstream_tarball_is_refused_and_not_cached() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &[]);
    let (good, _) = upstream_tarball(verdaccio, "blob-lib");
    let url = proxied_tarball_url(&server, "blob-lib");

    counting.corrupt("/blob-lib-1.0.0.tgz");
    let res = client().get(&url).send();
    if let Ok(res) = res {
        let status = res.status();
        let body = res.bytes();
        assert!(
            status != StatusCode::OK || body.is_err(),
            "a corrupted tarball was served whole ({status})"
        );
    }
    assert_eq!(counting.count("/blob-lib-1.0.0.tgz"), 1);

    counting.heal();
    for fetches in [2, 2] {
        let res = client().get(&url).send().unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.bytes().unwrap() == good, "wrong bytes after healing");
        assert_eq!(counting.count("/blob-lib-1.0.0.tgz"), fetches);
    }
}

/// (viii) The dependency-confusion guard: acme has internal-lib 1.0.0, the upstream a
/// higher 2.0.0; through a group only acme's exists, even with the proxy listed first,
/// unless the group turns the guard off (then the first member that has it wins).
#[test]
fn a_group_serves_a_hosted_name_only_from_its_hosted_members() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let upstream_url = format!("{}/", counting.url);
    let proxy_first = [PROXY, "acme"];
    let server = TestServer::builder()
        .user("acme")
        .toml(
            config(&upstream_url, &[])
                + &repositories::group("proxy-first", "npm", &proxy_first, &[])
                + &repositories::group(
                    "unguarded",
                    "npm",
                    &proxy_first,
                    &["confusion_guard = false"],
                ),
        )
        .start();
    let acme = server.token("acme", Scope::Write, None);
    NpmEnv::new(&server, "acme", Some(&acme))
        .publish(json!({ "name": "internal-lib", "version": "1.0.0" }), &[]);

    let versions = |owner: &str| -> Vec<String> {
        let res = client()
            .get(format!("{}internal-lib", server.npm_registry(owner)))
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{owner}");
        let packument: Value = res.json().unwrap();
        packument["versions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(versions(PROXY), ["2.0.0"], "the upstream's");
    assert_eq!(versions(GROUP), ["1.0.0"]);
    assert_eq!(
        versions("proxy-first"),
        ["1.0.0"],
        "the guard beats member order"
    );
    assert_eq!(
        versions("unguarded"),
        ["2.0.0"],
        "unguarded: the first member's"
    );

    let env = NpmEnv::for_registry(&server.npm_registry(GROUP), None);
    let project = env.project("guarded");
    env.npm(&project, &["install", "internal-lib"]);
    assert_eq!(installed_version(&project, "internal-lib"), "1.0.0");
    let higher = env.run("npm", &project, &["install", "internal-lib@2.0.0"]);
    assert!(!higher.status.success(), "the upstream's 2.0.0 installed");
}

/// (ix) A publish to the proxy is refused with 405, and npm shows why.
#[test]
fn npm_publish_to_a_proxy_is_refused_with_405() {
    let Some(verdaccio) = upstream() else {
        return;
    };
    let counting = CountingProxy::start(&verdaccio.url);
    let server = wharf(&format!("{}/", counting.url), &[]);
    let env = NpmEnv::for_registry(&server.npm_registry(PROXY), Some(&server.admin_token));
    let dir = env.package(json!({ "name": "not-here", "version": "1.0.0" }));
    let out = env.run("npm", &dir, &["publish"]);
    assert!(!out.status.success(), "publish to a proxy succeeded");
    let said = said(&out);
    assert!(said.contains("405"), "{said}");
    assert!(said.contains("proxy repository"), "{said}");
    assert!(
        !counting.requests().iter().any(|r| r.starts_with("PUT")),
        "the publish reached the upstream: {:?}",
        counting.requests()
    );
}

/// (b) The upstream is another Wharf: its npm registry of alice, proxied.
#[test]
fn npm_installs_through_a_proxy_of_a_second_wharf() {
    if !require_tool("npm") {
        return;
    }
    let upstream_wharf = wharf_with_w_lib();
    let counting = CountingProxy::start(&upstream_wharf.url);
    let server = wharf(&format!("{}/api/packages/alice/npm/", counting.url), &[]);
    let env = NpmEnv::for_registry(&server.npm_registry(PROXY), None);
    let project = env.project("from-wharf");
    env.npm(&project, &["install", "w-lib"]);
    assert_eq!(
        node(&env, &project, "console.log(require('w-lib'))"),
        "w-lib@1.0.0 with w-dep@1.0.0"
    );
    assert_eq!(
        counting.count("/w-lib-1.0.0.tgz"),
        1,
        "{:?}",
        counting.requests()
    );
    assert!(resolved(&project, "w-dep").starts_with(&server.npm_registry(PROXY)));
}
