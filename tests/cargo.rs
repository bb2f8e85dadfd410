//! The Cargo format, loaded from its `.wasm` file as a third party would ship it
//! (`plugin = "<path>"`, not bundled into the host), driven by the real cargo of the
//! pinned toolchain, plus protocol-level edge cases over HTTP.
//!
//! Every cargo run gets its own `CARGO_HOME` whose config knows only the Wharf
//! registry and replaces crates.io with an empty directory source, so nothing here can
//! reach the internet. What cargo does against Wharf, as seen here: `config.json`
//! first (anonymously; after a 401 again with the token), index files at their sparse
//! paths, downloads at `{dl}/{name}/{version}/download`, and the web API below `{api}`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use wharf::db::tokens::Scope;
use wharf_tests::{StatusCode, TestServer, client, require_tool, sha256_hex};

const CARGO_WASM: &str = env!("WHARF_TEST_CARGO_WASM");

fn server() -> TestServer {
    TestServer::builder()
        .plugin("cargo", "/api/packages/{owner}/cargo", CARGO_WASM)
        .start()
}

/// The cargo that runs these tests (the pinned toolchain's), or `None` when a test
/// should skip.
fn cargo() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    require_tool(&cargo.to_string_lossy()).then_some(cargo)
}

/// One cargo user's world: a private `CARGO_HOME` and target dir, and projects in a
/// temp dir.
struct CargoEnv {
    cargo: PathBuf,
    dir: tempfile::TempDir,
}

impl CargoEnv {
    /// A `CARGO_HOME` whose registry `wharf` is `owner`'s index on `server`.
    fn new(cargo: &Path, server: &TestServer, owner: &str) -> Self {
        let env = Self {
            cargo: cargo.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
        };
        let no_crates_io = env.dir.path().join("no-crates-io");
        std::fs::create_dir_all(&no_crates_io).unwrap();
        std::fs::create_dir_all(env.home()).unwrap();
        let config = format!(
            "[registries.wharf]\n\
             index = \"sparse+{}/api/packages/{owner}/cargo/\"\n\
             credential-provider = \"cargo:token\"\n\n\
             # crates.io is an empty directory: a test that needs it fails instead of going online.\n\
             [source.crates-io]\nreplace-with = \"no-crates-io\"\n\
             [source.no-crates-io]\ndirectory = \"{}\"\n\n\
             [net]\nretry = 0\n",
            server.url,
            no_crates_io.display()
        );
        std::fs::write(env.home().join("config.toml"), config).unwrap();
        env
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("cargo-home")
    }

    fn target(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    /// Runs cargo in `cwd` with nothing of the outer build's environment; prints
    /// everything it said (shown when a test fails).
    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.run_with_input(cwd, args, "")
    }

    /// `cargo login`, reading the token from stdin as cargo prefers.
    fn login(&self, token: &str) {
        let out = self.run_with_input(self.dir.path(), &["login", "--registry", "wharf"], token);
        assert!(out.status.success(), "cargo login failed");
    }

    fn run_with_input(&self, cwd: &Path, args: &[&str], input: &str) -> Output {
        let mut cmd = Command::new(&self.cargo);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(cwd)
            .env_clear()
            .env("CARGO_HOME", self.home())
            .env("CARGO_TARGET_DIR", self.target())
            .env("CARGO_TERM_COLOR", "never");
        for keep in ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR"] {
            if let Some(value) = std::env::var_os(keep) {
                cmd.env(keep, value);
            }
        }
        // The toolchain's own rustc, whatever rustup would pick in a temp dir.
        let rustc = self.cargo.with_file_name("rustc");
        if rustc.is_file() {
            cmd.env("RUSTC", rustc);
        }
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().expect("cargo runs");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        eprintln!(
            "$ cargo {} ({:.1} s)\n{}{}",
            args.join(" "),
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs cargo and expects success; returns stdout.
    fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(out.status.success(), "cargo {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs cargo and expects failure; returns stderr.
    fn fails(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(!out.status.success(), "cargo {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Writes a project: `Cargo.toml` with `extra` after `[package]`, and `code` as
    /// `src/lib.rs` (or `src/main.rs` for a binary).
    fn project(&self, name: &str, version: &str, extra: &str, code: &str, bin: bool) -> PathBuf {
        let dir = self.dir.path().join(format!("{name}-{version}"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"The {name} test crate\"\nlicense = \"MIT\"\npublish = [\"wharf\"]\n{extra}"
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        let file = if bin { "main.rs" } else { "lib.rs" };
        std::fs::write(dir.join("src").join(file), code).unwrap();
        dir
    }
}

/// A library crate whose one function names its version.
fn lib_code(name: &str, version: &str) -> String {
    format!("pub fn which() -> &'static str {{ \"{name} {version}\" }}\n")
}

/// The lines of a crate's index file.
fn index_lines(server: &TestServer, owner: &str, path: &str) -> Vec<Value> {
    let url = format!("{}/api/packages/{owner}/cargo/{path}", server.url);
    let response = client().get(url).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
        .text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The version of `name` in a project's `Cargo.lock`.
fn locked_version(project: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(project.join("Cargo.lock")).unwrap();
    let at = lock.find(&format!("name = \"{name}\"\n")).expect("locked");
    let rest = &lock[at..];
    let version = rest.split("version = \"").nth(1).unwrap();
    version[..version.find('"').unwrap()].to_string()
}

#[test]
fn cargo_publishes_resolves_yanks_and_searches() {
    let Some(cargo) = cargo() else { return };
    let server = server();
    let token = server.user("alice", Scope::Write);
    let publisher = CargoEnv::new(&cargo, &server, "alice");
    let cwd = publisher.dir.path().to_path_buf();
    publisher.login(&token);

    let alpha = publisher.project(
        "alpha",
        "0.1.0",
        "[features]\ndefault = []\nextra = []\n",
        &lib_code("alpha", "0.1.0"),
        false,
    );
    publisher.ok(&alpha, &["publish", "--registry", "wharf", "--no-verify"]);
    let lines = index_lines(&server, "alice", "al/ph/alpha");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["name"], "alpha");
    assert_eq!(lines[0]["vers"], "0.1.0");
    assert_eq!(lines[0]["yanked"], false);
    assert_eq!(lines[0]["features"], json!({"default": [], "extra": []}));
    let download = client()
        .get(format!(
            "{}/api/packages/alice/cargo/api/v1/crates/alpha/0.1.0/download",
            server.url
        ))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(lines[0]["cksum"], sha256_hex(&download));

    // A second crate depending on the first from the same registry: `cargo publish`
    // verifies it by building it with alpha downloaded from Wharf.
    let beta = publisher.project(
        "beta",
        "0.1.0",
        "[dependencies]\nalpha = { version = \"0.1\", registry = \"wharf\" }\n",
        "pub fn which() -> String { format!(\"beta uses {}\", alpha::which()) }\n",
        false,
    );
    publisher.ok(&beta, &["publish", "--registry", "wharf", "--no-verify"]);
    let lines = index_lines(&server, "alice", "be/ta/beta");
    let dep = &lines[0]["deps"][0];
    assert_eq!(dep["name"], "alpha");
    assert_eq!(dep["req"], "^0.1");
    assert_eq!(dep["kind"], "normal");
    assert!(dep.get("registry").is_none(), "same registry: {dep}");

    let alpha_011 = publisher.project("alpha", "0.1.1", "", &lib_code("alpha", "0.1.1"), false);
    publisher.ok(
        &alpha_011,
        &["publish", "--registry", "wharf", "--no-verify"],
    );

    // A fresh CARGO_HOME, anonymous (alice is a public owner), builds against both.
    let consumer = CargoEnv::new(&cargo, &server, "alice");
    let app = consumer.project(
        "app",
        "1.0.0",
        "[dependencies]\nbeta = { version = \"0.1\", registry = \"wharf\" }\n",
        "fn main() { println!(\"{}\", beta::which()); }\n",
        true,
    );
    let said = consumer.ok(&app, &["run", "-q"]);
    assert_eq!(said.trim(), "beta uses alpha 0.1.1");

    // Yanking takes 0.1.1 out of new resolutions; undoing it brings it back.
    publisher.ok(&cwd, &["yank", "--registry", "wharf", "alpha@0.1.1"]);
    let lines = index_lines(&server, "alice", "al/ph/alpha");
    assert_eq!(lines[1]["yanked"], true);
    consumer.ok(&app, &["generate-lockfile"]);
    assert_eq!(locked_version(&app, "alpha"), "0.1.0");
    publisher.ok(
        &cwd,
        &["yank", "--registry", "wharf", "--undo", "alpha@0.1.1"],
    );
    consumer.ok(&app, &["generate-lockfile"]);
    assert_eq!(locked_version(&app, "alpha"), "0.1.1");

    let owners = publisher.ok(&cwd, &["owner", "--registry", "wharf", "--list", "alpha"]);
    assert!(owners.contains("alice"), "{owners}");
    let found = publisher.ok(&cwd, &["search", "--registry", "wharf", "alph"]);
    assert!(
        found.contains("alpha = \"0.1.1\"") && found.contains("The alpha test crate"),
        "{found}"
    );
    assert!(!found.contains("beta"), "{found}");

    // Downloads are counted: only the consumer fetched alpha 0.1.1.
    let versions: Value = client()
        .get(format!("{}/api/v1/packages/alice/cargo/alpha", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let v011 = versions["versions"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["version"] == "0.1.1"))
        .unwrap_or_else(|| panic!("{versions}"));
    assert_eq!(v011["downloads"], 1, "{versions}");

    // The same version again is refused (cargo itself checks the index first).
    let again = publisher.fails(
        &alpha_011,
        &["publish", "--registry", "wharf", "--no-verify"],
    );
    assert!(again.contains("already exists"), "{again}");

    // A read token cannot publish.
    let reader = CargoEnv::new(&cargo, &server, "alice");
    let read_token = server.token("alice", Scope::Read, None);
    reader.login(&read_token);
    let alpha_02 = reader.project("alpha", "0.2.0", "", &lib_code("alpha", "0.2.0"), false);
    let refused = reader.fails(
        &alpha_02,
        &["publish", "--registry", "wharf", "--no-verify"],
    );
    assert!(refused.contains("403"), "{refused}");
    assert_eq!(index_lines(&server, "alice", "al/ph/alpha").len(), 2);
}

#[test]
fn cargo_sends_its_token_to_a_private_owner() {
    let Some(cargo) = cargo() else { return };
    let server = server();
    let token = server.user("alice", Scope::Write);
    server.org("secret", "alice", true);

    let alice = CargoEnv::new(&cargo, &server, "secret");
    alice.login(&token);
    let hidden = alice.project("hidden", "1.0.0", "", &lib_code("hidden", "1.0.0"), false);
    alice.ok(&hidden, &["publish", "--registry", "wharf", "--no-verify"]);

    // The index, config.json and the download all need the token: config.json said
    // auth-required after cargo's anonymous try got a 401. (`fetch` downloads and
    // checks the .crate without spending time on compiling it.)
    let app_code = "fn main() { println!(\"{}\", hidden::which()); }\n";
    let deps = "[dependencies]\nhidden = { version = \"1\", registry = \"wharf\" }\n";
    let member = CargoEnv::new(&cargo, &server, "secret");
    member.login(&token);
    let app = member.project("app", "1.0.0", deps, app_code, true);
    member.ok(&app, &["fetch"]);
    assert_eq!(locked_version(&app, "hidden"), "1.0.0");

    let stranger = CargoEnv::new(&cargo, &server, "secret");
    let app = stranger.project("app", "1.0.0", deps, app_code, true);
    let refused = stranger.fails(&app, &["generate-lockfile"]);
    assert!(refused.contains("no token found"), "{refused}");

    let config = client()
        .get(format!(
            "{}/api/packages/secret/cargo/config.json",
            server.url
        ))
        .send()
        .unwrap();
    assert_eq!(config.status(), StatusCode::UNAUTHORIZED);
    let config: Value = client()
        .get(format!(
            "{}/api/packages/secret/cargo/config.json",
            server.url
        ))
        .header("authorization", &token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["auth-required"], true);
}

/// A publish body as cargo sends it.
fn publish_body(meta: &Value, krate: &[u8]) -> Vec<u8> {
    let json = meta.to_string();
    let mut body = (json.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(json.as_bytes());
    body.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    body.extend_from_slice(krate);
    body
}

/// A small gzip stream standing in for a `.crate`.
fn gzip(content: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(content).unwrap();
    encoder.finish().unwrap()
}

fn new_crate(name: &str, vers: &str) -> Value {
    json!({"name": name, "vers": vers, "deps": [], "features": {}, "authors": [],
           "description": "d", "license": "MIT", "readme": "# A readme for the page"})
}

/// The message of cargo's error envelope.
fn detail(response: reqwest::blocking::Response) -> String {
    let body: Value = response.json().unwrap();
    body["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no errors[].detail in {body}"))
        .to_string()
}

/// The README cargo sends with a publish is kept as a file of the version and shown
/// on the crate's page (issue 23), with the registry entry for this owner's index.
#[test]
fn a_published_readme_is_shown_on_the_crate_page() {
    let server = TestServer::builder()
        .plugin("cargo", "/api/packages/{owner}/cargo", CARGO_WASM)
        .start();
    let token = server.user("alice", Scope::Write);
    let published = client()
        .put(format!(
            "{}/api/packages/alice/cargo/api/v1/crates/new",
            server.url
        ))
        .header("authorization", &token)
        .body(publish_body(&new_crate("paged", "1.0.0"), &gzip(b"crate")))
        .send()
        .unwrap();
    assert_eq!(published.status(), StatusCode::OK);
    let described = server
        .registry
        .describe_package("alice", "cargo", "paged", None, &server.url);
    let page = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(described)
        .unwrap()
        .expect("cargo describes its crates");
    let readme = page.readme.expect("the README cargo sent");
    assert_eq!(
        (readme.markdown, readme.text.as_str()),
        (true, "# A readme for the page")
    );
    let index = format!("sparse+{}/api/packages/alice/cargo/", server.url);
    assert!(page.setup[0].code.contains(&index), "{:?}", page.setup);
}

#[test]
fn publish_protocol_edge_cases() {
    let server = TestServer::builder()
        .plugin("cargo", "/api/packages/{owner}/cargo", CARGO_WASM)
        .format_max_upload("cargo", 64 << 10)
        .start();
    let token = server.user("alice", Scope::Write);
    let api = format!("{}/api/packages/alice/cargo/api/v1/crates", server.url);
    let put = |body: Vec<u8>| {
        client()
            .put(format!("{api}/new"))
            .header("authorization", &token)
            .body(body)
            .send()
            .unwrap()
    };
    let krate = gzip(b"not really a tar");

    let good = publish_body(&new_crate("Edge", "1.0.0"), &krate);
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() - 3].to_vec(),
            "ends inside the .crate",
        ),
        ("empty", Vec::new(), "too short"),
        (
            "json length beyond the body",
            {
                let mut b = good.clone();
                b[..4].copy_from_slice(&10_000u32.to_le_bytes());
                b
            },
            "ends inside the publish JSON",
        ),
        (
            "bad json",
            publish_body(&json!("x"), &krate),
            "malformed publish JSON",
        ),
        (
            "bad name",
            publish_body(&new_crate("1st", "1.0.0"), &krate),
            "invalid crate name",
        ),
        (
            "bad version",
            publish_body(&new_crate("edge", "1.0"), &krate),
            "invalid version",
        ),
        (
            "not gzip",
            publish_body(&new_crate("edge", "1.0.0"), b"PK\x03\x04"),
            "not a gzip",
        ),
    ];
    let mut bad_dep = new_crate("edge", "1.0.0");
    bad_dep["deps"] = json!([{"name": "a", "version_req": "not a req", "kind": "normal"}]);
    cases.push((
        "bad dependency",
        publish_body(&bad_dep, &krate),
        "invalid version requirement",
    ));
    for (what, body, message) in cases {
        let response = put(body);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let detail = detail(response);
        assert!(detail.contains(message), "{what}: {detail}");
    }
    let too_big = publish_body(&new_crate("edge", "1.0.0"), &vec![0x1f; 70 << 10]);
    assert_eq!(put(too_big).status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.stored_blobs(), 0, "nothing stored");
    assert_eq!(server.temp_files(), 0);

    // A publish with a crates.io dependency and a renamed one, then duplicates.
    let mut meta = new_crate("Edge", "1.0.0+build.1");
    meta["deps"] = json!([
        {"name": "serde", "version_req": "^1", "features": ["derive"], "optional": false,
         "default_features": true, "target": null, "kind": "normal",
         "registry": "https://github.com/rust-lang/crates.io-index"},
        {"name": "alpha", "version_req": "^0.1", "features": [], "optional": true,
         "default_features": true, "target": null, "kind": "dev", "registry": null,
         "explicit_name_in_toml": "renamed"}
    ]);
    meta["features"] = json!({"json": ["dep:renamed"], "plain": []});
    let response = put(publish_body(&meta, &krate));
    assert_eq!(response.status(), StatusCode::OK);
    let reply: Value = response.json().unwrap();
    assert!(reply["warnings"].is_object());

    let lines = index_lines(&server, "alice", "ed/ge/edge");
    assert_eq!(lines[0]["name"], "Edge");
    assert_eq!(lines[0]["vers"], "1.0.0+build.1");
    assert_eq!(lines[0]["cksum"], sha256_hex(&krate));
    assert_eq!(lines[0]["v"], 2);
    assert_eq!(lines[0]["features"], json!({"plain": []}));
    assert_eq!(lines[0]["features2"], json!({"json": ["dep:renamed"]}));
    assert_eq!(
        lines[0]["deps"][0]["registry"],
        "https://github.com/rust-lang/crates.io-index"
    );
    assert_eq!(lines[0]["deps"][1]["name"], "renamed");
    assert_eq!(lines[0]["deps"][1]["package"], "alpha");

    for (name, vers, status, message) in [
        (
            "Edge",
            "1.0.0+build.2",
            StatusCode::CONFLICT,
            "already uploaded",
        ),
        (
            "edge",
            "1.0.1",
            StatusCode::BAD_REQUEST,
            "published here as `Edge`",
        ),
    ] {
        let response = put(publish_body(&new_crate(name, vers), &krate));
        assert_eq!(response.status(), status, "{name} {vers}");
        assert!(detail(response).contains(message));
    }

    // The download is the stored .crate; yank without credentials is a 401, with them
    // it flips the index line; yanking a missing version is a 404.
    let download = client()
        .get(format!("{api}/edge/1.0.0+build.1/download"))
        .send()
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().unwrap().as_ref(), krate.as_slice());
    let yank_url = format!("{api}/Edge/1.0.0+build.1/yank");
    assert_eq!(
        client().delete(&yank_url).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let yanked = client()
        .delete(&yank_url)
        .header("authorization", &token)
        .send()
        .unwrap();
    assert_eq!(yanked.status(), StatusCode::OK);
    assert_eq!(yanked.text().unwrap(), r#"{"ok":true}"#);
    assert_eq!(
        index_lines(&server, "alice", "ed/ge/edge")[0]["yanked"],
        true
    );
    let missing = client()
        .delete(format!("{api}/edge/9.9.9/yank"))
        .header("authorization", &token)
        .send()
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let absent = client()
        .get(format!(
            "{}/api/packages/alice/cargo/ab/se/absent",
            server.url
        ))
        .send()
        .unwrap();
    assert_eq!(absent.status(), StatusCode::NOT_FOUND);
}

/// cargo builds against a proxy of another Wharf's Cargo registry (issue 21): the
/// proxy serves the upstream's index files and its own `config.json`, so the crate is
/// downloaded through the proxy, checked against the index's `cksum` and kept; with
/// the upstream gone, a fresh build still resolves and downloads from the cache.
#[test]
fn cargo_builds_against_a_proxy_of_another_registry() {
    let Some(cargo) = cargo() else { return };
    let upstream = server();
    let token = upstream.user("alice", Scope::Write);
    let publisher = CargoEnv::new(&cargo, &upstream, "alice");
    publisher.login(&token);
    let alpha = publisher.project("alpha", "0.1.0", "", &lib_code("alpha", "0.1.0"), false);
    publisher.ok(&alpha, &["publish", "--registry", "wharf", "--no-verify"]);

    let server = TestServer::builder()
        .plugin("cargo", "/api/packages/{owner}/cargo", CARGO_WASM)
        .toml(format!(
            "[proxies.crates]\nformat = \"cargo\"\nupstreams = [\"{}/api/packages/alice/cargo\"]\n",
            upstream.url
        ))
        .start();
    let build = |env: &CargoEnv| {
        let app = env.project(
            "app",
            "1.0.0",
            "[dependencies]\nalpha = { version = \"0.1\", registry = \"wharf\" }\n",
            "fn main() { println!(\"{}\", alpha::which()); }\n",
            true,
        );
        env.ok(&app, &["build"]);
        assert_eq!(locked_version(&app, "alpha"), "0.1.0");
    };
    build(&CargoEnv::new(&cargo, &server, "crates"));
    let cached = client()
        .get(format!("{}/api/v1/packages/crates", server.url))
        .bearer_auth(&server.admin_token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(cached.contains("\"alpha\""), "{cached}");

    drop(upstream);
    build(&CargoEnv::new(&cargo, &server, "crates"));
}
