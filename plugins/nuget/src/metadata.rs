//! The metadata stored with each version: the nuspec fields the feeds show, written
//! by the upload and read by every index. Stored as JSON in the host's database.

use serde::{Deserialize, Serialize};

/// One version's nuspec, as the feeds need it. Empty strings stand for absent
/// elements, so every index can print a field without checking for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metadata {
    /// The id with the case of the first nuspec that used it for this version.
    pub id: String,
    /// Normalized version with build metadata (`1.0.0-beta+sha.1`); the stored version
    /// (and every URL) is the same without the metadata.
    pub version: String,
    pub title: String,
    pub authors: String,
    pub owners: String,
    pub description: String,
    pub summary: String,
    pub release_notes: String,
    pub copyright: String,
    pub language: String,
    /// Space-separated, as in the nuspec.
    pub tags: String,
    pub project_url: String,
    pub icon_url: String,
    /// `<icon>`: a file inside the package.
    pub icon: String,
    pub license_url: String,
    /// `<license type="expression">MIT</license>`: the expression, or the file name for
    /// `type="file"`.
    pub license: Option<License>,
    pub readme: String,
    pub require_license_acceptance: bool,
    pub development_dependency: bool,
    pub min_client_version: String,
    pub repository: Option<Repository>,
    /// `<packageTypes>`; empty means the default `Dependency`.
    pub package_types: Vec<PackageType>,
    /// `<dependencies>`: groups per target framework. Dependencies outside any
    /// `<group>` (the old flat form) form one group with an empty framework.
    pub dependency_groups: Vec<DependencyGroup>,
    /// Whether only SemVer 2.0 clients understand the version.
    pub semver2: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct License {
    /// `expression` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Repository {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub branch: String,
    pub commit: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PackageType {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DependencyGroup {
    /// Empty for dependencies that apply to every framework.
    pub target_framework: String,
    pub dependencies: Vec<Dependency>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Dependency {
    pub id: String,
    /// The version range as written in the nuspec (`1.0`, `[1.0, 2.0)`); empty = any.
    pub range: String,
    pub exclude: String,
    pub include: String,
}

impl Metadata {
    /// Parses stored metadata; a version stored by an older plugin falls back to
    /// defaults rather than failing the whole index.
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether this is a symbols package (`.snupkg`), which goes to its own endpoint.
    pub fn is_symbols_package(&self) -> bool {
        self.package_types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case("SymbolsPackage"))
    }
}
