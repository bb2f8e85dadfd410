//! Publish plans: `cargo publish` (a new version with its `.crate`), and `cargo yank`
//! with `--undo` (the `yanked` property of a stored version; the request has no body).

use std::io::BufReader;

use wharf_plugin_sdk::{
    FileSource, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan, Request, Response,
    Upload, UploadReader, VersionMode, host,
};

use crate::body;
use crate::metadata::{NewCrate, VersionMetadata};
use crate::names;

/// The version property holding `true` or `false`. Every version has it from its
/// publish on, which also lets a publish list the stored versions through it.
pub const YANKED: &str = "yanked";

/// What cargo expects after a publish: the warnings crates.io may send.
const PUBLISHED: &str = r#"{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}"#;

/// What cargo expects after a yank or unyank.
const OK: &str = r#"{"ok":true}"#;

/// `PUT /api/v1/crates/new`.
pub fn publish(
    request: &Request,
    owner: String,
    upload: &Upload,
) -> Result<PublishPlan, PluginError> {
    let layout = body::layout(upload.size(), |at| {
        <[u8; 4]>::try_from(upload.read(at, 4).as_slice())
            .ok()
            .map(u32::from_le_bytes)
    })?;
    body::check_gzip(&upload.read(layout.krate.offset, 2))?;
    let json = UploadReader::range(upload, layout.json.offset, layout.json.length);
    let mut new: NewCrate = serde_json::from_reader(BufReader::new(json))
        .map_err(|e| PluginError::bad_request(format!("malformed publish JSON: {e}")))?;
    names::validate(&new.name)?;
    let version = names::version(&new.vers)?;

    let pkg = PackageRef {
        owner,
        name: new.name.clone(),
    };
    check_new_version(&stored_versions(&pkg), &new.name, &version)?;
    let own_index = format!("sparse+{}/", request.base_url);
    let readme = crate::pages::readme_file(new.readme.take());
    let metadata = VersionMetadata::from_publish(new, &version, &own_index)?;
    let version = version.to_string();
    let file = PlanFile {
        name: names::crate_file(&pkg.name, &version),
        source: FileSource::Slice(layout.krate),
        content_type: "application/gzip".into(),
        lead: true,
        overwrite: false,
        expect: None,
    };
    let metadata = serde_json::to_string(&metadata)
        .map_err(|e| PluginError::new(500, format!("cannot store the metadata: {e}")))?;
    Ok(PublishPlan {
        pkg,
        versions: vec![PlanVersion {
            references: Vec::new(),
            version,
            mode: VersionMode::Create,
            metadata,
            files: std::iter::once(file).chain(readme).collect(),
            tags: Vec::new(),
            properties: vec![(YANKED.into(), "false".into())],
        }],
        reply: Response::json(PUBLISHED),
    })
}

/// `DELETE …/{version}/yank` and `PUT …/{version}/unyank`: only the property changes.
pub fn set_yanked(
    pkg: PackageRef,
    version: &str,
    yanked: bool,
) -> Result<PublishPlan, PluginError> {
    let version = names::version(version)?.to_string();
    Ok(PublishPlan {
        pkg,
        versions: vec![PlanVersion {
            references: Vec::new(),
            version,
            mode: VersionMode::None,
            metadata: String::new(),
            files: Vec::new(),
            tags: Vec::new(),
            properties: vec![(YANKED.into(), yanked.to_string())],
        }],
        reply: Response::json(OK),
    })
}

/// Name and version of every stored version of the crate, oldest first.
fn stored_versions(pkg: &PackageRef) -> Vec<(String, String)> {
    let mut all = host::find_versions_by_property(pkg, YANKED, "false");
    all.extend(host::find_versions_by_property(pkg, YANKED, "true"));
    all.sort_by_key(|v| v.created);
    all.into_iter()
        .map(|v| {
            let name = VersionMetadata::parse(&v.metadata).map(|m| m.name);
            (name.unwrap_or_else(|| pkg.name.clone()), v.version)
        })
        .collect()
}

/// Refuses a version that exists already, also when it differs only in build metadata
/// (cargo treats `1.0.0+a` and `1.0.0+b` as one version), and a name spelt with other
/// cases than the crate's first publish, as crates.io does.
fn check_new_version(
    stored: &[(String, String)],
    name: &str,
    version: &semver::Version,
) -> Result<(), PluginError> {
    if let Some((first, _)) = stored.first()
        && first != name
    {
        return Err(PluginError::bad_request(format!(
            "crate `{name}` is published here as `{first}`: use that name"
        )));
    }
    let same = |v: &semver::Version| {
        (v.major, v.minor, v.patch) == (version.major, version.minor, version.patch)
            && v.pre.as_str().eq_ignore_ascii_case(version.pre.as_str())
    };
    match stored
        .iter()
        .find(|(_, v)| semver::Version::parse(v).is_ok_and(|v| same(&v)))
    {
        Some((_, existing)) => Err(PluginError::conflict(format!(
            "crate version `{name}@{existing}` is already uploaded"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn check(list: &[(&str, &str)], name: &str, version: &str) -> Result<(), PluginError> {
        check_new_version(&stored(list), name, &names::version(version).unwrap())
    }

    #[test]
    fn new_versions_pass() {
        assert!(check(&[], "Foo", "1.0.0").is_ok());
        assert!(check(&[("Foo", "1.0.0")], "Foo", "1.0.1").is_ok());
        assert!(check(&[("Foo", "1.0.0")], "Foo", "1.0.0-rc.1").is_ok());
    }

    #[test]
    fn duplicates_conflict_even_with_other_build_metadata() {
        for (old, new) in [
            ("1.0.0", "1.0.0"),
            ("1.0.0+a", "1.0.0+b"),
            ("1.0.0", "1.0.0+b"),
            ("1.0.0-RC.1", "1.0.0-rc.1"),
        ] {
            let e = check(&[("foo", "0.1.0"), ("foo", old)], "foo", new).unwrap_err();
            assert_eq!(e.status, 409, "{old} {new}");
            assert!(e.message.contains(&format!("foo@{old}")), "{}", e.message);
        }
    }

    #[test]
    fn the_first_spelling_of_a_name_sticks() {
        let e = check(&[("Foo", "1.0.0")], "foo", "2.0.0").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("`Foo`"));
    }
}
