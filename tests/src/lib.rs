//! The test harness: a real Wharf server on `127.0.0.1:0` with a fresh data dir, run
//! in-process on its own runtime and stopped when the `TestServer` drops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use wharf::Registry;
use wharf::config::{ByteSize, Config, FormatConfig, PluginSource};
use wharf::db::owners::{self, OwnerKind, Role};
use wharf::db::tokens::{self, Scope};

pub use reqwest::StatusCode;
pub use reqwest::blocking::Client;

pub mod balancer;
pub mod browser;
pub mod cluster;
pub mod counting_proxy;
pub mod distribution;
pub mod npm;
pub mod postgres;
pub mod pypiserver;
pub mod repositories;
pub mod s3;
pub mod server_process;
pub mod verdaccio;

/// The admin account every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A well-formed token that no server issued.
pub const BOGUS_TOKEN: &str = "wharf_0000000000000000000000000000000000000000";

pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    pub admin_token: String,
    config: Config,
    /// Dropped after the server stopped (fields drop after `Drop::drop` ran).
    _scratch_db: Option<postgres::ScratchDb>,
    /// Removed when the server drops (the data dir, unless configured elsewhere).
    _temp_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Fills a data dir before the server first opens it.
type Prepare = Box<dyn FnOnce(&Path)>;

#[derive(Default)]
pub struct Builder {
    prepare: Option<Prepare>,
    plugins: Vec<(String, String, PathBuf)>,
    plugin_time_ms: Option<u64>,
    plugin_memory: Option<u64>,
    max_upload: Option<u64>,
    format_max_upload: Vec<(String, u64)>,
    configure: Option<Configure>,
    format_max_concurrent: Vec<(String, u32)>,
    server: Option<ServerChange>,
    toml: Option<String>,
    users: Vec<String>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    /// `storage.s3_endpoint` of the S3 server to keep blobs in.
    s3_endpoint: Option<String>,
    /// Where the metadata goes when not the data dir's SQLite.
    database: Option<Database>,
}

/// A test server's PostgreSQL database.
enum Database {
    /// A scratch database of the server's own, dropped with it.
    Scratch,
    /// A database the caller keeps (several nodes serving one registry).
    Shared(String),
}

/// A last change to a test server's configuration.
type Configure = Box<dyn FnOnce(&mut Config)>;

/// A change to `[server]` settings, applied before the server starts.
type ServerChange = Box<dyn FnOnce(&mut wharf::config::ServerConfig)>;

impl Builder {
    /// Enables a format from a `.wasm` file, as a third party would.
    pub fn plugin(mut self, name: &str, mount: &str, wasm: impl AsRef<Path>) -> Self {
        self.plugins
            .push((name.into(), mount.into(), wasm.as_ref().into()));
        self
    }

    /// Runs `f` on the empty data dir before the server opens it (a restore); the server
    /// then keeps the accounts it finds, and `admin_token` is empty.
    pub fn prepare_data_dir(mut self, f: impl FnOnce(&Path) + 'static) -> Self {
        self.prepare = Some(Box::new(f));
        self
    }

    pub fn plugin_time_ms(mut self, ms: u64) -> Self {
        self.plugin_time_ms = Some(ms);
        self
    }

    pub fn plugin_memory(mut self, bytes: u64) -> Self {
        self.plugin_memory = Some(bytes);
        self
    }

    pub fn max_upload(mut self, bytes: u64) -> Self {
        self.max_upload = Some(bytes);
        self
    }

    /// The upload limit of one format.
    pub fn format_max_upload(mut self, format: &str, bytes: u64) -> Self {
        self.format_max_upload.push((format.into(), bytes));
        self
    }

    /// Changes the configuration last, before the server opens it (a data dir on a
    /// filesystem of the test's own, `storage.min_free`).
    pub fn configure(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    /// The share of plugin instances of one format.
    pub fn format_max_concurrent(mut self, format: &str, calls: u32) -> Self {
        self.format_max_concurrent.push((format.into(), calls));
        self
    }

    /// Changes `[server]` settings (limits and timeouts) before the server starts.
    pub fn server(
        mut self,
        change: impl FnOnce(&mut wharf::config::ServerConfig) + 'static,
    ) -> Self {
        self.server = Some(Box::new(change));
        self
    }

    /// Starts from this `registry.toml` text instead of the defaults (sections the
    /// harness has no setter for, such as `[proxies.NAME]` and `[groups.NAME]`); the
    /// listen address, public URL and data dir are still the test's own.
    pub fn toml(mut self, text: impl Into<String>) -> Self {
        self.toml = Some(text.into());
        self
    }

    /// A user (password `{name}-password`) that exists before the server first opens
    /// its data dir, as the hosted members a group names at startup must; get a token
    /// with [`TestServer::token`].
    pub fn user(mut self, name: &str) -> Self {
        self.users.push(name.into());
        self
    }

    /// Serves from `dir` (kept by the caller) instead of a fresh temp dir, so a second
    /// server with another configuration opens what a first one left there.
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = Some(dir.as_ref().into());
        self
    }

    /// Listens on `addr` (a stopped server's, so the URLs it handed out stay valid)
    /// instead of a fresh port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Keeps the server's blobs in `moto`, below a key prefix of its own. Without it,
    /// `WHARF_TEST_BLOBS=s3` puts every test server's blobs in one S3 server the test
    /// process shares (so any test file runs against S3:
    /// `WHARF_TEST_BLOBS=s3 cargo test -p wharf-tests --test protocol npm_protocol::`).
    pub fn s3(mut self, moto: &s3::Moto) -> Self {
        self.s3_endpoint = Some(moto.endpoint.clone());
        self
    }

    /// Keeps the metadata in a scratch PostgreSQL database of this server's own
    /// (`postgres::ScratchDb`), dropped with the server. Without `WHARF_TEST_POSTGRES`
    /// the server stays on SQLite outside CI (the reason printed) and the test fails
    /// under `CI=true`; a test that means PostgreSQL only checks
    /// [`TestServer::on_postgres`], or creates a `ScratchDb` first and uses
    /// [`Builder::database`].
    pub fn postgres(mut self) -> Self {
        self.database = Some(Database::Scratch);
        self
    }

    /// Keeps the metadata in the PostgreSQL database at `url`, which the caller owns:
    /// several servers built with one URL are nodes of one registry.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(Database::Shared(url.into()));
        self
    }

    pub fn start(self) -> TestServer {
        init_logging();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let bind = self
            .listen
            .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let listener = std::net::TcpListener::bind(bind).expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();

        let mut config = match &self.toml {
            Some(text) => {
                Config::parse(text).unwrap_or_else(|e| panic!("test registry.toml: {e:#}\n{text}"))
            }
            None => Config::default(),
        };
        config.server.listen = addr;
        config.server.public_url = Some(format!("http://{addr}"));
        config.server.shutdown_grace_secs = 5;
        config.storage.data_dir = self
            .data_dir
            .unwrap_or_else(|| data_dir.path().to_path_buf());
        if let Some(ms) = self.plugin_time_ms {
            config.limits.plugin_time_ms = ms;
        }
        if let Some(bytes) = self.plugin_memory {
            config.limits.plugin_memory = ByteSize(bytes);
        }
        if let Some(bytes) = self.max_upload {
            config.formats.get_mut("generic").unwrap().max_upload = Some(ByteSize(bytes));
        }
        for (name, mount, path) in self.plugins {
            // A plugin under test takes its mount from a bundled format there (`/v2`).
            config.formats.retain(|_, f| f.mount != mount);
            config.formats.insert(
                name,
                FormatConfig {
                    enabled: true,
                    mount,
                    plugin: PluginSource::Path(path),
                    max_upload: None,
                    max_concurrent: None,
                    settings: Default::default(),
                },
            );
        }
        // After the plugins: a format loaded from a path can have a limit too.
        for (format, bytes) in self.format_max_upload {
            config
                .formats
                .get_mut(&format)
                .expect("format enabled")
                .max_upload = Some(ByteSize(bytes));
        }
        for (format, calls) in self.format_max_concurrent {
            let format = config.formats.get_mut(&format).expect("format enabled");
            format.max_concurrent = Some(calls);
        }
        if let Some(configure) = self.configure {
            configure(&mut config);
            std::fs::create_dir_all(&config.storage.data_dir).unwrap();
        }
        if let Some(change) = self.server {
            change(&mut config.server);
        }
        if let Some(endpoint) = self.s3_endpoint.or_else(s3::shared_endpoint) {
            s3::keep_blobs_in(&mut config, &endpoint);
        }
        let database = self
            .database
            .or_else(|| postgres::wanted_by_default().then_some(Database::Scratch));
        let scratch = match database {
            Some(Database::Scratch) => postgres::ScratchDb::create(),
            Some(Database::Shared(url)) => {
                config.storage.database = url;
                None
            }
            None => None,
        };
        if let Some(scratch) = &scratch {
            config.storage.database = scratch.url.clone();
        }
        config.validate().expect("valid test config");
        if let Some(prepare) = self.prepare {
            prepare(&config.storage.data_dir);
        }
        let admin_token = bootstrap(&config, &self.users);
        share_plugin_cache(&config.storage.data_dir);

        let (registry, shutdown, thread) = launch(config.clone(), listener);

        TestServer {
            url: format!("http://{addr}"),
            addr,
            registry,
            admin_token,
            config,
            _scratch_db: scratch,
            _temp_dir: data_dir,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

/// Makes the admin (on a fresh data dir: its token, else empty) and `users` before the
/// server opens the data dir: the owners a server makes at startup (proxies and groups)
/// would otherwise count as existing accounts, and a group's hosted members must exist
/// by then.
pub(crate) fn bootstrap(config: &Config, users: &[String]) -> String {
    let db = wharf::registry::open_db(config).expect("database opens");
    let admin_token = wharf::registry::bootstrap::ensure_admin(&db, Some(ADMIN_PASSWORD.into()))
        .unwrap()
        .map(|created| created.token)
        .unwrap_or_default();
    for name in users {
        create_user(&db, name);
    }
    admin_token
}

/// Opens the registry of `config` and serves it on `listener` from its own thread.
pub(crate) fn launch(
    config: Config,
    listener: std::net::TcpListener,
) -> (
    Arc<Registry>,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let registry = Registry::open(config).expect("registry opens");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = registry.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            wharf::http::serve(served, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    (registry, tx, thread)
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A server with the bundled formats only.
    pub fn start() -> Self {
        Builder::default().start()
    }

    /// Stops the server and starts it again on the same address and data dir, as a
    /// restart of the process would (nothing in memory survives).
    pub fn restart(&mut self) {
        self.stop();
        let listener = std::net::TcpListener::bind(self.addr).expect("rebind the same address");
        listener.set_nonblocking(true).unwrap();
        let (registry, shutdown, thread) = launch(self.config.clone(), listener);
        self.registry = registry;
        self.shutdown = Some(shutdown);
        self.thread = Some(thread);
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Whether this server keeps its blobs in S3 rather than below its data dir (tests
    /// that move files of the local blob directory by hand have nothing to move then).
    pub fn blobs_in_s3(&self) -> bool {
        self.config.storage.blobs.starts_with("s3://")
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.storage.data_dir
    }

    /// Whether this server keeps its metadata in PostgreSQL (tests about the embedded
    /// SQLite file itself skip then, saying why).
    pub fn on_postgres(&self) -> bool {
        self.registry.db.is_postgres()
    }

    /// URL of a generic-format path for `owner`.
    pub fn generic(&self, owner: &str, rest: &str) -> String {
        format!("{}/api/packages/{owner}/generic/{rest}", self.url)
    }

    /// Creates a user with password `{name}-password` and returns a token of `scope`.
    pub fn user(&self, name: &str, scope: Scope) -> String {
        create_user(&self.registry.db, name);
        self.token(name, scope, None)
    }

    /// The npm registry URL of `owner` (a user, org, proxy or group), with its slash.
    pub fn npm_registry(&self, owner: &str) -> String {
        format!("{}/api/packages/{owner}/npm/", self.url)
    }

    /// A new token for an existing user.
    pub fn token(&self, user: &str, scope: Scope, expires: Option<i64>) -> String {
        new_token(&self.registry.db, user, scope, expires)
    }

    /// Creates an organization (private or not) with `admin` as its admin.
    pub fn org(&self, name: &str, admin: &str, private: bool) {
        let (name, admin) = (name.to_string(), admin.to_string());
        self.registry
            .db
            .write_sync(move |tx| {
                let user = owners::by_name(tx, &admin)?.expect("admin exists");
                let org = owners::create(tx, &name, OwnerKind::Org, None, false, private)?;
                owners::set_member(tx, org, user.id, Role::Admin)
            })
            .unwrap();
    }

    pub fn add_member(&self, org: &str, user: &str, role: Role) {
        let (org, user) = (org.to_string(), user.to_string());
        self.registry
            .db
            .write_sync(move |tx| {
                let org = owners::by_name(tx, &org)?.unwrap();
                let user = owners::by_name(tx, &user)?.unwrap();
                owners::set_member(tx, org.id, user.id, role)
            })
            .unwrap();
    }

    /// While `broken`, every commit that links a blob to a package fails at `COMMIT`,
    /// after its transaction has put the blob's bytes into the store: a trigger records
    /// a deferred foreign key the commit finds broken. The product code runs unchanged;
    /// only its commit fails, as on a crash or a full disk at that moment.
    pub fn break_blob_commits(&self, broken: bool) {
        let postgres = self.on_postgres();
        let sql = match (broken, postgres) {
            (true, false) => {
                "CREATE TABLE IF NOT EXISTS test_crash_window
                     (owner INTEGER REFERENCES owners(id) DEFERRABLE INITIALLY DEFERRED);
                 CREATE TRIGGER test_crash_window AFTER INSERT ON package_blobs
                 BEGIN INSERT INTO test_crash_window VALUES (-1); END;"
            }
            // The same trap in PostgreSQL's spelling: a trigger runs a function.
            (true, true) => {
                "CREATE TABLE IF NOT EXISTS test_crash_window
                     (owner BIGINT REFERENCES owners(id) DEFERRABLE INITIALLY DEFERRED);
                 CREATE OR REPLACE FUNCTION test_crash_window() RETURNS trigger
                     LANGUAGE plpgsql AS $$
                     BEGIN INSERT INTO test_crash_window VALUES (-1); RETURN NULL; END $$;
                 CREATE TRIGGER test_crash_window AFTER INSERT ON package_blobs
                     FOR EACH ROW EXECUTE FUNCTION test_crash_window();"
            }
            (false, false) => "DROP TRIGGER test_crash_window;",
            (false, true) => "DROP TRIGGER test_crash_window ON package_blobs;",
        };
        self.registry
            .db
            .write_sync(move |tx| tx.execute_batch(sql))
            .unwrap();
    }

    /// Temp files left in the blob store (failed uploads must leave none).
    pub fn temp_files(&self) -> usize {
        self.registry.blobs.temp_file_count()
    }

    /// The management API's list of `owner`'s packages, as the admin sees it.
    pub fn packages_of(&self, owner: &str) -> Vec<serde_json::Value> {
        client()
            .get(format!("{}/api/v1/packages/{owner}", self.url))
            .bearer_auth(&self.admin_token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// Blobs in the store, on disk or in S3 (dedup and nothing-stored checks).
    pub fn stored_blobs(&self) -> usize {
        let mut count = 0;
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        self.registry
            .blobs
            .walk_older(later, 1000, |found| {
                count += found.len();
                Ok::<_, std::io::Error>(())
            })
            .expect("the blob store walks");
        count
    }

    /// Blobs the store keeps for good: on disk, every stored blob (a refused or losing
    /// upload places no bytes); in an object store every upload went up before its
    /// transaction, so the objects of refused ones are counted only after the
    /// collection that takes objects no row records once past the orphan grace.
    pub fn kept_blobs(&self) -> usize {
        if self.blobs_in_s3() {
            let policy = wharf::registry::gc::Policy {
                upload_grace: std::time::Duration::from_secs(86400),
                orphan_grace: std::time::Duration::from_secs(3600),
            };
            let later = std::time::SystemTime::now() + std::time::Duration::from_secs(7200);
            wharf::registry::gc::collect(&self.registry, policy, later).expect("gc runs");
        }
        self.stored_blobs()
    }

    /// The bytes of the stored blob `sha256` (hex), on disk or in S3; `None` if absent.
    pub fn stored_blob(&self, sha256: &str) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut self.registry.blobs.reader(sha256).ok()?, &mut bytes)
            .ok()?;
        Some(bytes)
    }

    /// `storage.database` of this server (`"sqlite"` or a `postgres://` URL).
    pub fn database_setting(&self) -> &str {
        &self.config.storage.database
    }

    /// `storage.blobs` of this server (`"fs"` or `"s3://bucket/prefix"`).
    pub fn blobs_setting(&self) -> &str {
        &self.config.storage.blobs
    }
}

/// A new token for the existing user `user`.
pub(crate) fn new_token(
    db: &wharf::db::Db,
    user: &str,
    scope: Scope,
    expires: Option<i64>,
) -> String {
    let token = wharf::auth::secrets::new_token();
    let (user, hash) = (user.to_string(), wharf::auth::secrets::token_hash(&token));
    db.write_sync(move |tx| {
        let owner = owners::by_name(tx, &user)?.expect("user exists");
        tokens::insert(tx, owner.id, "test", &hash, scope, expires)
    })
    .unwrap();
    token
}

/// A user with password `{name}-password`.
pub(crate) fn create_user(db: &wharf::db::Db, name: &str) {
    let hash = wharf::auth::secrets::hash_password(&format!("{name}-password"));
    let owned = name.to_string();
    db.write_sync(move |tx| {
        owners::create(tx, &owned, OwnerKind::User, Some(&hash), false, false).map(|_| ())
    })
    .unwrap();
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Server logs (warnings and errors, or `WHARF_LOG`) go to the test's captured output,
/// so a failing test shows why a plugin call or a request failed.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,wasmtime=warn,cranelift=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Points the data dir's plugin cache at one directory shared by all test servers, so
/// each component is compiled once per machine rather than once per test.
/// A data dir a server opened before (`Builder::data_dir`) has the link already.
pub(crate) fn share_plugin_cache(data_dir: &Path) {
    match std::os::unix::fs::symlink(plugin_cache_dir(), data_dir.join("plugin-cache")) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("plugin cache: {e}"),
        _ => {}
    }
}

/// The compiled-component cache all tests share (created on first use).
pub fn plugin_cache_dir() -> PathBuf {
    let shared = std::env::temp_dir().join("wharf-test-plugin-cache");
    std::fs::create_dir_all(&shared).unwrap();
    shared
}

/// A number no other call in this test process returns: tests run in parallel threads
/// of one process and name their files and uploads with it.
pub fn next_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The value of an `Authorization: Basic` header.
pub fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// Lower-case hex, as checksum files and digests spell bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of `bytes` as OCI names a blob: `sha256:<hex>`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// A client that never follows redirects, so tests see what the server said.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs the real curl with `args` (quiet, errors shown): the status code and the body.
pub fn curl(args: &[&str]) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_string(), body.to_string())
}

/// Whether an external client program is available; outside CI a missing one skips
/// the test (printing why), under `CI=true` it fails.
/// A client installed outside `PATH`: the file `var` names, else `cached` below
/// `~/.cache/wharf-clients` (where `.ci/run` installs it). `None` (with the reason
/// printed) when a test should skip; under `CI=true` a missing client is a failure.
pub fn require_client(what: &str, var: &str, cached: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/wharf-clients")
            .join(cached)
    });
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is required under CI=true; .ci/run must install it",
            path.display()
        );
    }
    eprintln!("skipping: no {what} at {} (set {var})", path.display());
    None
}

/// Runs a client, printing what it said (shown when the test fails).
pub fn run(mut command: std::process::Command, what: &str) -> std::process::Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} runs: {e}"));
    eprintln!(
        "$ {what} ({})\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything a client printed, stdout then stderr.
pub fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn require_tool(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{tool} is required under CI=true; .ci/run must install it");
        }
        eprintln!("skipping: {tool} is not installed (set CI=true to make this a failure)");
    }
    found
}
