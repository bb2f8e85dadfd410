//! Documents rendered for cargo: `config.json`, a crate's index file (one JSON line per
//! version, oldest first), its owners, and search results.

use serde::Serialize;
use serde_json::json;
use wharf_plugin_sdk::time::Utc;
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PackageDetail, PluginError, Request, Response, VersionDetail,
};

use crate::metadata::{Features, IndexDependency, VersionMetadata};
use crate::publish::YANKED;

/// Index views, as `render-index` receives them.
pub const INDEX: &str = "index";
pub const OWNERS: &str = "owners";
pub const SEARCH: &str = "search";

/// The content type of index files.
pub const INDEX_TYPE: &str = "text/plain; charset=utf-8";

/// `config.json`: where downloads and the web API are. cargo fetches it anonymously
/// first and sends its token only after a 401, which the host answers for owners that
/// need credentials to be read. A request that arrives signed in is therefore one whose
/// owner needs them, and `auth-required` makes cargo send the token with index and
/// download requests too.
pub fn config(request: &Request) -> Response {
    let base = &request.base_url;
    let body = json!({
        "dl": format!("{base}/api/v1/crates"),
        "api": base,
        "auth-required": request.user.is_some(),
    });
    Response::json(body.to_string())
}

pub fn render(input: IndexInput) -> Result<Response, PluginError> {
    match input.spec.view.as_str() {
        SEARCH => Ok(search(&input)),
        INDEX => index_file(found(&input)?),
        OWNERS => Ok(owners(found(&input)?)),
        other => Err(PluginError::new(
            500,
            format!("unknown cargo view {other:?}"),
        )),
    }
}

fn found(input: &IndexInput) -> Result<&PackageDetail, PluginError> {
    input
        .detail
        .as_ref()
        .filter(|d| !d.versions.is_empty())
        .ok_or_else(|| PluginError::not_found("crate not found"))
}

/// One line of the index, as cargo's `IndexPackage` reads it.
#[derive(Serialize)]
struct IndexLine<'a> {
    name: &'a str,
    vers: &'a str,
    deps: &'a [IndexDependency],
    cksum: &'a str,
    features: &'a Features,
    yanked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<&'a str>,
    /// 2 when `features2` is present, so that cargo before 1.51 skips the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    features2: Option<&'a Features>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rust_version: Option<&'a str>,
    pubtime: String,
}

fn index_file(detail: &PackageDetail) -> Result<Response, PluginError> {
    let mut body = Vec::new();
    for v in &detail.versions {
        let (Some(meta), Some(cksum)) = (VersionMetadata::parse(&v.metadata), sha256(v)) else {
            // Not published by this plugin: nothing cargo could use.
            continue;
        };
        let has_features2 = !meta.features2.is_empty();
        let line = IndexLine {
            name: &detail.pkg.name,
            vers: &v.version,
            deps: &meta.deps,
            cksum,
            features: &meta.features,
            yanked: is_yanked(v),
            links: meta.links.as_deref(),
            v: has_features2.then_some(2),
            features2: has_features2.then_some(&meta.features2),
            rust_version: meta.rust_version.as_deref(),
            pubtime: rfc3339(v.created),
        };
        serde_json::to_writer(&mut body, &line)
            .map_err(|e| PluginError::new(500, format!("cannot render the index: {e}")))?;
        body.push(b'\n');
    }
    Ok(Response::new(200, INDEX_TYPE, body))
}

/// The `.crate`'s sha256, which cargo checks every download against.
fn sha256(v: &VersionDetail) -> Option<&str> {
    v.files
        .iter()
        .find(|f| f.lead)?
        .digests
        .iter()
        .find(|d| d.algorithm == HashAlgorithm::Sha256)
        .map(|d| d.hex.as_str())
}

fn is_yanked(v: &VersionDetail) -> bool {
    v.properties
        .iter()
        .any(|(name, value)| name == YANKED && value == "true")
}

/// `pubtime`, as crates.io writes it (`2024-01-31T12:00:00Z`).
fn rfc3339(seconds: i64) -> String {
    let t = Utc::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `cargo owner --list`: the Wharf owner holds every crate below its mount. cargo
/// requires a numeric id; plugins do not see the host's, so it is a position.
fn owners(detail: &PackageDetail) -> Response {
    let owner = &detail.pkg.owner;
    let body = json!({ "users": [{ "id": 1, "login": owner, "name": owner }] });
    Response::json(body.to_string())
}

/// `cargo search`: each hit with its highest version (unyanked and stable preferred,
/// as crates.io's `max_version`) and that version's description.
fn search(input: &IndexInput) -> Response {
    let crates: Vec<_> = input
        .listing
        .iter()
        .filter_map(|p| {
            let best = p.versions.iter().max_by_key(|v| rank(v))?;
            let description = VersionMetadata::parse(&best.metadata).and_then(|m| m.description);
            Some(json!({
                "name": p.pkg.name,
                "max_version": best.version,
                "description": description,
            }))
        })
        .collect();
    let body = json!({ "crates": crates, "meta": { "total": input.listing_total } });
    Response::json(body.to_string())
}

/// Orders versions: unyanked before yanked, releases before pre-releases, then by semver.
fn rank(v: &VersionDetail) -> (bool, bool, Option<semver::Version>) {
    let parsed = semver::Version::parse(&v.version).ok();
    let release = parsed.as_ref().is_some_and(|p| p.pre.is_empty());
    (!is_yanked(v), release, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{Digest, FileInfo, IndexSpec, ListingSpec, Method, PackageRef};

    fn request(user: Option<&str>) -> Request {
        let request = testing::request(Method::Get, "/")
            .with_owner(Some("acme"))
            .with_base_url("http://h/api/packages/acme/cargo");
        match user {
            Some(user) => request.with_user(user),
            None => request,
        }
    }

    fn version(name: &str, vers: &str, yanked: bool, metadata: &str) -> VersionDetail {
        VersionDetail {
            version: vers.into(),
            metadata: metadata.replace("NAME", name).replace("VERS", vers),
            created: 1_700_000_000,
            downloads: 0,
            files: vec![FileInfo {
                name: format!("{name}-{vers}.crate"),
                size: 10,
                lead: true,
                content_type: "application/gzip".into(),
                digests: vec![Digest {
                    algorithm: HashAlgorithm::Sha256,
                    hex: "ab".repeat(32),
                }],
                created: 1_700_000_000,
            }],
            properties: vec![(YANKED.into(), yanked.to_string())],
        }
    }

    const PLAIN: &str = r#"{"name":"NAME","vers":"VERS","deps":[],"features":{"std":[]},
        "links":null,"rust_version":null,"description":"about NAME"}"#;

    fn detail(name: &str, versions: Vec<VersionDetail>) -> PackageDetail {
        PackageDetail {
            pkg: PackageRef {
                owner: "acme".into(),
                name: name.into(),
            },
            created: 0,
            modified: 0,
            versions,
            tags: Vec::new(),
        }
    }

    fn input(view: &str, detail: Option<PackageDetail>, listing: Vec<PackageDetail>) -> IndexInput {
        IndexInput {
            base_url: "http://h/api/packages/acme/cargo".into(),
            owner: Some("acme".into()),
            spec: IndexSpec {
                pkg: None,
                view: view.into(),
                params: Vec::new(),
                digest_of: None,
                listing: Some(ListingSpec {
                    after: String::new(),
                    filter: String::new(),
                    offset: 0,
                    limit: 10,
                    all_versions: true,
                }),
            },
            detail,
            listing_total: 7,
            listing,
            rendered_at: testing::RENDERED_AT,
        }
    }

    fn body(r: Response) -> String {
        String::from_utf8(r.body).unwrap()
    }

    #[test]
    fn config_requires_auth_only_when_credentials_were_needed() {
        let anonymous: serde_json::Value =
            serde_json::from_slice(&config(&request(None)).body).unwrap();
        assert_eq!(
            anonymous,
            json!({"dl":"http://h/api/packages/acme/cargo/api/v1/crates",
                   "api":"http://h/api/packages/acme/cargo","auth-required":false})
        );
        let signed_in = body(config(&request(Some("bob"))));
        assert!(signed_in.contains("\"auth-required\":true"));
    }

    #[test]
    fn index_lines_carry_checksum_yank_state_and_features2() {
        let v2 = r#"{"name":"NAME","vers":"VERS","deps":[{"name":"a","req":"^1","features":[],
            "optional":true,"default_features":true,"target":null,"kind":"normal"}],
            "features":{},"features2":{"a":["dep:a"]},"links":"z","rust_version":"1.70"}"#;
        let d = detail(
            "Foo",
            vec![
                version("Foo", "0.1.0", true, PLAIN),
                version("Foo", "0.2.0", false, v2),
            ],
        );
        let text = body(render(input(INDEX, Some(d), Vec::new())).unwrap());
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(text.ends_with('\n'));
        assert_eq!(
            lines[0],
            json!({"name":"Foo","vers":"0.1.0","deps":[],"cksum":"ab".repeat(32),
                   "features":{"std":[]},"yanked":true,"pubtime":"2023-11-14T22:13:20Z"})
        );
        assert_eq!(lines[1]["v"], 2);
        assert_eq!(lines[1]["features2"], json!({"a":["dep:a"]}));
        assert_eq!(lines[1]["links"], "z");
        assert_eq!(lines[1]["rust_version"], "1.70");
        assert_eq!(lines[1]["yanked"], false);
        assert_eq!(lines[1]["deps"][0]["req"], "^1");
    }

    #[test]
    fn missing_crates_are_404() {
        for view in [INDEX, OWNERS] {
            let e = render(input(view, None, Vec::new())).unwrap_err();
            assert_eq!(e.status, 404);
        }
    }

    #[test]
    fn owners_name_the_wharf_owner() {
        let d = detail("foo", vec![version("foo", "1.0.0", false, PLAIN)]);
        let text = body(render(input(OWNERS, Some(d), Vec::new())).unwrap());
        assert_eq!(text, r#"{"users":[{"id":1,"login":"acme","name":"acme"}]}"#);
    }

    #[test]
    fn search_shows_the_best_version_and_the_total() {
        let listing = vec![
            detail(
                "bar",
                vec![
                    version("bar", "1.0.0", false, PLAIN),
                    version("bar", "2.0.0", true, PLAIN),
                    version("bar", "1.5.0-rc.1", false, PLAIN),
                ],
            ),
            detail("baz", vec![version("baz", "0.1.0", true, PLAIN)]),
        ];
        let doc: serde_json::Value =
            serde_json::from_slice(&render(input(SEARCH, None, listing)).unwrap().body).unwrap();
        assert_eq!(
            doc,
            json!({"crates":[
                {"name":"bar","max_version":"1.0.0","description":"about bar"},
                {"name":"baz","max_version":"0.1.0","description":"about baz"}],
                "meta":{"total":7}})
        );
    }
}
