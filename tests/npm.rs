//! The npm format, driven by the real npm, pnpm and yarn clients, plus the protocol
//! edges (bad bodies, digests, caching, URL forms) over plain HTTP.

use std::process::Output;

use serde_json::json;
use wharf::db::tokens::Scope;
use wharf_tests::npm::{NpmEnv, installed_version};
use wharf_tests::{StatusCode, TestServer, client, require_tool};

/// A server with user alice and an npm env holding her write token, or `None` when a
/// client is missing outside CI.
fn start_for_alice(tools: &[&str]) -> Option<(TestServer, NpmEnv)> {
    if !tools.iter().all(|t| require_tool(t)) {
        return None;
    }
    let server = TestServer::start();
    let token = server.user("alice", Scope::Write);
    let env = NpmEnv::new(&server, "alice", Some(&token));
    Some((server, env))
}

/// Publishes the test packages: `dep-lib` 1.0.0, 1.1.0 and 2.0.0-beta.1 (tag beta), and
/// `@acme/app-core` 1.0.0 depending on `dep-lib@^1.0.0`.
fn publish_fixtures(env: &NpmEnv) {
    for version in ["1.0.0", "1.1.0"] {
        let dir = env.package(json!({
            "name": "dep-lib", "version": version, "description": "A dependency for tests",
            "keywords": ["wharf", "fixture"], "license": "MIT", "main": "index.js",
            "engines": { "node": ">=18" },
        }));
        env.npm(&dir, &["publish"]);
    }
    let beta =
        env.package(json!({ "name": "dep-lib", "version": "2.0.0-beta.1", "license": "MIT" }));
    env.npm(&beta, &["publish", "--tag", "beta"]);
    let app = env.package(json!({
        "name": "@acme/app-core", "version": "1.0.0", "license": "MIT",
        "dependencies": { "dep-lib": "^1.0.0" },
        "peerDependencies": { "react": ">=18" },
        "peerDependenciesMeta": { "react": { "optional": true } },
        "optionalDependencies": {}, "bin": { "app-core": "index.js" },
        "os": ["linux", "darwin"], "cpu": ["x64", "arm64"],
        "funding": "https://example.com/fund",
        "scripts": { "postinstall": "node -e 0" },
    }));
    env.npm(&app, &["publish"]);
}

#[test]
fn npm_publishes_installs_and_manages_packages() {
    let Some((_server, env)) = start_for_alice(&["npm"]) else {
        return;
    };
    let home = env.home().to_path_buf();

    assert_eq!(env.npm(&home, &["whoami"]).trim(), "alice");
    env.npm(&home, &["ping"]);
    publish_fixtures(&env);

    // A second publish of a version is refused (npm 11 checks the packument first and
    // stops on its own; the server's 409 is covered in npm_protocol.rs).
    let again = env.run("npm", &home.join("src/dep-lib-1.0.0"), &["publish"]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("409") || stderr.contains("previously published"),
        "{stderr}"
    );

    // npm view: the packument keeps what npm published, with our dist.
    let view = env.npm_json(&home, &["view", "@acme/app-core"]);
    assert_eq!(view["name"], "@acme/app-core");
    assert_eq!(view["dependencies"]["dep-lib"], "^1.0.0");
    assert_eq!(view["peerDependenciesMeta"]["react"]["optional"], true);
    assert_eq!(view["bin"]["app-core"], "index.js");
    assert_eq!(view["os"], json!(["linux", "darwin"]));
    assert_eq!(view["funding"], "https://example.com/fund");
    assert_eq!(view["hasInstallScript"], true);
    // The publisher has no email address: an empty one, not a made-up one, and npm's
    // own view prints no "<undefined>" for it.
    assert_eq!(view["_npmUser"], json!({ "name": "alice", "email": "" }));
    let pretty = env.npm(&home, &["view", "@acme/app-core"]);
    assert!(pretty.contains(" by alice"), "{pretty}");
    assert!(!pretty.contains("undefined"), "{pretty}");
    let tarball = view["dist"]["tarball"].as_str().unwrap();
    assert_eq!(
        tarball,
        format!("{}@acme/app-core/-/app-core-1.0.0.tgz", env.registry)
    );
    assert!(
        view["dist"]["integrity"]
            .as_str()
            .unwrap()
            .starts_with("sha512-")
    );
    assert_eq!(view["dist"]["shasum"].as_str().unwrap().len(), 40);
    let tags = env.npm_json(&home, &["view", "dep-lib", "dist-tags"]);
    assert_eq!(tags, json!({ "latest": "1.1.0", "beta": "2.0.0-beta.1" }));
    let versions = env.npm_json(&home, &["view", "dep-lib", "versions"]);
    assert_eq!(versions, json!(["1.0.0", "1.1.0", "2.0.0-beta.1"]));
    let one = env.npm_json(
        &home,
        &["view", "dep-lib@1.0.0", "version", "engines", "keywords"],
    );
    assert_eq!(one["version"], "1.0.0");
    assert_eq!(one["engines"]["node"], ">=18");
    let time = env.npm_json(&home, &["view", "dep-lib", "time"]);
    assert!(time["created"].as_str().unwrap().ends_with('Z'));
    assert!(time["1.1.0"].is_string());

    // Installs from a clean cache: exact version (with its transitive dependency from
    // this registry, resolved by range), a tag, and a range.
    let project = env.project("consumer");
    std::fs::remove_dir_all(home.join("cache")).ok();
    env.npm(
        &project,
        &["install", "@acme/app-core@1.0.0", "dep-lib@beta"],
    );
    assert_eq!(installed_version(&project, "@acme/app-core"), "1.0.0");
    assert_eq!(installed_version(&project, "dep-lib"), "2.0.0-beta.1");
    assert_eq!(
        installed_version(&project.join("node_modules/@acme/app-core"), "dep-lib"),
        "1.1.0"
    );
    let ranged = env.project("ranged");
    env.npm(&ranged, &["install", "dep-lib@~1.0.0"]);
    assert_eq!(installed_version(&ranged, "dep-lib"), "1.0.0");

    // dist-tag add / ls / rm.
    env.npm(&home, &["dist-tag", "add", "dep-lib@1.0.0", "stable"]);
    let ls = env.npm(&home, &["dist-tag", "ls", "dep-lib"]);
    assert!(ls.contains("stable: 1.0.0"), "{ls}");
    env.npm(&home, &["dist-tag", "rm", "dep-lib", "stable"]);
    assert!(
        !env.npm(&home, &["dist-tag", "ls", "dep-lib"])
            .contains("stable")
    );
    let bad_tag = env.run("npm", &home, &["dist-tag", "add", "dep-lib@1.0.0", "1.2.3"]);
    assert!(!bad_tag.status.success());

    // deprecate, then un-deprecate with an empty message.
    env.npm(&home, &["deprecate", "dep-lib@1.0.0", "use 1.1"]);
    let deprecated = env.npm_json(&home, &["view", "dep-lib@1.0.0", "deprecated"]);
    assert_eq!(deprecated, "use 1.1");
    env.npm(&home, &["deprecate", "dep-lib@1.0.0", ""]);
    let view = env.npm_json(&home, &["view", "dep-lib@1.0.0"]);
    assert!(view.get("deprecated").is_none(), "{view}");

    // search
    let found = env.npm_json(&home, &["search", "dep-lib"]);
    assert_eq!(found[0]["name"], "dep-lib");
    assert_eq!(found[0]["version"], "1.1.0", "latest's, not the newer beta");
    assert_eq!(env.npm_json(&home, &["search", "no-such-thing"]), json!([]));

    // unpublish one version: npm re-points `latest` at the highest remaining version
    // (its own choice, prereleases included) and the registry follows it.
    env.npm(&home, &["unpublish", "dep-lib@1.1.0"]);
    let versions = env.npm_json(&home, &["view", "dep-lib", "versions"]);
    assert_eq!(versions, json!(["1.0.0", "2.0.0-beta.1"]));
    let tags = env.npm_json(&home, &["view", "dep-lib", "dist-tags"]);
    assert_eq!(
        tags,
        json!({ "latest": "2.0.0-beta.1", "beta": "2.0.0-beta.1" })
    );
    let tarball = format!("{}dep-lib/-/dep-lib-1.1.0.tgz", env.registry);
    assert_eq!(
        client().get(tarball).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // unpublish a whole package.
    env.npm(&home, &["unpublish", "@acme/app-core", "--force"]);
    let gone = env.run("npm", &home, &["view", "@acme/app-core"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("404"));
}

#[test]
fn npm_reads_anonymously_and_refuses_writes_without_a_token() {
    let Some((server, writer)) = start_for_alice(&["npm"]) else {
        return;
    };
    let reader = server.token("alice", Scope::Read, None);
    let dir = writer.package(json!({ "name": "public-lib", "version": "1.0.0" }));
    writer.npm(&dir, &["publish"]);

    let anonymous = NpmEnv::new(&server, "alice", None);
    let project = anonymous.project("anon");
    anonymous.npm(&project, &["install", "public-lib"]);
    assert_eq!(installed_version(&project, "public-lib"), "1.0.0");
    // Without a token npm refuses before sending; with a bogus one the server says 401.
    let denied = anonymous.run("npm", &dir, &["publish"]);
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("ENEEDAUTH"));
    let bogus = NpmEnv::new(
        &server,
        "alice",
        Some("wharf_0000000000000000000000000000000000000000"),
    );
    let denied = bogus.run("npm", &dir, &["publish"]);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("401"));
    assert!(!anonymous.run("npm", &project, &["whoami"]).status.success());

    let read_only = NpmEnv::new(&server, "alice", Some(&reader));
    let dir2 = read_only.package(json!({ "name": "public-lib", "version": "1.0.1" }));
    let denied = read_only.run("npm", &dir2, &["publish"]);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("403"));
}

/// Runs `command_line` on a terminal (npm prompts on one only: `script` gives it one)
/// and types each answer once its prompt is on screen. Each answer waits for its
/// prompt: npm turns echo off for a password and the terminal drops input typed before
/// that, so a fixed delay fails on a slow machine. Prints what the terminal showed.
fn answer_prompts(env: &NpmEnv, command_line: &str, answers: &[(&str, &str)]) -> Output {
    let mut child = env
        .command("script", env.home())
        .args(["-qec", command_line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        use std::io::Read;
        let (mut stdout, screen) = (child.stdout.take().unwrap(), screen.clone());
        std::thread::spawn(move || {
            let mut chunk = [0u8; 1024];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                screen.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let mut seen = 0;
        for (prompt, answer) in answers {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            loop {
                let text = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
                if let Some(at) = text[seen..].find(prompt) {
                    seen += at + prompt.len();
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "npm never prompted {prompt:?}: {text}"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            // The prompt is printed just before the terminal mode changes.
            std::thread::sleep(std::time::Duration::from_millis(500));
            stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
    }
    let mut out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    out.stdout = std::mem::take(&mut *screen.lock().unwrap());
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn npm_legacy_login_returns_a_working_token() {
    if !require_tool("npm") || !require_tool("script") {
        return;
    }
    let server = TestServer::start();
    server.user("alice", Scope::Write);
    let env = NpmEnv::new(&server, "alice", None);
    let login = format!("npm login --auth-type=legacy --registry={}", env.registry);
    let out = answer_prompts(
        &env,
        &login,
        &[("Username:", "alice"), ("Password:", "alice-password")],
    );
    assert!(out.status.success(), "npm login failed");
    let npmrc = std::fs::read_to_string(env.home().join(".npmrc")).unwrap();
    assert!(npmrc.contains(":_authToken=wharf_"), "{npmrc}");
    assert_eq!(env.npm(env.home(), &["whoami"]).trim(), "alice");

    // A wrong password gets no token.
    let bad = client()
        .put(format!(
            "{}-/user/org.couchdb.user:alice/-rev/1-wharf",
            env.registry
        ))
        .basic_auth("alice", Some("wrong"))
        .json(&json!({ "name": "alice", "password": "wrong" }))
        .send()
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    // Nor does signing in as someone else than the document names.
    server.user("bob", Scope::Write);
    let other = client()
        .put(format!(
            "{}-/user/org.couchdb.user:alice/-rev/1-wharf",
            env.registry
        ))
        .basic_auth("bob", Some("bob-password"))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

/// There is no self sign-up: `npm adduser` fails saying so and naming the admin
/// command, for a name nobody has (it used to claim "user bob exists").
#[test]
fn npm_adduser_says_accounts_come_from_an_administrator() {
    if !require_tool("npm") || !require_tool("script") {
        return;
    }
    let server = TestServer::start();
    let env = NpmEnv::new(&server, "admin", None);
    let adduser = format!("npm adduser --auth-type=legacy --registry={}", env.registry);
    let out = answer_prompts(
        &env,
        &adduser,
        &[
            ("Username:", "bob"),
            ("Password:", "bob-password"),
            ("Email", "bob@example.com"),
        ],
    );
    assert!(!out.status.success(), "npm adduser succeeded");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("no self sign-up"), "{said}");
    assert!(said.contains("wharf user create bob"), "{said}");
    assert!(!said.contains("exists"), "{said}");
}

#[test]
fn pnpm_and_yarn_install_from_the_registry() {
    let Some((_server, env)) = start_for_alice(&["npm", "pnpm", "yarn"]) else {
        return;
    };
    publish_fixtures(&env);

    let project = env.project("with-pnpm");
    // pnpm holds back versions younger than a day by default; these are seconds old.
    std::fs::write(
        project.join("pnpm-workspace.yaml"),
        "minimumReleaseAge: 0\n",
    )
    .unwrap();
    let out = env.run(
        "pnpm",
        &project,
        &["add", "@acme/app-core@1.0.0", "--ignore-scripts"],
    );
    assert!(out.status.success(), "pnpm add failed");
    assert_eq!(installed_version(&project, "@acme/app-core"), "1.0.0");
    let lock = std::fs::read_to_string(project.join("pnpm-lock.yaml")).unwrap();
    assert!(lock.contains("dep-lib@1.1.0"), "{lock}");

    let project = env.project("with-yarn");
    let out = env.run(
        "yarn",
        &project,
        &[
            "add",
            "@acme/app-core@1.0.0",
            "dep-lib@beta",
            "--ignore-scripts",
            "--non-interactive",
        ],
    );
    assert!(out.status.success(), "yarn add failed");
    assert_eq!(installed_version(&project, "@acme/app-core"), "1.0.0");
    assert_eq!(installed_version(&project, "dep-lib"), "2.0.0-beta.1");
    let lock = std::fs::read_to_string(project.join("yarn.lock")).unwrap();
    assert!(lock.contains("dep-lib@^1.0.0"), "{lock}");
}
