//! The Maven format, driven by the real `mvn` (Debian's Maven 3.8.7, offline on the
//! plugins Debian ships in /usr/share/maven-repo), plus the protocol edges over plain
//! HTTP and raw TCP: checksums, immutability, hostile POMs, bad paths, HEAD and
//! `Expect: 100-continue`; a build through a group of a hosted owner and a proxy of a
//! static, Central-like repository, and a deploy through a group to its `write_to`
//! member (issue 21).
//!
//! The projects live in `fixtures/maven/`; every test copies them into its own temp
//! dir. What mvn 3.8.7 sends, as measured against a recording server: the pom before
//! the jar, `.sha1` and `.md5` after every file (never sha256/sha512), Basic auth
//! pre-emptively on PUT but only after a 401 challenge on GET, `Expect: 100-continue`
//! on every PUT, and a read of the version-level `maven-metadata.xml` before every
//! SNAPSHOT deploy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use wharf::db::tokens::Scope;
use wharf_tests::said as text;
use wharf_tests::{BOGUS_TOKEN, StatusCode, TestServer, client, hex, require_tool, run};

/// Where `com.example.wharf` artifacts live in a repository.
pub(crate) const GROUP: &str = "com/example/wharf";

/// Debian's repository: Maven Central is out of reach, so every repository but ours
/// is mirrored to it.
const DEBIAN_REPO: &str = "file:///usr/share/maven-repo";

/// One Maven user's world: `settings.xml` (credentials, the wharf repository, the
/// Debian mirror), a private local repository, and copies of the fixture projects.
pub(crate) struct MavenEnv {
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/api/packages/{owner}/maven`
    repository: String,
}

impl MavenEnv {
    /// Settings for `owner`'s Maven repository, with Basic credentials
    /// (`user`, `password or token`) for the `wharf` server if given.
    fn new(server: &TestServer, owner: &str, credentials: Option<(&str, &str)>) -> Self {
        let repository = format!("{}/api/packages/{owner}/maven", server.url);
        Self::for_repository(repository, credentials)
    }

    /// Settings for the Maven repository at `repository` (any server: a cluster's
    /// balancer too), with Basic credentials if given.
    pub(crate) fn for_repository(repository: String, credentials: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = Self { dir, repository };
        std::fs::create_dir_all(env.local_repo()).unwrap();
        std::fs::write(
            env.settings(),
            settings_xml(&env.local_repo(), &env.repository, credentials),
        )
        .unwrap();
        env
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn settings(&self) -> PathBuf {
        self.home().join("settings.xml")
    }

    fn local_repo(&self) -> PathBuf {
        self.home().join("repository")
    }

    /// A file in the local repository, by its repository path.
    pub(crate) fn local(&self, path: &str) -> PathBuf {
        self.local_repo().join(path)
    }

    /// Forgets every `com.example` artifact (including what `install` put there), so
    /// the next build resolves them from Wharf; the plugins stay cached.
    pub(crate) fn forget(&self) {
        let ours = self.local_repo().join("com").join("example");
        if ours.exists() {
            std::fs::remove_dir_all(ours).unwrap();
        }
    }

    /// A fresh copy of `fixtures/maven/{fixture}`.
    pub(crate) fn project(&self, fixture: &str) -> PathBuf {
        let dir = self.home().join("work").join(fixture);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        copy_dir(&fixtures().join(fixture), &dir);
        dir
    }

    /// The consumer project with `profiles` active, each adding its dependencies and
    /// the sources in `variants/{profile}` that use them. Returns the project dir and
    /// the `-P…` argument.
    fn consumer(&self, profiles: &[&str]) -> (PathBuf, String) {
        let dir = self.project("consumer");
        let sources = dir.join("src/main/java/com/example/consumer");
        for profile in profiles {
            for entry in std::fs::read_dir(dir.join("variants").join(profile)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), sources.join(entry.file_name())).unwrap();
            }
        }
        (dir, format!("-P{}", profiles.join(",")))
    }

    /// Runs mvn with this env's settings and home; prints everything it said (shown
    /// when the test fails).
    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut command = Command::new("mvn");
        command
            .current_dir(cwd)
            .args(["-B", "-ntp", "-s"])
            .arg(self.settings())
            .args(args)
            .env("HOME", self.home())
            .env("MAVEN_SKIP_RC", "true")
            // Short-lived JVMs: C1 only starts Maven about twice as fast.
            .env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1");
        run(
            command,
            &format!("(cd {}; mvn {})", cwd.display(), args.join(" ")),
        )
    }

    /// Runs mvn and returns what it printed, failing the test on a non-zero exit.
    fn mvn(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(out.status.success(), "mvn {args:?} failed");
        text(&out)
    }

    /// `mvn deploy` of a project to this env's repository.
    fn deploy(&self, project: &Path) -> Output {
        let target = format!("-DaltDeploymentRepository=wharf::{}", self.repository);
        self.run(
            project,
            &["deploy", "-Dmaven.test.skip=true", target.as_str()],
        )
    }

    pub(crate) fn deploy_ok(&self, project: &Path) {
        let out = self.deploy(project);
        assert!(out.status.success(), "mvn deploy of {project:?} failed");
    }

    /// `dependency:get` of `artifact` (G:A:V[:packaging[:classifier]]), transitively,
    /// from the repositories in the settings.
    fn get(&self, artifact: &str) -> Output {
        let artifact = format!("-Dartifact={artifact}");
        self.run(
            self.home(),
            &[
                "org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get",
                artifact.as_str(),
            ],
        )
    }

    pub(crate) fn get_ok(&self, artifact: &str) {
        let out = self.get(artifact);
        assert!(out.status.success(), "dependency:get {artifact} failed");
    }

    /// The URL of a path in this env's repository.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.repository)
    }
}

fn settings_xml(local_repo: &Path, repository: &str, credentials: Option<(&str, &str)>) -> String {
    let servers = match credentials {
        Some((user, password)) => format!(
            "  <servers>\n    <server>\n      <id>wharf</id>\n      <username>{}</username>\n      \
             <password>{}</password>\n    </server>\n  </servers>\n",
            xml_escape(user),
            xml_escape(password)
        ),
        None => String::new(),
    };
    // The wharf repository fails on a wrong checksum, so every `.sha1` Wharf serves
    // is checked; Debian's repository has no checksums at all, so it ignores them
    // (instead of a warning with a stack trace per file).
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <localRepository>{local}</localRepository>
  <interactiveMode>false</interactiveMode>
  <mirrors>
    <mirror>
      <id>debian</id>
      <mirrorOf>*,!wharf</mirrorOf>
      <url>{DEBIAN_REPO}</url>
    </mirror>
  </mirrors>
{servers}  <profiles>
    <profile>
      <id>wharf</id>
      <repositories>
        <repository>
          <id>wharf</id>
          <url>{repository}</url>
          <releases><enabled>true</enabled><updatePolicy>always</updatePolicy><checksumPolicy>fail</checksumPolicy></releases>
          <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy><checksumPolicy>fail</checksumPolicy></snapshots>
        </repository>
        <repository>
          <id>central</id>
          <url>{DEBIAN_REPO}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository>
          <id>central</id>
          <url>{DEBIAN_REPO}</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles>
    <activeProfile>wharf</activeProfile>
  </activeProfiles>
</settings>
"#,
        local = xml_escape(&local_repo.display().to_string()),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("maven")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub(crate) fn read(path: impl AsRef<Path>) -> Vec<u8> {
    let path = path.as_ref();
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The four checksums Maven clients ask for, as lower-case hex.
fn digests(bytes: &[u8]) -> [(&'static str, String); 4] {
    [
        ("md5", hex(&Md5::digest(bytes))),
        ("sha1", hex(&Sha1::digest(bytes))),
        ("sha256", hex(&Sha256::digest(bytes))),
        ("sha512", hex(&Sha512::digest(bytes))),
    ]
}

/// GETs `url`, asserting a 200, and returns the body.
fn fetch(url: &str) -> Vec<u8> {
    let res = client().get(url).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GET {url}");
    res.bytes().unwrap().to_vec()
}

fn fetch_text(url: &str) -> String {
    String::from_utf8(fetch(url)).unwrap()
}

/// The file at `url` is `expected`, and so are its four checksum files.
fn assert_served(url: &str, expected: &[u8]) {
    assert!(fetch(url) == expected, "GET {url}: not the deployed bytes");
    assert_checksums(url, expected);
}

fn assert_checksums(url: &str, expected: &[u8]) {
    for (algorithm, digest) in digests(expected) {
        let served = fetch_text(&format!("{url}.{algorithm}"));
        assert_eq!(served.trim(), digest, "{url}.{algorithm}");
    }
}

/// The contents of every `<tag>…</tag>` in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("closed element");
        found.push(after[..end].trim());
        rest = &after[end + close.len()..];
    }
    found
}

/// The `<version>`s inside `<versions>` of an artifact-level `maven-metadata.xml`.
fn versions(xml: &str) -> Vec<&str> {
    let blocks = elements(xml, "versions");
    assert_eq!(blocks.len(), 1, "one <versions> in {xml}");
    elements(blocks[0], "version")
}

/// A server with user alice and a Maven env holding her write token, or `None` when
/// mvn is missing outside CI.
fn start_for_alice() -> Option<(TestServer, String, MavenEnv)> {
    if !require_tool("mvn") {
        return None;
    }
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let env = MavenEnv::new(&server, "alice", Some(("alice", &token)));
    Some((server, token, env))
}

#[test]
fn mvn_deploys_releases_and_resolves_them_with_transitive_dependencies() {
    let Some((_server, _token, env)) = start_for_alice() else {
        return;
    };
    let base = env.project("lib-base");
    let app = env.project("lib-app");
    env.deploy_ok(&base);
    // app's build resolves base (from the local repository, where install put it).
    env.deploy_ok(&app);

    // Every deployed file comes back byte for byte, with the four checksums.
    let base_jar = read(base.join("target/base-1.0.0.jar"));
    let app_jar = read(app.join("target/app-1.0.0.jar"));
    let jar_url = env.url(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"));
    assert_served(&jar_url, &base_jar);
    assert_served(
        &env.url(&format!("{GROUP}/base/1.0.0/base-1.0.0.pom")),
        &read(base.join("pom.xml")),
    );
    assert_served(
        &env.url(&format!("{GROUP}/app/1.0.0/app-1.0.0.jar")),
        &app_jar,
    );
    assert_served(
        &env.url(&format!("{GROUP}/app/1.0.0/app-1.0.0.pom")),
        &read(app.join("pom.xml")),
    );
    let res = client().get(&jar_url).send().unwrap();
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/java-archive"
    );
    let res = client()
        .get(env.url(&format!("{GROUP}/base/1.0.0/base-1.0.0.pom")))
        .send()
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );

    // The artifact-level maven-metadata.xml is Wharf's own, with checksums of exactly
    // the bytes it serves.
    for artifact in ["base", "app"] {
        let url = env.url(&format!("{GROUP}/{artifact}/maven-metadata.xml"));
        let res = client().get(&url).send().unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/xml")
        );
        assert!(res.headers().contains_key("last-modified"));
        let bytes = res.bytes().unwrap().to_vec();
        let xml = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(elements(&xml, "groupId"), ["com.example.wharf"], "{xml}");
        assert_eq!(elements(&xml, "artifactId"), [artifact], "{xml}");
        assert_eq!(versions(&xml), ["1.0.0"], "{xml}");
        assert_eq!(elements(&xml, "release"), ["1.0.0"], "{xml}");
        assert_eq!(elements(&xml, "latest"), ["1.0.0"], "{xml}");
        assert_eq!(elements(&xml, "lastUpdated").len(), 1, "{xml}");
        assert_checksums(&url, &bytes);
    }

    // dependency:get with nothing of ours in the local repository: app, and base
    // through app's pom, both from Wharf (and checked against Wharf's `.sha1`).
    env.forget();
    env.get_ok("com.example.wharf:app:1.0.0");
    assert!(read(env.local(&format!("{GROUP}/app/1.0.0/app-1.0.0.jar"))) == app_jar);
    assert!(read(env.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == base_jar);
    assert!(
        read(env.local(&format!("{GROUP}/app/1.0.0/app-1.0.0.pom"))) == read(app.join("pom.xml")),
        "app's pom as deployed"
    );

    // A project that depends on app compiles against app and, transitively, base.
    env.forget();
    let (consumer, profiles) = env.consumer(&["app"]);
    env.mvn(&consumer, &[profiles.as_str(), "compile"]);
    assert!(
        consumer
            .join("target/classes/com/example/consumer/UsesApp.class")
            .exists()
    );
    assert!(read(env.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == base_jar);
}

#[test]
fn mvn_cannot_redeploy_a_release() {
    let Some((server, _token, env)) = start_for_alice() else {
        return;
    };
    let base = env.project("lib-base");
    env.deploy_ok(&base);
    let first_jar = read(base.join("target/base-1.0.0.jar"));
    let blobs = server.kept_blobs();

    // Same coordinates, different bytes: Maven gets a 409 for the pom (and the jar,
    // which it still tries) and fails.
    let source = base.join("src/main/java/com/example/wharf/base/Base.java");
    let changed = std::fs::read_to_string(&source)
        .unwrap()
        .replace("hello from base", "hello again");
    std::fs::write(&source, changed).unwrap();
    let out = env.deploy(&base);
    assert!(!out.status.success(), "a release was deployed twice");
    let log = text(&out);
    assert!(log.contains("409"), "{log}");
    assert!(read(base.join("target/base-1.0.0.jar")) != first_jar);

    // Nothing changed.
    let jar_url = env.url(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"));
    assert_served(&jar_url, &first_jar);
    // In S3 the refused bytes went up before the 409; the collection takes them.
    assert_eq!(server.kept_blobs(), blobs);
    assert_eq!(server.temp_files(), 0);
    let xml = fetch_text(&env.url(&format!("{GROUP}/base/maven-metadata.xml")));
    assert_eq!(versions(&xml), ["1.0.0"], "{xml}");
}

/// `Snap.java` for the second SNAPSHOT build: a different class, with a constant the
/// consumer's `UsesSnap` needs, so the consumer compiles only against this build.
const SNAP_SECOND_BUILD: &str = r#"package com.example.wharf.snap;

public final class Snap {
    private Snap() {}

    public static final String SECOND = "second";

    public static String build() {
        return "second";
    }
}
"#;

/// Changes the `lib-snapshot` project at `snap` into its second build.
fn make_second_build(snap: &Path) {
    std::fs::write(
        snap.join("src/main/java/com/example/wharf/snap/Snap.java"),
        SNAP_SECOND_BUILD,
    )
    .unwrap();
}

/// The single `<value>` of the version-level metadata (all extensions share it).
fn snapshot_value(xml: &str) -> String {
    let values = elements(xml, "value");
    assert!(!values.is_empty(), "{xml}");
    assert!(values.iter().all(|v| *v == values[0]), "{xml}");
    values[0].to_string()
}

#[test]
fn mvn_snapshots_deploy_twice_and_resolve_to_the_newest_build() {
    let Some((server, _token, env)) = start_for_alice() else {
        return;
    };
    // Reads as anyone would: anonymous, with its own local repository.
    let reader = MavenEnv::new(&server, "alice", None);
    let snap = env.project("lib-snapshot");
    let version_dir = format!("{GROUP}/snap/1.1.0-SNAPSHOT");
    let version_metadata = env.url(&format!("{version_dir}/maven-metadata.xml"));

    env.deploy_ok(&snap);
    let jar1 = read(snap.join("target/snap-1.1.0-SNAPSHOT.jar"));
    let first = fetch_text(&version_metadata);
    assert_eq!(elements(&first, "buildNumber"), ["1"], "{first}");
    let value1 = snapshot_value(&first);
    assert!(
        value1.starts_with("1.1.0-") && value1.ends_with("-1"),
        "{value1}"
    );
    reader.get_ok("com.example.wharf:snap:1.1.0-SNAPSHOT");
    let resolved = reader.local(&format!("{version_dir}/snap-1.1.0-SNAPSHOT.jar"));
    assert!(read(&resolved) == jar1, "the reader resolved build 1");

    // A second deploy of a changed class: Maven reads the version-level metadata,
    // counts on, and uploads build 2 next to build 1.
    make_second_build(&snap);
    env.deploy_ok(&snap);
    let jar2 = read(snap.join("target/snap-1.1.0-SNAPSHOT.jar"));
    assert!(jar1 != jar2, "the second build differs");

    let res = client().get(&version_metadata).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().unwrap().to_vec();
    let second = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(elements(&second, "buildNumber"), ["2"], "{second}");
    assert_eq!(elements(&second, "version"), ["1.1.0-SNAPSHOT"], "{second}");
    let value2 = snapshot_value(&second);
    assert!(
        value2.starts_with("1.1.0-") && value2.ends_with("-2"),
        "{value2}"
    );
    let timestamp = elements(&second, "timestamp")[0];
    assert_eq!(value2, format!("1.1.0-{timestamp}-2"));
    assert_checksums(&version_metadata, &bytes);

    // Both timestamped builds are stored, each with its own bytes and checksums.
    assert_served(&env.url(&format!("{version_dir}/snap-{value1}.jar")), &jar1);
    assert_served(&env.url(&format!("{version_dir}/snap-{value2}.jar")), &jar2);
    assert_served(
        &env.url(&format!("{version_dir}/snap-{value2}.pom")),
        &read(snap.join("pom.xml")),
    );

    // The artifact-level metadata lists the SNAPSHOT once, as latest, with no release.
    let url = env.url(&format!("{GROUP}/snap/maven-metadata.xml"));
    let bytes = fetch(&url);
    let xml = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(versions(&xml), ["1.1.0-SNAPSHOT"], "{xml}");
    assert_eq!(elements(&xml, "latest"), ["1.1.0-SNAPSHOT"], "{xml}");
    assert!(elements(&xml, "release").is_empty(), "{xml}");
    assert_checksums(&url, &bytes);

    // The reader, still holding build 1, compiles a project that needs build 2: it
    // re-reads the version-level metadata and takes the newest build.
    let (consumer, profiles) = reader.consumer(&["snapshot"]);
    reader.mvn(&consumer, &[profiles.as_str(), "compile"]);
    assert!(read(&resolved) == jar2, "the reader resolved build 2");
    assert!(
        reader
            .local(&format!("{version_dir}/snap-{value2}.jar"))
            .exists()
    );
}

#[test]
fn mvn_deploys_multi_module_projects_with_classifiers() {
    let Some((server, _token, env)) = start_for_alice() else {
        return;
    };
    let multi = env.project("multi");
    env.deploy_ok(&multi);

    let files: [(&str, &str, PathBuf); 7] = [
        (
            "multi-parent",
            "multi-parent-1.0.0.pom",
            multi.join("pom.xml"),
        ),
        (
            "multi-core",
            "multi-core-1.0.0.pom",
            multi.join("core/pom.xml"),
        ),
        (
            "multi-core",
            "multi-core-1.0.0.jar",
            multi.join("core/target/multi-core-1.0.0.jar"),
        ),
        (
            "multi-core",
            "multi-core-1.0.0-sources.jar",
            multi.join("core/target/multi-core-1.0.0-sources.jar"),
        ),
        (
            "multi-core",
            "multi-core-1.0.0-javadoc.jar",
            multi.join("core/target/multi-core-1.0.0-javadoc.jar"),
        ),
        (
            "multi-util",
            "multi-util-1.0.0.pom",
            multi.join("util/pom.xml"),
        ),
        (
            "multi-util",
            "multi-util-1.0.0.jar",
            multi.join("util/target/multi-util-1.0.0.jar"),
        ),
    ];
    for (artifact, file, local) in &files {
        let url = env.url(&format!("{GROUP}/{artifact}/1.0.0/{file}"));
        assert_served(&url, &read(local));
    }
    let sources = read(multi.join("core/target/multi-core-1.0.0-sources.jar"));
    let needle = b"com/example/wharf/multi/core/Core.java";
    assert!(sources.windows(needle.len()).any(|w| w == needle));
    for artifact in ["multi-parent", "multi-core", "multi-util"] {
        let xml = fetch_text(&env.url(&format!("{GROUP}/{artifact}/maven-metadata.xml")));
        assert_eq!(versions(&xml), ["1.0.0"], "{artifact}: {xml}");
        assert_eq!(elements(&xml, "release"), ["1.0.0"], "{artifact}: {xml}");
    }

    // A project depending on multi-util needs util's parent pom and multi-core.
    let reader = MavenEnv::new(&server, "alice", None);
    let (consumer, profiles) = reader.consumer(&["multi"]);
    reader.mvn(&consumer, &[profiles.as_str(), "compile"]);
    assert!(
        consumer
            .join("target/classes/com/example/consumer/UsesMulti.class")
            .exists()
    );
    let parent = reader.local(&format!(
        "{GROUP}/multi-parent/1.0.0/multi-parent-1.0.0.pom"
    ));
    assert!(
        read(parent) == read(multi.join("pom.xml")),
        "the parent pom"
    );

    // A classifier on its own.
    reader.get_ok("com.example.wharf:multi-core:1.0.0:jar:sources");
    assert!(
        read(reader.local(&format!(
            "{GROUP}/multi-core/1.0.0/multi-core-1.0.0-sources.jar"
        ))) == sources
    );
}

#[test]
fn mvn_authenticates_with_basic_and_reads_public_owners_anonymously() {
    let Some((server, token, env)) = start_for_alice() else {
        return;
    };

    // A wrong token: the first PUT (the pom) gets a 401, and so does the jar.
    let wrong = MavenEnv::new(&server, "alice", Some(("alice", BOGUS_TOKEN)));
    let out = wrong.deploy(&wrong.project("lib-base"));
    assert!(!out.status.success(), "deployed with a bogus token");
    let log = text(&out);
    assert!(log.contains("401"), "{log}");
    assert_eq!(server.stored_blobs(), 0, "nothing was uploaded");
    assert_eq!(server.temp_files(), 0);
    let pom_path = format!("{GROUP}/base/1.0.0/base-1.0.0.pom");
    let res = client().get(env.url(&pom_path)).send().unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // With alice's token it works; anyone can then read it.
    let base = env.project("lib-base");
    env.deploy_ok(&base);
    let jar = read(base.join("target/base-1.0.0.jar"));
    let anonymous = MavenEnv::new(&server, "alice", None);
    anonymous.get_ok("com.example.wharf:base:1.0.0");
    assert!(read(anonymous.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == jar);

    // A read-only token may not deploy.
    let reader_token = server.token("alice", Scope::Read, None);
    let res = client()
        .put(env.url(&format!("{GROUP}/other/1.0.0/other-1.0.0.jar")))
        .basic_auth("alice", Some(&reader_token))
        .body(b"jar".to_vec())
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A private org: alice (its admin) puts base there over HTTP, as Maven would.
    server.org("acme", "alice", true);
    let private = MavenEnv::new(&server, "acme", Some(("alice", &token)));
    for (file, bytes) in [
        ("base-1.0.0.pom", read(base.join("pom.xml"))),
        ("base-1.0.0.jar", jar.clone()),
    ] {
        let res = client()
            .put(private.url(&format!("{GROUP}/base/1.0.0/{file}")))
            .basic_auth("alice", Some(&token))
            .body(bytes)
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{file}");
    }
    // Anonymous reads get a 401 with a Basic challenge (so Maven retries with
    // credentials when it has some), never the file.
    let res = client().get(private.url(&pom_path)).send().unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let nobody = MavenEnv::new(&server, "acme", None);
    let out = nobody.get("com.example.wharf:base:1.0.0");
    assert!(!out.status.success(), "read a private org anonymously");
    let log = text(&out);
    assert!(log.contains("401"), "{log}");
    assert!(
        !nobody
            .local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))
            .exists()
    );
    // Maven asks anonymously first, gets the challenge, and retries with Basic.
    private.get_ok("com.example.wharf:base:1.0.0");
    assert!(read(private.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == jar);
}

// ---------------------------------------------------------------------------------
// Protocol edges over plain HTTP: what mvn never sends on purpose.

/// alice's Maven repository, spoken to with reqwest and raw TCP.
struct Repo {
    server: TestServer,
    token: String,
}

impl Repo {
    fn start() -> Self {
        let server = TestServer::start();
        let token = server.user("alice", Scope::Write);
        Self { server, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/packages/alice/maven/{path}", self.server.url)
    }

    fn put(&self, path: &str, body: impl Into<Vec<u8>>) -> reqwest::blocking::Response {
        client()
            .put(self.url(path))
            .basic_auth("alice", Some(&self.token))
            .body(body.into())
            .send()
            .unwrap()
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        client().get(self.url(path)).send().unwrap()
    }

    fn head(&self, path: &str) -> reqwest::blocking::Response {
        client().head(self.url(path)).send().unwrap()
    }

    fn basic(&self, secret: &str) -> String {
        wharf_tests::basic("alice", secret)
    }

    /// One request over its own connection, byte for byte: no URL normalization, so
    /// `..` and `%2e%2e` reach the server as written.
    fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
        let mut request = format!(
            "{method} /api/packages/alice/maven/{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            self.server.addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = connect(self.server.addr);
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        stream.write_all(&bytes).unwrap();
        status_of(&read_head(&mut stream))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Reads one response head (status line and headers).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

const LIB: &str = "com/example/lib";

/// A minimal POM for `com.example:lib:{version}`.
fn pom(version: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  \
         <modelVersion>4.0.0</modelVersion>\n  <groupId>com.example</groupId>\n  <artifactId>lib</artifactId>\n  \
         <version>{version}</version>\n  <name>lib</name>\n</project>\n"
    )
}

#[test]
fn uploaded_checksums_are_verified_and_never_stored() {
    let r = Repo::start();
    let jar = b"PK\x03\x04 not really a jar".to_vec();
    assert_eq!(
        r.put(&format!("{LIB}/1.0/lib-1.0.jar"), jar.clone())
            .status(),
        StatusCode::CREATED
    );
    let blobs = r.server.stored_blobs();
    let [md5, sha1, sha256, sha512] = digests(&jar).map(|(_, d)| d);

    // Right digests are acknowledged: bare, upper-case, and `sha1sum` style.
    for (suffix, body) in [
        ("sha1", sha1.clone()),
        ("md5", md5),
        ("sha256", sha256),
        ("sha512", sha512.to_uppercase()),
        ("sha1", format!("{sha1}  lib-1.0.jar\n")),
    ] {
        let res = r.put(&format!("{LIB}/1.0/lib-1.0.jar.{suffix}"), body);
        assert_eq!(res.status(), StatusCode::OK, "{suffix}");
    }
    // Wrong ones are a 400.
    for (suffix, body) in [
        ("sha1", "0".repeat(40)),
        ("md5", sha1.clone()),
        ("sha256", String::new()),
        ("sha512", "not a digest".to_string()),
    ] {
        let res = r.put(&format!("{LIB}/1.0/lib-1.0.jar.{suffix}"), body);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{suffix}");
        assert!(!res.text().unwrap().is_empty(), "{suffix}: a message");
    }
    // A checksum of a file that does not exist is a 404, in a known version or not.
    for path in [
        format!("{LIB}/1.0/lib-1.0-sources.jar.sha1"),
        format!("{LIB}/2.0/lib-2.0.jar.sha1"),
        "com/example/nothing/1.0/nothing-1.0.jar.md5".to_string(),
    ] {
        let res = r.put(&path, sha1.clone());
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // An oversized "checksum" is refused.
    let res = r.put(&format!("{LIB}/1.0/lib-1.0.jar.sha1"), vec![b'a'; 4096]);
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Nothing was stored, and the served checksums are still computed from the jar.
    assert_eq!(r.server.stored_blobs(), blobs);
    assert_eq!(r.server.temp_files(), 0);
    for (algorithm, digest) in digests(&jar) {
        let served = r.get(&format!("{LIB}/1.0/lib-1.0.jar.{algorithm}"));
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.text().unwrap().trim(), digest, "{algorithm}");
    }
    assert_eq!(
        r.get(&format!("{LIB}/1.0/lib-1.0.jar.sha1.sha1")).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        r.get(&format!("{LIB}/1.0/nope.jar.sha1")).status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn hostile_and_malformed_poms_get_400_and_store_nothing() {
    let r = Repo::start();
    let laughs = {
        let mut entities = String::from("  <!ENTITY a \"lollollollollollollollollollol\">\n");
        let names: Vec<char> = ('a'..='j').collect();
        for pair in names.windows(2) {
            let refs = format!("&{};", pair[0]).repeat(10);
            entities.push_str(&format!("  <!ENTITY {} \"{refs}\">\n", pair[1]));
        }
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE project [\n{entities}]>\n<project>\
             <modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>\
             <artifactId>lib</artifactId><version>1.0</version><description>&j;</description></project>\n"
        )
    };
    let external =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE project [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n\
                    <project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId>\
                    <artifactId>lib</artifactId><version>1.0</version><name>&x;</name></project>\n"
            .to_string();
    let doctype = pom("1.0").replacen(
        "<project",
        "<!DOCTYPE project SYSTEM \"http://127.0.0.1:1/project.dtd\">\n<project",
        1,
    );
    let good = pom("1.0");
    let cases: Vec<(&str, String)> = vec![
        ("billion laughs", laughs),
        ("external entity", external),
        ("a DOCTYPE", doctype),
        ("truncated", good[..good.len() / 2].to_string()),
        ("not XML", "{\"project\": true}".to_string()),
        ("empty", String::new()),
        ("no version", good.replace("<version>1.0</version>", "")),
        (
            "another artifactId",
            good.replace("<artifactId>lib<", "<artifactId>other<"),
        ),
        (
            "another groupId",
            good.replace("<groupId>com.example<", "<groupId>org.example<"),
        ),
        ("another version", pom("2.0")),
        ("root is not project", good.replace("project", "settings")),
    ];
    for (why, body) in cases {
        let res = r.put(&format!("{LIB}/1.0/lib-1.0.pom"), body);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(!res.text().unwrap().is_empty(), "{why}: a message");
    }
    // (A POM over the 4 MiB the plugin reads is a 413: expect_continue_… sends one.)
    assert_eq!(r.server.stored_blobs(), 0, "nothing was stored");
    assert_eq!(r.server.temp_files(), 0);
    for path in [
        format!("{LIB}/1.0/lib-1.0.pom"),
        format!("{LIB}/maven-metadata.xml"),
    ] {
        assert_eq!(r.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
    }

    // A module's POM names its group and version only through its parent.
    let module = "<?xml version=\"1.0\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\
                  <modelVersion>4.0.0</modelVersion><parent><groupId>com.example</groupId>\
                  <artifactId>parent</artifactId><version>1.0</version></parent>\
                  <artifactId>lib</artifactId><dependencies><dependency><groupId>com.example</groupId>\
                  <artifactId>core</artifactId><version>${project.version}</version></dependency>\
                  </dependencies></project>\n";
    let res = r.put(&format!("{LIB}/1.0/lib-1.0.pom"), module);
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[test]
fn bad_paths_and_coordinates_are_refused() {
    let r = Repo::start();
    let auth = r.basic(&r.token);
    let headers = [("Authorization", auth.as_str())];
    // Dot segments, as written and percent-encoded (reqwest would normalize them away).
    for path in [
        "com/example/../lib/1.0/lib-1.0.jar",
        "com/example/lib/../../../etc/passwd",
        "com/example/%2e%2e/lib/1.0/lib-1.0.jar",
        "com/example/lib/1.0/%2E%2E",
        "com/example/lib/1.0/%2e%2e%2fx.jar",
        "com/./example/lib/1.0/lib-1.0.jar",
    ] {
        for method in ["GET", "PUT"] {
            let status = r.raw(method, path, &headers, b"x");
            assert!(status == 400 || status == 404, "{method} {path}: {status}");
        }
    }
    // Characters Maven coordinates cannot hold, and paths too short to name a
    // package: 400, for reads and writes alike.
    for path in [
        "com/example/li%3Ab/1.0/lib-1.0.jar",
        "com/example/li%3Cb/1.0/lib-1.0.jar",
        "com/example/li%3Eb/1.0/lib-1.0.jar",
        "com/example/li%7Cb/1.0/lib-1.0.jar",
        "com/example/li%22b/1.0/lib-1.0.jar",
        "com/example/li%2Ab/1.0/lib-1.0.jar",
        "com/example/li%3Fb/1.0/lib-1.0.jar",
        "com/example/li%5Cb/1.0/lib-1.0.jar",
        "com/ex%2Fample/lib/1.0/lib-1.0.jar",
        "com/example/lib/1%3A0/lib-1.0.jar",
        "com/example/lib/1.0/lib%3C1.0.jar",
        "com/example/lib/1.0/lib-1.0%00.jar",
        "com//lib/1.0/lib-1.0.jar",
        "lib/1.0/lib-1.0.jar",
        "lib/maven-metadata.xml",
    ] {
        for method in ["GET", "PUT"] {
            let status = r.raw(method, path, &headers, b"x");
            assert_eq!(status, 400, "{method} {path}");
        }
    }
    assert_eq!(r.server.stored_blobs(), 0, "nothing was stored");
    assert_eq!(r.server.temp_files(), 0);
    // The bare mount and other methods name nothing.
    assert_eq!(r.raw("GET", "", &[], b""), 404);
    assert_eq!(
        r.raw("DELETE", &format!("{LIB}/1.0/lib-1.0.jar"), &headers, b""),
        404
    );
}

/// Bytes for a snapshot file; XML, since one of them is the version-level metadata.
fn snapshot_body(build: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\
         <groupId>com.example</groupId><artifactId>lib</artifactId>\
         <version>1.1-SNAPSHOT</version><!-- {build} --></metadata>\n"
    )
}

#[test]
fn releases_are_immutable_and_snapshots_are_not() {
    let r = Repo::start();
    let jar = format!("{LIB}/1.0/lib-1.0.jar");
    assert_eq!(r.put(&jar, b"one".to_vec()).status(), StatusCode::CREATED);
    assert_eq!(r.put(&jar, b"two".to_vec()).status(), StatusCode::CONFLICT);
    assert_eq!(r.put(&jar, b"one".to_vec()).status(), StatusCode::CONFLICT);
    let pom_path = format!("{LIB}/1.0/lib-1.0.pom");
    assert_eq!(r.put(&pom_path, pom("1.0")).status(), StatusCode::CREATED);
    assert_eq!(r.put(&pom_path, pom("1.0")).status(), StatusCode::CONFLICT);
    assert_eq!(r.get(&jar).bytes().unwrap().as_ref(), b"one");
    assert_eq!(r.server.temp_files(), 0);

    // Snapshot files, including non-unique ones, and the version-level metadata may
    // be overwritten.
    let dir = format!("{LIB}/1.1-SNAPSHOT");
    for file in [
        "lib-1.1-20260101.120000-1.jar",
        "lib-1.1-SNAPSHOT.jar",
        "maven-metadata.xml",
    ] {
        let path = format!("{dir}/{file}");
        for build in ["first", "second"] {
            let status = r.put(&path, snapshot_body(build)).status();
            assert!(status.is_success(), "{path}: {status}");
        }
        let second = snapshot_body("second");
        assert_eq!(
            r.get(&path).bytes().unwrap().as_ref(),
            second.as_bytes(),
            "{path}"
        );
        let sha1 = digests(second.as_bytes())[1].1.clone();
        let res = r.put(&format!("{path}.sha1"), sha1.clone());
        assert_eq!(res.status(), StatusCode::OK, "{path}.sha1");
        assert_eq!(r.get(&format!("{path}.sha1")).text().unwrap().trim(), sha1);
    }

    // The artifact-level metadata is Wharf's: a client's copy is acknowledged and
    // dropped, anonymous callers are not even told that.
    let metadata = format!("{LIB}/maven-metadata.xml");
    let before = r.get(&metadata).bytes().unwrap();
    let ours = "<metadata><versioning><versions><version>6.6.6</version></versions></versioning></metadata>";
    for path in [metadata.clone(), format!("{metadata}.sha1")] {
        assert_eq!(r.put(&path, ours).status(), StatusCode::OK, "{path}");
        let anonymous = client().put(r.url(&path)).body(ours).send().unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let after = r.get(&metadata).bytes().unwrap();
    assert_eq!(before, after);
    let xml = String::from_utf8(after.to_vec()).unwrap();
    assert_eq!(versions(&xml), ["1.0", "1.1-SNAPSHOT"], "{xml}");
    assert_eq!(elements(&xml, "latest"), ["1.1-SNAPSHOT"], "{xml}");
    assert_eq!(elements(&xml, "release"), ["1.0"], "{xml}");
}

#[test]
fn head_answers_like_get_without_a_body() {
    let r = Repo::start();
    let body = vec![7u8; 12_345];
    let jar = format!("{LIB}/1.0/lib-1.0.jar");
    assert_eq!(r.put(&jar, body.clone()).status(), StatusCode::CREATED);
    assert_eq!(
        r.put(&format!("{LIB}/1.0/lib-1.0.pom"), pom("1.0"))
            .status(),
        StatusCode::CREATED
    );
    for path in [
        jar.clone(),
        format!("{jar}.sha1"),
        format!("{jar}.sha512"),
        format!("{LIB}/maven-metadata.xml"),
        format!("{LIB}/maven-metadata.xml.md5"),
    ] {
        let got = r.get(&path);
        assert_eq!(got.status(), StatusCode::OK, "{path}");
        let length = got.bytes().unwrap().len().to_string();
        let head = r.head(&path);
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(head.headers()["content-length"], length.as_str(), "{path}");
        assert!(head.bytes().unwrap().is_empty(), "{path}");
    }
    let head = r.head(&jar);
    assert_eq!(head.headers()["content-type"], "application/java-archive");
    for path in [
        format!("{LIB}/1.0/lib-1.0-sources.jar"),
        format!("{LIB}/2.0/lib-2.0.jar"),
        format!("{LIB}/2.0/lib-2.0.jar.sha1"),
        "com/example/other/maven-metadata.xml".to_string(),
        "com/example/other/1.0-SNAPSHOT/maven-metadata.xml".to_string(),
    ] {
        assert_eq!(r.head(&path).status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    let r = Repo::start();
    let size = 1 << 20;
    let put_head = |path: &str, authorization: Option<&str>, length: usize| {
        let mut head = format!(
            "PUT /api/packages/alice/maven/{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Length: {length}\r\nExpect: 100-continue\r\n",
            r.server.addr
        );
        if let Some(authorization) = authorization {
            head.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        head.push_str("\r\n");
        head
    };
    let jar = format!("{LIB}/1.0/lib-1.0.jar");
    let pom_path = format!("{LIB}/1.0/lib-1.0.pom");

    // Bad or missing credentials, a POM over the 4 MiB the plugin reads, or a bad
    // path: the final answer comes instead of `100 Continue`, and no body byte was
    // ever sent.
    let bogus = r.basic(BOGUS_TOKEN);
    let good = r.basic(&r.token);
    for (path, authorization, length, expected) in [
        (jar.as_str(), Some(bogus.as_str()), size, 401),
        (jar.as_str(), None, size, 401),
        (pom_path.as_str(), Some(good.as_str()), 5 << 20, 413),
        ("lib/1.0/lib-1.0.jar", Some(good.as_str()), size, 400),
    ] {
        let mut stream = connect(r.server.addr);
        stream
            .write_all(put_head(path, authorization, length).as_bytes())
            .unwrap();
        let head = read_head(&mut stream);
        assert_eq!(status_of(&head), expected, "{path}: {head}");
        if expected == 401 {
            assert!(
                head.to_ascii_lowercase()
                    .contains("www-authenticate: basic"),
                "{head}"
            );
        }
    }
    assert_eq!(r.server.stored_blobs(), 0);
    assert_eq!(r.server.temp_files(), 0);

    // Good credentials: `100 Continue`, then the body, then 201.
    let mut stream = connect(r.server.addr);
    stream
        .write_all(put_head(&jar, Some(&good), size).as_bytes())
        .unwrap();
    let interim = read_head(&mut stream);
    assert_eq!(status_of(&interim), 100, "{interim}");
    let body = vec![42u8; size];
    stream.write_all(&body).unwrap();
    let head = read_head(&mut stream);
    assert_eq!(status_of(&head), 201, "{head}");
    assert!(r.get(&jar).bytes().unwrap().as_ref() == body.as_slice());
}

/// Maven's HttpClient reuses a connection after an answer that came instead of
/// `100 Continue` unless told otherwise; the next upload on it then fails.
#[test]
fn connections_stay_usable_after_an_ignored_or_refused_upload() {
    let r = Repo::start();
    let good = r.basic(&r.token);
    let head = |path: &str, authorization: &str, length: usize| {
        format!(
            "PUT /api/packages/alice/maven/{path} HTTP/1.1\r\nHost: {}\r\n\
             Content-Length: {length}\r\nExpect: 100-continue\r\nAuthorization: {authorization}\r\n\r\n",
            r.server.addr
        )
    };

    // The client's own artifact-level metadata is read and dropped: 100, body, 200, and
    // the connection carries the next request.
    let mut stream = connect(r.server.addr);
    let xml = b"<metadata><groupId>x</groupId></metadata>";
    let metadata = format!("{LIB}/maven-metadata.xml");
    stream
        .write_all(head(&metadata, &good, xml.len()).as_bytes())
        .unwrap();
    assert_eq!(status_of(&read_head(&mut stream)), 100);
    stream.write_all(xml).unwrap();
    let answer = read_head(&mut stream);
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    stream
        .write_all(head(&metadata, &good, xml.len()).as_bytes())
        .unwrap();
    assert_eq!(
        status_of(&read_head(&mut stream)),
        100,
        "same connection, next PUT"
    );

    // A refused upload whose body was never sent closes the connection, and says so.
    let mut stream = connect(r.server.addr);
    let bogus = r.basic(BOGUS_TOKEN);
    stream
        .write_all(head(&format!("{LIB}/1.0/lib-1.0.jar"), &bogus, 1 << 20).as_bytes())
        .unwrap();
    let answer = read_head(&mut stream);
    assert_eq!(status_of(&answer), 401, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

/// A POM for `com.example.wharf:base:{version}` with no build, for a version only PUT.
fn base_pom(version: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  \
         <modelVersion>4.0.0</modelVersion>\n  <groupId>com.example.wharf</groupId>\n  \
         <artifactId>base</artifactId>\n  <version>{version}</version>\n</project>\n"
    )
}

#[test]
fn mvn_builds_through_a_group_of_a_hosted_owner_and_a_proxy() {
    if !require_tool("mvn") {
        return;
    }
    // A throwaway Wharf makes what Maven Central would hold: base 1.0.0 and app 1.0.0
    // deployed by mvn, and an older base 0.9.0 put there by hand.
    let upstream = TestServer::start();
    let bob_token = upstream.user("bob", Scope::Write);
    let publisher = MavenEnv::new(&upstream, "bob", Some(("bob", &bob_token)));
    publisher.deploy_ok(&publisher.project("lib-base"));
    let app = publisher.project("lib-app");
    publisher.deploy_ok(&app);
    let app_jar = read(app.join("target/app-1.0.0.jar"));
    // The consumer's `UsesSnap` needs the class of the second build.
    let snap = publisher.project("lib-snapshot");
    make_second_build(&snap);
    publisher.deploy_ok(&snap);
    let snap_jar = read(snap.join("target/snap-1.1.0-SNAPSHOT.jar"));
    let snap_dir = "snap/1.1.0-SNAPSHOT";
    let build = snapshot_value(&fetch_text(
        &publisher.url(&format!("{GROUP}/{snap_dir}/maven-metadata.xml")),
    ));
    for (file, body) in [
        ("base-0.9.0.pom", base_pom("0.9.0").into_bytes()),
        // An empty zip: its end-of-central-directory record alone.
        ("base-0.9.0.jar", [&b"PK\x05\x06"[..], &[0; 18]].concat()),
    ] {
        let res = client()
            .put(publisher.url(&format!("{GROUP}/base/0.9.0/{file}")))
            .basic_auth("bob", Some(&bob_token))
            .body(body)
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{file}");
    }

    // Laid out as Maven Central is: the files, their `.sha1`, and each artifact's
    // `maven-metadata.xml`, served as static files once the publishing Wharf is gone.
    let central = tempfile::tempdir().unwrap();
    for path in [
        "app/maven-metadata.xml",
        "app/1.0.0/app-1.0.0.pom",
        "app/1.0.0/app-1.0.0.jar",
        "base/maven-metadata.xml",
        "base/0.9.0/base-0.9.0.pom",
        "base/0.9.0/base-0.9.0.jar",
        "base/1.0.0/base-1.0.0.pom",
        "base/1.0.0/base-1.0.0.jar",
        "snap/maven-metadata.xml",
        &format!("{snap_dir}/maven-metadata.xml"),
        &format!("{snap_dir}/snap-{build}.pom"),
        &format!("{snap_dir}/snap-{build}.jar"),
    ] {
        for file in [path.to_string(), format!("{path}.sha1")] {
            let target = central.path().join("maven2").join(GROUP).join(&file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, fetch(&publisher.url(&format!("{GROUP}/{file}")))).unwrap();
        }
    }
    drop(upstream);
    let static_server = StaticFiles::serve(central.path());

    let server = TestServer::builder()
        .toml(format!(
            "[proxies.central]\nformat = \"maven\"\nupstreams = [\"{}/maven2\"]\n\n\
             [groups.mvn-all]\nformat = \"maven\"\nmembers = [\"alice\", \"central\"]\n",
            static_server.url
        ))
        .start();
    // alice hosts her own base 1.0.0; being the first member, hers is the one served.
    let alice_token = server.user("alice", Scope::Write);
    let alice = MavenEnv::new(&server, "alice", Some(("alice", &alice_token)));
    let base = alice.project("lib-base");
    alice.deploy_ok(&base);
    let base_jar = read(base.join("target/base-1.0.0.jar"));

    // A consumer of app and of the SNAPSHOT resolves app and the SNAPSHOT's newest build
    // through the proxy, and base from alice.
    let reader = MavenEnv::new(&server, "mvn-all", None);
    let (consumer, profiles) = reader.consumer(&["app", "snapshot"]);
    reader.mvn(&consumer, &[profiles.as_str(), "compile"]);
    assert!(read(reader.local(&format!("{GROUP}/app/1.0.0/app-1.0.0.jar"))) == app_jar);
    let resolved = reader.local(&format!("{GROUP}/{snap_dir}/snap-1.1.0-SNAPSHOT.jar"));
    assert!(read(&resolved) == snap_jar);
    assert!(read(reader.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == base_jar);

    // The proxy kept what it fetched.
    let cached = client()
        .get(format!("{}/api/v1/packages/central", server.url))
        .bearer_auth(&server.admin_token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(cached.contains("com.example.wharf:app"), "{cached}");

    // The group's artifact-level metadata is the union of both members' versions.
    let url = format!(
        "{}/api/packages/mvn-all/maven/{GROUP}/base/maven-metadata.xml",
        server.url
    );
    let bytes = fetch(&url);
    let xml = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(versions(&xml), ["0.9.0", "1.0.0"], "{xml}");
    assert_eq!(elements(&xml, "release"), ["1.0.0"], "{xml}");
    assert_checksums(&url, &bytes);

    // With the upstream gone, a fresh build still resolves app and the SNAPSHOT from the
    // proxy's copies.
    drop(static_server);
    reader.forget();
    let (consumer, profiles) = reader.consumer(&["app", "snapshot"]);
    reader.mvn(&consumer, &[profiles.as_str(), "compile"]);
    assert!(read(reader.local(&format!("{GROUP}/app/1.0.0/app-1.0.0.jar"))) == app_jar);
    assert!(read(&resolved) == snap_jar);
}

/// A directory served over HTTP on 127.0.0.1, as a static Maven repository is (Maven
/// Central is one): GET and HEAD of a file, 404 for anything else; one connection at a
/// time, closed after each answer. Stops when dropped.
struct StaticFiles {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticFiles {
    fn serve(root: &Path) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (root, stopped) = (root.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer_statically(&root, stream);
                }
            }
        });
        Self {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StaticFiles {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer_statically(root: &Path, mut stream: TcpStream) {
    let head = read_head(&mut stream);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let file = (!path.split('/').any(|s| s == ".." || s == "."))
        .then(|| std::fs::read(root.join(path.trim_start_matches('/'))).ok())
        .flatten()
        .filter(|_| method == "GET" || method == "HEAD");
    let (status, body) = match file {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", Vec::new()),
    };
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        answer.extend_from_slice(&body);
    }
    let _ = stream.write_all(&answer);
}

/// mvn deploys to a group with `write_to` (issue 21): every file lands under acme (the
/// `maven-metadata.xml` uploads, which the plugin answers itself, are authorized as
/// acme's writes too), bob (no member of acme) is refused, and a fresh build resolves
/// base through the group.
#[test]
fn mvn_deploys_through_a_group_to_its_write_to_member() {
    if !require_tool("mvn") {
        return;
    }
    let server = TestServer::builder()
        .user("alice")
        .user("bob")
        .toml("[groups.mvn-all]\nformat = \"maven\"\nmembers = [\"acme\"]\nwrite_to = \"acme\"\n")
        .start();
    server.org("acme", "alice", false);
    let bob_token = server.token("bob", Scope::Write, None);
    let bob = MavenEnv::new(&server, "mvn-all", Some(("bob", &bob_token)));
    let out = bob.deploy(&bob.project("lib-base"));
    assert!(!out.status.success(), "bob deployed through the group");
    assert!(text(&out).contains("403"), "mvn shows the refusal");

    let alice_token = server.token("alice", Scope::Write, None);
    let alice = MavenEnv::new(&server, "mvn-all", Some(("alice", &alice_token)));
    let base = alice.project("lib-base");
    alice.deploy_ok(&base);
    let base_jar = read(base.join("target/base-1.0.0.jar"));
    let acme = MavenEnv::new(&server, "acme", None);
    assert_served(
        &acme.url(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar")),
        &base_jar,
    );
    let metadata = fetch_text(&alice.url(&format!("{GROUP}/base/maven-metadata.xml")));
    assert_eq!(versions(&metadata), ["1.0.0"], "{metadata}");

    let reader = MavenEnv::new(&server, "mvn-all", None);
    reader.get_ok("com.example.wharf:base:1.0.0");
    assert!(read(reader.local(&format!("{GROUP}/base/1.0.0/base-1.0.0.jar"))) == base_jar);
}
