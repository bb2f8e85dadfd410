//! The NuGet format, driven by the real NuGet.exe 5.8 under mono (the v3 client; the
//! dotnet SDK does not install here). `.ci/run` puts the exe at the path
//! `WHARF_NUGET_EXE` names.
//!
//! What NuGet.exe sends, as seen against Wharf: the service index first (anonymous),
//! then `PUT {PackagePublish}/` as a chunked multipart body with a quoted boundary and
//! the key in `X-NuGet-ApiKey`; `.snupkg` files go to `SymbolPackagePublish`; installs
//! read `registration/{id}/index.json` and the flat container's `.nupkg`, answering a
//! 401 with the `packageSourceCredentials` of `nuget.config` as Basic auth.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wharf::db::tokens::Scope;
use wharf_tests::{BOGUS_TOKEN, StatusCode, TestServer, client, next_number, require_tool, run};

/// NuGet.exe, or `None` (with the reason printed) when a test should skip.
fn nuget_exe() -> Option<PathBuf> {
    if !require_tool("mono") {
        return None;
    }
    wharf_tests::require_client("NuGet.exe", "WHARF_NUGET_EXE", "nuget-5.8.0.exe")
}

/// One NuGet user's world: a private HOME (so NuGet's caches and default config are
/// fresh), a `nuget.config` with only the Wharf feed, and a work dir.
struct NuGetEnv {
    exe: PathBuf,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/api/packages/{owner}/nuget/index.json`
    source: String,
}

impl NuGetEnv {
    /// A feed for `owner`, with `packageSourceCredentials` (user, token) if given.
    fn new(
        exe: &Path,
        server: &TestServer,
        owner: &str,
        credentials: Option<(&str, &str)>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = format!("{}/api/packages/{owner}/nuget/index.json", server.url);
        let env = Self {
            exe: exe.to_path_buf(),
            dir,
            source,
        };
        std::fs::create_dir_all(env.home()).unwrap();
        std::fs::write(env.config(), nuget_config(&env.source, credentials)).unwrap();
        env
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("nuget.config")
    }

    /// Runs NuGet.exe in the env's dir; prints everything it said (shown on failure).
    fn run<S: AsRef<str>>(&self, args: &[S]) -> Output {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let mut command = Command::new("mono");
        command
            .arg(&self.exe)
            .args(&args)
            .arg("-NonInteractive")
            .current_dir(self.dir.path())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("NUGET_PACKAGES", self.home().join("packages"));
        run(command, &format!("nuget {}", args.join(" ")))
    }

    fn ok<S: AsRef<str>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        assert!(out.status.success(), "nuget {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `nuget pack` of a nuspec written from `spec`; returns the package path.
    fn pack(&self, spec: &Spec) -> PathBuf {
        let dir = self
            .dir
            .path()
            .join("src")
            .join(format!("{}.{}", spec.id, spec.version));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("readme.txt"),
            format!("{} {}\n", spec.id, spec.version),
        )
        .unwrap();
        let nuspec = dir.join(format!("{}.nuspec", spec.id));
        std::fs::write(&nuspec, spec.nuspec()).unwrap();
        let out_dir = dir.to_string_lossy().into_owned();
        self.ok(&[
            "pack",
            nuspec.to_str().unwrap(),
            "-OutputDirectory",
            &out_dir,
            "-NoPackageAnalysis",
        ]);
        let name = format!("{}.{}.nupkg", spec.id, spec.version);
        let packed = dir.join(&name);
        assert!(packed.is_file(), "nuget pack made {name}");
        packed
    }

    fn push(&self, package: &Path, key: &str) -> Output {
        self.run(&[
            "push",
            package.to_str().unwrap(),
            "-Source",
            &self.source,
            "-ApiKey",
            key,
        ])
    }

    /// `nuget install` into a fresh output dir, from this env's feed only.
    fn install(&self, id: &str, version: Option<&str>, extra: &[&str]) -> (Output, PathBuf) {
        let out_dir = self.dir.path().join(format!("out-{}", next_number()));
        let mut args: Vec<String> = vec![
            "install".into(),
            id.into(),
            "-ConfigFile".into(),
            self.config().to_string_lossy().into_owned(),
            "-Source".into(),
            self.source.clone(),
            "-OutputDirectory".into(),
            out_dir.to_string_lossy().into_owned(),
            "-NoCache".into(),
            "-DirectDownload".into(),
        ];
        if let Some(version) = version {
            args.extend(["-Version".into(), version.into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        (self.run(&args), out_dir)
    }
}

/// A number no other call in this process got (fresh output dirs).
fn nuget_config(source: &str, credentials: Option<(&str, &str)>) -> String {
    let credentials = match credentials {
        Some((user, token)) => format!(
            "  <packageSourceCredentials>\n    <wharf>\n      <add key=\"Username\" value=\"{user}\" />\n      \
             <add key=\"ClearTextPassword\" value=\"{token}\" />\n    </wharf>\n  </packageSourceCredentials>\n"
        ),
        None => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n    \
         <add key=\"wharf\" value=\"{source}\" protocolVersion=\"3\" />\n  </packageSources>\n{credentials}</configuration>\n"
    )
}

/// A package to pack: id, version, dependencies (id, range) and package type.
struct Spec {
    id: &'static str,
    version: &'static str,
    dependencies: Vec<(&'static str, &'static str)>,
    symbols: bool,
}

impl Spec {
    fn new(id: &'static str, version: &'static str) -> Self {
        Self {
            id,
            version,
            dependencies: Vec::new(),
            symbols: false,
        }
    }

    fn depends_on(mut self, id: &'static str, range: &'static str) -> Self {
        self.dependencies.push((id, range));
        self
    }

    fn nuspec(&self) -> String {
        let dependencies: String = self
            .dependencies
            .iter()
            .map(|(id, range)| format!("        <dependency id=\"{id}\" version=\"{range}\" />\n"))
            .collect();
        let package_types = if self.symbols {
            "    <packageTypes><packageType name=\"SymbolsPackage\" /></packageTypes>\n"
        } else {
            ""
        };
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Wharf Tests</authors>
    <description>{id} for Wharf's NuGet tests &amp; nothing else.</description>
    <tags>wharf test</tags>
{package_types}    <dependencies>
      <group targetFramework="netstandard2.0">
{dependencies}      </group>
    </dependencies>
  </metadata>
  <files>
    <file src="readme.txt" target="content/readme.txt" />
  </files>
</package>
"#,
            id = self.id,
            version = self.version,
        )
    }
}

/// The `.nupkg` NuGet.exe installed for `id` `version` under `out`.
fn installed(out: &Path, id: &str, version: &str) -> PathBuf {
    out.join(format!("{id}.{version}"))
        .join(format!("{id}.{version}.nupkg"))
}

#[test]
fn nuget_pushes_installs_with_dependencies_and_deletes() {
    let Some(exe) = nuget_exe() else { return };
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let env = NuGetEnv::new(&exe, &server, "alice", None);

    let base = env.pack(&Spec::new("Wharf.Base", "1.0.0"));
    let beta = env.pack(&Spec::new("Wharf.Base", "1.1.0-beta.1"));
    let app = env.pack(&Spec::new("Wharf.App", "2.0.0").depends_on("Wharf.Base", "1.0.0"));
    for package in [&base, &beta, &app] {
        let out = env.push(package, &token);
        assert!(out.status.success(), "push {package:?}");
    }

    // The same version again: NuGet's 409, nothing replaced.
    let out = env.push(&base, &token);
    assert!(!out.status.success(), "a duplicate push must fail");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("409")
            || String::from_utf8_lossy(&out.stderr).contains("409")
            || String::from_utf8_lossy(&out.stderr).contains("Conflict"),
        "the client reports the conflict"
    );

    // An exact version, whose dependency comes from the same feed.
    let (out, dir) = env.install("Wharf.App", Some("2.0.0"), &[]);
    assert!(out.status.success(), "install Wharf.App 2.0.0");
    assert_eq!(
        std::fs::read(installed(&dir, "Wharf.App", "2.0.0")).unwrap(),
        std::fs::read(&app).unwrap(),
        "the installed nupkg is the pushed one, byte for byte"
    );
    assert_eq!(
        std::fs::read(installed(&dir, "Wharf.Base", "1.0.0")).unwrap(),
        std::fs::read(&base).unwrap()
    );
    assert!(dir.join("Wharf.Base.1.0.0/content/readme.txt").is_file());

    // The latest: stable unless prereleases are asked for.
    let (out, dir) = env.install("Wharf.Base", None, &[]);
    assert!(out.status.success());
    assert!(
        installed(&dir, "Wharf.Base", "1.0.0").is_file(),
        "latest stable"
    );
    let (out, dir) = env.install("Wharf.Base", None, &["-Prerelease"]);
    assert!(out.status.success());
    assert!(
        installed(&dir, "Wharf.Base", "1.1.0-beta.1").is_file(),
        "latest prerelease"
    );

    // Delete needs the key; then the version is gone from every index.
    let delete = |key: &str| {
        env.run(&[
            "delete",
            "Wharf.Base",
            "1.1.0-beta.1",
            "-Source",
            &env.source,
            "-ApiKey",
            key,
        ])
    };
    assert!(
        !delete(BOGUS_TOKEN).status.success(),
        "a wrong key cannot delete"
    );
    assert!(delete(&token).status.success(), "nuget delete");
    let feed = format!("{}/api/packages/alice/nuget", server.url);
    let http = client();
    let flat: serde_json::Value = http
        .get(format!("{feed}/package/wharf.base/index.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(flat["versions"], serde_json::json!(["1.0.0"]));
    let status = http
        .get(format!(
            "{feed}/package/wharf.base/1.1.0-beta.1/wharf.base.1.1.0-beta.1.nupkg"
        ))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (out, _) = env.install("Wharf.Base", Some("1.1.0-beta.1"), &[]);
    assert!(
        !out.status.success(),
        "a deleted version cannot be installed"
    );
}

#[test]
fn nuget_pushes_symbol_packages_to_the_symbol_endpoint() {
    let Some(exe) = nuget_exe() else { return };
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let env = NuGetEnv::new(&exe, &server, "alice", None);
    let feed = format!("{}/api/packages/alice/nuget", server.url);

    let mut symbols = Spec::new("Wharf.Sym", "1.0.0");
    symbols.symbols = true;
    let packed = env.pack(&symbols);
    let snupkg = packed.with_extension("snupkg");
    std::fs::rename(&packed, &snupkg).unwrap();

    // No package to attach to yet: 404, nothing stored.
    let out = env.push(&snupkg, &token);
    assert!(
        !out.status.success(),
        "symbols without their package are refused"
    );

    // NuGet.exe pushes the `.snupkg` lying beside a `.nupkg` right after it.
    let package = env.pack(&Spec::new("Wharf.Sym", "1.0.0"));
    let out = env.push(&package, &token);
    assert!(out.status.success(), "package and symbol push");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Created") && said.contains("/symbolpackage"),
        "the symbols went to the symbol endpoint: {said}"
    );
    let body = client()
        .get(format!(
            "{feed}/package/wharf.sym/1.0.0/wharf.sym.1.0.0.snupkg"
        ))
        .send()
        .unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    assert_eq!(
        body.bytes().unwrap().as_ref(),
        std::fs::read(&snupkg).unwrap()
    );
    assert!(
        !env.push(&snupkg, &token).status.success(),
        "a second symbol push is a conflict"
    );
}

#[test]
fn nuget_uses_package_source_credentials_for_a_private_owner() {
    let Some(exe) = nuget_exe() else { return };
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    server.org("secret", "alice", true);
    let writer = NuGetEnv::new(&exe, &server, "secret", None);
    let package = writer.pack(&Spec::new("Secret.Lib", "3.1.4"));
    assert!(writer.push(&package, &token).status.success());

    let anonymous = NuGetEnv::new(&exe, &server, "secret", None);
    let (out, _) = anonymous.install("Secret.Lib", Some("3.1.4"), &[]);
    assert!(
        !out.status.success(),
        "anonymous readers see nothing of a private owner"
    );

    let wrong = NuGetEnv::new(&exe, &server, "secret", Some(("alice", BOGUS_TOKEN)));
    let (out, _) = wrong.install("Secret.Lib", Some("3.1.4"), &[]);
    assert!(!out.status.success(), "a wrong token is refused");

    let reader = NuGetEnv::new(&exe, &server, "secret", Some(("alice", &token)));
    let (out, dir) = reader.install("Secret.Lib", Some("3.1.4"), &[]);
    assert!(
        out.status.success(),
        "install with packageSourceCredentials"
    );
    assert_eq!(
        std::fs::read(installed(&dir, "Secret.Lib", "3.1.4")).unwrap(),
        std::fs::read(&package).unwrap()
    );

    // A read-only token cannot push.
    let read_only = server.token("alice", Scope::Read, None);
    let another = writer.pack(&Spec::new("Secret.Lib", "3.1.5"));
    assert!(!writer.push(&another, &read_only).status.success());
}

/// NuGet.exe installs through a proxy of another Wharf's feed (issue 21): the proxy
/// serves its own service index, the upstream's registrations rewritten to point at the
/// proxy, and each nupkg fetched once and kept; with the upstream gone the install
/// still works from the cache.
#[test]
fn nuget_installs_through_a_proxy_of_another_feed() {
    let Some(exe) = nuget_exe() else { return };
    let upstream = TestServer::start();
    let token = upstream.user("alice", Scope::Write);
    let publisher = NuGetEnv::new(&exe, &upstream, "alice", None);
    let base = publisher.pack(&Spec::new("Wharf.Base", "1.0.0"));
    let app = publisher.pack(&Spec::new("Wharf.App", "2.0.0").depends_on("Wharf.Base", "1.0.0"));
    for package in [&base, &app] {
        assert!(
            publisher.push(package, &token).status.success(),
            "push {package:?}"
        );
    }

    let server = TestServer::builder()
        .toml(format!(
            "[proxies.nuget-public]\nformat = \"nuget\"\nupstreams = [\"{}/api/packages/alice/nuget\"]\n",
            upstream.url
        ))
        .start();
    let install = || {
        let env = NuGetEnv::new(&exe, &server, "nuget-public", None);
        let (out, dir) = env.install("Wharf.App", Some("2.0.0"), &[]);
        assert!(
            out.status.success(),
            "install Wharf.App 2.0.0 through the proxy"
        );
        assert_eq!(
            std::fs::read(installed(&dir, "Wharf.App", "2.0.0")).unwrap(),
            std::fs::read(&app).unwrap(),
            "the upstream's nupkg, byte for byte"
        );
        assert_eq!(
            std::fs::read(installed(&dir, "Wharf.Base", "1.0.0")).unwrap(),
            std::fs::read(&base).unwrap()
        );
    };
    install();
    drop(upstream);
    install();
}
