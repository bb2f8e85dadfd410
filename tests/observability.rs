//! Operating a server (issue 20): request log lines with id, client, user, format and
//! reason, JSON logs, the audit log, `/metrics` (parsed as Prometheus would, moving as
//! requests are made, behind its token) and `/healthz`/`/readyz`.
//!
//! Each server here logs into a buffer of its own: its runtime's threads use a
//! subscriber built by `wharf::logging`, as the real one is, so lines from other
//! tests' servers in the same process never mix in. (Part of the `protocol` binary.)

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use wharf::Registry;
use wharf::config::Config;
use wharf::logging::{LogFormat, MemoryLog};
use wharf_tests::{ADMIN_PASSWORD, StatusCode, client, plugin_cache_dir};

/// A running server whose log is captured.
struct Server {
    url: String,
    registry: Arc<Registry>,
    admin_token: String,
    log: MemoryLog,
    data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn start(format: LogFormat, configure: impl FnOnce(&mut Config)) -> Server {
    let data_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(plugin_cache_dir(), data_dir.path().join("plugin-cache")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut config = Config::default();
    config.server.listen = addr;
    config.server.public_url = Some(format!("http://{addr}"));
    config.server.shutdown_grace_secs = 5;
    config.storage.data_dir = data_dir.path().to_path_buf();
    configure(&mut config);
    config.validate().unwrap();

    let log = MemoryLog::default();
    let writer = log.clone();
    let filter = tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn");
    let dispatch = wharf::logging::subscriber(format, filter, false, move || writer.clone());
    let registry = Registry::open(config).unwrap();
    let admin_token =
        wharf::registry::bootstrap::ensure_admin(&registry.db, Some(ADMIN_PASSWORD.into()))
            .unwrap()
            .unwrap()
            .token;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = registry.clone();
    let thread = std::thread::spawn(move || {
        let _log = tracing::dispatcher::set_default(&dispatch);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                // The thread lives as long as the runtime; so does its default.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let stop = async move {
                let _ = rx.await;
            };
            wharf::http::serve(served, listener, stop).await.unwrap();
        });
    });
    Server {
        url: format!("http://{addr}"),
        registry,
        admin_token,
        log,
        data_dir,
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

impl Server {
    /// What the server logged so far.
    fn log(&self) -> String {
        self.log.text()
    }

    /// The logged lines containing every one of `needles`; the request line is written
    /// after the response, so this waits a little for it.
    fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        for _ in 0..100 {
            let found: Vec<String> = self
                .log()
                .lines()
                .filter(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string)
                .collect();
            if !found.is_empty() {
                return found;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("no line with {needles:?} in:\n{}", self.log());
    }

    fn put_generic(&self, path: &str, body: Vec<u8>) -> StatusCode {
        client()
            .put(format!("{}/api/packages/admin/generic/{path}", self.url))
            .header("Authorization", format!("token {}", self.admin_token))
            .body(body)
            .send()
            .unwrap()
            .status()
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        client().get(format!("{}{path}", self.url)).send().unwrap()
    }

    fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A POST to the registry-token endpoint without a form body: a 400 with a reason.
fn bad_token_request(server: &Server, request_id: Option<&str>) -> reqwest::blocking::Response {
    let mut request = client()
        .post(format!("{}/v2/token", server.url))
        .header("Content-Type", "text/plain")
        .body("grant_type=password");
    if let Some(id) = request_id {
        request = request.header("X-Request-Id", id);
    }
    request.send().unwrap()
}

const FORM_REASON: &str = "a token request by POST needs an application/x-www-form-urlencoded body";

#[test]
fn a_400_line_carries_its_reason_and_the_request_id_the_client_got() {
    let server = start(LogFormat::Text, |_| {});
    let res = bad_token_request(&server, None);
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty());
    let lines = server.lines_with(&["wharf::request", &id]);
    let line = &lines[0];
    for part in [
        "status=400",
        FORM_REASON,
        "client=\"127.0.0.1\"",
        "format=\"oci\"",
        "method=\"POST\"",
        "path=\"/v2/token\"",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains('\x1b'), "no colour off a terminal: {line:?}");

    // A sane id of the client's is kept; a forged one is replaced.
    let kept = bad_token_request(&server, Some("trace-4f2a.1"));
    assert_eq!(kept.headers()["x-request-id"], "trace-4f2a.1");
    server.lines_with(&["id=\"trace-4f2a.1\"", FORM_REASON]);
    let forged = bad_token_request(&server, Some("x\" status=200"));
    assert_ne!(forged.headers()["x-request-id"], "x\" status=200");
}

#[test]
fn json_lines_name_the_user_and_format_and_audit_events_carry_the_request() {
    let server = start(LogFormat::Json, |_| {});
    assert_eq!(
        server.put_generic("tool/1.0.0/tool.bin", b"bytes".to_vec()),
        StatusCode::CREATED
    );
    let deleted = client()
        .delete(format!(
            "{}/api/v1/packages/admin/generic/tool/1.0.0",
            server.url
        ))
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let id = deleted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // A wrong password is a failed login, and audited with the name it gave.
    let refused = client()
        .get(format!("{}/api/v1/packages/admin", server.url))
        .basic_auth("admin", Some("not-the-password"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // So is one in a token endpoint's form, where the credentials are in the body.
    let form = client()
        .post(format!("{}/v2/token", server.url))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "also-not-it"),
        ])
        .send()
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNAUTHORIZED);
    server.lines_with(&["\"path\":\"/v2/token\"", "\"status\":401"]);

    let lines: Vec<Value> = server
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let upload = lines
        .iter()
        .find(|l| l["target"] == "wharf::request" && l["method"] == "PUT")
        .expect("the upload's request line");
    assert_eq!(upload["user"], "admin", "{upload}");
    assert_eq!(upload["format"], "generic", "{upload}");
    assert_eq!(upload["status"], 201, "{upload}");
    assert!(upload["ms"].is_number(), "{upload}");

    let audit = |event: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "wharf::audit" && l["event"] == event)
            .unwrap_or_else(|| panic!("no {event} audit line in {lines:#?}"))
    };
    let delete = audit("deleted");
    assert_eq!(delete["kind"], "version", "{delete}");
    assert_eq!(delete["package"], "tool", "{delete}");
    assert_eq!(delete["version"], "1.0.0", "{delete}");
    assert_eq!(
        delete["span"]["id"],
        id.as_str(),
        "the request's span: {delete}"
    );
    assert_eq!(delete["span"]["user"], "admin", "{delete}");
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "wharf::audit" && l["event"] == "login_failed")
        .collect();
    assert_eq!(failed.len(), 2, "once per refused request: {failed:#?}");
    for line in failed {
        assert_eq!(line["user"], "admin", "{line}");
        assert_eq!(line["client"], "127.0.0.1", "{line}");
    }
    assert!(!server.log().contains("not-the-password"));
    assert!(!server.log().contains("also-not-it"));
}

/// `/metrics` parsed by a Prometheus text parser, after a strict look at every line
/// (the parser skips what it cannot read).
fn scrape(server: &Server, token: Option<&str>) -> prometheus_parse::Scrape {
    let mut request = client().get(format!("{}/metrics", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().unwrap();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
    }
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of one series (`labels` must all match), 0 if it is not there yet.
fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{metric}: {other:?}"),
        })
        .sum()
}

#[test]
fn metrics_parse_and_move_as_requests_are_made() {
    let server = start(LogFormat::Text, |_| {});
    let gets = [("format", "generic"), ("method", "GET"), ("status", "2xx")];
    let before = scrape(&server, None);
    assert_eq!(
        server.put_generic("lib/1.0.0/lib.bin", vec![7; 3000]),
        StatusCode::CREATED
    );
    for _ in 0..3 {
        let res = server.get("/api/packages/admin/generic/lib/1.0.0/lib.bin");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().unwrap().len(), 3000);
    }
    let report = wharf::registry::gc::collect(
        &server.registry,
        wharf::registry::gc::Policy {
            upload_grace: std::time::Duration::ZERO,
            orphan_grace: std::time::Duration::ZERO,
        },
        std::time::SystemTime::now(),
    )
    .unwrap();
    assert_eq!(report.blobs, 0);
    let after = scrape(&server, None);

    let moved = |metric: &str, labels: &[(&str, &str)]| {
        value(&after, metric, labels) - value(&before, metric, labels)
    };
    // Other tests' servers in this process record too: at least ours moved.
    assert!(moved("wharf_http_request_duration_seconds_count", &gets) >= 3.0);
    assert!(moved("wharf_uploaded_bytes_total", &[]) >= 3000.0);
    assert!(moved("wharf_downloaded_bytes_total", &[]) >= 9000.0);
    assert!(moved("wharf_gc_runs_total", &[]) >= 1.0);
    assert!(moved("wharf_db_write_wait_seconds_count", &[]) >= 1.0);
    let routed = [("plugin", "generic"), ("outcome", "ok")];
    assert!(moved("wharf_plugin_call_duration_seconds_count", &routed) >= 4.0);
    assert!(value(&after, "wharf_data_dir_free_bytes", &[]) > 0.0);
    let histogram = after
        .samples
        .iter()
        .find(|s| {
            s.metric == "wharf_http_request_duration_seconds"
                && gets.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        })
        .expect("the request histogram");
    assert!(
        matches!(&histogram.value, prometheus_parse::Value::Histogram(b) if b.len() > 5),
        "{histogram:?}"
    );
    assert!(
        after
            .docs
            .contains_key("wharf_plugin_call_duration_seconds")
    );
}

#[test]
fn the_metrics_token_is_enforced_and_metrics_can_be_turned_off() {
    let server = start(LogFormat::Text, |c| {
        c.metrics.token = Some("scrape-secret".to_string());
    });
    let without = server.get("/metrics");
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    let wrong = client()
        .get(format!("{}/metrics", server.url))
        .bearer_auth("scrape-secre")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    scrape(&server, Some("scrape-secret"));
    server.lines_with(&["path=\"/metrics\"", "status=401", "metrics token"]);

    let off = start(LogFormat::Text, |c| c.metrics.enabled = false);
    assert_eq!(off.get("/metrics").status(), StatusCode::NOT_FOUND);
}

#[test]
fn healthz_and_readyz_say_what_failed() {
    let server = start(LogFormat::Text, |_| {});
    let health = server.get("/healthz");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().unwrap()["status"], "ok");
    let ready = server.get("/readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    for check in ["database", "blob_store", "plugins"] {
        assert_eq!(body["checks"][check]["ok"], true, "{body}");
    }
    let loaded = body["checks"]["plugins"]["loaded"].as_array().unwrap();
    assert!(loaded.contains(&Value::from("generic")), "{body}");

    // The directory every upload is written to becomes a file: nothing can be stored.
    let staging = server.data_dir().join("tmp").join("blobs");
    std::fs::remove_dir_all(&staging).unwrap();
    std::fs::write(&staging, b"not a directory").unwrap();
    let unready = server.get("/readyz");
    assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = unready.json().unwrap();
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["checks"]["blob_store"]["ok"], false, "{body}");
    let error = body["checks"]["blob_store"]["error"].as_str().unwrap();
    assert!(error.contains("cannot write a blob"), "{body}");
    assert_eq!(body["checks"]["database"]["ok"], true, "{body}");
    // The process is alive all the same.
    assert_eq!(server.get("/healthz").status(), StatusCode::OK);
    server.lines_with(&["path=\"/readyz\"", "status=503"]);
}

#[test]
fn plugin_failures_are_counted_by_outcome_and_logged_with_their_cause() {
    let hostile = [
        ("trap", env!("WHARF_TEST_TRAP_WASM"), "trap"),
        ("spin", env!("WHARF_TEST_SPIN_WASM"), "timeout"),
        ("hog", env!("WHARF_TEST_HOG_WASM"), "memory"),
    ];
    let server = start(LogFormat::Text, |c| {
        c.limits.plugin_time_ms = 300;
        c.limits.plugin_memory = wharf::config::ByteSize(32 << 20);
        for (name, wasm, _) in hostile {
            let format = wharf::config::FormatConfig {
                enabled: true,
                mount: format!("/api/packages/{{owner}}/{name}"),
                plugin: wharf::config::PluginSource::Path(wasm.into()),
                max_upload: None,
                max_concurrent: None,
                settings: Default::default(),
            };
            c.formats.insert(name.to_string(), format);
        }
    });
    let before = scrape(&server, None);
    for (name, _, _) in hostile {
        let res = server.get(&format!("/api/packages/admin/{name}/boom"));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        let line = &server.lines_with(&["status=500", &format!("format=\"{name}\"")])[0];
        assert!(line.contains(&format!("plugin {name} failed")), "{line}");
        assert!(line.contains("WARN"), "{line}");
    }
    let after = scrape(&server, None);
    for (name, _, outcome) in hostile {
        let labels = [("plugin", name), ("outcome", outcome)];
        let metric = "wharf_plugin_call_duration_seconds_count";
        let moved = value(&after, metric, &labels) - value(&before, metric, &labels);
        assert!(moved >= 1.0, "{name}: {outcome} moved {moved}");
    }
}
