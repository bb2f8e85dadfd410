//! Per-call cost of the sandbox: `match-route` on the bundled generic plugin.
//!
//! The host gives every plugin call a fresh wasmtime instance (memory cap, epoch
//! deadline, dropped afterwards); routing runs on the async task itself, so this figure
//! is paid by every request below a format's mount, uploads and downloads alike. The
//! blocking-pool round trip the other calls (uploads, renders) add is printed
//! separately. It prints figures and asserts nothing; run it with
//!
//! ```sh
//! cargo bench -p wharf --bench plugin_call
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use wharf::plugins::Plugin;
use wharf::plugins::api::{Method, Operation, Request};
use wharf::{Config, Registry};

const WARMUP: usize = 2_000;
const SEQUENTIAL: usize = 20_000;
const TASKS: usize = 8;
const PER_TASK: usize = 5_000;

fn main() -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.storage.data_dir = data_dir.path().to_path_buf();

    // A fresh data dir has no plugin cache, so this includes compiling the component.
    let opened = Instant::now();
    let registry = Registry::open(config)?;
    println!(
        "Registry::open (compiles the plugin, empty cache): {:.1} ms",
        ms(opened.elapsed())
    );
    let plugin = registry
        .format("generic")
        .expect("generic is enabled by default")
        .plugin
        .clone();

    // The same multi-thread runtime the server uses (one worker per CPU).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let request = upload_request();
        match plugin.match_route(request.clone()).await {
            Ok(route) if matches!(route.operation, Operation::AcceptUpload(_)) => {}
            other => anyhow::bail!("unexpected route for PUT: {other:?}"),
        }

        // Instances come from a pool and pages are decommitted in batches, so the first
        // calls are not representative.
        for _ in 0..WARMUP {
            plugin.match_route(request.clone()).await?;
        }

        // The thread hop alone, to tell how much of a call is wasmtime's.
        let mut hop = Vec::with_capacity(SEQUENTIAL);
        for _ in 0..SEQUENTIAL {
            let t = Instant::now();
            tokio::task::spawn_blocking(|| ()).await?;
            hop.push(t.elapsed());
        }
        report("spawn_blocking round trip alone", &mut hop, None);

        let started = Instant::now();
        let mut latencies = sequential(&plugin, &request, SEQUENTIAL).await?;
        report(
            "match_route, 1 task (sequential)",
            &mut latencies,
            Some(started.elapsed()),
        );

        // Throughput when requests overlap, as they do under load.
        let started = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (plugin, request) = (plugin.clone(), request.clone());
                tokio::spawn(async move { sequential(&plugin, &request, PER_TASK).await })
            })
            .collect();
        let mut all = Vec::with_capacity(TASKS * PER_TASK);
        for task in tasks {
            all.extend(task.await??);
        }
        let label = format!("match_route, {TASKS} concurrent tasks");
        report(&label, &mut all, Some(started.elapsed()));
        Ok(())
    })?;
    println!(
        "({} CPUs; µs = microseconds per call, wall clock)",
        std::thread::available_parallelism()?
    );
    Ok(())
}

/// What the HTTP layer hands the plugin for `curl --upload-file tool.tar.gz` by admin
/// (credential headers are stripped before a plugin sees them).
fn upload_request() -> Request {
    let headers = [
        ("host", "127.0.0.1:8080"),
        ("user-agent", "curl/7.88.1"),
        ("accept", "*/*"),
        ("content-length", "1048576"),
        ("expect", "100-continue"),
    ];
    Request {
        method: Method::Put,
        path: "/tool/1.0.0/tool.tar.gz".to_string(),
        query: Vec::new(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        owner: Some("admin".to_string()),
        base_url: "http://127.0.0.1:8080/api/packages/admin/generic".to_string(),
        user: Some("admin".to_string()),
    }
}

async fn sequential(
    plugin: &Arc<Plugin>,
    request: &Request,
    calls: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        plugin.match_route(request.clone()).await?;
        latencies.push(t.elapsed());
        // A server task awaits its socket between requests. Without a yield here, a
        // task whose call paused at an epoch tick waits until another task on its
        // worker has made all of its calls.
        tokio::task::yield_now().await;
    }
    Ok(latencies)
}

fn report(label: &str, latencies: &mut [Duration], wall: Option<Duration>) {
    latencies.sort_unstable();
    let pct = |p: f64| us(latencies[((latencies.len() - 1) as f64 * p).round() as usize]);
    let rate = wall
        .map(|w| format!(", {:.0} calls/s", latencies.len() as f64 / w.as_secs_f64()))
        .unwrap_or_default();
    println!(
        "{label:<36} n={:<6} median {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs{rate}",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
