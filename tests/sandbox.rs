//! A plugin that traps, loops forever or allocates without bound fails only the
//! request that triggered it, with a clear 500; the server keeps serving, and the same
//! plugin answers the next request from a fresh instance.

use std::time::{Duration, Instant};

use wharf_tests::{StatusCode, TestServer, client};

const TRAP: &str = env!("WHARF_TEST_TRAP_WASM");
const SPIN: &str = env!("WHARF_TEST_SPIN_WASM");
const HOG: &str = env!("WHARF_TEST_HOG_WASM");

fn server() -> TestServer {
    TestServer::builder()
        .plugin("trap", "/api/packages/{owner}/trap", TRAP)
        .plugin("spin", "/api/packages/{owner}/spin", SPIN)
        .plugin("hog", "/api/packages/{owner}/hog", HOG)
        .plugin_time_ms(300)
        .plugin_memory(32 << 20)
        .start()
}

fn get(server: &TestServer, format: &str, path: &str) -> (StatusCode, String) {
    let res = client()
        .get(format!("{}/api/packages/admin/{format}{path}", server.url))
        .send()
        .unwrap();
    (res.status(), res.text().unwrap())
}

fn assert_fails_then_recovers(server: &TestServer, format: &str) {
    let (status, body) = get(server, format, "/boom");
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{format}: {body}"
    );
    assert!(
        body.contains(&format!("the {format} plugin failed")),
        "{format}: {body}"
    );
    assert_eq!(
        get(server, format, "/ok"),
        (StatusCode::OK, "ok".to_string()),
        "{format} recovers"
    );
    // The bundled format is unaffected.
    assert_eq!(
        get(server, "generic", "/missing/1/file").0,
        StatusCode::NOT_FOUND
    );
}

/// A package page's plugin part fails like any call when its plugin traps, spins or
/// runs out of memory: `describe_package` answers a plugin failure the page shows as
/// "not available" (issue 23), and the plugin still serves the next request.
#[test]
fn a_misbehaving_pages_plugin_fails_the_description_only() {
    use wharf::db::{owners, packages};
    let server = server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for format in ["trap", "spin", "hog"] {
        // The fixtures take no uploads: the package is stored directly.
        server
            .registry
            .db
            .write_sync(|tx| {
                let admin = owners::by_name(tx, "admin")?.expect("the admin exists");
                let package = packages::ensure(tx, admin.id, format, "paged")?;
                packages::insert_version(tx, package, "1.0", "{}", None).map(|_| ())
            })
            .unwrap();
        let described = runtime.block_on(server.registry.describe_package(
            "admin",
            format,
            "paged",
            None,
            &server.url,
        ));
        assert!(
            matches!(
                described,
                Err(wharf::error::Error::Plugin(
                    wharf::plugins::PluginFailure::Crashed { .. }
                ))
            ),
            "{format}: {described:?}"
        );
        assert_eq!(get(&server, format, "/ok"), (StatusCode::OK, "ok".into()));
    }
}

#[test]
fn a_trapping_plugin_fails_one_request() {
    let server = server();
    assert_fails_then_recovers(&server, "trap");
}

#[test]
fn an_endless_loop_is_interrupted_at_the_time_limit() {
    let server = server();
    let started = Instant::now();
    assert_fails_then_recovers(&server, "spin");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// A plugin blocked in a WASI wait (a sleep) would run no wasm, so epoch ticks would
/// never reach it: clock subscriptions trap instead, in routing (on the executor) and
/// in `parse-upload` (on a blocking thread) alike, and the format keeps serving.
#[test]
fn a_plugin_that_sleeps_fails_at_once() {
    let server = server();
    let started = Instant::now();
    let (status, body) = get(&server, "spin", "/sleep");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.contains("the spin plugin failed"), "{body}");
    let upload = client()
        .put(format!("{}/api/packages/admin/spin/upload", server.url))
        .bearer_auth(&server.admin_token)
        .body("bytes")
        .send()
        .unwrap();
    assert_eq!(upload.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        get(&server, "spin", "/ok"),
        (StatusCode::OK, "ok".to_string())
    );
    assert_eq!(server.temp_files(), 0, "the refused upload leaves nothing");
}

/// Routing runs on the server's async workers (two in tests). Plugins spinning in
/// `match-route` on more requests than there are workers must still leave room for
/// other requests: they yield at every epoch tick. Were they to hold their workers, the
/// GET below would wait for the first spinner to hit its time limit.
#[test]
fn a_spinning_router_does_not_hold_up_other_requests() {
    let server = server();
    let spinners_done = std::sync::Mutex::new(Vec::new());
    let other_done = std::thread::scope(|s| {
        for _ in 0..6 {
            let (server, spinners_done) = (&server, &spinners_done);
            s.spawn(move || {
                let (status, _) = get(server, "spin", "/boom");
                spinners_done.lock().unwrap().push(Instant::now());
                assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            get(&server, "generic", "/missing/1/file").0,
            StatusCode::NOT_FOUND
        );
        Instant::now()
    });
    let first_spinner = spinners_done
        .into_inner()
        .unwrap()
        .into_iter()
        .min()
        .unwrap();
    assert!(
        other_done < first_spinner,
        "the other request waited for a spinning plugin ({:?} after it)",
        other_done - first_spinner
    );
}

/// Each format has its own share of plugin instances (`formats.NAME.max_concurrent`):
/// a flood of requests to a plugin that spins takes the spinning format's slots only.
/// Its excess is refused at once, while the spinners still run, with 503 and
/// `Retry-After` in the format's error shape; other formats keep answering meanwhile.
#[test]
fn a_flooded_format_refuses_its_excess_and_the_others_keep_serving() {
    const SHARE: usize = 4;
    const FLOOD: usize = 24;
    let server = TestServer::builder()
        .plugin("spin", "/api/packages/{owner}/spin", SPIN)
        .plugin_time_ms(2000)
        .format_max_concurrent("spin", SHARE as u32)
        .start();
    let answers = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..FLOOD {
            let (server, answers) = (&server, &answers);
            s.spawn(move || {
                let res = client()
                    .get(format!("{}/api/packages/admin/spin/boom", server.url))
                    .send()
                    .unwrap();
                let retry_after = res.headers().get("retry-after").cloned();
                let status = res.status();
                let body = res.text().unwrap();
                answers
                    .lock()
                    .unwrap()
                    .push((status, retry_after, body, Instant::now()));
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        // Meanwhile another plugin's format answers, and at once.
        let started = Instant::now();
        let search = client()
            .get(format!("{}/api/packages/admin/nuget/query?q=x", server.url))
            .send()
            .unwrap();
        assert_eq!(search.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    });
    let answers = answers.into_inner().unwrap();
    let spun: Vec<_> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::INTERNAL_SERVER_ERROR)
        .collect();
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!((spun.len(), refused.len()), (SHARE, FLOOD - SHARE));
    let first_spinner_done = spun.iter().map(|a| a.3).min().unwrap();
    for (_, retry_after, body, at) in refused {
        assert_eq!(retry_after.as_ref().unwrap(), "2");
        assert!(body.contains("the spin format is busy"), "{body}");
        assert!(
            *at < first_spinner_done,
            "refused only after a spinner ended"
        );
    }
    // Once the spinners are done, the format serves again.
    assert_eq!(
        get(&server, "spin", "/ok"),
        (StatusCode::OK, "ok".to_string())
    );
}

#[test]
fn a_memory_hog_is_stopped_at_its_cap() {
    let server = server();
    assert_fails_then_recovers(&server, "hog");
}

/// Plugins cannot read the time or draw fresh randomness: the clock says 1970 and the
/// random source repeats, so every call with the same input gives the same answer.
#[test]
fn plugins_see_a_stopped_clock_and_a_fixed_random_source() {
    let server = server();
    let (status, first) = get(&server, "trap", "/ambient");
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first.starts_with("0 "), "the clock moved: {first}");
    for format in ["trap", "spin", "hog"] {
        assert_eq!(
            get(&server, format, "/ambient"),
            (StatusCode::OK, first.clone())
        );
    }
}

#[test]
fn misbehaving_plugins_in_parallel_do_not_take_the_server_down() {
    let server = server();
    std::thread::scope(|s| {
        for format in ["trap", "spin", "hog", "trap", "spin", "hog"] {
            let server = &server;
            s.spawn(move || {
                assert_eq!(
                    get(server, format, "/boom").0,
                    StatusCode::INTERNAL_SERVER_ERROR
                )
            });
        }
    });
    for format in ["trap", "spin", "hog"] {
        assert_eq!(get(&server, format, "/ok").0, StatusCode::OK);
    }
}

#[test]
fn a_plugin_under_the_wrong_name_is_refused_at_startup() {
    let mut config = wharf::Config::default();
    let dir = tempfile::tempdir().unwrap();
    config.storage.data_dir = dir.path().to_path_buf();
    config.formats.insert(
        "notspin".into(),
        wharf::config::FormatConfig {
            enabled: true,
            mount: "/x/{owner}/notspin".into(),
            plugin: wharf::config::PluginSource::Path(SPIN.into()),
            max_upload: None,
            max_concurrent: None,
            settings: Default::default(),
        },
    );
    let err = wharf::Registry::open(config).err().expect("refused");
    assert!(
        format!("{err:#}").contains("describes itself as \"spin\""),
        "{err:#}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.wasm");
    std::fs::write(&fake, b"\0asm not really").unwrap();
    let mut config = wharf::Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.formats.insert(
        "fake".into(),
        wharf::config::FormatConfig {
            enabled: true,
            mount: "/x/{owner}/fake".into(),
            plugin: wharf::config::PluginSource::Path(fake),
            max_upload: None,
            max_concurrent: None,
            settings: Default::default(),
        },
    );
    let err = wharf::Registry::open(config).err().expect("refused");
    assert!(
        format!("{err:#}").contains("not a valid WebAssembly component"),
        "{err:#}"
    );
}
