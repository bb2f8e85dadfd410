//! The plugin kit end to end: the template plugin, loaded from its `.wasm` file as a third
//! party's would be, serves its routes and sees only its own format's packages;
//! `wharf plugin check` accepts it and refuses what the server would refuse; a plugin of
//! another contract version stops startup with both versions named.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wharf::Registry;
use wharf::config::{Config, FormatConfig, PluginSource};
use wharf::plugins::{Runtime, RuntimeLimits, check};
use wharf_tests::{StatusCode, TestServer, client, hex, plugin_cache_dir};

const TEMPLATE: &str = env!("WHARF_TEST_TEMPLATE_WASM");

fn server() -> TestServer {
    TestServer::builder()
        .plugin("template", "/api/packages/{owner}/template", TEMPLATE)
        .start()
}

/// `PUT url` with the admin's token.
fn put(server: &TestServer, url: &str, body: impl Into<Vec<u8>>) -> reqwest::blocking::Response {
    client()
        .put(url)
        .header("Authorization", format!("token {}", server.admin_token))
        .body(body.into())
        .send()
        .unwrap()
}

fn get(url: &str) -> (StatusCode, String) {
    let res = client().get(url).send().unwrap();
    (res.status(), res.text().unwrap())
}

#[test]
fn the_template_plugin_serves_uploads_downloads_and_its_index() {
    let server = server();
    let base = format!("{}/api/packages/admin/template", server.url);
    let body = b"First release\nDetails\n";

    assert_eq!(
        put(&server, &format!("{base}/notes/1.0/notes.txt"), body).status(),
        201
    );
    assert_eq!(
        put(&server, &format!("{base}/notes/1.0/notes.txt"), body).status(),
        409
    );
    let empty = put(&server, &format!("{base}/notes/2.0/x.txt"), b"");
    assert_eq!(empty.status(), 400);
    assert_eq!(empty.text().unwrap(), "the file is empty\n");
    let bad = put(&server, &format!("{base}/Notes/1.0/notes.txt"), body);
    assert_eq!(bad.status(), 400);

    // Anonymous writes get the plugin's challenge.
    let anonymous = client()
        .put(format!("{base}/notes/3.0/notes.txt"))
        .body(&body[..])
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"Wharf Package API\""
    );

    let file_url = format!("{base}/notes/1.0/notes.txt");
    assert_eq!(
        get(&file_url),
        (StatusCode::OK, String::from_utf8(body.to_vec()).unwrap())
    );
    let (status, index) = get(&format!("{base}/notes"));
    assert_eq!(status, 200, "{index}");
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let version = &index["versions"][0];
    assert_eq!(version["version"], "1.0");
    assert_eq!(version["summary"], "First release");
    assert_eq!(version["files"][0]["url"], file_url.as_str());
    assert_eq!(
        version["files"][0]["sha256"],
        hex(&Sha256::digest(body)).as_str()
    );

    // A bundle's summary is read from the `about.yaml` inside it (the SDK's tar and
    // YAML helpers, in the guest).
    let bundle_url = format!("{base}/notes/2.0/notes.tgz");
    assert_eq!(put(&server, &bundle_url, bundle()).status(), 201);
    let (_, index) = get(&format!("{base}/notes"));
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    assert_eq!(index["versions"][1]["summary"], "Bundled notes", "{index}");
    let refused = put(&server, &format!("{base}/notes/3.0/notes.tgz"), b"no tar");
    assert_eq!(refused.status(), 400);
    assert!(refused.text().unwrap().contains("not a valid tar"));

    let deleted = client()
        .delete(format!("{base}/notes/1.0"))
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(get(&file_url).0, 404);
    let (_, index) = get(&format!("{base}/notes"));
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    assert_eq!(index["versions"].as_array().unwrap().len(), 1, "{index}");
}

/// A gzipped tar with an `about.yaml` at its root, as `tar -czf` makes it.
fn bundle() -> Vec<u8> {
    use std::io::Write;
    let about = b"summary: Bundled notes\nauthor: me\n";
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(about.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "./about.yaml", &about[..])
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn a_plugin_sees_only_its_own_formats_packages() {
    let server = server();
    let generic = server.generic("admin", "notes/1.0/notes.txt");
    assert_eq!(put(&server, &generic, b"generic bytes\n").status(), 201);

    // Same owner, name, version and file name, asked through the other format.
    let template = format!("{}/api/packages/admin/template/notes", server.url);
    assert_eq!(get(&format!("{template}/1.0/notes.txt")).0, 404);
    assert_eq!(get(&template).0, 404);
    let delete = client()
        .delete(format!("{template}/1.0"))
        .header("Authorization", format!("token {}", server.admin_token))
        .send()
        .unwrap();
    assert_eq!(delete.status(), 404);
    // Publishing the same coordinates is a new package of its own format, not a 409.
    assert_eq!(
        put(
            &server,
            &format!("{template}/1.0/notes.txt"),
            b"template bytes\n"
        )
        .status(),
        201
    );
    assert_eq!(
        get(&generic),
        (StatusCode::OK, "generic bytes\n".to_string())
    );
    assert_eq!(
        get(&format!("{template}/1.0/notes.txt")),
        (StatusCode::OK, "template bytes\n".to_string())
    );
}

#[test]
fn plugin_check_reports_what_the_server_would_load() {
    // The CLI's `check` compiles without a cache; a debug build of cranelift takes
    // seconds for that, so this test shares the test servers' compiled artifact.
    let config = Config::default();
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    let report = check::check_with(&runtime, Path::new(TEMPLATE), &config).unwrap();
    assert_eq!(report.descriptor.name, "template");
    let text = report.to_string();
    for expected in [
        "format      template",
        "contract    0.3.2 (this host implements wharf:format@0.3.2 and loads 0.3.x and 0.2.x)",
        "exports     wharf:format/plugin@0.3.2, wharf:format/proxy@0.3.2, wharf:format/group@0.3.2, wharf:format/pages@0.3.2",
        "proxies     supports proxy repositories ([proxies.NAME]); groups merge members' documents in the plugin",
        "errors      plain text",
        "challenge   Basic realm=\"Wharf Package API\"",
        "digests     sha256 (always)",
        "credentials authorization",
        "settings    summary-bytes: integer 1..=4096, default 200 (bytes of a file's first line kept as its version's summary)",
        "limits      64 MiB of memory and 2000 ms per call; uploads up to 2 GiB; 42 calls at once",
        "[formats.template]",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

/// A configured table whose settings the plugin does not accept is refused by `check`
/// with the key, as the server's start would refuse it.
#[test]
fn plugin_check_refuses_settings_the_plugin_does_not_declare() {
    let mut config = Config::default();
    let mut table = FormatConfig {
        enabled: true,
        mount: "/api/packages/{owner}/template".into(),
        plugin: PluginSource::Path(TEMPLATE.into()),
        max_upload: None,
        max_concurrent: None,
        settings: Default::default(),
    };
    table
        .settings
        .insert("summary-bytes".into(), toml::Value::Integer(99_999));
    config.formats.insert("template".into(), table);
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    let err = check::check_with(&runtime, Path::new(TEMPLATE), &config).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("[formats.template.settings]"), "{err}");
    assert!(
        err.contains("settings.summary-bytes: 99999 is outside 1..=4096"),
        "{err}"
    );
}

#[test]
fn plugin_check_refuses_what_the_server_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    for (file, bytes, expected) in [
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "is a core WebAssembly module, not a component",
        ),
        ("text.wasm", b"hello".to_vec(), "is not WebAssembly"),
        (
            "older.wasm",
            component_of_contract("0.1.0"),
            "built against wharf:format@0.1.0, but this host implements wharf:format@0.3.2",
        ),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let err = format!("{:#}", check::check(&path, &Config::default()).unwrap_err());
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(expected), "{err}");
    }
    let missing = check::check(&dir.path().join("none.wasm"), &Config::default()).unwrap_err();
    assert!(
        format!("{missing:#}").contains("cannot read"),
        "{missing:#}"
    );
}

#[test]
fn a_plugin_of_another_contract_version_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("older.wasm");
    std::fs::write(&wasm, component_of_contract("0.1.0")).unwrap();
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.formats.clear();
    config.formats.insert(
        "future".to_string(),
        FormatConfig {
            enabled: true,
            mount: "/api/packages/{owner}/future".to_string(),
            plugin: PluginSource::Path(PathBuf::from(&wasm)),
            max_upload: None,
            max_concurrent: None,
            settings: Default::default(),
        },
    );
    config.validate().unwrap();
    let Err(err) = Registry::open(config) else {
        panic!("a 0.1.0 plugin was loaded");
    };
    let err = format!("{err:#}");
    // The message names the config key and the file, then the reason.
    let prefix = format!("formats.future.plugin: {}: ", wasm.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains("wharf:format@0.1.0"), "{err}");
    assert!(err.contains("implements wharf:format@0.3.2"), "{err}");
}

/// A component as a plugin built against another contract version looks from the
/// outside: it imports `wharf:format/host@V` and exports `wharf:format/plugin@V` (here
/// simply the imported instance, which is enough to be refused by name).
fn component_of_contract(version: &str) -> Vec<u8> {
    use wasm_encoder::{ComponentBuilder, ComponentExportKind, ComponentTypeRef, InstanceType};
    let mut component = ComponentBuilder::default();
    let ty = component.type_instance(None, &InstanceType::new());
    let host = component.import(
        format!("wharf:format/host@{version}").as_str(),
        ComponentTypeRef::Instance(ty),
    );
    component.export(
        format!("wharf:format/plugin@{version}").as_str(),
        ComponentExportKind::Instance,
        host,
        None,
    );
    component.finish()
}

/// docs/plugins.md's recipe for a plugin outside this repository, followed from an
/// empty directory: the template's files copied out, its SDK dependency pointed at this
/// checkout's `plugins/sdk`, the release profile added, built offline for wasm32-wasip2
/// (the crates come from cargo's local cache, pinned by this workspace's lock file), and
/// the component passes `wharf plugin check`. Its target dir sits in the tests' own
/// target dir, so only the first run compiles the SDK's dependencies again.
#[test]
fn the_template_copied_out_of_the_repository_builds_and_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("plugins/template/src"), &dir.path().join("src"));
    let manifest = std::fs::read_to_string(root.join("plugins/template/Cargo.toml")).unwrap();
    let sdk = root.join("plugins/sdk");
    let manifest = manifest.replace(
        "path = \"../sdk\"",
        &format!("path = {:?}", sdk.display().to_string()),
    );
    assert!(manifest.contains(&sdk.display().to_string()), "{manifest}");
    let profile = "\n[profile.release]\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\nstrip = true\npanic = \"abort\"\n";
    std::fs::write(dir.path().join("Cargo.toml"), manifest + profile).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::copy(
        root.join("rust-toolchain.toml"),
        dir.path().join("rust-toolchain.toml"),
    )
    .unwrap();

    let target = outer_target_dir().join("outside-template");
    let started = std::time::Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(dir.path())
        .args([
            "build",
            "--offline",
            "--release",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target)
        // The test binary's own build settings are for the host target.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the copied template does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("the copied template built in {:?}", started.elapsed());
    let wasm = target.join("wasm32-wasip2/release/wharf_format_template.wasm");
    let config = Config::default();
    let runtime = Runtime::new(RuntimeLimits::from_config(&config), &plugin_cache_dir()).unwrap();
    let report = check::check_with(&runtime, &wasm, &config).unwrap();
    assert_eq!(report.descriptor.name, "template");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The target dir this test binary was built in (`…/debug/deps/protocol-…`).
fn outer_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}
