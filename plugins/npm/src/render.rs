//! Package documents built from the database: the full packument (`npm view`,
//! `npm publish` checks), the abbreviated one installs ask for, one version, the
//! dist-tags, and search results.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PackageDetail, PluginError, Response, VersionDetail,
};

use wharf_plugin_sdk::time::iso8601;

/// Content type of the abbreviated packument.
pub const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

/// Version fields the abbreviated document keeps (what an installer needs).
const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "engines",
    "os",
    "cpu",
    "libc",
    "funding",
    "license",
    "_hasShrinkwrap",
];

/// Top-level fields of the full packument taken from the `latest` version.
const LATEST_FIELDS: &[&str] = &[
    "description",
    "homepage",
    "keywords",
    "repository",
    "author",
    "bugs",
    "license",
    "contributors",
    "maintainers",
    "readmeFilename",
];

pub fn render(input: IndexInput) -> Result<Response, PluginError> {
    let view = input.spec.view.as_str();
    if view == "search" {
        return Ok(crate::search::render(&input));
    }
    let Some(detail) = &input.detail else {
        return Err(PluginError::not_found("package not found"));
    };
    let base = input.request.base_url.as_str();
    let doc = match view {
        "packument" => packument(detail, base),
        "abbreviated" => {
            let body = abbreviated(detail, base).to_string();
            return Ok(Response::new(200, ABBREVIATED, body).header("vary", "Accept"));
        }
        "version" => one_version(detail, base, &input.spec.argument)?,
        "dist-tags" => Value::Object(
            dist_tags(detail)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        other => return Err(PluginError::new(500, format!("unknown npm view {other:?}"))),
    };
    Ok(Response::json(doc.to_string()).header("vary", "Accept"))
}

/// Tags by name; `latest` falls back to the highest release (or highest version) when
/// its version was unpublished, as npm's own registry does.
pub fn dist_tags(detail: &PackageDetail) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = detail.tags.iter().cloned().collect();
    if !tags.contains_key("latest") {
        let mut versions: Vec<semver::Version> = detail
            .versions
            .iter()
            .filter_map(|v| semver::Version::parse(&v.version).ok())
            .collect();
        versions.sort();
        let best = versions
            .iter()
            .rev()
            .find(|v| v.pre.is_empty())
            .or(versions.last());
        if let Some(best) = best {
            tags.insert("latest".into(), best.to_string());
        }
    }
    tags
}

fn manifest(v: &VersionDetail) -> Map<String, Value> {
    match serde_json::from_str(&v.metadata) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `dist` as clients verify it: our digests and our tarball URL, whatever was sent.
fn dist(name: &str, v: &VersionDetail, manifest: &Map<String, Value>, base: &str) -> Value {
    let mut dist = manifest
        .get("dist")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    dist.remove("tarball");
    dist.remove("shasum");
    dist.remove("integrity");
    if let Some(file) = v.files.iter().find(|f| f.lead) {
        for d in &file.digests {
            match d.algorithm {
                HashAlgorithm::Sha1 => {
                    dist.insert("shasum".into(), d.hex.clone().into());
                }
                HashAlgorithm::Sha512 => {
                    if let Some(bytes) = from_hex(&d.hex) {
                        let sri = format!("sha512-{}", STANDARD.encode(bytes));
                        dist.insert("integrity".into(), sri.into());
                    }
                }
                _ => {}
            }
        }
        dist.insert(
            "tarball".into(),
            format!("{base}/{name}/-/{}", file.name).into(),
        );
    }
    Value::Object(dist)
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn has_install_script(manifest: &Map<String, Value>) -> bool {
    manifest
        .get("scripts")
        .and_then(Value::as_object)
        .is_some_and(|s| {
            ["preinstall", "install", "postinstall"]
                .iter()
                .any(|k| s.contains_key(*k))
        })
}

/// One version as the full packument shows it (without the readme, which is top-level).
fn full_version(name: &str, v: &VersionDetail, base: &str) -> Map<String, Value> {
    let mut m = manifest(v);
    m.remove("readme");
    let dist = dist(name, v, &m, base);
    m.insert("dist".into(), dist);
    if has_install_script(&m) {
        m.insert("hasInstallScript".into(), true.into());
    }
    m
}

fn packument(detail: &PackageDetail, base: &str) -> Value {
    let name = detail.pkg.name.as_str();
    let tags = dist_tags(detail);
    let mut versions = Map::new();
    let mut time = Map::new();
    time.insert("created".into(), iso8601(detail.created).into());
    time.insert("modified".into(), iso8601(detail.modified).into());
    for v in &detail.versions {
        versions.insert(
            v.version.clone(),
            Value::Object(full_version(name, v, base)),
        );
        time.insert(v.version.clone(), iso8601(v.created).into());
    }
    let mut doc = Map::new();
    doc.insert("_id".into(), name.into());
    doc.insert("_rev".into(), revision(detail).into());
    doc.insert("name".into(), name.into());
    let latest = tags
        .get("latest")
        .and_then(|l| detail.versions.iter().find(|v| &v.version == l));
    if let Some(latest) = latest {
        let m = manifest(latest);
        for field in LATEST_FIELDS {
            if let Some(value) = m.get(*field) {
                doc.insert((*field).into(), value.clone());
            }
        }
        doc.insert(
            "readme".into(),
            m.get("readme").cloned().unwrap_or_else(|| "".into()),
        );
    }
    doc.insert("dist-tags".into(), json!(tags));
    doc.insert("versions".into(), Value::Object(versions));
    doc.insert("time".into(), Value::Object(time));
    Value::Object(doc)
}

/// The revision clients echo back in `-rev/` paths. Wharf ignores it (the host's
/// transactions replace CouchDB's MVCC), but it changes with every change.
fn revision(detail: &PackageDetail) -> String {
    format!("{}-{:x}", detail.versions.len(), detail.modified)
}

fn abbreviated(detail: &PackageDetail, base: &str) -> Value {
    let name = detail.pkg.name.as_str();
    let mut versions = Map::new();
    for v in &detail.versions {
        let m = manifest(v);
        let mut short = Map::new();
        for field in ABBREVIATED_FIELDS {
            if let Some(value) = m.get(*field) {
                short.insert((*field).into(), value.clone());
            }
        }
        if has_install_script(&m) {
            short.insert("hasInstallScript".into(), true.into());
        }
        short.insert("dist".into(), dist(name, v, &m, base));
        versions.insert(v.version.clone(), Value::Object(short));
    }
    json!({
        "name": name,
        "modified": iso8601(detail.modified),
        "dist-tags": dist_tags(detail),
        "versions": versions,
    })
}

/// `GET /{pkg}/{version-or-tag}`.
fn one_version(detail: &PackageDetail, base: &str, wanted: &str) -> Result<Value, PluginError> {
    let tags = dist_tags(detail);
    let version = tags.get(wanted).map(String::as_str).unwrap_or(wanted);
    let v = detail
        .versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            PluginError::not_found(format!(
                "version or tag {wanted:?} of {} not found",
                detail.pkg.name
            ))
        })?;
    Ok(Value::Object(full_version(&detail.pkg.name, v, base)))
}
