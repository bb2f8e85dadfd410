//! The operator's commands, run in-process as `wharf` would run them (`wharf::cli::
//! run_from`) against the data dir of a live test server: a fresh directory is never
//! made a registry, the lifecycle commands, a backup taken while the server runs
//! that a restored server serves byte for byte, a proxy's cache purged and evicted, and
//! `wharf migrate` (`cli_ops/migrate.rs`).

use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha512};
use wharf::cli::{Io, run_from};
use wharf::db::tokens::Scope;
use wharf_tests::counting_proxy::CountingProxy;
use wharf_tests::{StatusCode, TestServer, client, repositories};

#[path = "cli_ops/migrate.rs"]
mod migrate;

/// Runs `wharf ARGS --data-dir DIR` with `stdin`; returns what it printed for scripts.
fn wharf(dir: &Path, args: &[&str], stdin: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let mut io = Io {
        out: &mut out,
        input: &mut input,
        interactive: false,
    };
    let mut argv = vec![
        "wharf".to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    run_from(argv, &mut io).map_err(|e| format!("{e:#}"))?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn admin_commands_never_create_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let err = wharf(&missing, &["token", "create", "--user", "admin"], "").unwrap_err();
    let err = err.to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    assert!(!missing.exists(), "nothing was created");
    for args in [
        &["user", "list"][..],
        &["gc"],
        &["backup", "/nonexistent/x"],
    ] {
        assert!(wharf(&missing, args, "").is_err(), "{args:?}");
        assert!(!missing.exists(), "{args:?} created the data dir");
    }
}

#[test]
fn tokens_users_orgs_and_visibility_from_the_command_line() {
    let server = TestServer::start();
    let dir = server.data_dir();
    server.user("alice", Scope::Write);
    let put = |owner: &str, token: &str, path: &str| {
        client()
            .put(server.generic(owner, path))
            .header("Authorization", format!("token {token}"))
            .body("bytes")
            .send()
            .unwrap()
            .status()
    };

    let token = wharf(
        dir,
        &["token", "create", "--user", "alice", "--name", "ci"],
        "",
    )
    .unwrap();
    let token = token.trim();
    assert_eq!(put("alice", token, "a/1/a.txt"), StatusCode::CREATED);
    let listed = wharf(dir, &["token", "list", "--user", "alice"], "").unwrap();
    assert!(
        listed.starts_with("ID\tUSER\tNAME\tSCOPE\tLAST8"),
        "{listed}"
    );
    let row = listed.lines().find(|l| l.contains("\tci\t")).unwrap();
    assert!(row.contains(&token[token.len() - 8..]), "{row}");
    assert!(!listed.contains(token), "never the secret");
    let id = row.split('\t').next().unwrap();
    wharf(dir, &["token", "revoke", id], "").unwrap();
    assert_eq!(put("alice", token, "a/1/b.txt"), StatusCode::UNAUTHORIZED);

    // Passwords: from stdin; the length rule holds.
    wharf(
        dir,
        &["user", "passwd", "alice", "--password-stdin"],
        "a-new-secret\n",
    )
    .unwrap();
    let by_password = client()
        .put(server.generic("alice", "a/1/c.txt"))
        .basic_auth("alice", Some("a-new-secret"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(by_password.status(), StatusCode::CREATED);
    assert!(
        wharf(
            dir,
            &["user", "passwd", "alice", "--password-stdin"],
            "short\n"
        )
        .is_err()
    );
    assert!(
        wharf(dir, &["user", "passwd", "alice"], "").is_err(),
        "no terminal to ask on"
    );

    // Organizations and visibility.
    wharf(
        dir,
        &["user", "create", "bob", "--password", "bob-password"],
        "",
    )
    .unwrap();
    wharf(dir, &["org", "create", "crew", "--owner", "alice"], "").unwrap();
    wharf(
        dir,
        &["org", "add-member", "crew", "bob", "--role", "write"],
        "",
    )
    .unwrap();
    let orgs = wharf(dir, &["org", "list"], "").unwrap();
    assert!(
        orgs.contains("crew\tpublic\t0\talice:admin,bob:write"),
        "{orgs}"
    );
    wharf(dir, &["org", "remove-member", "crew", "bob"], "").unwrap();
    assert!(
        wharf(dir, &["org", "list"], "")
            .unwrap()
            .contains("\talice:admin\n")
    );
    let anonymous = || {
        client()
            .get(server.generic("alice", "a/1/a.txt"))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(anonymous(), StatusCode::OK);
    wharf(dir, &["owner", "visibility", "alice", "private"], "").unwrap();
    assert_eq!(anonymous(), StatusCode::UNAUTHORIZED);
    wharf(dir, &["owner", "visibility", "alice", "public"], "").unwrap();

    // Deleting a user who owns packages needs an heir; their tokens go with them.
    let users = wharf(dir, &["user", "list"], "").unwrap();
    assert!(users.contains("alice\tno\tpublic\t1\t"), "{users}");
    let err = wharf(dir, &["user", "delete", "alice"], "").unwrap_err();
    assert!(err.to_string().contains("--transfer-to"), "{err}");
    wharf(
        dir,
        &["user", "delete", "alice", "--transfer-to", "crew"],
        "",
    )
    .unwrap();
    assert_eq!(
        client()
            .get(server.generic("crew", "a/1/a.txt"))
            .send()
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(
        !wharf(dir, &["token", "list"], "")
            .unwrap()
            .contains("\talice\t")
    );
}

fn npm_publish_body(name: &str, version: &str, tarball: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "_id": name, "name": name, "dist-tags": { "latest": version },
        "versions": { version: {
            "name": name, "version": version,
            "dist": {
                "integrity": format!("sha512-{}", STANDARD.encode(Sha512::digest(tarball))),
                "tarball": "http://ignored/x.tgz",
            },
        }},
        "_attachments": { format!("{name}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": STANDARD.encode(tarball), "length": tarball.len(),
        }},
    })
}

/// Publishes `left-pad@1.0.0` as admin; returns its tarball's URL and bytes.
fn publish_left_pad(server: &TestServer, tarball: &[u8]) -> (String, Vec<u8>) {
    let base = format!("{}/api/packages/admin/npm", server.url);
    let res = client()
        .put(format!("{base}/left-pad"))
        .header("Authorization", format!("token {}", server.admin_token))
        .json(&npm_publish_body("left-pad", "1.0.0", tarball))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    (
        format!("{base}/left-pad/-/left-pad-1.0.0.tgz"),
        tarball.to_vec(),
    )
}

/// Files in three formats, backed up while the server runs and serves, restored into a
/// fresh data dir: a server there serves every file with identical bytes.
#[test]
fn a_backup_taken_while_serving_restores_byte_identical() {
    let server = TestServer::start();
    let auth = format!("token {}", server.admin_token);
    let base = format!("{}/api/packages/admin", server.url);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{base}/generic/tool/1.0/tool.bin"), big),
        (
            format!("{base}/generic/tool/1.1/tool.bin"),
            b"small".to_vec(),
        ),
        (
            format!("{base}/maven/org/acme/lib/1.0/lib-1.0.jar"),
            b"jar bytes".to_vec(),
        ),
        (
            format!("{base}/maven/org/acme/lib/1.0/lib-1.0-sources.jar"),
            b"sources".to_vec(),
        ),
    ];
    for (url, bytes) in &files {
        let res = client()
            .put(url)
            .header("Authorization", &auth)
            .body(bytes.clone())
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{url}");
    }
    let mut files = files;
    files.push(publish_left_pad(
        &server,
        b"not really gzip, but stored as sent",
    ));

    // Downloads go on while the backup runs.
    let backups = tempfile::tempdir().unwrap();
    let dest = backups.path().join("b1");
    let reader = {
        let url = files[0].0.clone();
        std::thread::spawn(move || {
            for _ in 0..20 {
                assert_eq!(client().get(&url).send().unwrap().status(), StatusCode::OK);
            }
        })
    };
    let said = wharf(server.data_dir(), &["backup", dest.to_str().unwrap()], "").unwrap();
    reader.join().unwrap();
    assert!(
        said.contains("backed up the database and 5 blobs"),
        "{said}"
    );

    let source = dest.clone();
    let restored = TestServer::builder()
        .prepare_data_dir(move |dir| {
            let out = wharf(dir, &["restore", source.to_str().unwrap(), "--copy"], "").unwrap();
            assert!(out.contains("restored"), "{out}");
        })
        .start();
    for (url, bytes) in &files {
        let url = url.replace(&server.url, &restored.url);
        let res = client().get(&url).send().unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert!(
            res.bytes().unwrap().as_ref() == bytes.as_slice(),
            "{url} differs"
        );
    }
    // The accounts came back too: the old admin token still works.
    let res = client()
        .put(format!(
            "{}/api/packages/admin/generic/after/1/x.txt",
            restored.url
        ))
        .header("Authorization", &auth)
        .body("x")
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// `wharf cache purge` drops a proxy's cached package while the server runs; the next
/// request fetches it again from the upstream. A hosted owner cannot be purged.
#[test]
fn a_proxys_cache_is_purged_from_the_command_line() {
    let upstream = TestServer::start();
    let path = "tool/1.0/tool.bin";
    let stored = client()
        .put(format!(
            "{}/api/packages/admin/generic/{path}",
            upstream.url
        ))
        .bearer_auth(&upstream.admin_token)
        .body("bytes v1")
        .send()
        .unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let server = TestServer::builder()
        .toml(format!(
            "[proxies.files]\nformat = \"generic\"\nupstreams = [\"{}/api/packages/admin/generic\"]\n",
            upstream.url
        ))
        .start();
    let url = format!("{}/api/packages/files/generic/{path}", server.url);
    let fetched = client().get(&url).send().unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.text().unwrap(), "bytes v1");

    assert_eq!(server.packages_of("files").len(), 1);
    // The management API says where and when the proxy fetched the file.
    let files: serde_json::Value = client()
        .get(format!(
            "{}/api/v1/packages/files/generic/tool/1.0/files",
            server.url
        ))
        .bearer_auth(&server.admin_token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let origin = files[0]["fetched_from"].as_str().unwrap_or_default();
    assert!(
        origin.starts_with(&upstream.url) && origin.ends_with(path),
        "{files}"
    );
    assert!(files[0]["fetched_at"].is_string(), "{files}");
    let err = wharf(server.data_dir(), &["cache", "purge", "admin"], "").unwrap_err();
    assert!(err.to_string().contains("admin is not a proxy"), "{err}");
    let out = wharf(server.data_dir(), &["cache", "purge", "files", "tool"], "").unwrap();
    assert!(out.contains("purged 1 cached packages"), "{out}");
    assert_eq!(server.packages_of("files").len(), 0);
    let again = client().get(&url).send().unwrap();
    assert_eq!(again.status(), StatusCode::OK, "fetched anew");
    assert_eq!(again.text().unwrap(), "bytes v1");
}

/// `[proxies.NAME] max_size` (issue 21): past it, a collection evicts the least recently
/// used cached artifacts, by last download and not by fetch, and the next request for
/// one fetches it again from the upstream (a second Wharf, counted in front of it). Run
/// by the server's collection (in process) and by `wharf gc` beside the running server.
#[test]
fn a_proxy_past_its_max_size_evicts_the_least_recently_used() {
    let upstream = TestServer::start();
    let bytes = |name: &str| name.repeat(750).into_bytes();
    for name in ["a", "b", "c"] {
        let stored = client()
            .put(upstream.generic("admin", &format!("{name}/1/{name}.bin")))
            .bearer_auth(&upstream.admin_token)
            .body(bytes(name))
            .send()
            .unwrap();
        assert_eq!(stored.status(), StatusCode::CREATED);
    }
    let counting = CountingProxy::start(&upstream.url);
    let toml = repositories::proxy(
        "files",
        "generic",
        &[&format!("{}/api/packages/admin/generic", counting.url)],
        &["max_size = \"2000 B\""],
    );
    let server = TestServer::builder().toml(toml.clone()).start();
    let get = |name: &str| {
        let res = client()
            .get(server.generic("files", &format!("{name}/1/{name}.bin")))
            .send()
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert!(res.bytes().unwrap() == bytes(name), "{name}'s bytes");
    };
    let fetches = |name: &str| counting.count(&format!("/{name}.bin"));
    let cached = || -> Vec<String> {
        let listed: serde_json::Value = client()
            .get(format!("{}/api/v1/packages/files", server.url))
            .bearer_auth(&server.admin_token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let mut names: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };

    // a, b and c fetched in that order (2250 bytes), then a used again a second later:
    // the first use of an artifact a process sees is written (then at most hourly).
    for name in ["a", "b", "c"] {
        get(name);
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    get("a");
    assert_eq!((fetches("a"), fetches("b"), fetches("c")), (1, 1, 1));

    // The server's collection: b, the least recently used, goes (a use still in memory
    // counts); 1500 bytes are left.
    let policy = wharf::registry::gc::Policy::from(&wharf::config::GcConfig::default());
    let report =
        wharf::registry::gc::collect(&server.registry, policy, std::time::SystemTime::now())
            .unwrap();
    assert_eq!(
        (report.evicted, report.evicted_bytes),
        (1, 750),
        "{report:?}"
    );
    assert_eq!(cached(), ["a", "c"]);
    get("b");
    assert_eq!(fetches("b"), 2, "fetched again from the upstream");

    // `wharf gc` with the same configuration, beside the running server: now c is the
    // least recently used (fetched first, never used since).
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), &toml).unwrap();
    let config = config.path().display().to_string();
    let out = wharf(server.data_dir(), &["--config", &config, "gc"], "").unwrap();
    assert!(
        out.starts_with("evicted 1 cached artifacts (750 bytes) from proxies past their max_size"),
        "{out}"
    );
    assert_eq!(cached(), ["a", "b"]);
    for name in ["a", "b", "c"] {
        get(name);
    }
    assert_eq!((fetches("a"), fetches("b"), fetches("c")), (1, 2, 2));
}
