//! distribution 2.8.2 (Debian's `docker-registry`) as an OCI upstream on 127.0.0.1:
//! filesystem storage in a temp dir, deletes enabled, and htpasswd Basic
//! authentication for one user, so a proxy's `username` / `password` go through.
//! `.ci/run` installs the package.

use std::path::Path;

use crate::require_tool;
use crate::server_process::ServerProcess;

/// The one account of the registry.
pub const USER: &str = "upstream";
pub const PASSWORD: &str = "upstream-password";
/// `htpasswd -nbB upstream upstream-password`: distribution reads bcrypt entries only.
const HTPASSWD: &str = "upstream:$2y$05$WSTEq/S63muuFU4mSYTCK.7B4Kms9TkVM/KDqCVUTu/sYhq7dY/vq\n";

pub struct Distribution {
    server: ServerProcess,
    _dir: tempfile::TempDir,
}

impl Distribution {
    /// An empty registry; `None` (the reason printed) when `docker-registry` is missing
    /// outside CI; under `CI=true` a missing one fails the test.
    pub fn start() -> Option<Self> {
        if !require_tool("docker-registry") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::write(dir.path().join("htpasswd"), HTPASSWD).unwrap();
        let config = dir.path().join("config.yml").display().to_string();
        let args = |port: u16| {
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log: {{ level: warn, accesslog: {{ disabled: true }} }}\n\
                     storage:\n  filesystem: {{ rootdirectory: {root}/data }}\n  delete: {{ enabled: true }}\n\
                     http: {{ addr: 127.0.0.1:{port}, secret: wharf-test-upstream }}\n\
                     auth:\n  htpasswd: {{ realm: wharf-test-upstream, path: {root}/htpasswd }}\n"
                ),
            )
            .unwrap();
            vec!["serve".to_string(), config.clone()]
        };
        let log = dir.path().join("registry.log");
        let server = ServerProcess::start(
            "docker-registry",
            Path::new("docker-registry"),
            args,
            "/v2/",
            &log,
        );
        Some(Self { server, _dir: dir })
    }

    /// `127.0.0.1:PORT`, as skopeo names a registry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }

    /// `http://127.0.0.1:PORT`, a proxy's upstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `user:password`, skopeo's form of the registry's credentials.
    pub fn creds(&self) -> String {
        format!("{USER}:{PASSWORD}")
    }

    /// Stops the registry: its port refuses connections from now on.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// What the registry logged (warnings and errors).
    pub fn log(&self) -> String {
        self.server.log()
    }
}
