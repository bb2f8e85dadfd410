//! Prometheus metrics: the one place that names them, says what they mean and records
//! them.
//!
//! Call sites use the functions below (a line each), never metric names. Values go
//! through the `metrics` facade to whichever recorder is installed: the Prometheus
//! recorder once [`install`] ran (the server, with `[metrics] enabled`), else the
//! facade's no-op, so `wharf gc` and the other admin commands record nothing. The
//! recorder is process-wide; `/metrics` renders it (`http::metrics`), and gauges that
//! cost a system call (free disk space) are read there, at scrape time, not kept.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Unit, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests by format (empty for the host's own routes), method and status class.
const HTTP_REQUEST_SECONDS: &str = "wharf_http_request_duration_seconds";
/// Plugin calls by plugin and outcome (`ok`, `trap`, `timeout`, `memory`).
const PLUGIN_CALL_SECONDS: &str = "wharf_plugin_call_duration_seconds";
const INDEX_LOOKUPS: &str = "wharf_index_cache_lookups_total";
const INDEX_RENDERS: &str = "wharf_index_renders_total";
const UPLOADED_BYTES: &str = "wharf_uploaded_bytes_total";
const DOWNLOADED_BYTES: &str = "wharf_downloaded_bytes_total";
const UPLOADS_IN_FLIGHT: &str = "wharf_uploads_in_flight";
const GC_RUNS: &str = "wharf_gc_runs_total";
const GC_BLOBS: &str = "wharf_gc_blobs_deleted_total";
const GC_BYTES: &str = "wharf_gc_bytes_freed_total";
const DATA_DIR_FREE: &str = "wharf_data_dir_free_bytes";
const DATA_DIR_SIZE: &str = "wharf_data_dir_size_bytes";
const DB_WRITE_WAIT_SECONDS: &str = "wharf_db_write_wait_seconds";
const PROXY_STALE: &str = "wharf_proxy_stale_served_total";
const PROXY_ARTIFACTS: &str = "wharf_proxy_artifact_fetches_total";
const PROXY_EVICTED: &str = "wharf_proxy_evicted_artifacts_total";
const PROXY_EVICTED_BYTES: &str = "wharf_proxy_evicted_bytes_total";

/// Histogram buckets for every `_seconds` metric: from a cached small GET (well under a
/// millisecond) to a plugin call cut at its time limit.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so that
/// a server nobody scrapes does not keep every sample.
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same
/// handle). `None` when another recorder was installed first, which only an embedding
/// program could do.
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(e) = ::metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "metrics are off: another recorder is installed");
                return None;
            }
            describe();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("wharf-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread; samples fold at scrapes");
            }
            Some(handle)
        })
        .as_ref()
}

/// The `# HELP` and `# UNIT` of each metric.
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "HTTP requests by format (empty: the host's own routes), method and status class"
    );
    describe_histogram!(
        PLUGIN_CALL_SECONDS,
        Unit::Seconds,
        "Plugin calls by plugin and outcome (ok, trap, timeout, memory)"
    );
    describe_counter!(
        INDEX_LOOKUPS,
        "Index cache lookups (hit: served from the cache; miss: rendered or waited for)"
    );
    describe_counter!(INDEX_RENDERS, "Index documents rendered for the cache");
    describe_counter!(
        UPLOADED_BYTES,
        Unit::Bytes,
        "Request body bytes received for uploads"
    );
    describe_counter!(
        DOWNLOADED_BYTES,
        Unit::Bytes,
        "Stored file bytes sent (GET, whole or ranged)"
    );
    describe_gauge!(UPLOADS_IN_FLIGHT, "Upload bodies being received now");
    describe_counter!(GC_RUNS, "Completed garbage collections");
    describe_counter!(GC_BLOBS, "Blobs deleted by garbage collection");
    describe_counter!(GC_BYTES, Unit::Bytes, "Bytes freed by garbage collection");
    describe_gauge!(
        DATA_DIR_FREE,
        Unit::Bytes,
        "Space left for the server on the data dir's filesystem"
    );
    describe_gauge!(
        DATA_DIR_SIZE,
        Unit::Bytes,
        "Size of the data dir's filesystem"
    );
    describe_counter!(
        PROXY_EVICTED,
        "Cached artifacts a proxy evicted past its max_size, least recently used first"
    );
    describe_counter!(
        PROXY_EVICTED_BYTES,
        Unit::Bytes,
        "Bytes of the cached artifacts a proxy evicted past its max_size"
    );
    describe_histogram!(
        DB_WRITE_WAIT_SECONDS,
        Unit::Seconds,
        "Time a database write waited for the writer (in this process and others)"
    );
}

/// The installed recorder's text exposition, after reading the scrape-time gauges of
/// `data_dir`; `None` when [`install`] did not install it.
pub fn render(data_dir: &Path) -> Option<String> {
    let handle = RECORDER.get()?.as_ref()?;
    observe_disk(data_dir);
    Some(handle.render())
}

#[cfg(target_os = "linux")]
fn observe_disk(data_dir: &Path) {
    match rustix::fs::statvfs(data_dir) {
        Ok(fs) => {
            gauge!(DATA_DIR_FREE).set((fs.f_bavail * fs.f_frsize) as f64);
            gauge!(DATA_DIR_SIZE).set((fs.f_blocks * fs.f_frsize) as f64);
        }
        Err(e) => tracing::warn!(error = %e, dir = %data_dir.display(), "statvfs failed"),
    }
}

#[cfg(not(target_os = "linux"))]
fn observe_disk(_: &Path) {}

/// One answered request. `status` becomes its class (`2xx`); methods outside the
/// standard few count as `other`, so a client cannot make new series at will.
pub fn request(format: &str, method: &http::Method, status: u16, took: Duration) {
    const KNOWN: &[&str] = &["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"];
    let method = KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("other");
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    histogram!(HTTP_REQUEST_SECONDS, "format" => format.to_string(), "method" => method, "status" => class)
        .record(took.as_secs_f64());
}

/// How a plugin call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginOutcome {
    /// It returned (its answer may still be a refusal in the format's words).
    Ok,
    Trap,
    Timeout,
    Memory,
}

impl PluginOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Trap => "trap",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
        }
    }
}

pub fn plugin_call(plugin: &str, outcome: PluginOutcome, took: Duration) {
    histogram!(PLUGIN_CALL_SECONDS, "plugin" => plugin.to_string(), "outcome" => outcome.as_str())
        .record(took.as_secs_f64());
}

/// An index cache lookup: found current (`hit`) or not.
pub fn index_lookup(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    counter!(INDEX_LOOKUPS, "result" => result).increment(1);
}

/// An index rendering made for the cache.
pub fn index_render() {
    counter!(INDEX_RENDERS).increment(1);
}

/// Bytes of a stored file about to be sent.
pub fn downloaded(bytes: u64) {
    counter!(DOWNLOADED_BYTES).increment(bytes);
}

/// A garbage collection that completed.
pub fn gc_run(blobs: usize, bytes: u64) {
    counter!(GC_RUNS).increment(1);
    counter!(GC_BLOBS).increment(blobs as u64);
    counter!(GC_BYTES).increment(bytes);
}

/// Time a write spent waiting for the writer connection and SQLite's write lock.
pub fn db_write_wait(took: Duration) {
    histogram!(DB_WRITE_WAIT_SECONDS).record(took.as_secs_f64());
}

/// A proxy document served stale: its upstreams failed.
pub fn proxy_stale() {
    counter!(PROXY_STALE).increment(1);
}

/// A proxy artifact download that ended with `outcome`.
pub fn proxy_artifact(outcome: &'static str) {
    counter!(PROXY_ARTIFACTS, "outcome" => outcome).increment(1);
}

/// Cached artifacts (and their bytes) the collector evicted from `proxy` past its
/// `max_size`.
pub fn proxy_evicted(proxy: &str, artifacts: usize, bytes: u64) {
    counter!(PROXY_EVICTED, "proxy" => proxy.to_string()).increment(artifacts as u64);
    counter!(PROXY_EVICTED_BYTES, "proxy" => proxy.to_string()).increment(bytes);
}

/// An upload body being received: counted in flight while it lives, and its bytes
/// added to the total when it drops (however the upload ended).
#[must_use = "the upload counts as in flight only while this lives"]
pub struct Upload {
    received: u64,
}

impl Upload {
    pub fn start() -> Self {
        gauge!(UPLOADS_IN_FLIGHT).increment(1.0);
        Self { received: 0 }
    }

    pub fn received(&mut self, bytes: usize) {
        self.received += bytes as u64;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        gauge!(UPLOADS_IN_FLIGHT).decrement(1.0);
        counter!(UPLOADED_BYTES).increment(self.received);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` against a recorder of its own and returns what it renders.
    fn rendered(f: impl FnOnce()) -> String {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, f);
        handle.render()
    }

    #[test]
    fn requests_are_counted_by_status_class_and_known_method() {
        let text = rendered(|| {
            request("npm", &http::Method::GET, 200, Duration::from_millis(3));
            request("npm", &http::Method::GET, 204, Duration::from_millis(3));
            request(
                "",
                &http::Method::from_bytes(b"BREW").unwrap(),
                418,
                Duration::ZERO,
            );
        });
        assert!(
            text.contains(
                r#"wharf_http_request_duration_seconds_count{format="npm",method="GET",status="2xx"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"wharf_http_request_duration_seconds_bucket{format="npm",method="GET",status="2xx",le="0.005"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{format="",method="other",status="4xx"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn an_upload_is_in_flight_until_it_drops() {
        let text = rendered(|| {
            let mut upload = Upload::start();
            upload.received(10);
            upload.received(5);
            let other = Upload::start();
            drop(upload);
            std::mem::forget(other);
        });
        assert!(text.contains("wharf_uploaded_bytes_total 15"), "{text}");
        assert!(text.contains("wharf_uploads_in_flight 1"), "{text}");
    }

    #[test]
    fn plugin_outcomes_and_cache_results_are_labels() {
        let text = rendered(|| {
            plugin_call("npm", PluginOutcome::Timeout, Duration::from_secs(2));
            index_lookup(true);
            index_lookup(false);
            index_render();
            gc_run(3, 300);
        });
        for line in [
            r#"wharf_plugin_call_duration_seconds_count{plugin="npm",outcome="timeout"} 1"#,
            r#"wharf_index_cache_lookups_total{result="hit"} 1"#,
            r#"wharf_index_cache_lookups_total{result="miss"} 1"#,
            "wharf_index_renders_total 1",
            "wharf_gc_blobs_deleted_total 3",
            "wharf_gc_bytes_freed_total 300",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn free_space_is_read_at_scrape_time() {
        let dir = tempfile::tempdir().unwrap();
        let text = rendered(|| observe_disk(dir.path()));
        let free = text
            .lines()
            .find_map(|l| l.strip_prefix("wharf_data_dir_free_bytes "))
            .expect("free bytes rendered");
        assert!(free.parse::<f64>().unwrap() > 0.0, "{text}");
    }
}
