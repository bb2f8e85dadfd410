//! pypiserver 2.4.2 as a PyPI upstream on 127.0.0.1: it serves the distributions in a
//! directory the test fills (PEP 503 HTML pages with `#sha256=` links), without
//! authentication. `.ci/run` installs it into its own venv under
//! `~/.cache/wharf-clients/pypiserver-2.4.2` (or set `WHARF_PYPISERVER` to its
//! `bin/pypi-server`).

use std::path::Path;

use crate::server_process::ServerProcess;
use crate::{require_client, require_tool};

pub struct Pypiserver {
    server: ServerProcess,
    _log_dir: tempfile::TempDir,
}

impl Pypiserver {
    /// Serves the distributions in `packages`; `None` (the reason printed) when
    /// pypiserver is missing outside CI; under `CI=true` a missing one fails the test.
    pub fn start(packages: &Path) -> Option<Self> {
        if !require_tool("python3") {
            return None;
        }
        let bin = require_client(
            "pypiserver 2.4.2",
            "WHARF_PYPISERVER",
            "pypiserver-2.4.2/bin/pypi-server",
        )?;
        let log_dir = tempfile::tempdir().unwrap();
        let packages = packages.display().to_string();
        let args = |port: u16| {
            // `-a . -P .`: no authentication for any action; the simple-dir backend
            // lists the directory afresh on every request (no cache to go stale); `-v`
            // logs every request.
            let port = port.to_string();
            [
                "run",
                "-v",
                "--interface",
                "127.0.0.1",
                "--port",
                &port,
                "-a",
                ".",
                "-P",
                ".",
                "--hash-algo",
                "sha256",
                "--backend",
                "simple-dir",
                &packages,
            ]
            .map(String::from)
            .to_vec()
        };
        let log = log_dir.path().join("pypiserver.log");
        let server = ServerProcess::start("pypiserver", &bin, args, "/simple/", &log);
        Some(Self {
            server,
            _log_dir: log_dir,
        })
    }

    /// The index root (its `/simple/` is the project list), as a proxy's upstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stops the server: its port refuses connections from now on.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// What pypiserver logged (its access log among it).
    pub fn log(&self) -> String {
        self.server.log()
    }
}
