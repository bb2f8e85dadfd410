//! Several Wharf nodes serving one registry, as issue 22 runs them: N nodes on one
//! PostgreSQL database (a scratch database on the server `WHARF_TEST_POSTGRES` names)
//! and one S3 prefix in moto, behind haproxy ([`crate::balancer`]) on 127.0.0.1.
//!
//! Each node is a process of its own, so a test can kill one with SIGKILL mid-request
//! and start it again on its data dir. The tests crate has no `wharf` binary to run:
//! `cargo test` builds a package's binaries only for that package's own integration
//! tests, so `cargo test -p wharf-tests` would not build `target/debug/wharf`, and a
//! stale one could be run instead. A node is therefore the running test executable
//! started again as `<exe> --exact cluster::node_process`: that test serves the node
//! [`NODE_ENV`] describes and returns at once without it (so in a normal run it passes
//! without doing anything). The node serves exactly as an in-process
//! [`crate::TestServer`] does (`crate::launch`), and exits when the test process that
//! started it is gone, so a killed test run leaves no node behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wharf::Registry;
use wharf::config::Config;
use wharf::db::Db;
use wharf::db::tokens::Scope;

use crate::balancer::Balancer;
use crate::postgres::ScratchDb;
use crate::s3::{self, Moto};

/// The test that serves a node, by its full name in the `clients` test binary.
pub const NODE_TEST: &str = "cluster::node_process";

/// The variable that turns [`NODE_TEST`] into a node: the node's settings, as JSON.
pub const NODE_ENV: &str = "WHARF_CLUSTER_NODE";

/// Serves the node [`NODE_ENV`] describes until the process is killed or the test
/// process that started it ends; returns at once when the variable is not set.
pub fn serve_node_if_asked() {
    let Ok(settings) = std::env::var(NODE_ENV) else {
        return;
    };
    let settings: Value = serde_json::from_str(&settings).expect("node settings are JSON");
    let config = node_config(&settings);
    crate::init_logging();
    exit_with_parent();
    let listener = std::net::TcpListener::bind(config.server.listen).expect("the node binds");
    listener.set_nonblocking(true).unwrap();
    std::fs::create_dir_all(&config.storage.data_dir).unwrap();
    crate::share_plugin_cache(&config.storage.data_dir);
    // The sender is kept: dropping it would be the shutdown signal.
    let (_registry, _shutdown, thread) = crate::launch(config, listener);
    let _ = thread.join();
}

/// Exits this process within 200 ms of its parent's end: nothing else would stop a
/// node whose test run was killed.
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        while std::os::unix::process::parent_id() == parent {
            std::thread::sleep(Duration::from_millis(200));
        }
        std::process::exit(0);
    });
}

/// A node's configuration: the cluster's `registry.toml` text, then what is the
/// node's own (listen address, data dir) and what every node shares (the public URL
/// of the balancer, the database, the blob prefix).
fn node_config(settings: &Value) -> Config {
    let text = |key: &str| settings[key].as_str().expect(key).to_string();
    let mut config = Config::parse(&text("toml")).expect("the cluster's registry.toml");
    config.server.listen = text("listen").parse().unwrap();
    config.server.public_url = Some(text("public_url"));
    config.server.shutdown_grace_secs = 5;
    config.storage.data_dir = PathBuf::from(text("data_dir"));
    config.storage.database = text("database");
    config.storage.blobs = text("blobs");
    config.storage.s3_endpoint = Some(text("s3_endpoint"));
    config.storage.s3_region = Some("us-east-1".into());
    config.validate().expect("valid node config");
    config
}

/// One node: a process serving on `addr`, with its data dir (staged uploads).
pub struct Node {
    pub addr: SocketAddr,
    /// `http://ADDR`: the node itself, bypassing the balancer.
    pub url: String,
    pub data_dir: PathBuf,
    settings: Value,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NODE_TEST, "--nocapture", "--test-threads=1"])
            .env(NODE_ENV, self.settings.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the test executable runs again as a node");
        self.child = Some(child);
    }

    /// Waits until the node answers `/readyz` with 200.
    fn wait_ready(&mut self) {
        let http = crate::client();
        let url = format!("{}/readyz", self.url);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http.get(&url).send().is_ok_and(|r| r.status().is_success()) {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "node {} did not start ({exited:?}):\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: the node dies at once, mid-request, without any cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again on its address and data dir, as a restarted machine would.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready();
    }

    /// The sizes of the uploads being received on this node's disk (`tmp/blobs`).
    pub fn staged(&self) -> Vec<u64> {
        let Ok(dir) = std::fs::read_dir(self.data_dir.join("tmp/blobs")) else {
            return Vec::new();
        };
        dir.filter_map(|entry| Some(entry.ok()?.metadata().ok()?.len()))
            .collect()
    }

    /// What the node printed so far (warnings and errors, or `WHARF_LOG`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Default)]
pub struct Builder {
    nodes: usize,
    toml: String,
    users: Vec<String>,
}

impl Builder {
    /// The `registry.toml` text every node starts from (limits, `[gc]`, formats).
    pub fn toml(mut self, text: &str) -> Self {
        self.toml = text.into();
        self
    }

    /// A user (password `{name}-password`) created before the nodes start.
    pub fn user(mut self, name: &str) -> Self {
        self.users.push(name.into());
        self
    }

    /// Starts the database, moto, haproxy and the nodes; `None` (the reason printed)
    /// when one of them is missing outside CI, a failure under `CI=true`.
    pub fn start(self) -> Option<Cluster> {
        crate::init_logging();
        let moto = Moto::start()?;
        let database = ScratchDb::create()?;
        let dir = tempfile::tempdir().unwrap();
        let addrs: Vec<SocketAddr> = (0..self.nodes).map(|_| free_addr()).collect();
        let balancer = Balancer::start(&addrs, dir.path())?;
        let blobs = format!(
            "s3://{}/cluster-{}-{}",
            s3::BUCKET,
            std::process::id(),
            crate::next_number()
        );
        let settings = |addr: SocketAddr, data_dir: &Path| {
            json!({
                "toml": self.toml,
                "listen": addr.to_string(),
                "public_url": balancer.url(),
                "data_dir": data_dir,
                "database": database.url,
                "blobs": blobs,
                "s3_endpoint": moto.endpoint,
            })
        };
        // The test's own view of the registry: accounts and tokens are made there, and
        // `gc` runs there as `wharf gc` would beside the nodes.
        let config = node_config(&settings(free_addr(), &dir.path().join("test")));
        let admin_token = crate::bootstrap(&config, &self.users);
        let db = wharf::registry::open_db(&config).expect("the cluster's database opens");
        let mut nodes: Vec<Node> = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let data_dir = dir.path().join(format!("node{i}"));
                Node {
                    addr: *addr,
                    url: format!("http://{addr}"),
                    settings: settings(*addr, &data_dir),
                    data_dir,
                    log: dir.path().join(format!("node{i}.log")),
                    child: None,
                }
            })
            .collect();
        // All spawned before any is waited for: they start in parallel.
        nodes.iter_mut().for_each(Node::spawn);
        nodes.iter_mut().for_each(Node::wait_ready);
        balancer.wait_for_nodes();
        Some(Cluster {
            url: balancer.url(),
            nodes,
            admin_token,
            db,
            config,
            balancer,
            moto,
            _database: database,
            _dir: dir,
        })
    }
}

/// A free port on 127.0.0.1 (another process may take it before the node binds it; a
/// node that cannot bind fails its start, which says so).
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

/// N nodes behind the balancer. Dropping it kills the nodes, haproxy and moto, and
/// drops the database.
pub struct Cluster {
    /// The balancer's URL: what clients use.
    pub url: String,
    /// Declared first so they are killed first, while their database still exists.
    pub nodes: Vec<Node>,
    pub admin_token: String,
    /// The cluster's database, for accounts, tokens and checks of what is stored.
    pub db: Db,
    config: Config,
    balancer: Balancer,
    pub moto: Moto,
    _database: ScratchDb,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `n` nodes, configured further by the builder.
    pub fn builder(n: usize) -> Builder {
        Builder {
            nodes: n,
            ..Builder::default()
        }
    }

    /// Creates a user (password `{name}-password`) and returns a token of `scope`.
    pub fn user(&self, name: &str, scope: Scope) -> String {
        crate::create_user(&self.db, name);
        self.token(name, scope)
    }

    /// A new token for an existing user.
    pub fn token(&self, user: &str, scope: Scope) -> String {
        crate::new_token(&self.db, user, scope, None)
    }

    /// The npm registry URL of `owner` through the balancer, with its slash.
    pub fn npm_registry(&self, owner: &str) -> String {
        format!("{}/api/packages/{owner}/npm/", self.url)
    }

    /// The registry as `wharf gc` and the other admin commands open it beside the
    /// running nodes (the same database and bucket, a data dir of its own).
    pub fn attach(&self) -> Arc<Registry> {
        Registry::attach(self.config.clone()).expect("the admin view of the cluster opens")
    }

    /// `storage.blobs` of every node (`s3://bucket/prefix`).
    pub fn blobs_setting(&self) -> &str {
        &self.config.storage.blobs
    }

    /// haproxy's log, for a failing test's message.
    pub fn balancer_log(&self) -> String {
        self.balancer.log()
    }
}

impl Drop for Cluster {
    /// A failing test shows what the nodes and haproxy logged.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (i, node) in self.nodes.iter().enumerate() {
                eprintln!("--- node {i} ({}):\n{}", node.url, node.log());
            }
            eprintln!("--- haproxy:\n{}", self.balancer.log());
        }
    }
}
