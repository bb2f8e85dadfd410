//! npm, pnpm and yarn as a user runs them: a home dir with `.npmrc` for one registry, a
//! cache of its own, package sources to publish and projects to install into. Any npm
//! registry works: a Wharf owner, a proxy or group, or Verdaccio.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::{TestServer, run};

/// One npm user's world: a home dir with `.npmrc`, its own cache, and projects.
pub struct NpmEnv {
    dir: tempfile::TempDir,
    /// The registry URL, with its trailing slash.
    pub registry: String,
}

impl NpmEnv {
    /// `.npmrc` pointing at `owner`'s npm registry, with `token` if given.
    pub fn new(server: &TestServer, owner: &str, token: Option<&str>) -> Self {
        Self::for_registry(&server.npm_registry(owner), token)
    }

    /// `.npmrc` pointing at `registry` (a URL ending in `/`), with `token` if given.
    pub fn for_registry(registry: &str, token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut npmrc = format!("registry={registry}\n");
        if let Some(token) = token {
            let host_path = registry.trim_start_matches("http:");
            npmrc.push_str(&format!("{host_path}:_authToken={token}\n"));
        }
        std::fs::write(dir.path().join(".npmrc"), npmrc).unwrap();
        Self {
            dir,
            registry: registry.into(),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// A command with this env's config, cache and home, and nothing from the machine's.
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(cwd)
            .env("HOME", self.home())
            .env("npm_config_userconfig", self.home().join(".npmrc"))
            .env("npm_config_cache", self.home().join("cache"))
            .env("npm_config_update_notifier", "false")
            .env("npm_config_audit", "false")
            .env("npm_config_fund", "false")
            .env("YARN_CACHE_FOLDER", self.home().join("yarn-cache"))
            .env("XDG_DATA_HOME", self.home().join("xdg-data"))
            .env("XDG_CACHE_HOME", self.home().join("xdg-cache"));
        c
    }

    pub fn run(&self, program: &str, cwd: &Path, args: &[&str]) -> Output {
        let mut command = self.command(program, cwd);
        command.args(args);
        run(command, &format!("{program} {}", args.join(" ")))
    }

    /// Runs npm and returns stdout, failing the test on a non-zero exit.
    pub fn npm(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run("npm", cwd, args);
        assert!(out.status.success(), "npm {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// `npm … --json`, parsed.
    pub fn npm_json(&self, cwd: &Path, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.npm(cwd, &args)).expect("npm printed JSON")
    }

    /// A package directory with `package.json` = `manifest` and an `index.js` that
    /// exports `"name@version"`.
    pub fn package(&self, manifest: Value) -> PathBuf {
        let name = manifest["name"].as_str().unwrap().replace('/', "_");
        let version = manifest["version"].as_str().unwrap();
        let dir = self.home().join("src").join(format!("{name}-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
        std::fs::write(
            dir.join("index.js"),
            format!("module.exports = {:?};\n", format!("{name}@{version}")),
        )
        .unwrap();
        dir
    }

    /// Publishes `manifest` with `files` beside it (an `index.js` among them replaces
    /// the default one), failing the test if npm does.
    pub fn publish(&self, manifest: Value, files: &[(&str, &[u8])]) {
        let dir = self.package(manifest);
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        self.npm(&dir, &["publish"]);
    }

    /// An empty project to install into.
    pub fn project(&self, name: &str) -> PathBuf {
        let dir = self.home().join("projects").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            json!({ "name": name, "version": "1.0.0", "private": true }).to_string(),
        )
        .unwrap();
        dir
    }
}

/// The version of `name` installed in `project`'s `node_modules`.
pub fn installed_version(project: &Path, name: &str) -> String {
    let manifest =
        std::fs::read_to_string(project.join("node_modules").join(name).join("package.json"))
            .unwrap_or_else(|e| panic!("{name} is installed in {}: {e}", project.display()));
    serde_json::from_str::<Value>(&manifest).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What `npm publish` sends: the manifest, dist-tags and the base64 tarball.
pub fn publish_body(name: &str, version: &str, tarball: &[u8], integrity: Option<String>) -> Value {
    let bare = name.rsplit('/').next().unwrap();
    let integrity =
        integrity.unwrap_or_else(|| format!("sha512-{}", STANDARD.encode(Sha512::digest(tarball))));
    json!({
        "_id": name, "name": name, "description": "test",
        "dist-tags": { "latest": version },
        "versions": { version: {
            "name": name, "version": version, "description": "test",
            "dist": { "integrity": integrity, "tarball": "http://ignored/x.tgz" },
        }},
        "_attachments": { format!("{bare}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": STANDARD.encode(tarball), "length": tarball.len(),
        }},
    })
}
