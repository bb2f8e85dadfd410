//! haproxy (Debian's) as the load balancer in front of a test cluster: round-robin over
//! the nodes on 127.0.0.1, each node health-checked on `/readyz`, its configuration
//! written to a temp dir. It runs as a [`ServerProcess`], so it is killed when dropped
//! and cannot outlive the test process.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::server_process::ServerProcess;

/// How often haproxy probes a node, in milliseconds: a killed node is taken out of the
/// rotation after two failed probes, a restarted one put back after one good probe.
const CHECK_INTERVAL_MS: u64 = 250;

pub struct Balancer {
    process: ServerProcess,
    nodes: usize,
}

impl Balancer {
    /// haproxy on a free port in front of `nodes`; `None` (the reason printed) when it
    /// is not installed outside CI, a failure under `CI=true`.
    pub fn start(nodes: &[SocketAddr], dir: &Path) -> Option<Self> {
        if !crate::require_tool("haproxy") {
            return None;
        }
        let config = dir.join("haproxy.cfg");
        let servers: String = nodes
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                format!("  server node{i} {addr} check inter {CHECK_INTERVAL_MS} fall 2 rise 1\n")
            })
            .collect();
        let process = ServerProcess::start(
            "haproxy",
            Path::new("haproxy"),
            |port| {
                std::fs::write(&config, haproxy_cfg(port, &servers)).unwrap();
                // -db: stay in the foreground, so the watchdog's kill reaches haproxy.
                vec!["-db".into(), "-f".into(), config.display().to_string()]
            },
            "/healthz",
            &dir.join("haproxy.log"),
        );
        Some(Self {
            process,
            nodes: nodes.len(),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.process.url()
    }

    /// Waits until a round of requests through the balancer finds every node ready, so
    /// the first request of a test is not spent on a node haproxy has not seen come up.
    pub fn wait_for_nodes(&self) {
        let http = crate::client();
        let url = format!("{}/readyz", self.url());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut in_a_row = 0;
        while in_a_row < 2 * self.nodes {
            let ok = http.get(&url).send().is_ok_and(|r| r.status().is_success());
            in_a_row = if ok { in_a_row + 1 } else { 0 };
            assert!(
                Instant::now() < deadline,
                "haproxy never saw every node up:\n{}",
                self.process.log()
            );
            if !ok {
                std::thread::sleep(Duration::from_millis(CHECK_INTERVAL_MS));
            }
        }
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// The configuration: HTTP mode, round-robin, bodies streamed both ways (haproxy
/// buffers neither by default), and a request whose connection to a node is refused
/// sent to another node (`retries` + `redispatch`), as a node's death would need.
fn haproxy_cfg(port: u16, servers: &str) -> String {
    format!(
        "global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch
frontend wharf
  bind 127.0.0.1:{port}
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
{servers}"
    )
}
