//! An upstream server program a test runs on 127.0.0.1 (pypiserver, distribution's
//! `docker-registry`): started on a free port, waited for until it answers HTTP, and
//! killed when dropped.
//!
//! The program runs under a small shell watchdog that kills it when the test process is
//! gone, so a test binary that is killed (a time-out, Ctrl-C) leaves no server behind; a
//! `Drop` that runs (a passing or panicking test) stops it at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Exits the program (`exec`ed in its place) within half a second of the test process
/// (`$1`) ending; ends by itself once the program has.
const WATCHDOG: &str = r#"test_pid=$1; shift
(while kill -0 "$test_pid" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 0.5; done
 kill $$ 2>/dev/null) &
exec "$@""#;

pub struct ServerProcess {
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl ServerProcess {
    /// Runs `program` with the arguments `args` gives for a free port (its stdout and
    /// stderr to `log`), until `GET http://127.0.0.1:PORT{probe}` answers with any
    /// status. The port is chosen before the program binds it, so another test may take
    /// it in between: that start is retried on another port.
    pub fn start(
        what: &str,
        program: &Path,
        args: impl Fn(u16) -> Vec<String>,
        probe: &str,
        log: &Path,
    ) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::launch(program, &args, probe, log) {
                Ok(server) => return server,
                Err(why) => last = why,
            }
        }
        panic!("{what} did not start: {last}");
    }

    fn launch(
        program: &Path,
        args: &impl Fn(u16) -> Vec<String>,
        probe: &str,
        log: &Path,
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new("sh")
            .args(["-c", WATCHDOG, "sh"])
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args(port))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("{} runs: {e}", program.display()))?;
        let mut server = Self {
            port,
            child,
            log: log.into(),
        };
        let url = format!("http://127.0.0.1:{port}{probe}");
        let ping = crate::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while ping.get(&url).send().is_err() {
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                server.stop();
                return Err(format!("exited: {exited:?}\n{}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the program printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the program (connections to its port are refused from now on).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
