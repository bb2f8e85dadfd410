//! The bundled Helm format against Helm's own code: charts made by `helm package`,
//! uploaded as `curl` (raw body) and `helm cm-push` (multipart `chart` and `prov`) do,
//! then `helm repo add` and `helm repo update` (Helm loads and validates `index.yaml`),
//! and the downloads `helm pull` makes of two versions, one with a SemVer build suffix,
//! of a chart with a dotted name.
//!
//! No `helm` binary can be installed on these machines, so Helm's Go code comes as the
//! shared library helm-sdkpy ships on PyPI, driven by `fixtures/helm/helm.py` (`.ci/run`
//! installs it at `WHARF_HELM_LIB`). Its actions are the `helm` command's, but its
//! `pull` crashes on every reference in 0.1.32 (a nil pointer in Helm's `Pull.Run`) and
//! it has no `search`: the test makes the pull's request itself, from the URL in the
//! index Helm cached, and checks the chart names Helm read from that index.

use std::path::{Path, PathBuf};
use std::process::Command;

use wharf_tests::{StatusCode, TestServer, basic, client, require_tool, run, said, sha256_hex};

const CHART: &str = "my.app";
const VERSIONS: [&str; 2] = ["1.0.0", "2.0.0-rc.1+b2"];

/// Helm's library, or `None` (with the reason printed) when the test should skip.
fn helm_lib() -> Option<PathBuf> {
    if !require_tool("python3") {
        return None;
    }
    wharf_tests::require_client(
        "Helm (helm-sdkpy 0.1.32's libhelm_sdkpy.so)",
        "WHARF_HELM_LIB",
        "helm-sdkpy-0.1.32/libhelm_sdkpy.so",
    )
}

struct Helm {
    lib: PathBuf,
    /// Helm's HOME: its repositories file and cache.
    home: tempfile::TempDir,
}

impl Helm {
    fn run(&self, args: &[&str]) -> String {
        let mut command = Command::new("python3");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/helm/helm.py"))
            .args(args)
            .env("WHARF_HELM_LIB", &self.lib)
            .env("HOME", self.home.path());
        let out = run(command, &format!("helm {}", args.join(" ")));
        assert!(out.status.success(), "helm {args:?} failed: {}", said(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `helm package` of a chart directory written from `chart_yaml`.
    fn package(&self, chart_yaml: &str) -> Vec<u8> {
        let dir = self
            .home
            .path()
            .join(format!("src-{}", sha256_hex(chart_yaml.as_bytes())));
        std::fs::create_dir_all(dir.join(CHART).join("templates")).unwrap();
        std::fs::write(dir.join(CHART).join("Chart.yaml"), chart_yaml).unwrap();
        std::fs::write(dir.join(CHART).join("values.yaml"), "replicas: 1\n").unwrap();
        let out_dir = dir.join("out");
        let tgz = self.run(&[
            "package",
            dir.join(CHART).to_str().unwrap(),
            out_dir.to_str().unwrap(),
        ]);
        std::fs::read(tgz.trim()).unwrap()
    }
}

/// Sends `request` with `auth`: the status and the body.
fn send(request: reqwest::blocking::RequestBuilder, auth: &str) -> (StatusCode, String) {
    let res = request.header("Authorization", auth).send().unwrap();
    (res.status(), res.text().unwrap())
}

/// What `helm cm-push` posts: the chart and its provenance file as form fields.
fn cm_push_form(chart: &[u8], prov: &[u8]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (field, bytes) in [("chart", chart), ("prov", prov)] {
        body.extend_from_slice(
            format!("--B0UND\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"x.tgz\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--B0UND--\r\n");
    ("multipart/form-data; boundary=B0UND".to_string(), body)
}

#[test]
fn charts_uploaded_like_cm_push_are_found_and_pulled_by_helm() {
    let Some(lib) = helm_lib() else { return };
    let helm = Helm {
        lib,
        home: tempfile::tempdir().unwrap(),
    };
    let server = TestServer::builder().start();
    let base = format!("{}/api/packages/admin/helm", server.url);
    let auth = basic("admin", &server.admin_token);
    let charts: Vec<Vec<u8>> = VERSIONS
        .iter()
        .map(|v| {
            helm.package(&format!(
                "apiVersion: v2\nname: {CHART}\nversion: {v}\ndescription: Chart {v}\nkeywords: [web]\n"
            ))
        })
        .collect();

    // `curl --data-binary @chart.tgz …/api/charts`
    let upload = format!("{base}/api/charts");
    let raw = |bytes: &[u8]| client().post(&upload).body(bytes.to_vec());
    let created = (StatusCode::CREATED, r#"{"saved":true}"#.to_string());
    assert_eq!(send(raw(&charts[0]), &auth), created);
    const PROV: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    let (content_type, form) = cm_push_form(&charts[1], PROV.as_bytes());
    let cm_push = client()
        .post(&upload)
        .header("Content-Type", content_type)
        .body(form);
    assert_eq!(send(cm_push, &auth), created);
    // A second upload of a version is a conflict unless forced, as with ChartMuseum.
    assert_eq!(send(raw(&charts[0]), &auth).0, StatusCode::CONFLICT);
    let forced = client()
        .post(format!("{upload}?force=true"))
        .body(charts[0].clone());
    assert_eq!(send(forced, &auth), created);
    let (status, body) = send(raw(b"not a chart"), &auth);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with(r#"{"error":"the chart is not a valid tar"#),
        "{body}"
    );

    let get = |path: &str| send(client().get(format!("{base}{path}")), &auth);
    let (_, index) = get("/index.yaml");
    for (version, chart) in VERSIONS.iter().zip(&charts) {
        assert!(index.contains(&format!("version: {version}")), "{index}");
        assert!(
            index.contains(&format!("digest: {}", sha256_hex(chart))),
            "{index}"
        );
    }
    assert!(
        index.starts_with("apiVersion: v1\nentries:\n  my.app:\n"),
        "{index}"
    );
    assert!(
        index.contains(&format!("- {base}/charts/my.app-2.0.0-rc.1%2Bb2.tgz")),
        "{index}"
    );
    assert!(index.contains("\ngenerated: "), "{index}");

    helm.run(&["repo-add", "wharf", &base, "admin", &server.admin_token]);
    helm.run(&["repo-update", "wharf"]);
    // Helm keeps the index it loaded and validated, and the chart names it read from it.
    let cache = helm.home.path().join(".cache/helm/repository");
    let names = std::fs::read_to_string(cache.join("wharf-charts.txt")).unwrap();
    assert_eq!(names.trim(), CHART);
    let cached = std::fs::read_to_string(cache.join("wharf-index.yaml")).unwrap();
    assert_eq!(cached, index);
    // `helm pull wharf/my.app --version V`: the URL its index names, with the
    // repository's credentials; Helm's loader then reads the chart.
    for (version, chart) in VERSIONS.iter().zip(&charts) {
        let file = format!("{CHART}-{}.tgz", version.replace('+', "%2B"));
        assert!(
            cached.contains(&format!("- {base}/charts/{file}\n")),
            "{cached}"
        );
        let pulled = client()
            .get(format!("{base}/charts/{file}"))
            .header("Authorization", &auth)
            .send()
            .unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
        let path = helm.home.path().join(format!("pulled-{file}"));
        std::fs::write(&path, pulled.bytes().unwrap()).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap(), chart, "{version}");
        let shown = helm.run(&["show-chart", path.to_str().unwrap()]);
        assert!(shown.contains(&format!("version: {version}")), "{shown}");
    }
    assert_eq!(
        get("/charts/my.app-2.0.0-rc.1+b2.tgz.prov"),
        (StatusCode::OK, PROV.into())
    );

    // `DELETE /api/charts/{name}/{version}`: gone from the index and the downloads.
    let deleted = send(
        client().delete(format!("{base}/api/charts/{CHART}/1.0.0")),
        &auth,
    );
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    let (_, index) = get("/index.yaml");
    assert!(
        !index.contains("version: 1.0.0\n") && index.contains("version: 2.0.0-rc.1+b2"),
        "{index}"
    );
    let (status, body) = get(&format!("/charts/{CHART}-1.0.0.tgz"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.starts_with(r#"{"error":"#), "{body}");
}
