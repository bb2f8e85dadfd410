//! The NuGet protocol over plain HTTP: service documents, push checks (hostile zips
//! and nuspecs store nothing), registrations paged like nuget.org's, search and the
//! v2 OData subset. Packages are built here with the zip crate; `nuget.rs` drives the
//! real client.

use std::io::Write;

use serde_json::Value;
use wharf::db::tokens::Scope;
use wharf_tests::{StatusCode, TestServer, client};

/// A nupkg: a zip holding `entries` (name, bytes).
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn nuspec(id: &str, version: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Wharf</authors>
    <description>Test package {id} &lt;{version}&gt;</description>
    {extra}
  </metadata>
</package>"#
    )
    .into_bytes()
}

/// A well-formed package with one content file.
pub(crate) fn nupkg(id: &str, version: &str, extra: &str) -> Vec<u8> {
    zip_of(&[
        (&format!("{id}.nuspec"), nuspec(id, version, extra)),
        ("content/readme.txt", format!("{id} {version}").into_bytes()),
    ])
}

/// NuGet.exe's body: one multipart part named `package`, the boundary quoted.
fn multipart(package: &[u8]) -> (String, Vec<u8>) {
    let boundary = "wharf-test-boundary-6f1e";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(package);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary=\"{boundary}\""),
        body,
    )
}

pub(crate) struct Feed {
    server: TestServer,
    token: String,
    base: String,
    http: reqwest::blocking::Client,
}

impl Feed {
    fn new() -> Self {
        Self::with(TestServer::builder())
    }

    /// Alice's feed on the NuGet format `builder` enables (the bundled one unless it
    /// names another).
    pub(crate) fn with(builder: wharf_tests::Builder) -> Self {
        let server = builder.start();
        let token = server.user("alice", Scope::Write);
        let base = format!("{}/api/packages/alice/nuget", server.url);
        Self {
            server,
            token,
            base,
            http: client(),
        }
    }

    /// Pushes like NuGet.exe (multipart) and returns the status and `Message`.
    fn push_to(&self, path: &str, package: &[u8]) -> (StatusCode, String) {
        let (content_type, body) = multipart(package);
        let response = self
            .http
            .put(format!("{}{path}", self.base))
            .header("X-NuGet-ApiKey", &self.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .unwrap();
        let status = response.status();
        let text = response.text().unwrap();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["Message"].as_str().map(str::to_string))
            .unwrap_or(text);
        (status, message)
    }

    pub(crate) fn push(&self, package: &[u8]) -> (StatusCode, String) {
        self.push_to("/", package)
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("X-NuGet-ApiKey", &self.token)
            .send()
            .unwrap()
    }

    fn json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().unwrap()
    }

    pub(crate) fn text(&self, path: &str) -> String {
        let response = self.get(path);
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().unwrap()
    }
}

#[test]
fn service_index_is_public_and_names_every_resource() {
    let feed = Feed::new();
    feed.server.org("private-org", "alice", true);
    let url = format!(
        "{}/api/packages/private-org/nuget/index.json",
        feed.server.url
    );
    let index: Value = client().get(&url).send().unwrap().json().unwrap();
    assert_eq!(index["version"], "3.0.0");
    let base = format!("{}/api/packages/private-org/nuget", feed.server.url);
    let resource = |kind: &str| {
        index["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["@type"] == kind)
            .unwrap_or_else(|| panic!("{kind} missing"))["@id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(resource("PackagePublish/2.0.0"), base);
    assert_eq!(
        resource("PackageBaseAddress/3.0.0"),
        format!("{base}/package")
    );
    assert_eq!(
        resource("RegistrationsBaseUrl"),
        format!("{base}/registration")
    );
    assert_eq!(resource("SearchQueryService"), format!("{base}/query"));
    assert_eq!(
        resource("SymbolPackagePublish/4.9.0"),
        format!("{base}/symbolpackage")
    );

    // The private owner's data needs credentials; the 401 says Basic.
    let response = client()
        .get(format!("{base}/registration/x/index.json"))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
}

/// The README a nuspec names is kept beside the package at push and shown on the
/// package's page (issue 23), with the dotnet commands for this feed; a package whose
/// nuspec names none has no README, and its push is unchanged.
#[test]
fn a_pushed_readme_is_shown_on_the_package_page() {
    let feed = Feed::new();
    let readme = "<readme>content/readme.txt</readme>";
    let pushed = feed.push(&nupkg("Wharf.Readme", "1.0.0", readme));
    assert_eq!(pushed.0, StatusCode::CREATED, "{pushed:?}");
    assert_eq!(
        feed.push(&nupkg("Wharf.Plain", "1.0.0", "")).0,
        StatusCode::CREATED
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page = |id: &str| {
        let registry = &feed.server.registry;
        let described = registry.describe_package("alice", "nuget", id, None, &feed.server.url);
        runtime
            .block_on(described)
            .unwrap()
            .expect("NuGet describes its packages")
    };
    let with_readme = page("wharf.readme");
    let text = with_readme.readme.expect("the README the nuspec names");
    assert_eq!(
        (text.markdown, text.text.as_str()),
        (true, "Wharf.Readme 1.0.0")
    );
    let install = &with_readme.install[0].code;
    assert_eq!(install, "dotnet add package Wharf.Readme --version 1.0.0");
    assert!(
        with_readme.setup[0]
            .code
            .contains(&format!("{}/index.json", feed.base))
    );
    assert_eq!(page("Wharf.Plain").readme, None);
}

#[test]
fn pushes_are_checked_and_refusals_store_nothing() {
    let feed = Feed::new();
    let good = nupkg("Wharf.Good", "1.0", "");
    assert_eq!(feed.push(&good).0, StatusCode::CREATED);
    let stored = feed.server.kept_blobs();

    let two_nuspecs = zip_of(&[
        ("A.nuspec", nuspec("A", "1.0.0", "")),
        ("B.nuspec", nuspec("B", "1.0.0", "")),
    ]);
    let doctype = zip_of(&[(
        "Evil.nuspec",
        br#"<?xml version="1.0"?><!DOCTYPE package [<!ENTITY x "xx">]><package><metadata><id>Evil</id><version>1.0.0</version><description>&x;</description></metadata></package>"#.to_vec(),
    )]);
    let nested = zip_of(&[("lib/Nested.nuspec", nuspec("Nested", "1.0.0", ""))]);
    let symbols_type = "<packageTypes><packageType name=\"SymbolsPackage\" /></packageTypes>";
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode)> = vec![
        ("/", "duplicate", good.clone(), StatusCode::CONFLICT),
        (
            "/",
            "same version, other spelling",
            nupkg("wharf.good", "1.0.0.0", ""),
            StatusCode::CONFLICT,
        ),
        (
            "/",
            "not a zip",
            b"this is not a zip".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/",
            "truncated zip",
            good[..good.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/",
            "no nuspec",
            zip_of(&[("x.txt", b"x".to_vec())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/",
            "nuspec not at the root",
            nested,
            StatusCode::BAD_REQUEST,
        ),
        ("/", "two nuspecs", two_nuspecs, StatusCode::BAD_REQUEST),
        ("/", "DTD", doctype, StatusCode::BAD_REQUEST),
        (
            "/",
            "bad id",
            nupkg("../evil", "1.0.0", ""),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/",
            "bad version",
            nupkg("Wharf.Bad", "1.0.0.0.0", ""),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/",
            "symbols to the package endpoint",
            nupkg("Wharf.Good", "2.0.0", symbols_type),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/symbolpackage",
            "package to the symbol endpoint",
            nupkg("Wharf.Good", "1.0.0", ""),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/symbolpackage",
            "symbols without their package",
            nupkg("Wharf.None", "1.0.0", symbols_type),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, what, body, expected) in cases {
        let (status, message) = feed.push_to(path, &body);
        assert_eq!(status, expected, "{what}: {message}");
        assert!(
            !message.is_empty(),
            "{what}: NuGet's JSON error carries a Message"
        );
    }
    assert_eq!(
        feed.server.kept_blobs(),
        stored,
        "refused pushes stored nothing"
    );
    assert_eq!(feed.server.temp_files(), 0);

    // Without a key: 401 before anything is stored.
    let (content_type, body) = multipart(&nupkg("Wharf.Anon", "1.0.0", ""));
    let response = client()
        .put(format!("{}/", feed.base))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(feed.server.kept_blobs(), stored);
}

#[test]
fn ids_are_case_insensitive_and_versions_normalized() {
    let feed = Feed::new();
    let package = nupkg("Foo.Bar", "1.0.0.0", "");
    // A raw body (no multipart) is accepted too, as Gitea does.
    let response = client()
        .put(format!("{}/", feed.base))
        .header("X-NuGet-ApiKey", &feed.token)
        .body(package.clone())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let download = feed.get("/package/FOO.BAR/1.0/foo.bar.1.0.0.nupkg");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().unwrap().as_ref(), package.as_slice());
    let nuspec = feed.text("/package/foo.bar/1.0.0/foo.bar.nuspec");
    assert!(nuspec.contains("<id>Foo.Bar</id>"));
    assert_eq!(
        feed.json("/package/Foo.Bar/index.json")["versions"],
        serde_json::json!(["1.0.0"])
    );

    let index = feed.json("/registration/foo.bar/index.json");
    let leaf = &index["items"][0]["items"][0];
    assert_eq!(leaf["catalogEntry"]["id"], "Foo.Bar");
    assert_eq!(leaf["catalogEntry"]["version"], "1.0.0");
    let sha512 = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&package))
    };
    assert_eq!(leaf["catalogEntry"]["packageHash"], sha512);
    assert_eq!(leaf["catalogEntry"]["packageHashAlgorithm"], "SHA512");
    assert_eq!(leaf["catalogEntry"]["packageSize"], package.len());
    assert_eq!(
        leaf["packageContent"],
        format!("{}/package/foo.bar/1.0.0/foo.bar.1.0.0.nupkg", feed.base)
    );
    assert_eq!(
        feed.get("/registration/nope/index.json").status(),
        StatusCode::NOT_FOUND
    );

    // Delete answers 204 and takes the version out of every index.
    let response = client()
        .delete(format!("{}/Foo.Bar/1.0.0", feed.base))
        .header("X-NuGet-ApiKey", &feed.token)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        feed.get("/registration/foo.bar/index.json").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn registrations_page_large_packages_and_order_by_precedence() {
    let feed = Feed::new();
    // Pushed out of order, with prereleases and a fourth number.
    let mut versions: Vec<String> = (0..126).rev().map(|n| format!("1.{n}.0")).collect();
    versions.extend(["1.0.0-rc.1", "1.0.0-alpha", "1.0.0.1", "10.0.0"].map(String::from));
    for v in &versions {
        let (status, message) = feed.push(&nupkg("Big", v, ""));
        assert_eq!(status, StatusCode::CREATED, "{v}: {message}");
    }
    assert_eq!(versions.len(), 130);

    let index = feed.json("/registration/big/index.json");
    let pages = index["items"].as_array().unwrap();
    assert_eq!(index["count"], pages.len());
    assert_eq!(pages.len(), 3, "130 versions make pages of 64");
    assert_eq!(pages[0]["lower"], "1.0.0-alpha");
    assert_eq!(pages[2]["upper"], "10.0.0");
    let mut seen = Vec::new();
    for page in pages {
        assert!(page["items"].is_null(), "large packages link their pages");
        let url = page["@id"].as_str().unwrap();
        let path = url.strip_prefix(&feed.base).unwrap();
        let page = feed.json(path);
        for leaf in page["items"].as_array().unwrap() {
            seen.push(
                leaf["catalogEntry"]["version"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    assert_eq!(seen.len(), 130);
    assert_eq!(
        &seen[..4],
        ["1.0.0-alpha", "1.0.0-rc.1", "1.0.0", "1.0.0.1"]
    );
    assert_eq!(seen.last().unwrap(), "10.0.0");
    let flat = feed.json("/package/big/index.json");
    assert_eq!(flat["versions"][0], "1.0.0-alpha");
    assert_eq!(flat["versions"][129], "10.0.0");

    let leaf = feed.json("/registration/big/1.0.0-RC.1.json");
    assert_eq!(
        leaf["packageContent"],
        format!("{}/package/big/1.0.0-rc.1/big.1.0.0-rc.1.nupkg", feed.base)
    );
    assert_eq!(
        feed.get("/registration/big/9.9.9.json").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn search_and_the_v2_feed() {
    search_and_the_v2_feed_on(&Feed::new());
}

/// The scenario of `search_and_the_v2_feed` on any NuGet plugin (`contract_compat` runs
/// it on the 0.2 one, which reads the request in its v2 feeds).
pub(crate) fn search_and_the_v2_feed_on(feed: &Feed) {
    let dependency = "<dependencies><group targetFramework=\"net8.0\"><dependency id=\"Wharf.Core\" version=\"1.0\" /></group></dependencies>";
    for (id, version, extra) in [
        ("Wharf.Core", "1.0.0", ""),
        ("Wharf.Core", "1.1.0", ""),
        ("Wharf.Core", "2.0.0-preview", ""),
        ("Wharf.Core", "3.0.0+build.5", ""),
        ("Wharf.Web", "1.0.0", dependency),
        ("Other", "1.0.0", ""),
    ] {
        assert_eq!(feed.push(&nupkg(id, version, extra)).0, StatusCode::CREATED);
    }

    let hits = feed.json("/query?q=wharf&prerelease=false");
    assert_eq!(hits["totalHits"], 2);
    let core = &hits["data"][0];
    assert_eq!(core["id"], "Wharf.Core");
    assert_eq!(core["version"], "1.1.0");
    assert_eq!(core["versions"].as_array().unwrap().len(), 2);
    let ids = feed.json("/autocomplete?q=wharf.&prerelease=false");
    assert_eq!(ids["data"], serde_json::json!(["Wharf.Core", "Wharf.Web"]));
    let versions = feed.json("/autocomplete?id=wharf.core&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        versions["data"],
        serde_json::json!(["1.0.0", "1.1.0", "2.0.0-preview", "3.0.0+build.5"])
    );
    // Clients that do not say they understand SemVer 2.0 do not get such versions.
    let old = feed.json("/query?q=wharf.core&prerelease=true");
    assert_eq!(old["data"][0]["version"], "2.0.0-preview");
    let hits = feed.json("/query?q=wharf&prerelease=true&semVerLevel=2.0.0&skip=0&take=1");
    assert_eq!(hits["totalHits"], 2);
    assert_eq!(hits["data"].as_array().unwrap().len(), 1);
    assert_eq!(hits["data"][0]["version"], "3.0.0+build.5");

    // Searches are cached until a package of the feed changes: a push, a delete and a
    // new package all show at once.
    let latest = |feed: &Feed| {
        let hits = feed.json("/query?q=wharf&prerelease=true&semVerLevel=2.0.0");
        let core = &hits["data"][0];
        (
            hits["totalHits"].clone(),
            core["version"].clone(),
            core["versions"].as_array().unwrap().len(),
        )
    };
    assert_eq!(latest(feed), (2.into(), "3.0.0+build.5".into(), 4));
    assert_eq!(
        feed.push(&nupkg("Wharf.Core", "4.0.0", "")).0,
        StatusCode::CREATED
    );
    assert_eq!(latest(feed), (2.into(), "4.0.0".into(), 5));
    assert_eq!(
        feed.push(&nupkg("Wharf.Cli", "1.0.0", "")).0,
        StatusCode::CREATED
    );
    assert_eq!(latest(feed).0, 3);
    for path in ["/Wharf.Core/4.0.0", "/Wharf.Cli/1.0.0"] {
        let status = feed
            .http
            .delete(format!("{}{path}", feed.base))
            .header("X-NuGet-ApiKey", &feed.token)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}");
    }
    assert_eq!(latest(feed), (2.into(), "3.0.0+build.5".into(), 4));

    // The dependency is listed with a range and a link to its registration.
    let web = feed.json("/registration/wharf.web/index.json");
    let group = &web["items"][0]["items"][0]["catalogEntry"]["dependencyGroups"][0];
    assert_eq!(group["targetFramework"], "net8.0");
    assert_eq!(group["dependencies"][0]["id"], "Wharf.Core");
    assert_eq!(group["dependencies"][0]["range"], "[1.0.0, )");

    // v2: the service document, an entry, searches and counts.
    assert!(feed.text("/").contains("Packages"));
    assert!(feed.text("/$metadata").contains("V2FeedPackage"));
    let entry = feed.text("/Packages(Id='Wharf.Core',Version='1.0.0')");
    assert!(entry.contains("<d:Version>1.0.0</d:Version>"), "{entry}");
    assert!(entry.contains("/package/wharf.core/1.0.0/wharf.core.1.0.0.nupkg"));
    assert_eq!(
        feed.text("/FindPackagesById()/$count?id='Wharf.Core'")
            .trim(),
        "4"
    );
    let page = feed.text("/FindPackagesById()?id='Wharf.Core'&$top=2");
    assert_eq!(page.matches("<entry").count(), 2);
    assert!(
        page.contains("rel=\"next\""),
        "a full page links the next one"
    );
    assert_eq!(feed.text("/Search()/$count?searchTerm='wharf'").trim(), "5");
    let exact = feed.text("/Packages()?$filter=tolower(Id)%20eq%20'wharf.web'");
    assert_eq!(exact.matches("<entry").count(), 1);
}

/// `totalHits` counts the hits the client may see, the ones `skip`/`take` page
/// through: a package whose only versions are hidden (prereleases, SemVer 2.0 for an
/// older client) is neither listed nor counted, and pages never repeat or skip a hit.
#[test]
fn search_counts_only_what_the_client_sees() {
    let feed = Feed::new();
    for (id, version) in [
        ("Lib.A", "1.0.0"),
        ("Lib.B", "1.0.0-beta"),
        ("Lib.C", "1.0.0"),
        ("Lib.D", "2.0.0+build.1"),
        ("Lib.E", "1.0.0"),
        ("Solo", "0.1.0-alpha"),
    ] {
        assert_eq!(feed.push(&nupkg(id, version, "")).0, StatusCode::CREATED);
    }
    let only = feed.json("/query?q=solo&prerelease=false");
    assert_eq!(only, serde_json::json!({"totalHits": 0, "data": []}));
    let auto = feed.json("/autocomplete?q=solo&prerelease=false");
    assert_eq!(auto, serde_json::json!({"totalHits": 0, "data": []}));

    let ids = |query: &str| {
        let hits = feed.json(&format!("/query?q=lib.&{query}"));
        let ids: Vec<String> = hits["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
        (hits["totalHits"].as_u64().unwrap(), ids)
    };
    // Stable versions for a SemVer 1 client: A, C and E, two a page.
    assert_eq!(ids("take=2"), (3, vec!["Lib.A".into(), "Lib.C".into()]));
    assert_eq!(ids("skip=2&take=2"), (3, vec!["Lib.E".into()]));
    assert_eq!(ids("semVerLevel=2.0.0").0, 4, "with Lib.D");
    assert_eq!(ids("prerelease=true&semVerLevel=2.0.0").0, 5);
}
