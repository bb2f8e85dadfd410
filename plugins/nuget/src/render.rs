//! `render-index`: dispatch of the feed views, plus what every view shares: the
//! stored versions in NuGet precedence order and the URLs documents link to.

use std::cell::OnceCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wharf_plugin_sdk::params::text;
use wharf_plugin_sdk::{
    FileInfo, HashAlgorithm, IndexInput, PackageDetail, PluginError, Response, VersionDetail,
};

use crate::metadata::Metadata;
use crate::routes::{param, view};
use crate::version::Version;
use crate::{odata, registration, search};

pub const JSON: &str = "application/json; charset=utf-8";
pub const ATOM: &str = "application/atom+xml; charset=utf-8";
pub const XML: &str = "application/xml; charset=utf-8";
pub const TEXT: &str = "text/plain; charset=utf-8";

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    let params = &input.spec.params;
    let version = text(params, param::VERSION);
    match input.spec.view.as_str() {
        view::SEARCH => Ok(search::render(input)),
        view::AUTOCOMPLETE => Ok(search::autocomplete_ids(input)),
        view::AUTOCOMPLETE_VERSIONS => Ok(search::autocomplete_versions(input, requested(input)?)),
        view::V2_SEARCH => Ok(odata::search(input, false)),
        view::V2_SEARCH_COUNT => Ok(odata::search(input, true)),
        view::REGISTRATION => Ok(registration::index(input, requested(input)?)),
        view::REGISTRATION_PAGE => registration::page(
            input,
            requested(input)?,
            text(params, param::LOWER),
            text(params, param::UPPER),
        ),
        view::REGISTRATION_LEAF => registration::leaf(input, requested(input)?, version),
        view::VERSIONS => Ok(flat_versions(requested(input)?)),
        view::V2_ENTRY => odata::entry(input, requested(input)?, version),
        view::V2_VERSIONS => Ok(odata::versions(input, requested(input)?, false)),
        view::V2_VERSIONS_COUNT => Ok(odata::versions(input, requested(input)?, true)),
        other => Err(PluginError::not_found(format!(
            "unknown nuget view {other:?}"
        ))),
    }
}

/// The package a view is about. One without versions is gone for NuGet clients too.
fn requested(input: &IndexInput) -> Result<&PackageDetail, PluginError> {
    input
        .detail
        .as_ref()
        .filter(|d| !d.versions.is_empty())
        .ok_or_else(|| PluginError::not_found("package not found"))
}

/// The flat container's version list (`package/{id}/index.json`).
fn flat_versions(detail: &PackageDetail) -> Response {
    let versions: Vec<String> = entries(detail).iter().map(Entry::lower).collect();
    json_response(&json!({ "versions": versions }))
}

pub fn json_response(value: &Value) -> Response {
    Response::new(200, JSON, value.to_string())
}

/// A stored version with its precedence key. Its metadata is parsed on first use only:
/// a paged registration index of thousands of versions needs just the page bounds'.
pub struct Entry<'a> {
    pub version: Version,
    pub detail: &'a VersionDetail,
    metadata: OnceCell<Metadata>,
}

impl Entry<'_> {
    pub fn meta(&self) -> &Metadata {
        self.metadata
            .get_or_init(|| Metadata::from_stored(&self.detail.metadata))
    }

    /// The version as feeds show it, with the build metadata the stored version lacks
    /// (`1.0.0+sha.1`), normalized whatever form it was pushed in.
    pub fn full(&self) -> String {
        match self.stored_build_metadata() {
            Some(build) => self.version.clone().with_build_metadata(build).full(),
            None => Version::parse(&self.meta().version)
                .filter(|v| *v == self.version)
                .unwrap_or_else(|| self.version.clone())
                .full(),
        }
    }

    /// Whether only SemVer 2.0 clients understand the version.
    pub fn is_semver2(&self) -> bool {
        match self.stored_build_metadata() {
            Some(build) => self.version.is_semver2() || !build.is_empty(),
            None => self.meta().semver2,
        }
    }

    /// The build metadata from the version's property, set at push so that listings
    /// of thousands of versions need not parse each one's metadata; `None` for
    /// versions pushed before the property existed.
    fn stored_build_metadata(&self) -> Option<&str> {
        self.detail
            .properties
            .iter()
            .find(|(name, _)| name == BUILD_METADATA)
            .map(|(_, value)| value.as_str())
    }

    /// The version's `.nupkg`, its lead file.
    pub fn nupkg(&self) -> Option<&FileInfo> {
        self.detail.files.iter().find(|f| f.lead)
    }

    /// The lower-case normalized version every URL uses.
    pub fn lower(&self) -> String {
        self.version.normalized().to_lowercase()
    }

    /// The id with its display case, as the version's nuspec spelled it.
    pub fn id<'s>(&'s self, detail: &'s PackageDetail) -> &'s str {
        match self.meta().id.as_str() {
            "" => &detail.pkg.name,
            id => id,
        }
    }
}

/// A file's sha512 as NuGet's `packageHash`: base64 of the digest bytes (the host
/// computes sha512 for every nupkg because the descriptor asks for it).
pub fn package_hash(file: &FileInfo) -> Option<String> {
    let digest = file
        .digests
        .iter()
        .find(|d| d.algorithm == HashAlgorithm::Sha512)?;
    let bytes = hex_bytes(&digest.hex)?;
    Some(STANDARD.encode(bytes))
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Version property holding the build metadata (possibly empty) of the pushed version.
pub const BUILD_METADATA: &str = "build-metadata";

/// The package's versions sorted once by NuGet precedence. Versions this plugin could
/// not have stored (unparsable) are left out.
pub fn entries(detail: &PackageDetail) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry> = detail
        .versions
        .iter()
        .filter_map(|v| {
            Some(Entry {
                version: Version::parse(&v.version)?,
                detail: v,
                metadata: OnceCell::new(),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.version.cmp(&b.version));
    entries
}

/// Where the lower-case normalized version from a URL is among `entries`, or 404.
pub fn position(entries: &[Entry], lower: &str) -> Result<usize, PluginError> {
    entries
        .iter()
        .position(|e| e.lower().eq_ignore_ascii_case(lower))
        .ok_or_else(|| PluginError::not_found(format!("version {lower} not found")))
}

/// A nuspec's tags: space-separated, though commas turn up in the wild.
pub fn tags(text: &str) -> Vec<&str> {
    split_list(text, &[' ', ','])
}

/// A nuspec's authors or owners: comma-separated names, which may contain spaces.
pub fn names(text: &str) -> Vec<&str> {
    split_list(text, &[','])
}

fn split_list<'t>(text: &'t str, separators: &[char]) -> Vec<&'t str> {
    text.split(separators)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The absolute URLs of the feed, all built from lower-case ids and versions so that
/// every document names a resource by one spelling.
pub struct Urls<'a> {
    pub base: &'a str,
}

impl Urls<'_> {
    pub fn registration_index(&self, id: &str) -> String {
        format!("{}/index.json", self.registration_dir(id))
    }

    pub fn registration_leaf(&self, id: &str, lower_version: &str) -> String {
        format!("{}/{lower_version}.json", self.registration_dir(id))
    }

    pub fn registration_page(&self, id: &str, lower: &str, upper: &str) -> String {
        format!("{}/page/{lower}/{upper}.json", self.registration_dir(id))
    }

    /// The nupkg in the flat container.
    pub fn package_content(&self, id: &str, lower_version: &str) -> String {
        let id = id.to_lowercase();
        format!(
            "{}/package/{id}/{lower_version}/{id}.{lower_version}.nupkg",
            self.base
        )
    }

    fn registration_dir(&self, id: &str) -> String {
        format!("{}/registration/{}", self.base, id.to_lowercase())
    }
}

/// Builders of render inputs for the unit tests of every view.
#[cfg(test)]
pub mod fixture {
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{
        Digest, FileInfo, HashAlgorithm, IndexInput, IndexSpec, Method, Operation, PackageDetail,
        PackageRef, VersionDetail,
    };

    pub const BASE: &str = "http://x/api/packages/alice/nuget";

    /// A version whose metadata names the id and version, plus `extra` JSON fields.
    pub fn version(id: &str, version: &str, extra: serde_json::Value) -> VersionDetail {
        let mut meta = serde_json::json!({ "id": id, "version": version });
        if let (Some(meta), serde_json::Value::Object(extra)) = (meta.as_object_mut(), extra) {
            meta.extend(extra);
        }
        let stored = crate::version::Version::parse(version)
            .map(|v| v.normalized())
            .unwrap_or_else(|| version.to_string());
        let file = format!("{id}.{stored}.nupkg").to_lowercase();
        VersionDetail {
            version: stored,
            metadata: meta.to_string(),
            created: 1_700_000_000,
            downloads: 3,
            files: vec![FileInfo {
                name: file,
                size: 1234,
                lead: true,
                content_type: "application/zip".into(),
                digests: vec![Digest {
                    algorithm: HashAlgorithm::Sha512,
                    hex: "ab".repeat(64),
                }],
                created: 1_700_000_000,
            }],
            properties: Vec::new(),
        }
    }

    /// A package with plain versions (no extra metadata).
    pub fn package(id: &str, versions: &[&str]) -> PackageDetail {
        with_versions(
            id,
            versions
                .iter()
                .map(|v| version(id, v, serde_json::json!({})))
                .collect(),
        )
    }

    pub fn with_versions(id: &str, versions: Vec<VersionDetail>) -> PackageDetail {
        PackageDetail {
            pkg: PackageRef {
                owner: "alice".into(),
                name: id.into(),
            },
            created: 1_600_000_000,
            modified: 1_700_000_100,
            versions,
            tags: Vec::new(),
        }
    }

    /// A render input for `view` with these params, as a route would set them.
    pub fn input(view: &str, params: &[(&str, &str)], detail: Option<PackageDetail>) -> IndexInput {
        let spec = IndexSpec {
            pkg: detail.as_ref().map(|d| d.pkg.clone()),
            view: view.into(),
            params: wharf_plugin_sdk::params::owned(params),
            digest_of: None,
            listing: None,
        };
        routed_input(spec, detail)
    }

    /// The index spec `match-route` decides for a GET of `path` with `query`.
    pub fn routed(path: &str, query: &[(&str, &str)]) -> IndexSpec {
        let request = query.iter().fold(
            testing::request(Method::Get, path).with_base_url(BASE),
            |r, (name, value)| r.with_query(name, value),
        );
        match crate::routes::match_route(&request)
            .expect("route")
            .operation
        {
            Operation::RenderIndex(spec) => spec,
            other => panic!("expected an index, got {other:?}"),
        }
    }

    /// What the host hands `render-index` for `spec` on the fixture's mount.
    pub fn routed_input(spec: IndexSpec, detail: Option<PackageDetail>) -> IndexInput {
        let mount = testing::request(Method::Get, "/").with_base_url(BASE);
        testing::index_input(mount, spec, detail)
    }

    /// `input` with an owner-wide listing of `packages`.
    pub fn with_listing(mut input: IndexInput, packages: Vec<PackageDetail>) -> IndexInput {
        input.listing_total = packages.len() as u64;
        input.listing = packages;
        input
    }

    pub fn body(input: &IndexInput) -> String {
        let response = crate::render::render(input).expect("render");
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).expect("utf-8")
    }

    pub fn json(input: &IndexInput) -> serde_json::Value {
        serde_json::from_str(&body(input)).expect("json")
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;

    #[test]
    fn flat_container_lists_lower_case_versions_by_precedence() {
        let detail = package("Foo", &["10.0.0", "1.0.0.1", "1.0.0", "1.0.0-RC"]);
        let input = input(view::VERSIONS, &[], Some(detail));
        let response = render(&input).unwrap();
        assert_eq!(response.content_type, JSON);
        assert_eq!(
            json(&input),
            json!({ "versions": ["1.0.0-rc", "1.0.0", "1.0.0.1", "10.0.0"] })
        );
    }

    #[test]
    fn missing_packages_and_unknown_views_are_not_found() {
        const VERSION_1: &[(&str, &str)] = &[(param::VERSION, "1.0.0")];
        for view in [
            view::REGISTRATION,
            view::REGISTRATION_PAGE,
            view::REGISTRATION_LEAF,
            view::VERSIONS,
            view::V2_ENTRY,
            view::V2_VERSIONS,
            view::V2_VERSIONS_COUNT,
        ] {
            let err = render(&input(view, VERSION_1, None)).unwrap_err();
            assert_eq!(
                (err.status, err.message.as_str()),
                (404, "package not found")
            );
            let empty = package("Foo", &[]);
            assert_eq!(
                render(&input(view, VERSION_1, Some(empty)))
                    .unwrap_err()
                    .status,
                404
            );
        }
        let detail = package("Foo", &["1.0.0"]);
        assert_eq!(
            render(&input("packument", &[], Some(detail)))
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn full_versions_keep_build_metadata_and_ids_their_case() {
        let detail = package("foo", &["1.0.0+sha.1"]);
        let all = entries(&detail);
        assert_eq!(all[0].full(), "1.0.0+sha.1");
        assert_eq!(all[0].lower(), "1.0.0");
        let other = with_versions("foo", vec![version("Foo", "1.0", json!({}))]);
        assert_eq!(entries(&other)[0].id(&other), "Foo");
    }

    #[test]
    fn the_build_metadata_property_spares_parsing_the_metadata() {
        let mut detail = with_versions("foo", vec![version("Foo", "1.0.0", json!({}))]);
        let stored = &mut detail.versions[0];
        stored.properties = vec![(BUILD_METADATA.into(), "sha.9".into())];
        // Unparsable metadata proves the property alone answered.
        stored.metadata = "not json".into();
        let all = entries(&detail);
        assert_eq!(all[0].full(), "1.0.0+sha.9");
        assert!(all[0].is_semver2());
        assert!(all[0].metadata.get().is_none(), "metadata was parsed");

        detail.versions[0].properties = vec![(BUILD_METADATA.into(), String::new())];
        let all = entries(&detail);
        assert_eq!(all[0].full(), "1.0.0");
        assert!(!all[0].is_semver2());
        assert!(all[0].metadata.get().is_none(), "metadata was parsed");
    }

    #[test]
    fn urls_are_lower_case() {
        let urls = Urls { base: BASE };
        assert_eq!(
            urls.package_content("Foo.Bar", "1.0.0-rc"),
            format!("{BASE}/package/foo.bar/1.0.0-rc/foo.bar.1.0.0-rc.nupkg")
        );
        assert_eq!(
            urls.registration_page("Foo", "1.0.0", "2.0.0"),
            format!("{BASE}/registration/foo/page/1.0.0/2.0.0.json")
        );
    }

    #[test]
    fn lists_split_on_their_separators() {
        assert_eq!(tags(" a, b  c,,d "), ["a", "b", "c", "d"]);
        assert!(tags("").is_empty());
        assert_eq!(
            names("James Newton-King, Bob"),
            ["James Newton-King", "Bob"]
        );
    }
}
