//! The `wharf` binary as an operator uses it: first start prints the admin password and
//! a token, admin commands work while the server runs, SIGTERM stops it cleanly.
//!
//! It lives in the host crate, not with the other integration tests in `tests/`: Cargo
//! gives the path of the `wharf` executable (`CARGO_BIN_EXE_wharf`) only to the tests
//! of the package that builds it. It uses no host library code, so this test binary
//! stays small (it does not link wasmtime).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const WHARF: &str = env!("CARGO_BIN_EXE_wharf");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 exchange; returns the status code and body.
fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: token {token}\r\n")
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn wharf(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(WHARF)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

#[test]
fn first_start_admin_commands_and_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new(WHARF)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("WHARF_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut token = String::new();
    let mut password = String::new();
    for line in lines.by_ref().take(4) {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("token:") {
            token = t.trim().to_string();
        }
        if let Some(p) = line.trim().strip_prefix("password:") {
            password = p.trim().to_string();
        }
    }
    assert!(token.starts_with("wharf_"), "bootstrap token printed");
    assert!(password.len() >= 16, "generated password printed");

    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "server listens");
    assert_eq!(
        http(
            port,
            "PUT",
            "/api/packages/admin/generic/cli/1/f.txt",
            &token,
            "hello"
        )
        .0,
        201
    );

    // Admin commands against the live data dir.
    let out = wharf(
        dir.path(),
        &["user", "create", "zoe", "--password", "zoe-password"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wharf(
        dir.path(),
        &["token", "create", "--user", "zoe", "--scope", "write"],
    );
    assert!(out.status.success());
    let zoe = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(zoe.starts_with("wharf_"));
    assert_eq!(
        http(
            port,
            "PUT",
            "/api/packages/zoe/generic/z/1/f.txt",
            &zoe,
            "hi"
        )
        .0,
        201
    );
    assert_eq!(
        http(
            port,
            "PUT",
            "/api/packages/admin/generic/z/1/f.txt",
            &zoe,
            "hi"
        )
        .0,
        403
    );

    let out = wharf(dir.path(), &["org", "create", "crew", "--owner", "zoe"]);
    assert!(out.status.success());
    let out = wharf(
        dir.path(),
        &["org", "add-member", "crew", "admin", "--role", "read"],
    );
    assert!(out.status.success());
    let out = wharf(
        dir.path(),
        &["user", "create", "zoe", "--password", "another-one"],
    );
    assert!(!out.status.success(), "duplicate user refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already taken"));

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    // A restart does not create a second admin or print anything.
    let port = free_port();
    let mut again = Command::new(WHARF)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = http(
        port,
        "GET",
        "/api/packages/admin/generic/cli/1/f.txt",
        "",
        "",
    );
    assert_eq!(
        (status, body.as_str()),
        (200, "hello"),
        "data survives a restart"
    );
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    again.wait().unwrap();
    let mut printed = String::new();
    again
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(printed.is_empty(), "no second bootstrap: {printed}");
}

#[test]
fn bad_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("registry.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n").unwrap();
    let out = Command::new(WHARF)
        .arg("--config")
        .arg(&config)
        .args(["user", "create", "x", "--password", "12345678"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lisen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
