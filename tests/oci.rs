//! OCI at `/v2` driven by the real clients: skopeo pushes, pulls, inspects, lists and
//! deletes images umoci built (OCI and Docker schema 2 manifests, a multi-arch index,
//! names with slashes, the token flow with public and private owners, proxies of a second
//! Wharf (its token flow) and of distribution 2.8 (Basic auth) pulling an image with
//! credentials and then from their cache, a push through a group to its `write_to`
//! member), and oras-py pushes artifacts (monolithic and in Content-Range chunks) and a
//! referrer, which the referrers API then lists.
//!
//! skopeo and umoci come from Debian, oras-py from its venv (`.ci/run` installs all
//! three); a missing one skips a test outside CI and fails it under `CI=true`.

#[path = "oci_clients/mod.rs"]
pub(crate) mod oci_clients;

use oci_clients::{
    ANY_MANIFEST, Creds, DOCKER_MANIFEST, Layout, OCI_INDEX, OCI_MANIFEST, Skopeo,
    alices_artifacts, oras_python, said, sha256_digest,
};
use serde_json::Value;
use wharf::db::owners::Role;
use wharf::db::tokens::Scope;
use wharf_tests::distribution::{self, Distribution};
use wharf_tests::{StatusCode, TestServer, client, repositories, require_tool};

/// A server with the bundled OCI format at `/v2`, and skopeo talking to it; `None`
/// (skip) when skopeo or umoci is missing.
fn setup() -> Option<(TestServer, Skopeo)> {
    if !require_tool("skopeo") || !require_tool("umoci") {
        return None;
    }
    let server = TestServer::start();
    let skopeo = Skopeo::new(&server.addr.to_string());
    Some((server, skopeo))
}

/// A layout holding image `1` (one layer with hello.txt) and image `2` (other content).
pub(crate) fn two_images() -> Layout {
    let layout = Layout::init();
    layout.add_image("1", &[("hello.txt", "hi\n")]);
    layout.add_image("2", &[("two.txt", "two\n")]);
    layout
}

/// `user:secret`, skopeo's and oras-py's form of credentials.
pub(crate) fn creds(user: &str, secret: &str) -> String {
    format!("{user}:{secret}")
}

pub(crate) fn push(skopeo: &Skopeo, layout: &Layout, tag: &str, name: &str, creds: Creds) {
    let out = skopeo.copy(&layout.reference(tag), &skopeo.docker(name), creds, &[]);
    assert!(out.status.success(), "skopeo push {name}: {}", said(&out));
}

/// Pulls `name` into a fresh layout and checks it is `layout`'s image `tag`: the same
/// manifest (bytes and digest) and the same blobs.
pub(crate) fn pull_matches(skopeo: &Skopeo, name: &str, creds: Creds, layout: &Layout, tag: &str) {
    let pushed = layout.manifest(tag);
    let back_dir = tempfile::tempdir().unwrap();
    let back = Layout::at(back_dir.path().join("back"));
    let out = skopeo.copy(&skopeo.docker(name), &back.reference(tag), creds, &[]);
    assert!(out.status.success(), "skopeo pull {name}: {}", said(&out));
    assert_eq!(back.manifest(tag), pushed, "{name}: the pushed manifest");
    for blob in layout.image_blobs(&pushed.digest) {
        assert_eq!(
            back.blob(&blob.digest),
            layout.blob(&blob.digest),
            "{name}: blob {} comes back identical",
            blob.digest
        );
    }
}

/// GET (or HEAD) of a manifest over plain HTTP with Basic `user:secret`: (status,
/// Docker-Content-Digest, body).
fn get_manifest(
    server: &TestServer,
    repo: &str,
    reference: &str,
    auth: (&str, &str),
) -> (StatusCode, Option<String>, Vec<u8>) {
    let resp = client()
        .get(format!("{}/v2/{repo}/manifests/{reference}", server.url))
        .basic_auth(auth.0, Some(auth.1))
        .header("Accept", ANY_MANIFEST)
        .send()
        .unwrap();
    let digest = resp
        .headers()
        .get("Docker-Content-Digest")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status(), digest, resp.bytes().unwrap().to_vec())
}

#[test]
fn skopeo_pushes_and_pulls_oci() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let layout = two_images();
    let pushed = layout.manifest("1");

    push(&skopeo, &layout, "1", "alice/img:1", Some(&alice));

    // The registry serves the very manifest umoci wrote: same bytes, same digest.
    let (status, digest, body) = get_manifest(&server, "alice/img", "1", ("alice", &token));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(digest.as_deref(), Some(pushed.digest.as_str()));
    assert_eq!(body, layout.blob(&pushed.digest));

    pull_matches(&skopeo, "alice/img:1", Some(&alice), &layout, "1");
}

#[test]
fn skopeo_pushes_and_pulls_docker_schema2() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let layout = two_images();

    // skopeo converts umoci's OCI manifest to Docker schema 2 on the way up.
    let out = skopeo.copy(
        &layout.reference("1"),
        &skopeo.docker("alice/img-v2s2:1"),
        Some(&alice),
        &["--format", "v2s2"],
    );
    assert!(
        out.status.success(),
        "skopeo copy --format v2s2: {}",
        said(&out)
    );

    let raw = skopeo.inspect_raw("alice/img-v2s2:1", Some(&alice));
    let manifest: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST);
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );

    // The manifest skopeo fetched is the one the registry names by its digest.
    let dir = tempfile::tempdir().unwrap();
    let pulled = dir.path().join("pulled");
    let out = skopeo.copy(
        &skopeo.docker("alice/img-v2s2:1"),
        &format!("dir:{}", pulled.display()),
        Some(&alice),
        &[],
    );
    assert!(out.status.success(), "skopeo copy to dir: {}", said(&out));
    let fetched = std::fs::read(pulled.join("manifest.json")).unwrap();
    assert_eq!(fetched, raw);
    let (status, digest, _) = get_manifest(&server, "alice/img-v2s2", "1", ("alice", &token));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(digest, Some(sha256_digest(&fetched)));
    let inspected: Value =
        serde_json::from_slice(&skopeo.inspect("alice/img-v2s2:1", Some(&alice)).stdout).unwrap();
    assert_eq!(inspected["Digest"], sha256_digest(&fetched));
}

#[test]
fn skopeo_inspect_list_tags_and_delete() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let layout = two_images();
    push(&skopeo, &layout, "1", "alice/tags:1", Some(&alice));
    push(&skopeo, &layout, "1", "alice/tags:latest", Some(&alice));
    push(&skopeo, &layout, "2", "alice/tags:2", Some(&alice));

    let out = skopeo.inspect("alice/tags:1", Some(&alice));
    assert!(out.status.success(), "skopeo inspect: {}", said(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Digest"], layout.manifest("1").digest.as_str());
    let mut repo_tags: Vec<&str> = inspected["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    repo_tags.sort();
    assert_eq!(repo_tags, ["1", "2", "latest"]);
    // Wharf lists tags in lexical order (distribution does not).
    assert_eq!(
        skopeo.list_tags("alice/tags", Some(&alice)),
        ["1", "2", "latest"]
    );

    let out = skopeo.delete("alice/tags:2", Some(&alice));
    assert!(out.status.success(), "skopeo delete :2: {}", said(&out));
    assert!(!skopeo.can_inspect("alice/tags:2", Some(&alice)));
    assert_eq!(
        skopeo.list_tags("alice/tags", Some(&alice)),
        ["1", "latest"]
    );

    // skopeo deletes the manifest :1 names, by its digest: `latest` names the same
    // manifest, so it goes too (the spec's semantics; a tag is only a name).
    let out = skopeo.delete("alice/tags:1", Some(&alice));
    assert!(out.status.success(), "skopeo delete :1: {}", said(&out));
    assert!(!skopeo.can_inspect("alice/tags:latest", Some(&alice)));
    let (status, _, _) = get_manifest(
        &server,
        "alice/tags",
        &layout.manifest("1").digest,
        ("alice", &token),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn repository_names_with_slashes() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let layout = two_images();
    push(&skopeo, &layout, "1", "alice/team/app:1", Some(&alice));
    push(
        &skopeo,
        &layout,
        "2",
        "alice/team/app/worker:1",
        Some(&alice),
    );

    let dir = tempfile::tempdir().unwrap();
    for (name, tag) in [("alice/team/app", "1"), ("alice/team/app/worker", "2")] {
        let back = Layout::at(dir.path().join(name.replace('/', "_")));
        let out = skopeo.copy(
            &skopeo.docker(&format!("{name}:1")),
            &back.reference("1"),
            Some(&alice),
            &[],
        );
        assert!(out.status.success(), "skopeo pull {name}: {}", said(&out));
        assert_eq!(back.manifest("1"), layout.manifest(tag));
    }
    assert_eq!(skopeo.list_tags("alice/team/app", Some(&alice)), ["1"]);

    let catalog: Value = client()
        .get(format!("{}/v2/_catalog", server.url))
        .basic_auth("alice", Some(&token))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let repositories = catalog["repositories"].as_array().unwrap();
    for name in ["alice/team/app", "alice/team/app/worker"] {
        assert!(
            repositories.iter().any(|r| r == name),
            "{name} in the catalog: {catalog}"
        );
    }
}

#[test]
fn multi_arch_index() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let layout = two_images();
    let index = layout.add_index("multi", &[("1", "amd64"), ("2", "arm64")]);

    let out = skopeo.copy(
        &layout.reference("multi"),
        &skopeo.docker("alice/multi:1"),
        Some(&alice),
        &["--all"],
    );
    assert!(out.status.success(), "skopeo copy --all up: {}", said(&out));

    // The index arrives unchanged (skopeo only rewrites it when it converts).
    let raw = skopeo.inspect_raw("alice/multi:1", Some(&alice));
    assert_eq!(sha256_digest(&raw), index.digest);
    assert_eq!(raw, layout.blob(&index.digest));
    for child in ["1", "2"] {
        let child = layout.manifest(child);
        let (status, digest, body) =
            get_manifest(&server, "alice/multi", &child.digest, ("alice", &token));
        assert_eq!(status, StatusCode::OK, "child {}", child.digest);
        assert_eq!(digest.as_deref(), Some(child.digest.as_str()));
        assert_eq!(body, layout.blob(&child.digest));
    }

    let dir = tempfile::tempdir().unwrap();
    let back = Layout::at(dir.path().join("back"));
    let out = skopeo.copy(
        &skopeo.docker("alice/multi:1"),
        &back.reference("1"),
        Some(&alice),
        &["--all"],
    );
    assert!(
        out.status.success(),
        "skopeo copy --all down: {}",
        said(&out)
    );
    assert_eq!(back.manifest("1"), index);
    for child in ["1", "2"] {
        let child = layout.manifest(child);
        assert_eq!(back.blob(&child.digest), layout.blob(&child.digest));
    }
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).unwrap()["mediaType"],
        OCI_INDEX
    );
}

#[test]
fn skopeo_auth() {
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let alice = creds("alice", &token);
    let bob_token = server.user("bob", Scope::Write);
    let bob = creds("bob", &bob_token);
    let layout = two_images();

    // A user's repositories are public: anyone pulls, with a guest token.
    push(&skopeo, &layout, "1", "alice/img:1", Some(&alice));
    let out = skopeo.inspect("alice/img:1", None);
    assert!(
        out.status.success(),
        "anonymous inspect of a public image: {}",
        said(&out)
    );
    assert!(!skopeo.list_tags("alice/img", None).is_empty());
    // The password works as well as a token.
    let out = skopeo.inspect("alice/img:1", Some("alice:alice-password"));
    assert!(
        out.status.success(),
        "inspect with the password: {}",
        said(&out)
    );

    // A private organization: only members see it.
    server.org("corp", "alice", true);
    push(&skopeo, &layout, "1", "corp/app:1", Some(&alice));
    assert!(!skopeo.can_inspect("corp/app:1", None), "anonymous");
    assert!(
        !skopeo.can_inspect("corp/app:1", Some(&bob)),
        "a non-member"
    );
    server.add_member("corp", "bob", Role::Read);
    let out = skopeo.inspect("corp/app:1", Some(&bob));
    assert!(out.status.success(), "a read member: {}", said(&out));
    // … who still cannot push there.
    let out = skopeo.copy(
        &layout.reference("2"),
        &skopeo.docker("corp/app:2"),
        Some(&bob),
        &[],
    );
    assert!(!out.status.success(), "a read member pushes");

    // A read-only token pulls but cannot push; nothing is left behind.
    let read_only = creds("alice", &server.token("alice", Scope::Read, None));
    assert!(skopeo.can_inspect("alice/img:1", Some(&read_only)));
    let out = skopeo.copy(
        &layout.reference("2"),
        &skopeo.docker("alice/img:2"),
        Some(&read_only),
        &[],
    );
    assert!(!out.status.success(), "a push with a read-only token");
    let text = said(&out).to_lowercase();
    assert!(
        text.contains("denied") || text.contains("unauthorized"),
        "skopeo says why: {text}"
    );
    for (repo, reference) in [("alice/img", "2"), ("corp/app", "2")] {
        let (status, _, _) = get_manifest(&server, repo, reference, ("alice", &token));
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{repo}:{reference} was not stored"
        );
    }

    // A wrong password gets nothing, not even a public pull through a token.
    let out = skopeo.inspect("alice/img:1", Some("alice:wrong-password"));
    assert!(!out.status.success(), "inspect with a wrong password");
    let out = skopeo.copy(
        &layout.reference("2"),
        &skopeo.docker("alice/img:3"),
        Some("alice:wrong-password"),
        &[],
    );
    assert!(!out.status.success(), "push with a wrong password");
}

#[test]
fn oras_artifact_and_referrer() {
    let Some(python) = oras_python() else {
        return;
    };
    let Some((server, skopeo)) = setup() else {
        return;
    };
    let token = server.user("alice", Scope::Write);
    let layout = two_images();
    let image = layout.manifest("1");
    push(
        &skopeo,
        &layout,
        "1",
        "alice/img:1",
        Some(&creds("alice", &token)),
    );

    let registry = server.addr.to_string();
    let summary = alices_artifacts(&python, &registry, &token, &["--anonymous-pull"]);
    assert_eq!(summary["anonymous_pull_equal"], true, "guest-token pull");
    assert_eq!(
        summary["artifact"]["config_media_type"],
        "application/vnd.wharf.test.config.v1+json"
    );
    assert_eq!(summary["subject"]["digest"], image.digest.as_str());
    assert_eq!(summary["subject"]["mediaType"], OCI_MANIFEST);
    let referrer = &summary["referrer"];
    let artifact_type = referrer["artifact_type"].as_str().unwrap();

    // GET referrers/{image digest}, optionally filtered by artifact type (a query
    // parameter: the `+` in media types must be percent-encoded).
    let referrers = |artifact_type: Option<&str>| {
        let mut request = client()
            .get(format!(
                "{}/v2/alice/img/referrers/{}",
                server.url, image.digest
            ))
            .basic_auth("alice", Some(&token));
        if let Some(t) = artifact_type {
            request = request.query(&[("artifactType", t)]);
        }
        let resp = request.send().unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "referrers of {artifact_type:?}"
        );
        assert_eq!(resp.headers()["content-type"], OCI_INDEX);
        let filtered = resp
            .headers()
            .get("OCI-Filters-Applied")
            .map(|v| v.to_str().unwrap().to_string());
        let index: Value = resp.json().unwrap();
        (index["manifests"].as_array().unwrap().clone(), filtered)
    };

    let (all, filtered) = referrers(None);
    assert_eq!(all.len(), 1, "one referrer: {all:?}");
    assert_eq!(filtered, None);
    let entry = &all[0];
    assert_eq!(entry["digest"], referrer["digest"]);
    assert_eq!(entry["mediaType"], OCI_MANIFEST);
    assert_eq!(
        entry["artifactType"], artifact_type,
        "the config media type"
    );
    assert_eq!(entry["annotations"], referrer["annotations"]);

    let (same, filtered) = referrers(Some(artifact_type));
    assert_eq!(same, all);
    assert_eq!(filtered.as_deref(), Some("artifactType"));
    let (none, filtered) = referrers(Some("application/vnd.wharf.other+json"));
    assert!(none.is_empty(), "no referrer of another type: {none:?}");
    assert_eq!(filtered.as_deref(), Some("artifactType"));
}

/// A proxy of a second Wharf: alice's image in a private organization comes through
/// `/v2/hub/corp/app` (the upstream's `corp/app`), the proxy following the upstream's
/// Bearer token flow with her credentials; with the upstream gone it still comes from
/// the cache.
#[test]
fn skopeo_copies_from_a_proxy_of_another_wharf() {
    let Some((upstream, up_skopeo)) = setup() else {
        return;
    };
    let token = upstream.user("alice", Scope::Write);
    upstream.org("corp", "alice", true);
    let layout = two_images();
    push(
        &up_skopeo,
        &layout,
        "1",
        "corp/app:1.0",
        Some(&creds("alice", &token)),
    );
    assert!(
        !up_skopeo.can_inspect("corp/app:1.0", None),
        "the upstream image is private"
    );

    let server = TestServer::builder()
        .toml(format!(
            "[proxies.hub]\nformat = \"oci\"\nupstreams = [\"{}\"]\nusername = \"alice\"\npassword = \"{token}\"\n",
            upstream.url
        ))
        .start();
    let skopeo = Skopeo::new(&server.addr.to_string());
    pull_matches(&skopeo, "hub/corp/app:1.0", None, &layout, "1");
    drop(upstream);
    // The same from the cache.
    pull_matches(&skopeo, "hub/corp/app:1.0", None, &layout, "1");
}

/// skopeo pushes an image to distribution 2.8 (`docker-registry`, htpasswd Basic auth)
/// and copies it back from a Wharf proxy of that registry (issue 21), the proxy's
/// `username` / `password` going to the upstream; then again with the registry stopped,
/// from the proxy's cache (`metadata_ttl = "0s"`: the tag is revalidated first, and its
/// cached manifest served stale when that fails).
#[test]
fn skopeo_copies_from_a_proxy_of_distribution_then_from_its_cache() {
    if !require_tool("skopeo") || !require_tool("umoci") {
        return;
    }
    let Some(mut upstream) = Distribution::start() else {
        return;
    };
    let layout = two_images();
    let up_skopeo = Skopeo::new(&upstream.host());
    push(
        &up_skopeo,
        &layout,
        "1",
        "team/app:1.0",
        Some(&upstream.creds()),
    );
    assert!(
        !up_skopeo.can_inspect("team/app:1.0", None),
        "the upstream wants credentials"
    );

    let table = repositories::proxy(
        "dist",
        "oci",
        &[&upstream.url()],
        &[
            &format!("username = {:?}", distribution::USER),
            &format!("password = {:?}", distribution::PASSWORD),
            "metadata_ttl = \"0s\"",
        ],
    );
    let server = TestServer::builder().toml(table).start();
    let skopeo = Skopeo::new(&server.addr.to_string());
    let by_digest = format!("dist/team/app@{}", layout.manifest("1").digest);
    let pulls = || {
        pull_matches(&skopeo, "dist/team/app:1.0", None, &layout, "1");
        pull_matches(&skopeo, &by_digest, None, &layout, "1");
    };
    pulls();
    upstream.stop();
    pulls();
}

/// skopeo pushes to an OCI group with `write_to` (issue 21) through the token flow: the
/// token it asks for names `images/app`, on which the token endpoint grants `push` to
/// whoever may write acme. The image is stored as `acme/app` and pulls back through the
/// group and from acme; bob, no member of acme, cannot push through the group.
#[test]
fn skopeo_pushes_through_a_group_to_its_write_to_member() {
    if !require_tool("skopeo") || !require_tool("umoci") {
        return;
    }
    let server = TestServer::builder()
        .user("alice")
        .user("bob")
        .toml(repositories::group(
            "images",
            "oci",
            &["acme"],
            &["write_to = \"acme\""],
        ))
        .start();
    server.org("acme", "alice", false);
    let skopeo = Skopeo::new(&server.addr.to_string());
    let alice = creds("alice", &server.token("alice", Scope::Write, None));
    let bob = creds("bob", &server.token("bob", Scope::Write, None));
    let layout = two_images();

    let out = skopeo.copy(
        &layout.reference("1"),
        &skopeo.docker("images/app:1"),
        Some(&bob),
        &[],
    );
    assert!(!out.status.success(), "bob pushed through the group");
    push(&skopeo, &layout, "1", "images/app:1", Some(&alice));
    pull_matches(&skopeo, "acme/app:1", None, &layout, "1");
    pull_matches(&skopeo, "images/app:1", None, &layout, "1");
}
