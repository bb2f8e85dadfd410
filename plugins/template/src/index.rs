//! The JSON documents `render-index` renders. A rendering may use only its input: the
//! host caches it under exactly what the input holds (the spec, the package or
//! listing, the mount's base URL) and hands the same bytes to every reader until a
//! package changes. So nothing here may come from the request, and the time printed is
//! when the listed packages last changed (`IndexInput::changed_at`): neither the host's
//! `rendered-at`, which differs each time the host renders the same page again (after a
//! restart, on another node), nor a clock of the plugin's own (it has none).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PluginError, Response, VersionDetail, json, time,
};

use crate::Metadata;

/// A package's versions (`GET /{name}`).
pub const VERSIONS: &str = "versions";
/// A page of the owner's packages (`GET /`).
pub const PACKAGES: &str = "packages";

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    let base = input.base_url.as_str();
    match input.spec.view.as_str() {
        VERSIONS => {
            let detail = input
                .detail
                .as_ref()
                .ok_or_else(|| PluginError::not_found("no such package"))?;
            let name = &detail.pkg.name;
            let versions = detail
                .versions
                .iter()
                .map(|v| IndexVersion::new(base, name, v))
                .collect();
            json::response(
                200,
                &Versions {
                    name: Cow::Borrowed(name),
                    versions,
                },
            )
        }
        PACKAGES => json::response(200, &packages(input)),
        _ => Err(PluginError::internal("unknown index view")),
    }
}

/// The listing holds each package with its newest version, files and digests included,
/// so one document serves the whole page.
fn packages(input: &IndexInput) -> Packages<'_> {
    let packages = input
        .listing
        .iter()
        .filter_map(|p| {
            let newest = p.versions.last()?;
            Some(Package {
                name: &p.pkg.name,
                latest: IndexVersion::new(&input.base_url, &p.pkg.name, newest),
            })
        })
        .collect();
    // The page is the spec's offset, not the request's `?page=`: the spec is in the
    // cache key, the request is not.
    let next = input.spec.listing.as_ref().and_then(|l| {
        let shown = u64::from(l.offset) + input.listing.len() as u64;
        (l.limit > 0 && shown < input.listing_total)
            .then(|| format!("{}/?page={}", input.base_url, l.offset / l.limit + 2))
    });
    Packages {
        generated: time::iso8601(input.changed_at()),
        total: input.listing_total,
        packages,
        next,
    }
}

/// A package's versions. The same type reads an upstream's index (a proxy's
/// `rewrite`) and the members' (a group's `merge`): what this format renders is what it
/// reads back.
#[derive(Serialize, Deserialize)]
pub struct Versions<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub versions: Vec<IndexVersion<'a>>,
}

#[derive(Serialize)]
struct Packages<'a> {
    /// When a package of this page last changed: the same packages, the same bytes.
    generated: String,
    total: u64,
    packages: Vec<Package<'a>>,
    next: Option<String>,
}

#[derive(Serialize)]
struct Package<'a> {
    name: &'a str,
    latest: IndexVersion<'a>,
}

#[derive(Serialize, Deserialize)]
pub struct IndexVersion<'a> {
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    pub summary: String,
    pub created: i64,
    pub downloads: u64,
    #[serde(borrow)]
    pub files: Vec<IndexFile<'a>>,
}

impl<'a> IndexVersion<'a> {
    fn new(base: &str, name: &str, v: &'a VersionDetail) -> Self {
        Self {
            version: Cow::Borrowed(&v.version),
            summary: serde_json::from_str::<Metadata>(&v.metadata)
                .unwrap_or_default()
                .summary,
            created: v.created,
            downloads: v.downloads,
            files: v
                .files
                .iter()
                .map(|f| IndexFile {
                    name: Cow::Borrowed(&f.name),
                    size: f.size,
                    sha256: Cow::Borrowed(f.digest(HashAlgorithm::Sha256).unwrap_or_default()),
                    url: file_url(base, name, &v.version, &f.name),
                })
                .collect(),
        }
    }
}

/// Where a file is downloaded from below the mount `base`. Names, versions and file
/// names are unreserved characters only, so they need no percent-encoding.
pub fn file_url(base: &str, name: &str, version: &str, file: &str) -> String {
    format!("{base}/{name}/{version}/{file}")
}

#[derive(Serialize, Deserialize)]
pub struct IndexFile<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    pub size: u64,
    #[serde(borrow)]
    pub sha256: Cow<'a, str>,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{IndexSpec, Method, Operation, Plugin};

    use super::*;
    use crate::Template;

    /// The spec `match-route` gives a GET of `path`.
    fn spec(path: &str) -> IndexSpec {
        match Template::match_route(testing::request(Method::Get, path)) {
            Ok(route) => match route.operation {
                Operation::RenderIndex(spec) => spec,
                other => panic!("{path}: {other:?}"),
            },
            Err(e) => panic!("{path}: {e:?}"),
        }
    }

    #[test]
    fn the_index_lists_versions_with_absolute_urls() {
        let spec = spec("/notes");
        let request = testing::request(Method::Get, "/notes");
        let base = request.base_url.clone();
        let detail = testing::package(
            "notes",
            vec![testing::version(
                "1.0",
                r#"{"summary":"Hello"}"#,
                vec![testing::file("notes.txt", 5, "ab12")],
            )],
        );
        let response = render(&testing::index_input(request, spec, Some(detail))).unwrap();
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, "application/json")
        );
        let index: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(index["versions"][0]["summary"], "Hello");
        assert_eq!(index["versions"][0]["files"][0]["sha256"], "ab12");
        assert_eq!(
            index["versions"][0]["files"][0]["url"],
            format!("{base}/notes/1.0/notes.txt")
        );
    }

    #[test]
    fn the_listing_shows_newest_versions_when_they_changed_and_the_next_page() {
        let spec = spec("/");
        let request = testing::request(Method::Get, "/");
        let base = request.base_url.clone();
        let mut input = testing::index_input(request, spec, None);
        input.listing = vec![testing::package(
            "notes",
            vec![testing::version(
                "2.0",
                r#"{"summary":"Second"}"#,
                vec![testing::file("notes.txt", 6, "cd34")],
            )],
        )];
        input.listing[0].modified = 1_795_662_495;
        input.listing_total = 51;
        let response = render(&input).unwrap();
        let page: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(page["generated"], "2026-11-26T03:08:15.000Z");
        assert_eq!(page["total"], 51);
        let latest = &page["packages"][0]["latest"];
        assert_eq!(latest["summary"], "Second");
        assert_eq!(latest["files"][0]["sha256"], "cd34");
        assert_eq!(page["next"], format!("{base}/?page=2"));
        input.listing_total = 1;
        let last: serde_json::Value =
            serde_json::from_slice(&render(&input).unwrap().body).unwrap();
        assert!(last["next"].is_null());
    }

    #[test]
    fn the_index_of_a_missing_package_is_404() {
        let spec = spec("/none");
        let input = testing::index_input(testing::request(Method::Get, "/none"), spec, None);
        assert_eq!(render(&input).unwrap_err().status, 404);
    }
}
