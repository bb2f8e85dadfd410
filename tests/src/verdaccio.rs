//! Verdaccio 6.8 as an npm upstream on 127.0.0.1: temp storage, htpasswd auth, NO
//! uplinks (it never reaches the internet), one publishing user. `.ci/run` installs it
//! under `~/.cache/wharf-clients/verdaccio-6.8.0` (or set `WHARF_VERDACCIO` to its
//! `bin/verdaccio`).
//!
//! Verdaccio runs under a watchdog that exits it (and removes its storage) when the
//! test process ends: a shared instance kept in a `static` is never dropped, and must
//! not outlive the tests.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::npm::NpmEnv;
use crate::{require_client, require_tool};

pub struct Verdaccio {
    /// `http://127.0.0.1:PORT/`, with its slash, as npm's `registry` setting takes it.
    pub url: String,
    /// The publishing user's token.
    pub token: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// Kills node, removing the storage, once the test process (its parent) has ended and
/// node was re-parented. Only on the main thread: node preloads this into Verdaccio's
/// logger thread too, whose exit would leave the main thread waiting for it to flush.
/// (Verdaccio does not leave stdin alone: the end of a stdin pipe is no signal.)
const WATCHDOG: &str = r#"
const parent = process.ppid;
if (require("worker_threads").isMainThread) {
  setInterval(() => {
    if (process.ppid !== parent) {
      require("fs").rmSync(process.env.WHARF_VERDACCIO_DIR, { recursive: true, force: true });
      process.kill(process.pid, "SIGKILL");
    }
  }, 200).unref();
}
"#;

impl Verdaccio {
    /// Starts a Verdaccio with empty storage, or `None` (the reason printed) when node
    /// or Verdaccio is missing outside CI; under `CI=true` a missing one fails the test.
    pub fn start() -> Option<Self> {
        if !require_tool("node") || !require_tool("npm") {
            return None;
        }
        let bin = require_client(
            "Verdaccio 6.8.0",
            "WHARF_VERDACCIO",
            "verdaccio-6.8.0/node_modules/verdaccio/bin/verdaccio",
        )?;
        // The port is chosen before Verdaccio binds it; another test may take it between.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::launch(&bin) {
                Ok(verdaccio) => return Some(verdaccio),
                Err(why) => last = why,
            }
        }
        panic!("Verdaccio did not start: {last}");
    }

    fn launch(bin: &std::path::Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let root = dir.path().display().to_string();
        let config = format!(
            "storage: {root}/storage\n\
             auth: {{ htpasswd: {{ file: {root}/htpasswd, max_users: 100 }} }}\n\
             uplinks: {{}}\n\
             packages: {{ '**': {{ access: $all, publish: $authenticated, unpublish: $authenticated }} }}\n\
             server: {{ keepAliveTimeout: 60 }}\n\
             listen: 127.0.0.1:{port}\n\
             log: {{ type: stdout, format: pretty, level: warn }}\n"
        );
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        std::fs::write(dir.path().join("watchdog.js"), WATCHDOG).unwrap();
        let log = std::fs::File::create(dir.path().join("verdaccio.log")).unwrap();
        let mut child = Command::new("node")
            .arg("--require")
            .arg(dir.path().join("watchdog.js"))
            .arg(bin)
            .arg("--config")
            .arg(dir.path().join("config.yaml"))
            .env("WHARF_VERDACCIO_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("node runs: {e}"))?;
        let url = format!("http://127.0.0.1:{port}/");
        let ping = crate::client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ping
                .get(format!("{url}-/ping"))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(stop(child, &dir, &format!("exited: {exited:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let token = match add_user(&url, "publisher", "publisher-password") {
            Ok(token) => token,
            Err(why) => return Err(stop(child, &dir, &why)),
        };
        Ok(Self {
            url,
            token,
            child,
            dir,
        })
    }

    /// An npm env whose `.npmrc` points at this Verdaccio with the token (a new one each
    /// time: a shared Verdaccio is never dropped, and must hold no temp dir of its own
    /// but the storage its watchdog removes).
    pub fn publisher(&self) -> NpmEnv {
        NpmEnv::for_registry(&self.url, Some(&self.token))
    }

    /// Publishes a package with `npm publish` (see [`NpmEnv::publish`]).
    pub fn publish(&self, manifest: Value, files: &[(&str, &[u8])]) {
        self.publisher().publish(manifest, files);
    }

    /// The packument of `name` as Verdaccio serves it.
    pub fn packument(&self, name: &str) -> Value {
        let res = crate::client()
            .get(format!("{}{}", self.url, name.replace('/', "%2f")))
            .send()
            .unwrap();
        assert!(res.status().is_success(), "{name}: {}", res.status());
        res.json().unwrap()
    }

    /// What Verdaccio wrote to its log (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("verdaccio.log")).unwrap_or_default()
    }
}

impl Drop for Verdaccio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Verdaccio's sign-up (`npm adduser`'s request): the new user's token.
fn add_user(url: &str, name: &str, password: &str) -> Result<String, String> {
    let res = crate::client()
        .put(format!("{url}-/user/org.couchdb.user:{name}"))
        .json(&json!({ "name": name, "password": password }))
        .send()
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body: Value = res.json().unwrap_or_default();
    match body["token"].as_str() {
        Some(token) if status.is_success() => Ok(token.into()),
        _ => Err(format!("adduser: {status} {body}")),
    }
}

/// Stops a Verdaccio that did not come up: why, with what it logged.
fn stop(mut child: Child, dir: &tempfile::TempDir, why: &str) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut said = String::new();
    let _ = std::fs::File::open(dir.path().join("verdaccio.log"))
        .map(|mut f| f.read_to_string(&mut said));
    format!("{why}\n{said}")
}
