//! The JSON cargo publishes (the web API's "new crate" document) and what Wharf keeps of
//! it as a version's metadata: the index entry without its checksum and yank state
//! (those come from the stored file and the `yanked` property), plus the descriptive
//! fields search and the management API show. The readme is kept as a file of the
//! version, not in the metadata every index rendering reads (`pages`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wharf_plugin_sdk::PluginError;

use crate::names;

/// The registry field of dependencies on crates.io, as cargo writes it in the index.
pub const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// Another spelling of crates.io (its sparse index) normalized to [`CRATES_IO_INDEX`].
const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";

pub type Features = BTreeMap<String, Vec<String>>;

/// The publish document, as cargo sends it (fields Wharf does not use are skipped
/// while parsing).
#[derive(Debug, Deserialize)]
pub struct NewCrate {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<NewDependency>,
    #[serde(default)]
    pub features: Features,
    #[serde(default)]
    pub authors: Vec<String>,
    pub description: Option<String>,
    pub documentation: Option<String>,
    pub homepage: Option<String>,
    /// The README's text, which `publish` keeps as a file of the version.
    pub readme: Option<String>,
    pub readme_file: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub repository: Option<String>,
    pub links: Option<String>,
    pub rust_version: Option<String>,
}

/// A dependency in the publish document.
#[derive(Debug, Deserialize)]
pub struct NewDependency {
    /// The depended-on crate's real name (its `package` when renamed).
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    pub target: Option<String>,
    #[serde(default = "normal")]
    pub kind: String,
    /// Index URL of the dependency's registry; none means this registry.
    pub registry: Option<String>,
    /// The name the depending crate uses, when it renamed the dependency.
    pub explicit_name_in_toml: Option<String>,
    pub artifact: Option<Vec<String>>,
    pub bindep_target: Option<String>,
    #[serde(default)]
    pub lib: bool,
}

fn yes() -> bool {
    true
}

fn normal() -> String {
    "normal".to_string()
}

/// A dependency as the index lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDependency {
    /// The name the depending crate uses (the rename, if any).
    pub name: String,
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    pub target: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The real crate name, when `name` is a rename.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindep_target: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lib: bool,
}

/// What Wharf stores as a version's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMetadata {
    pub name: String,
    pub vers: String,
    pub deps: Vec<IndexDependency>,
    /// Features in the syntax every cargo reads.
    pub features: Features,
    /// Features using `dep:` or `?/`, which cargo before 1.19 cannot parse.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features2: Features,
    pub links: Option<String>,
    pub rust_version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub license_file: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub documentation: Option<String>,
    #[serde(default)]
    pub readme_file: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl VersionMetadata {
    /// The stored metadata of a published crate; `own_index` is this registry's index
    /// URL (`sparse+…/`), which dependencies may name for "this registry".
    pub fn from_publish(
        new: NewCrate,
        version: &semver::Version,
        own_index: &str,
    ) -> Result<Self, PluginError> {
        let deps = new
            .deps
            .into_iter()
            .map(|d| index_dependency(d, own_index))
            .collect::<Result<Vec<_>, _>>()?;
        let (features2, features) = new.features.into_iter().partition(|(_, values)| {
            values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
        Ok(Self {
            name: new.name,
            vers: version.to_string(),
            deps,
            features,
            features2,
            links: new.links,
            rust_version: new.rust_version,
            description: new.description,
            authors: new.authors,
            license: new.license,
            license_file: new.license_file,
            repository: new.repository,
            homepage: new.homepage,
            documentation: new.documentation,
            readme_file: new.readme_file,
            keywords: new.keywords,
            categories: new.categories,
        })
    }

    /// Parses stored metadata; `None` for anything else (never written by this plugin).
    pub fn parse(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

/// The index form of a published dependency: `version_req` becomes `req`, a rename
/// moves the real name to `package`, and the registry is dropped when it is this one.
fn index_dependency(d: NewDependency, own_index: &str) -> Result<IndexDependency, PluginError> {
    names::validate(&d.name)
        .map_err(|e| PluginError::bad_request(format!("dependency: {}", e.message)))?;
    if let Some(rename) = &d.explicit_name_in_toml
        && names::validate(rename).is_err()
    {
        return Err(PluginError::bad_request(format!(
            "dependency `{}`: invalid rename `{rename}`",
            d.name
        )));
    }
    if semver::VersionReq::parse(&d.version_req).is_err() {
        return Err(PluginError::bad_request(format!(
            "dependency `{}`: invalid version requirement `{}`",
            d.name, d.version_req
        )));
    }
    if !["normal", "dev", "build"].contains(&d.kind.as_str()) {
        return Err(PluginError::bad_request(format!(
            "dependency `{}`: unknown kind `{}`",
            d.name, d.kind
        )));
    }
    let registry = match d.registry {
        Some(url) if same_index(&url, own_index) => None,
        Some(url) if same_index(&url, CRATES_IO_SPARSE) => Some(CRATES_IO_INDEX.to_string()),
        other => other,
    };
    let (name, package) = match d.explicit_name_in_toml {
        Some(rename) => (rename, Some(d.name)),
        None => (d.name, None),
    };
    Ok(IndexDependency {
        name,
        req: d.version_req,
        features: d.features,
        optional: d.optional,
        default_features: d.default_features,
        target: d.target,
        kind: d.kind,
        registry,
        package,
        artifact: d.artifact,
        bindep_target: d.bindep_target,
        lib: d.lib,
    })
}

/// Two index URLs naming one registry (a trailing slash aside).
fn same_index(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "sparse+http://127.0.0.1:1/api/packages/alice/cargo/";

    fn publish(json: &str) -> Result<VersionMetadata, PluginError> {
        let new: NewCrate = serde_json::from_str(json).unwrap();
        let version = names::version(&new.vers)?;
        VersionMetadata::from_publish(new, &version, OWN)
    }

    #[test]
    fn dependencies_take_the_index_form() {
        let m = publish(
            r#"{"name":"b","vers":"1.0.0","readme":"long text","deps":[
                {"name":"a","version_req":"^0.1","features":["x"],"optional":true,
                 "default_features":false,"target":"cfg(unix)","kind":"normal","registry":null},
                {"name":"serde","version_req":"^1","features":[],"optional":false,
                 "default_features":true,"target":null,"kind":"dev",
                 "registry":"https://github.com/rust-lang/crates.io-index",
                 "explicit_name_in_toml":"serde1"},
                {"name":"c","version_req":"=2.0.0","kind":"build","registry":"sparse+http://127.0.0.1:1/api/packages/alice/cargo"}
            ],"features":{}}"#,
        )
        .unwrap();
        let json = serde_json::to_value(&m.deps).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"name":"a","req":"^0.1","features":["x"],"optional":true,
                 "default_features":false,"target":"cfg(unix)","kind":"normal"},
                {"name":"serde1","req":"^1","features":[],"optional":false,
                 "default_features":true,"target":null,"kind":"dev",
                 "registry":"https://github.com/rust-lang/crates.io-index","package":"serde"},
                {"name":"c","req":"=2.0.0","features":[],"optional":false,
                 "default_features":true,"target":null,"kind":"build"}
            ])
        );
    }

    #[test]
    fn crates_io_sparse_url_is_normalized() {
        let m = publish(
            r#"{"name":"b","vers":"1.0.0","deps":[{"name":"a","version_req":"1",
                "registry":"sparse+https://index.crates.io/"}]}"#,
        )
        .unwrap();
        assert_eq!(m.deps[0].registry.as_deref(), Some(CRATES_IO_INDEX));
    }

    #[test]
    fn new_feature_syntax_moves_to_features2() {
        let m = publish(
            r#"{"name":"b","vers":"1.0.0","features":{
                "default":["std"],"std":[],"json":["dep:serde_json"],"weak":["serde?/std"]}}"#,
        )
        .unwrap();
        assert_eq!(m.features.keys().collect::<Vec<_>>(), ["default", "std"]);
        assert_eq!(m.features2.keys().collect::<Vec<_>>(), ["json", "weak"]);
    }

    #[test]
    fn bad_dependencies_are_refused() {
        for deps in [
            r#"[{"name":"1a","version_req":"1"}]"#,
            r#"[{"name":"a","version_req":"not a req"}]"#,
            r#"[{"name":"a","version_req":"1","kind":"peer"}]"#,
            r#"[{"name":"a","version_req":"1","explicit_name_in_toml":"a b"}]"#,
        ] {
            let json = format!(r#"{{"name":"b","vers":"1.0.0","deps":{deps}}}"#);
            let e = publish(&json).unwrap_err();
            assert_eq!(e.status, 400, "{deps}");
        }
    }

    #[test]
    fn stored_metadata_round_trips() {
        let m = publish(r#"{"name":"b","vers":"1.0.0","description":"d","links":"z"}"#).unwrap();
        let parsed = VersionMetadata::parse(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(parsed, m);
        assert_eq!(VersionMetadata::parse("{}"), None);
    }
}
