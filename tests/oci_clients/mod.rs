//! The real OCI clients as `tests/oci.rs` drives them: images built with umoci in an
//! OCI image layout, skopeo in an environment of its own, and oras-py's interpreter.
//!
//! The recipes were checked against Debian's docker-registry (distribution 2.8.2) with
//! skopeo 1.9.3, umoci 0.4.7 and oras-py 0.2.43.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
pub use wharf_tests::{run, said, sha256_digest};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// What a manifest GET accepts, so the registry answers any stored type.
pub const ANY_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";
/// The layout annotation umoci and skopeo name a tag by.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A content descriptor as index.json and manifests hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    fn from_json(v: &Value) -> Self {
        Descriptor {
            media_type: v["mediaType"].as_str().unwrap_or_default().to_string(),
            digest: v["digest"].as_str().expect("descriptor digest").to_string(),
            size: v["size"].as_u64().expect("descriptor size"),
        }
    }
}

/// An OCI image layout on disk: one umoci builds, or one skopeo pulled into.
pub struct Layout {
    path: PathBuf,
    /// Scratch space for umoci's unpacked bundles, beside the layout.
    scratch: tempfile::TempDir,
}

impl Layout {
    /// A new empty layout (`umoci init`).
    pub fn init() -> Self {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join("layout");
        let mut cmd = Command::new("umoci");
        cmd.args(["init", "--layout"]).arg(&path);
        assert!(run(cmd, "umoci init").status.success(), "umoci init");
        Layout { path, scratch }
    }

    /// A layout another tool wrote (or will write) at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Layout {
            path: path.into(),
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// `oci:PATH:TAG`, skopeo's name for a tag in this layout.
    pub fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.path.display())
    }

    /// Adds image `tag`: an empty image plus one layer holding `files` (path, content).
    /// `--rootless` so it also works for a non-root user.
    pub fn add_image(&self, tag: &str, files: &[(&str, &str)]) {
        let image = format!("{}:{tag}", self.path.display());
        let bundle = self.scratch.path().join(format!("bundle-{tag}"));
        let mut new = Command::new("umoci");
        new.args(["new", "--image", &image]);
        assert!(run(new, "umoci new").status.success(), "umoci new");
        let mut unpack = Command::new("umoci");
        unpack
            .args(["unpack", "--rootless", "--image", &image])
            .arg(&bundle);
        assert!(run(unpack, "umoci unpack").status.success(), "umoci unpack");
        for (name, content) in files {
            std::fs::write(bundle.join("rootfs").join(name), content).unwrap();
        }
        let mut repack = Command::new("umoci");
        repack.args(["repack", "--image", &image]).arg(&bundle);
        assert!(run(repack, "umoci repack").status.success(), "umoci repack");
        std::fs::remove_dir_all(&bundle).unwrap();
    }

    fn index(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path.join("index.json")).unwrap()).unwrap()
    }

    /// The descriptor `index.json` gives tag `tag`.
    pub fn manifest(&self, tag: &str) -> Descriptor {
        let index = self.index();
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"][REF_NAME] == tag)
            .unwrap_or_else(|| panic!("no tag {tag} in {}", self.path.display()));
        Descriptor::from_json(entry)
    }

    pub fn blob(&self, digest: &str) -> Vec<u8> {
        let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
        std::fs::read(self.path.join("blobs").join(algorithm).join(hex)).unwrap()
    }

    pub fn json_blob(&self, digest: &str) -> Value {
        serde_json::from_slice(&self.blob(digest)).unwrap()
    }

    /// The config and layer descriptors of the image manifest `digest`.
    pub fn image_blobs(&self, digest: &str) -> Vec<Descriptor> {
        let manifest = self.json_blob(digest);
        std::iter::once(&manifest["config"])
            .chain(manifest["layers"].as_array().unwrap())
            .map(Descriptor::from_json)
            .collect()
    }

    /// Writes an OCI index of the images `children` (tag, architecture) into the layout
    /// as tag `tag`, as a multi-arch build would; returns its descriptor.
    pub fn add_index(&self, tag: &str, children: &[(&str, &str)]) -> Descriptor {
        let manifests: Vec<Value> = children
            .iter()
            .map(|(child, arch)| {
                let d = self.manifest(child);
                json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size,
                       "platform": {"architecture": arch, "os": "linux"}})
            })
            .collect();
        let body = serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
        )
        .unwrap();
        let descriptor = Descriptor {
            media_type: OCI_INDEX.to_string(),
            digest: sha256_digest(&body),
            size: body.len() as u64,
        };
        let hex = descriptor.digest.trim_start_matches("sha256:");
        std::fs::write(self.path.join("blobs/sha256").join(hex), &body).unwrap();
        let mut index = self.index();
        index["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": OCI_INDEX, "digest": descriptor.digest, "size": descriptor.size,
            "annotations": {REF_NAME: tag},
        }));
        std::fs::write(
            self.path.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        descriptor
    }
}

/// skopeo against one plain-http registry, in an environment of its own: its own
/// signature policy and registries.d (the machine's /etc/containers never matter), an
/// empty auth file (no stored login is ever used: credentials are only the ones a call
/// passes), and its own blob-info cache, so it never mounts a blob from a repository it
/// saw in another test. One `Skopeo` keeps one cache across its calls, as one user's
/// machine would.
pub struct Skopeo {
    /// `127.0.0.1:PORT`
    registry: String,
    home: tempfile::TempDir,
}

/// Who a skopeo call is: anonymous, or `user:secret` (a password or a token).
pub type Creds<'a> = Option<&'a str>;

impl Skopeo {
    pub fn new(registry: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        std::fs::create_dir(home.path().join("registries.d")).unwrap();
        Skopeo {
            registry: registry.to_string(),
            home,
        }
    }

    /// `docker://HOST:PORT/{name}`, e.g. `alice/img:1`.
    pub fn docker(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.registry)
    }

    fn command(&self) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new("skopeo");
        cmd.arg("--policy")
            .arg(home.join("policy.json"))
            .arg("--registries.d")
            .arg(home.join("registries.d"))
            // containers/image keeps the blob-info cache in $XDG_DATA_HOME only when it
            // believes it is not root; as root it would share /var/lib/containers/cache.
            .env("XDG_DATA_HOME", home.join("xdg"))
            .env("_CONTAINERS_ROOTLESS_UID", "65534")
            .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
            .env("HOME", home);
        cmd
    }

    /// `skopeo copy`: plain http and `creds` on whichever side is the registry.
    pub fn copy(&self, src: &str, dest: &str, creds: Creds, extra: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args(["copy", "--quiet"]);
        if src.starts_with("docker://") {
            cmd.arg("--src-tls-verify=false");
            if let Some(c) = creds {
                cmd.args(["--src-creds", c]);
            }
        }
        if dest.starts_with("docker://") {
            cmd.arg("--dest-tls-verify=false");
            if let Some(c) = creds {
                cmd.args(["--dest-creds", c]);
            }
        }
        cmd.args(extra).args([src, dest]);
        run(
            cmd,
            &format!("skopeo copy {} {src} {dest}", extra.join(" ")),
        )
    }

    /// `skopeo inspect|list-tags|delete ... docker://HOST/{name}`.
    pub fn on_registry(&self, verb: &str, name: &str, creds: Creds, extra: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args([verb, "--tls-verify=false"]);
        if let Some(c) = creds {
            cmd.args(["--creds", c]);
        }
        cmd.args(extra).arg(self.docker(name));
        run(cmd, &format!("skopeo {verb} {} {name}", extra.join(" ")))
    }

    pub fn inspect(&self, name: &str, creds: Creds) -> Output {
        self.on_registry("inspect", name, creds, &[])
    }

    /// Whether `inspect` finds `name` with these credentials.
    pub fn can_inspect(&self, name: &str, creds: Creds) -> bool {
        self.inspect(name, creds).status.success()
    }

    /// The manifest bytes, exactly as the registry serves them.
    pub fn inspect_raw(&self, name: &str, creds: Creds) -> Vec<u8> {
        let out = self.on_registry("inspect", name, creds, &["--raw"]);
        assert!(out.status.success(), "skopeo inspect --raw {name}");
        out.stdout
    }

    /// The tags `list-tags` reports for repository `name`, in the registry's order.
    pub fn list_tags(&self, name: &str, creds: Creds) -> Vec<String> {
        let out = self.on_registry("list-tags", name, creds, &[]);
        assert!(out.status.success(), "skopeo list-tags {name}");
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        listed["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }

    pub fn delete(&self, name: &str, creds: Creds) -> Output {
        self.on_registry("delete", name, creds, &[])
    }
}

/// The interpreter of the oras-py venv (`WHARF_ORAS_PYTHON`, else where `.ci/run`
/// puts it); outside CI a missing one skips the test, under `CI=true` it fails.
pub fn oras_python() -> Option<PathBuf> {
    wharf_tests::require_client(
        "oras-py interpreter",
        "WHARF_ORAS_PYTHON",
        "oras-0.2.43/bin/python",
    )
}

/// [`oras_flow`] as alice (signed in with `token`): artifacts pushed to `alice/art` in
/// one and in several chunks, referring to `alice/img:1`, and pulled back equal (checked
/// here). `extra` adds flags; the summary is returned for more checks.
pub fn alices_artifacts(python: &Path, registry: &str, token: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--registry",
        registry,
        "--repo",
        "alice/art",
        "--subject",
        "alice/img:1",
        "--username",
        "alice",
        "--password",
        token,
    ];
    args.extend_from_slice(extra);
    let summary = oras_flow(python, &args);
    assert_eq!(summary["pulled_equal"]["v1"], true, "{summary}");
    assert_eq!(
        summary["pulled_equal"]["v2"], true,
        "chunked push: {summary}"
    );
    summary
}

/// Runs `tests/fixtures/oci/oras_flow.py` with `python` in a fresh work dir and returns
/// its JSON summary; panics if the flow failed.
pub fn oras_flow(python: &Path, args: &[&str]) -> Value {
    let work = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/oci/oras_flow.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(args)
        .arg("--workdir")
        .arg(work.path())
        .env("HOME", work.path());
    let out = run(cmd, &format!("oras_flow.py {}", args.join(" ")));
    assert!(out.status.success(), "oras_flow.py failed: {}", said(&out));
    serde_json::from_slice(&out.stdout).expect("oras_flow.py prints JSON")
}
