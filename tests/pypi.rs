//! The PyPI format, loaded from its `.wasm` file as a third party would ship it
//! (`plugin = "<path>"`, not bundled), driven by the real twine (uploads) and pip
//! (installs, downloads with hash checking) against a server on 127.0.0.1.
//!
//! Distributions are built by the test with a stdlib-only PEP 517 backend
//! (`fixtures/pypi/backend.py`): real wheels and sdists, installable offline.
//! `.ci/run` installs twine into its own venv at `WHARF_TWINE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wharf::db::tokens::Scope;
use wharf_tests::pypiserver::Pypiserver;
use wharf_tests::{
    BOGUS_TOKEN, StatusCode, TestServer, client, next_number, repositories, require_tool, run,
    said, sha256_hex,
};

const PYPI_WASM: &str = env!("WHARF_TEST_PYPI_WASM");

fn server() -> TestServer {
    TestServer::builder()
        .plugin("pypi", "/api/packages/{owner}/pypi", PYPI_WASM)
        .start()
}

/// twine, or `None` (with the reason printed) when a test should skip.
fn twine() -> Option<PathBuf> {
    if !require_tool("python3") {
        return None;
    }
    wharf_tests::require_client("twine", "WHARF_TWINE", "twine-7.0.0/bin/twine")
}

/// One Python user's world: twine, a scratch dir, and the server's repository for
/// an owner.
struct PyEnv {
    twine: PathBuf,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/api/packages/{owner}/pypi`
    repository: String,
}

impl PyEnv {
    fn new(twine: &Path, server: &TestServer, owner: &str) -> Self {
        Self {
            twine: twine.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
            repository: format!("{}/api/packages/{owner}/pypi", server.url),
        }
    }

    /// Builds the wheel and the sdist of a project with the fixture backend, the way a
    /// PEP 517 frontend calls it; returns (wheel, sdist).
    fn build(&self, project: &Project) -> (PathBuf, PathBuf) {
        let src = self
            .dir
            .path()
            .join(format!("src-{}-{}", project.name, project.version));
        std::fs::create_dir_all(&src).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pypi/backend.py");
        std::fs::copy(fixture, src.join("backend.py")).unwrap();
        std::fs::write(src.join("pyproject.toml"), project.pyproject()).unwrap();
        std::fs::write(
            src.join(format!("{}.py", project.module)),
            format!("VERSION = {:?}\n", project.version),
        )
        .unwrap();
        let dist = self.dir.path().join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        let mut python = Command::new("python3");
        python
            .current_dir(&src)
            .args(["-c", "import backend, sys; print(backend.build_wheel(sys.argv[1])); print(backend.build_sdist(sys.argv[1]))"])
            .arg(&dist);
        let out = run(python, "build");
        assert!(out.status.success(), "the fixture backend builds");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut names = stdout.lines().map(|name| dist.join(name));
        (names.next().unwrap(), names.next().unwrap())
    }

    fn upload(&self, files: &[&Path], user: &str, password: &str, extra: &[&str]) -> Output {
        let mut twine = Command::new(&self.twine);
        twine
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args([
                "--repository-url",
                &self.repository,
                "-u",
                user,
                "-p",
                password,
            ])
            .args(extra)
            .args(files)
            .env("HOME", self.dir.path())
            .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
        run(twine, "twine upload")
    }

    /// The simple index URL, with credentials in it when given (pip's usual way).
    fn index(&self, credentials: Option<(&str, &str)>) -> String {
        let url = format!("{}/simple/", self.repository);
        match credentials {
            Some((user, password)) => {
                url.replacen("http://", &format!("http://{user}:{password}@"), 1)
            }
            None => url,
        }
    }

    /// `pip <command>` with nothing from the user's pip configuration or caches.
    fn pip(&self, args: &[&str]) -> Output {
        let mut pip = Command::new("python3");
        pip.args([
            "-m",
            "pip",
            "--isolated",
            "--disable-pip-version-check",
            "--no-cache-dir",
        ])
        .args(["--no-input", "--keyring-provider", "disabled"])
        .args(args)
        .env("HOME", self.dir.path())
        .current_dir(self.dir.path());
        run(pip, &format!("pip {}", args.join(" ")))
    }

    /// `pip install` into a fresh target dir, from this index only.
    fn install(&self, requirement: &str, credentials: Option<(&str, &str)>) -> (Output, PathBuf) {
        let target = self.dir.path().join(format!("target-{}", next_number()));
        let index = self.index(credentials);
        let target_arg = target.to_string_lossy().into_owned();
        let out = self.pip(&[
            "install",
            "--index-url",
            &index,
            "--target",
            &target_arg,
            requirement,
        ]);
        (out, target)
    }

    /// `pip install wharf-app` (anonymous), which must succeed with [`APP`]'s version;
    /// the target dir, for the version of its dependency.
    fn install_app(&self, how: &str) -> PathBuf {
        let (out, target) = self.install("wharf-app", None);
        assert!(out.status.success(), "pip install {how}");
        assert_eq!(
            installed_version(&target, "wharf_app").as_deref(),
            Some(APP.version)
        );
        target
    }

    /// `pip download` of the sdist of `requirement` (`name==version`) alone, which must
    /// have the sha256 `hash`, into a fresh dir.
    fn download_sdist(&self, requirement: &str, hash: &str) -> (Output, PathBuf) {
        let requirements = self.dir.path().join(format!("req-{}.txt", next_number()));
        std::fs::write(
            &requirements,
            format!("{requirement} --hash=sha256:{hash}\n"),
        )
        .unwrap();
        let dest = self.dir.path().join(format!("download-{}", next_number()));
        let index = self.index(None);
        let out = self.pip(&[
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--require-hashes",
            "--index-url",
            &index,
            "-d",
            dest.to_str().unwrap(),
            "-r",
            requirements.to_str().unwrap(),
        ]);
        (out, dest)
    }
}

/// A project to build: name as its author spells it, version, module, dependencies.
struct Project {
    name: &'static str,
    version: &'static str,
    module: &'static str,
    dependencies: &'static [&'static str],
}

impl Project {
    fn pyproject(&self) -> String {
        let dependencies: Vec<String> =
            self.dependencies.iter().map(|d| format!("{d:?}")).collect();
        format!(
            "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n\
             [project]\nname = {:?}\nversion = {:?}\ndescription = \"A Wharf test project\"\n\
             requires-python = \">=3.8\"\ndependencies = [{}]\n",
            self.name,
            self.version,
            dependencies.join(", ")
        )
    }
}

const BASE_1_0: Project = Project {
    name: "Wharf_Base",
    version: "1.0.0",
    module: "wharf_base",
    dependencies: &[],
};
const BASE_1_1: Project = Project {
    version: "1.1.0",
    ..BASE_1_0
};
const APP: Project = Project {
    name: "wharf-app",
    version: "2.0.0",
    module: "wharf_app",
    dependencies: &["wharf-base>=1.0"],
};

/// The version pip installed of a distribution into `target`, from its dist-info dir.
fn installed_version(target: &Path, escaped_name: &str) -> Option<String> {
    std::fs::read_dir(target).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let version = name
            .strip_prefix(&format!("{escaped_name}-"))?
            .strip_suffix(".dist-info")?;
        Some(version.to_string())
    })
}

#[test]
fn twine_uploads_and_pip_installs_with_dependencies_yanks_and_hashes() {
    let Some(twine) = twine() else { return };
    let server = server();
    let token = server.user("alice", Scope::Write);
    let env = PyEnv::new(&twine, &server, "alice");
    let (base_wheel, base_sdist) = env.build(&BASE_1_0);
    let (base_11_wheel, _) = env.build(&BASE_1_1);
    let (app_wheel, _) = env.build(&APP);

    // One twine run, four files: two versions of one project (its two files of 1.0.0
    // in two requests) and a project that depends on it.
    let out = env.upload(
        &[&base_wheel, &base_sdist, &base_11_wheel, &app_wheel],
        "alice",
        &token,
        &[],
    );
    assert!(out.status.success(), "twine upload");

    // The same file again: a conflict twine reports. (twine 7 refuses
    // --skip-existing for any repository but pypi.org, so that is not tried.)
    let out = env.upload(&[&base_wheel], "alice", &token, &[]);
    assert!(!out.status.success(), "a duplicate file is refused");
    assert!(said(&out).contains("409"), "twine shows the conflict");

    // The app, with its dependency resolved from the same index: the newest base.
    let (out, target) = env.install("wharf-app", None);
    assert!(out.status.success(), "pip install wharf-app");
    assert_eq!(
        installed_version(&target, "wharf_app").as_deref(),
        Some("2.0.0")
    );
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.1.0")
    );
    assert_eq!(
        std::fs::read_to_string(target.join("wharf_base.py")).unwrap(),
        "VERSION = \"1.1.0\"\n"
    );

    // Yank 1.1.0 (PEP 592): resolution skips it, an `==` pin still gets it.
    let yank_url = format!("{}/yank/Wharf.Base/1.1.0", env.repository);
    let http = client();
    let yanked = http
        .post(&yank_url)
        .basic_auth("alice", Some(&token))
        .body("broken <fast> path")
        .send()
        .unwrap();
    assert_eq!(yanked.status(), StatusCode::OK);
    let (out, target) = env.install("wharf-base", None);
    assert!(out.status.success());
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.0.0")
    );
    let (out, target) = env.install("wharf-base==1.1.0", None);
    assert!(out.status.success(), "a pin installs a yanked version");
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.1.0")
    );
    assert!(
        said(&out).contains("broken <fast> path"),
        "pip shows the yank reason"
    );

    // pip download of the sdist, checked against the hash the index lists; the same
    // with a wrong hash fails.
    let sdist_bytes = std::fs::read(&base_sdist).unwrap();
    let hash = sha256_hex(&sdist_bytes);
    let download = |hash: &str| env.download_sdist("wharf-base==1.0.0", hash);
    let (out, dest) = download(&hash);
    assert!(out.status.success(), "pip download with --require-hashes");
    assert_eq!(
        std::fs::read(dest.join("wharf_base-1.0.0.tar.gz")).unwrap(),
        sdist_bytes,
        "the downloaded sdist is the uploaded one, byte for byte"
    );
    let (out, _) = download(&"0".repeat(64));
    assert!(!out.status.success(), "a wrong hash fails the download");
    assert!(said(&out).contains("DO NOT MATCH"), "pip says why");

    // What pip read, as a browser would: HTML with hashes, escaped Requires-Python
    // and the yank reason; JSON when asked; a redirect for an unnormalized name.
    let html = http
        .get(format!("{}/simple/wharf-base/", env.repository))
        .send()
        .unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html.headers()["vary"].to_str().unwrap().contains("Accept"));
    let html = html.text().unwrap();
    assert!(
        html.contains(&format!("wharf_base-1.0.0.tar.gz#sha256={hash}\"")),
        "{html}"
    );
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
    assert!(
        html.contains("data-yanked=\"broken &lt;fast&gt; path\""),
        "{html}"
    );
    let json: serde_json::Value = http
        .get(format!("{}/simple/wharf-base/", env.repository))
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(json["versions"], serde_json::json!(["1.0.0", "1.1.0"]));
    let wheel_entry = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == "wharf_base-1.0.0-py3-none-any.whl")
        .expect("the wheel is listed");
    let metadata = http
        .get(format!("{}.metadata", wheel_entry["url"].as_str().unwrap()))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(
        wheel_entry["core-metadata"]["sha256"].as_str(),
        Some(sha256_hex(&metadata).as_str()),
        "PEP 658: the listed hash is the served METADATA's"
    );
    assert!(String::from_utf8_lossy(&metadata).contains("Name: Wharf_Base"));
    let redirect = http
        .get(format!("{}/simple/Wharf_Base/", env.repository))
        .send()
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        redirect.headers()["location"],
        format!("{}/simple/wharf-base/", env.repository).as_str()
    );
    let projects = http
        .get(format!("{}/simple/", env.repository))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        projects.contains(">wharf-app</a>") && projects.contains(">wharf-base</a>"),
        "{projects}"
    );

    // Delete a version: its files leave the index.
    let deleted = http
        .delete(format!("{}/files/wharf-base/1.0.0", env.repository))
        .basic_auth("alice", Some(&token))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let html = http
        .get(format!("{}/simple/wharf-base/", env.repository))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!html.contains("1.0.0"), "{html}");
}

/// A twine-shaped upload body with the given sha256 claim, for what twine never sends.
fn upload_body(file_name: &str, content: &[u8], sha256: &str) -> (String, Vec<u8>) {
    let boundary = "wharf-test-boundary";
    let filetype = if file_name.ends_with(".whl") {
        "bdist_wheel"
    } else {
        "sdist"
    };
    let mut body = Vec::new();
    for (name, value) in [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", "wharf-base"),
        ("version", "1.0.0"),
        ("filetype", filetype),
        ("sha256_digest", sha256),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn bad_uploads_are_refused_and_store_nothing() {
    // No client program needed: these are bodies twine would never send.
    let server = server();
    let token = server.user("alice", Scope::Write);
    let url = format!("{}/api/packages/alice/pypi/", server.url);
    let http = client();
    let post = |content_type: &str, body: Vec<u8>| {
        let res = http
            .post(&url)
            .basic_auth("alice", Some(&token))
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        (res.status(), res.text().unwrap())
    };
    let content = b"not really a tarball";
    let right = sha256_hex(content);
    let (form, body) = upload_body("wharf_base-1.0.0.tar.gz", content, &"0".repeat(64));
    let cut = body[..body.len() - 30].to_vec();
    for (content_type, body, expected) in [
        (form.clone(), body, "sha256 digest mismatch"),
        (form.clone(), cut, "cut short"),
        (
            "application/json".to_string(),
            b"{}".to_vec(),
            "multipart/form-data",
        ),
        (
            form.clone(),
            upload_body("other-1.0.0.tar.gz", content, &right).1,
            "is not a distribution of",
        ),
        (
            form.clone(),
            upload_body("wharf_base-1.0.0.whl", content, &right).1,
            "is not a distribution of",
        ),
    ] {
        let (status, text) = post(&content_type, body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let (status, text) = post(
        &form,
        upload_body("wharf_base-1.0.0-py3-none-any.whl", content, &right).1,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("not a valid zip"), "{text}");
    assert_eq!(server.stored_blobs(), 0, "nothing was stored");
    assert_eq!(server.temp_files(), 0, "no temp file is left");

    // The right digest is accepted; the index then lists the file.
    let (status, text) = post(
        &form,
        upload_body("wharf_base-1.0.0.tar.gz", content, &right).1,
    );
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let page = http
        .get(format!("{url}simple/wharf-base/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(&format!("#sha256={right}")), "{page}");
    // Yanking a version that does not exist is a 404.
    let res = http
        .post(format!("{url}yank/wharf-base/9.9"))
        .basic_auth("alice", Some(&token))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_private_owner_needs_credentials_and_uploads_need_write_scope() {
    let Some(twine) = twine() else { return };
    let server = server();
    let token = server.user("alice", Scope::Write);
    server.org("secret", "alice", true);
    let env = PyEnv::new(&twine, &server, "secret");
    let (wheel, sdist) = env.build(&BASE_1_0);

    // A read-only token cannot upload; a write token can.
    let read_only = server.token("alice", Scope::Read, None);
    let out = env.upload(&[&wheel], "alice", &read_only, &[]);
    assert!(!out.status.success(), "a read token cannot upload");
    assert!(said(&out).contains("403"), "twine shows the refusal");
    assert!(
        env.upload(&[&wheel, &sdist], "alice", &token, &[])
            .status
            .success()
    );

    let (out, _) = env.install("wharf-base", None);
    assert!(!out.status.success(), "anonymous readers see nothing");
    let (out, _) = env.install("wharf-base", Some(("alice", BOGUS_TOKEN)));
    assert!(!out.status.success(), "a wrong token is refused");
    let (out, target) = env.install("wharf-base", Some(("alice", &read_only)));
    assert!(
        out.status.success(),
        "pip with credentials in the index URL"
    );
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.0.0")
    );
}

/// pip installs through a group of a hosted owner and a proxy of another Wharf's index
/// (issue 21): an upstream-only project comes through the proxy (its page rewritten, its
/// files fetched, hash-checked and kept), and a project the hosted owner has is served
/// from the hosted owner alone, whatever the upstream has (the confusion guard).
#[test]
fn pip_installs_through_a_group_of_a_hosted_owner_and_a_proxy() {
    let Some(twine) = twine() else { return };
    let upstream = server();
    let up_token = upstream.user("alice", Scope::Write);
    let up = PyEnv::new(&twine, &upstream, "alice");
    let (base_11, _) = up.build(&BASE_1_1);
    let (app, _) = up.build(&APP);
    let out = up.upload(&[&base_11, &app], "alice", &up_token, &[]);
    assert!(out.status.success(), "twine upload upstream");

    let tables = format!(
        "[proxies.pypi-public]\nformat = \"pypi\"\nupstreams = [\"{}/api/packages/alice/pypi\"]\n\n\
         [groups.py-all]\nformat = \"pypi\"\nmembers = [\"bob\", \"pypi-public\"]\n",
        upstream.url
    );
    let server = TestServer::builder()
        .plugin("pypi", "/api/packages/{owner}/pypi", PYPI_WASM)
        .toml(tables)
        .start();
    let bob_token = server.user("bob", Scope::Write);
    let bob = PyEnv::new(&twine, &server, "bob");
    let (base_10, _) = bob.build(&BASE_1_0);
    let out = bob.upload(&[&base_10], "bob", &bob_token, &[]);
    assert!(out.status.success(), "twine upload to the hosted member");

    let group = PyEnv::new(&twine, &server, "py-all");
    let target = group.install_app("through the group");
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.0.0"),
        "the hosted wharf-base hides the upstream's 1.1.0"
    );

    // The proxy kept the project it fetched, as a package of its own owner.
    let listed: serde_json::Value = client()
        .get(format!("{}/api/v1/packages/pypi-public", server.url))
        .bearer_auth(&server.admin_token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert!(names.iter().any(|n| n.contains("app")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("base")), "{names:?}");
}

/// pip installs through a proxy of pypiserver (issue 21), a real upstream of its own kind:
/// its HTML pages are rewritten to point at the proxy, the wheels of a project and its
/// dependency and an sdist are fetched, checked against the page's `#sha256=` and kept;
/// then, with pypiserver stopped, the same installs succeed from the proxy's cache (the
/// pages served stale: `metadata_ttl = "0s"` makes every read try the upstream first).
#[test]
fn pip_installs_through_a_proxy_of_pypiserver_then_from_its_cache() {
    let Some(twine) = twine() else { return };
    let build = PyEnv::new(&twine, &server(), "nobody");
    let (_, base_sdist) = build.build(&BASE_1_0);
    let (app_wheel, _) = build.build(&APP);
    let packages = app_wheel.parent().unwrap();
    let Some(mut upstream) = Pypiserver::start(packages) else {
        return;
    };

    let proxy = repositories::proxy(
        "pypi-up",
        "pypi",
        &[&upstream.url()],
        &["metadata_ttl = \"0s\""],
    );
    let server = TestServer::builder()
        .plugin("pypi", "/api/packages/{owner}/pypi", PYPI_WASM)
        .toml(proxy)
        .start();
    let env = PyEnv::new(&twine, &server, "pypi-up");
    let sdist_bytes = std::fs::read(&base_sdist).unwrap();
    let hash = sha256_hex(&sdist_bytes);
    let installs_and_downloads = |when: &str| {
        let target = env.install_app(&format!("through the proxy {when}"));
        assert_eq!(
            installed_version(&target, "wharf_base").as_deref(),
            Some("1.0.0"),
            "the dependency came through the proxy too"
        );
        let (out, dest) = env.download_sdist("wharf-base==1.0.0", &hash);
        assert!(out.status.success(), "pip download of the sdist {when}");
        assert_eq!(
            std::fs::read(dest.join("wharf_base-1.0.0.tar.gz")).unwrap(),
            sdist_bytes,
            "the sdist is pypiserver's, byte for byte"
        );
    };
    installs_and_downloads("from pypiserver");
    let log = upstream.log();
    assert!(
        log.contains("/packages/wharf_app-2.0.0-py3-none-any.whl"),
        "the wheel came from pypiserver: {log}"
    );

    upstream.stop();
    installs_and_downloads("with pypiserver stopped");
}

/// twine uploads to a group with `write_to` (issue 21): the files are the member's, pip
/// installs them through the group at once, and who may not write the member (bob, a
/// read token) is refused as at the member's own URL. A group without `write_to` stays
/// read-only (405).
#[test]
fn twine_uploads_through_a_group_to_its_write_to_member() {
    let Some(twine) = twine() else { return };
    let tables = "[groups.py-all]\nformat = \"pypi\"\nmembers = [\"acme\"]\nwrite_to = \"acme\"\n\n\
                  [groups.py-frozen]\nformat = \"pypi\"\nmembers = [\"acme\"]\n";
    let server = TestServer::builder()
        .plugin("pypi", "/api/packages/{owner}/pypi", PYPI_WASM)
        .toml(tables)
        .start();
    let alice = server.user("alice", Scope::Write);
    let bob = server.user("bob", Scope::Write);
    server.org("acme", "alice", false);
    let group = PyEnv::new(&twine, &server, "py-all");
    let (wheel, sdist) = group.build(&BASE_1_0);

    let out = group.upload(&[&wheel], "bob", &bob, &[]);
    assert!(!out.status.success(), "bob may not write acme");
    assert!(said(&out).contains("403"), "{}", said(&out));
    let read_only = server.token("alice", Scope::Read, None);
    let out = group.upload(&[&wheel], "alice", &read_only, &[]);
    assert!(!out.status.success(), "a read token cannot upload");
    let frozen = PyEnv::new(&twine, &server, "py-frozen");
    let out = frozen.upload(&[&wheel], "admin", &server.admin_token, &[]);
    assert!(!out.status.success(), "py-frozen has no write_to");
    assert!(said(&out).contains("405"), "{}", said(&out));

    let out = group.upload(&[&wheel, &sdist], "alice", &alice, &[]);
    assert!(out.status.success(), "twine upload through the group");
    let (out, target) = group.install("wharf-base", None);
    assert!(out.status.success(), "pip install through the group");
    assert_eq!(
        installed_version(&target, "wharf_base").as_deref(),
        Some("1.0.0")
    );
    let acme = PyEnv::new(&twine, &server, "acme");
    let page = client()
        .get(acme.index(None) + "wharf-base/")
        .send()
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "stored under acme");
    let page = page.text().unwrap();
    assert!(page.contains("wharf_base-1.0.0"), "{page}");
}
