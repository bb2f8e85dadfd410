//! Package documents built from the database: the full packument (`npm view`,
//! `npm publish` checks), the abbreviated one installs ask for, one version, the
//! dist-tags, and search results.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Value};
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PackageDetail, PluginError, Response, VersionDetail,
};

use wharf_plugin_sdk::params;
use wharf_plugin_sdk::time::iso8601;

use crate::routes::{VERSION, view};
use crate::{integrity, names};

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
    let kind = input.spec.view.as_str();
    if kind == view::SEARCH {
        return Ok(crate::search::render(&input));
    }
    let Some(detail) = &input.detail else {
        return Err(package_not_found());
    };
    let base = input.base_url.as_str();
    let body = match kind {
        view::PACKUMENT => packument(detail, base),
        view::ABBREVIATED => {
            let body = abbreviated(detail, base);
            return Ok(Response::new(200, ABBREVIATED, body).header("vary", "Accept"));
        }
        view::VERSION => one_version(detail, base, params::text(&input.spec.params, VERSION))?,
        view::DIST_TAGS => to_json(&dist_tags(detail)),
        other => return Err(PluginError::new(500, format!("unknown npm view {other:?}"))),
    };
    Ok(Response::json(body).header("vary", "Accept"))
}

/// npm's 404 for a package no owner has (`{"error":"package not found"}`).
pub fn package_not_found() -> PluginError {
    PluginError::not_found("package not found")
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

/// A version's stored manifest, field by field, each value left as the JSON text it
/// is. Renders copy most fields through unchanged, so parsing them into trees and
/// printing them again (what a 2,000-version packument spent its time on) is skipped.
pub type Fields<'a> = BTreeMap<String, &'a RawValue>;

/// A document being assembled from stored and computed JSON. Keys sort as serde_json's
/// own maps do, so the output is what a `Value` would print.
pub type Doc<'a> = BTreeMap<String, Cow<'a, RawValue>>;

fn fields(v: &VersionDetail) -> Fields<'_> {
    serde_json::from_str(&v.metadata).unwrap_or_default()
}

/// JSON text of a computed value.
pub fn raw<'a>(value: &impl Serialize) -> Cow<'a, RawValue> {
    Cow::Owned(to_raw_value(value).unwrap_or_else(|_| null()))
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).unwrap_or_default()
}

pub fn to_json(doc: &impl Serialize) -> String {
    serde_json::to_string(doc).unwrap_or_default()
}

/// `dist` as clients verify it: our digests and our tarball URL, whatever was sent.
fn dist<'a>(name: &str, v: &VersionDetail, fields: &Fields<'_>, base: &str) -> Cow<'a, RawValue> {
    let mut dist: Map<String, Value> = fields
        .get("dist")
        .and_then(|d| serde_json::from_str(d.get()).ok())
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
                    if let Some(sri) = integrity::sri(d) {
                        dist.insert("integrity".into(), sri.into());
                    }
                }
                _ => {}
            }
        }
        dist.insert(
            "tarball".into(),
            names::tarball_url(base, name, &file.name).into(),
        );
    }
    raw(&dist)
}

fn has_install_script(fields: &Fields<'_>) -> bool {
    fields
        .get("scripts")
        .and_then(|s| serde_json::from_str::<Fields<'_>>(s.get()).ok())
        .is_some_and(|s| {
            ["preinstall", "install", "postinstall"]
                .iter()
                .any(|k| s.contains_key(*k))
        })
}

/// Marks a version whose scripts run at install time, as npm's registry does.
fn mark_install_script(doc: &mut Doc<'_>, fields: &Fields<'_>) {
    if has_install_script(fields) {
        doc.insert("hasInstallScript".into(), raw(&true));
    }
}

/// One version as the full packument shows it (without the readme, which is top-level).
fn full_version<'a>(name: &str, v: &'a VersionDetail, base: &str) -> Doc<'a> {
    let fields = fields(v);
    let mut doc: Doc<'a> = fields
        .iter()
        .filter(|(key, _)| *key != "readme")
        .map(|(key, value)| (key.clone(), Cow::Borrowed(*value)))
        .collect();
    doc.insert("dist".into(), dist(name, v, &fields, base));
    if let Some(user) = fields.get("_npmUser").and_then(|u| npm_user(u)) {
        doc.insert("_npmUser".into(), user);
    }
    mark_install_script(&mut doc, &fields);
    doc
}

/// `_npmUser` (who published, recorded by the publish) with an `email`. Wharf accounts
/// have no email address, and npm prints a missing one as `by admin <undefined>`; an
/// empty one it leaves out, so the publisher is shown by name, and no address is made
/// up. (Gitea sends no `_npmUser` at all, which loses who published.) `None` when the
/// stored value already has an email or is not an object.
fn npm_user<'a>(stored: &RawValue) -> Option<Cow<'a, RawValue>> {
    let mut user: Map<String, Value> = serde_json::from_str(stored.get()).ok()?;
    if user.contains_key("email") {
        return None;
    }
    user.insert("email".into(), "".into());
    Some(raw(&user))
}

fn packument(detail: &PackageDetail, base: &str) -> String {
    let name = detail.pkg.name.as_str();
    let tags = dist_tags(detail);
    let mut versions = BTreeMap::new();
    let mut time = BTreeMap::new();
    time.insert("created".to_string(), iso8601(detail.created));
    time.insert("modified".to_string(), iso8601(detail.modified));
    for v in &detail.versions {
        versions.insert(v.version.as_str(), full_version(name, v, base));
        time.insert(v.version.clone(), iso8601(v.created));
    }
    let mut doc = Doc::new();
    doc.insert("_id".into(), raw(&name));
    doc.insert("_rev".into(), raw(&revision(detail)));
    doc.insert("name".into(), raw(&name));
    let latest = tags
        .get("latest")
        .and_then(|l| detail.versions.iter().find(|v| &v.version == l));
    if let Some(latest) = latest {
        let fields = fields(latest);
        for field in LATEST_FIELDS {
            if let Some(value) = fields.get(*field) {
                doc.insert((*field).into(), Cow::Owned((*value).to_owned()));
            }
        }
        let readme = match fields.get("readme") {
            Some(readme) => Cow::Owned((*readme).to_owned()),
            None => raw(&""),
        };
        doc.insert("readme".into(), readme);
    }
    doc.insert("dist-tags".into(), raw(&tags));
    doc.insert("versions".into(), raw(&versions));
    doc.insert("time".into(), raw(&time));
    to_json(&doc)
}

/// The revision clients echo back in `-rev/` paths. Wharf ignores it (the host's
/// transactions replace CouchDB's MVCC), but it changes with every change.
fn revision(detail: &PackageDetail) -> String {
    format!("{}-{:x}", detail.versions.len(), detail.modified)
}

fn abbreviated(detail: &PackageDetail, base: &str) -> String {
    let name = detail.pkg.name.as_str();
    let mut versions = BTreeMap::new();
    for v in &detail.versions {
        let fields = fields(v);
        let mut short: Doc = ABBREVIATED_FIELDS
            .iter()
            .filter_map(|key| Some(((*key).to_string(), Cow::Borrowed(*fields.get(*key)?))))
            .collect();
        mark_install_script(&mut short, &fields);
        short.insert("dist".into(), dist(name, v, &fields, base));
        versions.insert(v.version.as_str(), short);
    }
    let mut doc = Doc::new();
    doc.insert("name".into(), raw(&name));
    doc.insert("modified".into(), raw(&iso8601(detail.modified)));
    doc.insert("dist-tags".into(), raw(&dist_tags(detail)));
    doc.insert("versions".into(), raw(&versions));
    to_json(&doc)
}

/// `GET /{pkg}/{version-or-tag}`.
fn one_version(detail: &PackageDetail, base: &str, wanted: &str) -> Result<String, PluginError> {
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
    Ok(to_json(&full_version(&detail.pkg.name, v, base)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::{file, index_input, package, request, version};
    use wharf_plugin_sdk::{Digest, IndexSpec, Method};

    const SHA512: &str = "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff";

    fn stored(v: &str, metadata: &str) -> VersionDetail {
        let mut tgz = file(&format!("app-{v}.tgz"), 10, &"ab".repeat(32));
        tgz.digests.push(Digest {
            algorithm: HashAlgorithm::Sha512,
            hex: SHA512.to_string(),
        });
        tgz.digests.push(Digest {
            algorithm: HashAlgorithm::Sha1,
            hex: "cd".repeat(20),
        });
        version(v, metadata, vec![tgz])
    }

    /// The document `view` renders; `wanted` is the version or tag of the `version` view.
    fn rendered(view: &str, wanted: &str, versions: Vec<VersionDetail>) -> Value {
        let mut detail = package("app", versions);
        detail.tags = vec![("latest".into(), "1.0.0".into())];
        let spec = IndexSpec {
            pkg: Some(detail.pkg.clone()),
            view: view.into(),
            params: match view {
                "version" => params::owned(&[(VERSION, wanted)]),
                _ => Vec::new(),
            },
            digest_of: None,
            listing: None,
        };
        let req = request(Method::Get, "/app").with_base_url("http://r/npm");
        let response = render(index_input(req, spec, Some(detail))).unwrap();
        serde_json::from_slice(&response.body).unwrap()
    }

    const MANIFEST: &str = r##"{"name":"app","version":"1.0.0","description":"An app",
        "readme":"# app","dependencies":{"left-pad":"^1.0.0"},"bin":{"app":"cli.js"},
        "scripts":{"postinstall":"node setup.js"},"funding":{"url":"https://f"},
        "weird \"key\"":[1,2.5e3,{"x":null}],
        "dist":{"tarball":"http://elsewhere/app.tgz","shasum":"00","fileCount":3}}"##;

    #[test]
    fn the_full_packument_keeps_every_field_and_rewrites_dist() {
        let doc = rendered("packument", "", vec![stored("1.0.0", MANIFEST)]);
        let v = &doc["versions"]["1.0.0"];
        assert_eq!(v["dependencies"]["left-pad"], "^1.0.0");
        assert_eq!(v["bin"]["app"], "cli.js");
        assert_eq!(v["funding"]["url"], "https://f");
        assert_eq!(v["weird \"key\""][1], 2500.0);
        assert_eq!(v["hasInstallScript"], true);
        assert!(v.get("readme").is_none(), "the readme is top-level only");
        assert_eq!(v["dist"]["tarball"], "http://r/npm/app/-/app-1.0.0.tgz");
        assert_eq!(v["dist"]["shasum"], "cd".repeat(20));
        assert_eq!(v["dist"]["fileCount"], 3, "client extras are kept");
        let sri = v["dist"]["integrity"].as_str().unwrap();
        assert_eq!(integrity::parse(sri)[0].hex, SHA512);
        assert_eq!(doc["readme"], "# app");
        assert_eq!(doc["description"], "An app");
        assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
        assert_eq!(doc["time"]["1.0.0"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["_id"], "app");
    }

    #[test]
    fn the_publisher_has_an_empty_email_rather_than_none() {
        let published = r#"{"name":"app","version":"1.0.0","_npmUser":{"name":"admin"}}"#;
        let doc = rendered("version", "1.0.0", vec![stored("1.0.0", published)]);
        assert_eq!(
            doc["_npmUser"],
            serde_json::json!({"name": "admin", "email": ""})
        );
        let with_email =
            r#"{"name":"app","version":"1.0.0","_npmUser":{"name":"a","email":"a@x"}}"#;
        let doc = rendered("packument", "", vec![stored("1.0.0", with_email)]);
        assert_eq!(doc["versions"]["1.0.0"]["_npmUser"]["email"], "a@x");
    }

    #[test]
    fn the_abbreviated_packument_keeps_what_installers_need() {
        let doc = rendered("abbreviated", "", vec![stored("1.0.0", MANIFEST)]);
        let v = &doc["versions"]["1.0.0"];
        assert_eq!(v["dependencies"]["left-pad"], "^1.0.0");
        assert_eq!(v["hasInstallScript"], true);
        assert_eq!(v["dist"]["tarball"], "http://r/npm/app/-/app-1.0.0.tgz");
        for dropped in ["description", "scripts", "readme", "weird \"key\""] {
            assert!(v.get(dropped).is_none(), "{dropped} is not abbreviated");
        }
        assert_eq!(doc["modified"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn unreadable_metadata_still_renders_dist() {
        let doc = rendered("version", "latest", vec![stored("1.0.0", "not json")]);
        assert_eq!(doc["dist"]["tarball"], "http://r/npm/app/-/app-1.0.0.tgz");
        let tags = rendered("dist-tags", "", vec![stored("1.0.0", "{}")]);
        assert_eq!(tags, serde_json::json!({"latest": "1.0.0"}));
    }

    #[test]
    fn output_matches_what_a_value_tree_prints() {
        // Same key order and escaping as serde_json's own maps, for stored compact JSON.
        let compact = serde_json::to_string(&serde_json::from_str::<Value>(MANIFEST).unwrap());
        let doc = rendered("version", "1.0.0", vec![stored("1.0.0", &compact.unwrap())]);
        let mut expected: Map<String, Value> = serde_json::from_str(MANIFEST).unwrap();
        expected.remove("readme");
        for key in ["dist", "hasInstallScript"] {
            expected.insert(key.into(), doc[key].clone());
        }
        assert_eq!(doc, Value::Object(expected));
    }
}
