//! An S3 server on 127.0.0.1 for the tests that keep blobs in an object store: moto in
//! server mode (PyPI `moto[server]`), which `.ci/run` installs under
//! `~/.cache/wharf-clients/moto-5.2.5` (or set `WHARF_MOTO_SERVER` to its
//! `bin/moto_server`). Each `Moto` is one server process on a free port with one empty
//! bucket, stopped when it drops; it can be stopped and started again on the same port
//! (an outage; moto keeps nothing across restarts, so the bucket comes back empty).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use crate::require_client;

/// The bucket every test server's blobs go to; each server has a prefix of its own.
pub const BUCKET: &str = "wharf-test-blobs";

pub struct Moto {
    /// `http://127.0.0.1:PORT`, the `storage.s3_endpoint`.
    pub endpoint: String,
    port: u16,
    bin: PathBuf,
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto with an empty bucket, or `None` (the reason printed) when it is not
    /// installed outside CI; under `CI=true` a missing moto fails the test.
    pub fn start() -> Option<Self> {
        let bin = require_client(
            "moto_server 5.2.5",
            "WHARF_MOTO_SERVER",
            "moto-5.2.5/bin/moto_server",
        )?;
        set_credentials();
        // The port is chosen before moto binds it; another test may take it between.
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut moto = Self {
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
                bin: bin.clone(),
                child: None,
                log: tempfile::NamedTempFile::new().unwrap(),
            };
            match moto.launch() {
                Ok(()) => return Some(moto),
                Err(why) => last = why,
            }
        }
        panic!("moto did not start: {last}");
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = self.log.reopen().unwrap();
        // moto_server is a script of the venv: its python runs moto under the watchdog.
        let python = self.bin.with_file_name("python");
        let child = Command::new(python)
            .args([
                "-c",
                WATCHDOG,
                "-H",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("moto_server runs: {e}"))?;
        self.child = Some(child);
        let http = crate::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        // Creating the bucket is the readiness check too.
        loop {
            let created = http
                .put(format!("{}/{BUCKET}", self.endpoint))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if created {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.stop();
                let said = std::fs::read_to_string(self.log.path()).unwrap_or_default();
                return Err(format!("exited: {exited:?}\n{said}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server: requests to it are refused until [`Moto::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the bucket (empty).
    pub fn restart(&mut self) {
        self.stop();
        self.launch().expect("moto restarts on its port");
    }

    /// The object keys below `prefix` (at most 1000: tests store a few).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let listing = crate::client()
            .get(format!(
                "{}/{BUCKET}?list-type=2&prefix={prefix}",
                self.endpoint
            ))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .expect("moto lists the bucket");
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect()
    }

    /// The SHA-256 checksum the store recorded for the object `key` when it was
    /// written (`x-amz-checksum-sha256`, base64; `-N` appended for N parts), if any.
    pub fn checksum(&self, key: &str) -> Option<String> {
        let head = crate::client()
            .head(format!("{}/{BUCKET}/{key}", self.endpoint))
            .header("x-amz-checksum-mode", "ENABLED")
            // moto answers anonymous object requests 403 and checks no signature.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .send()
            .and_then(|r| r.error_for_status())
            .expect("moto has the object");
        head.headers()
            .get("x-amz-checksum-sha256")
            .map(|v| v.to_str().expect("an ASCII header").to_string())
    }

    /// Where a server with blobs below `prefix` keeps the blob `sha256` (hex).
    pub fn blob_key(prefix: &str, sha256: &str) -> String {
        format!("{prefix}/blobs/sha256/{}/{sha256}", &sha256[..2])
    }

    pub fn log(&self) -> &Path {
        self.log.path()
    }
}

/// Runs moto's server, exiting once the test process (its parent) has ended: a shared
/// instance kept in a `static` is never dropped, and must not outlive the tests.
const WATCHDOG: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;

/// The module whose tests run with blobs in S3: `tests/on_s3.rs` includes test files a
/// second time below it, so plain `cargo test` runs them on both backends.
pub const ON_S3_MODULE: &str = "on_s3::";

/// The endpoint of the S3 server every test server of this process keeps its blobs in
/// (started on first use), for a test below [`ON_S3_MODULE`] or
/// [`crate::postgres::ON_PG_MODULE`] (libtest names each test's
/// thread after its path) or for every test with `WHARF_TEST_BLOBS=s3`. Without moto,
/// outside CI, such a test runs on disk with the reason printed once.
pub fn shared_endpoint() -> Option<String> {
    let on_s3 = std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with(ON_S3_MODULE))
        || crate::postgres::in_pg_module();
    if !on_s3 && std::env::var("WHARF_TEST_BLOBS").ok()?.as_str() != "s3" {
        return None;
    }
    // The PostgreSQL run has an S3 server of its own: one moto process serving both
    // re-runs at once was the bottleneck of the whole suite (requests timed out).
    static SHARED: OnceLock<Option<Moto>> = OnceLock::new();
    static SHARED_PG: OnceLock<Option<Moto>> = OnceLock::new();
    let shared = if crate::postgres::in_pg_module() {
        &SHARED_PG
    } else {
        &SHARED
    };
    let moto = shared.get_or_init(Moto::start).as_ref()?;
    Some(moto.endpoint.clone())
}

/// Points `config`'s blobs at the S3 server `endpoint`, below a prefix no other test
/// server of any process uses.
pub fn keep_blobs_in(config: &mut wharf::config::Config, endpoint: &str) {
    let prefix = format!("server-{}-{}", std::process::id(), crate::next_number());
    config.storage.blobs = format!("s3://{BUCKET}/{prefix}");
    config.storage.s3_endpoint = Some(endpoint.to_string());
    config.storage.s3_region = Some("us-east-1".into());
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto accepts any credentials, but the server needs some: without them it would ask
/// the EC2 instance metadata service. Set once, to the same values, before any test
/// server with S3 blobs opens (the variables are read when a server opens its store).
fn set_credentials() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "wharf-test"),
            ("AWS_SECRET_ACCESS_KEY", "wharf-test-secret"),
        ] {
            if std::env::var_os(name).is_none() {
                // SAFETY: tests of this process only ever set these two variables, here,
                // once, to constants; std serializes its own reads with this write.
                unsafe { std::env::set_var(name, value) };
            }
        }
    });
}
