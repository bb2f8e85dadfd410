//! What a PUT to a package means: a publish (the body carries a tarball), a metadata
//! update (`npm deprecate`, the trimmed document `npm unpublish` sends), or a dist-tag.

use serde_json::{Map, Value};
use wharf_plugin_sdk::{
    Digest, FileSource, HashAlgorithm, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan,
    Request, Response, TagChange, Upload, UploadReader, VersionMode, VersionRef, host,
};

use crate::scan::{self, Scanned};
use crate::{integrity, names};

/// Longest version string accepted (npm's own cap is 256).
const MAX_VERSION: usize = 256;

/// `npm publish` and the package-document PUTs of `deprecate` and `unpublish`.
pub fn package_document(
    request: &Request,
    pkg: PackageRef,
    body: &Upload,
) -> Result<PublishPlan, PluginError> {
    let Scanned {
        skeleton,
        attachments,
    } = scan::scan(&mut UploadReader::new(body))?;
    let doc: Value = serde_json::from_slice(&skeleton)
        .map_err(|e| PluginError::bad_request(format!("malformed JSON body: {e}")))?;
    let doc = doc
        .as_object()
        .ok_or_else(|| PluginError::bad_request("the body must be a JSON object"))?;
    if let Some(name) = doc.get("name").and_then(Value::as_str)
        && name != pkg.name
    {
        return Err(PluginError::bad_request(format!(
            "the body names package {name:?} but the URL names {:?}",
            pkg.name
        )));
    }
    if attachments.is_empty() {
        if doc
            .get("_attachments")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(PluginError::bad_request("attachment without data"));
        }
        return metadata_update(pkg, doc);
    }
    publish(request, pkg, doc, attachments)
}

fn publish(
    request: &Request,
    pkg: PackageRef,
    doc: &Map<String, Value>,
    attachments: Vec<(Vec<u8>, wharf_plugin_sdk::ByteRange)>,
) -> Result<PublishPlan, PluginError> {
    names::validate(&pkg.name)?;
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| PluginError::bad_request("the body has no versions"))?;
    let [(version, manifest)] = versions.iter().collect::<Vec<_>>()[..] else {
        return Err(PluginError::bad_request(
            "publish exactly one version at a time",
        ));
    };
    let version = validate_version(version)?;
    let mut manifest = manifest
        .as_object()
        .cloned()
        .ok_or_else(|| PluginError::bad_request("the version entry must be an object"))?;
    if manifest.get("version").and_then(Value::as_str) != Some(version.as_str()) {
        return Err(PluginError::bad_request(
            "the version entry's \"version\" differs from its key",
        ));
    }
    if manifest.get("name").and_then(Value::as_str) != Some(pkg.name.as_str()) {
        return Err(PluginError::bad_request(
            "the version entry's \"name\" differs from the package",
        ));
    }

    let [(_, range)] = &attachments[..] else {
        return Err(PluginError::bad_request("attach exactly one tarball"));
    };
    let dist = manifest
        .get("dist")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let expect = expected_digest(&dist)?;

    let tags = dist_tags(doc, &version)?;
    // Registry-owned fields: who published it and where the tarball is are ours to say.
    manifest.remove("_attachments");
    if let Some(user) = &request.user {
        manifest.insert("_npmUser".into(), serde_json::json!({ "name": user }));
    }
    if !manifest.contains_key("readme")
        && let Some(readme) = doc.get("readme")
    {
        manifest.insert("readme".into(), readme.clone());
    }
    let metadata = Value::Object(manifest).to_string();

    let reply = Response::new(201, "application/json", r#"{"ok":true}"#);
    Ok(PublishPlan {
        versions: vec![PlanVersion {
            references: Vec::new(),
            mode: VersionMode::Create,
            metadata,
            files: vec![PlanFile {
                name: names::tarball(&pkg.name, &version),
                source: FileSource::Base64Slice(*range),
                content_type: "application/octet-stream".into(),
                lead: true,
                overwrite: false,
                expect: Some(expect),
            }],
            tags,
            properties: Vec::new(),
            version,
        }],
        pkg,
        reply,
    })
}

/// A version string as npm stores it: valid semver, already clean.
fn validate_version(version: &str) -> Result<String, PluginError> {
    let parsed = (version.len() <= MAX_VERSION)
        .then(|| semver::Version::parse(version).ok())
        .flatten()
        .ok_or_else(|| PluginError::bad_request(format!("invalid version {version:?}")))?;
    Ok(parsed.to_string())
}

/// The digest the attached tarball must have: `dist.integrity` (sha512) when the
/// client sent one, else `dist.shasum` (sha1). A publish without either is refused:
/// the integrity of what we store is the point of the check.
fn expected_digest(dist: &Map<String, Value>) -> Result<Digest, PluginError> {
    if let Some(sri) = dist.get("integrity").and_then(Value::as_str) {
        return integrity::parse(sri)
            .into_iter()
            .find(|d| d.algorithm == HashAlgorithm::Sha512)
            .ok_or_else(|| PluginError::bad_request("dist.integrity has no valid sha512 hash"));
    }
    match dist.get("shasum").and_then(Value::as_str) {
        Some(sha1) => Digest::from_hex(HashAlgorithm::Sha1, sha1)
            .ok_or_else(|| PluginError::bad_request("dist.shasum is not a sha1 hex digest")),
        None => Err(PluginError::bad_request(
            "the version has neither dist.integrity nor dist.shasum",
        )),
    }
}

/// Tag changes from the body's `dist-tags` that name `version`; `latest` when none do.
fn dist_tags(doc: &Map<String, Value>, version: &str) -> Result<Vec<TagChange>, PluginError> {
    let mut tags = Vec::new();
    if let Some(all) = doc.get("dist-tags").and_then(Value::as_object) {
        for (tag, target) in all {
            if target.as_str() == Some(version) {
                names::validate_tag(tag)?;
                tags.push(TagChange {
                    tag: tag.clone(),
                    remove: false,
                });
            }
        }
    }
    if tags.is_empty() {
        tags.push(TagChange {
            tag: "latest".into(),
            remove: false,
        });
    }
    Ok(tags)
}

/// A document without tarballs: take deprecation changes, and dist-tags that point at
/// existing versions. Only `deprecated` is taken from each version: the body is the
/// client's edited copy of our packument, and accepting more would let a client
/// rewrite `dist` or dependencies of published versions.
fn metadata_update(pkg: PackageRef, doc: &Map<String, Value>) -> Result<PublishPlan, PluginError> {
    let mut plan_versions: Vec<PlanVersion> = Vec::new();
    let empty = Map::new();
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut known = 0;
    for (version, manifest) in versions {
        let Some(stored) = host::get_version(&VersionRef {
            pkg: pkg.clone(),
            version: version.clone(),
        }) else {
            continue;
        };
        known += 1;
        let mut metadata: Map<String, Value> =
            serde_json::from_str(&stored.metadata).unwrap_or_default();
        let wanted = manifest
            .get("deprecated")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        let current = metadata.get("deprecated").and_then(Value::as_str);
        if wanted == current {
            continue;
        }
        match wanted {
            Some(message) => metadata.insert("deprecated".into(), message.into()),
            None => metadata.remove("deprecated"),
        };
        plan_versions.push(PlanVersion {
            references: Vec::new(),
            version: version.clone(),
            mode: VersionMode::UpdateMetadata,
            metadata: Value::Object(metadata).to_string(),
            files: Vec::new(),
            tags: Vec::new(),
            properties: Vec::new(),
        });
    }
    if known == 0 {
        // Neither a publish nor an edit of stored versions: most likely a publish
        // whose client left out the tarball.
        return Err(PluginError::bad_request(
            "no tarball attached, and no stored version named in the body",
        ));
    }
    if let Some(tags) = doc.get("dist-tags").and_then(Value::as_object) {
        for (tag, target) in tags {
            let Some(target) = target.as_str() else {
                continue;
            };
            if names::validate_tag(tag).is_err()
                || host::get_version(&VersionRef {
                    pkg: pkg.clone(),
                    version: target.to_string(),
                })
                .is_none()
            {
                continue;
            }
            let change = TagChange {
                tag: tag.clone(),
                remove: false,
            };
            match plan_versions.iter_mut().find(|v| v.version == target) {
                Some(v) => v.tags.push(change),
                None => plan_versions.push(PlanVersion {
                    references: Vec::new(),
                    version: target.to_string(),
                    mode: VersionMode::None,
                    metadata: String::new(),
                    files: Vec::new(),
                    tags: vec![change],
                    properties: Vec::new(),
                }),
            }
        }
    }
    Ok(PublishPlan {
        pkg,
        versions: plan_versions,
        reply: Response::json(r#"{"ok":true}"#),
    })
}

/// `npm dist-tag add`: the body is the version as a JSON string.
pub fn dist_tag(pkg: PackageRef, tag: &str, body: &Upload) -> Result<PublishPlan, PluginError> {
    names::validate_tag(tag)?;
    let bytes = body.read(0, 4096);
    let version: String = serde_json::from_slice(&bytes)
        .map_err(|_| PluginError::bad_request("the body must be a JSON string naming a version"))?;
    let version = validate_version(&version)?;
    if host::get_version(&VersionRef {
        pkg: pkg.clone(),
        version: version.clone(),
    })
    .is_none()
    {
        return Err(PluginError::not_found(format!(
            "version {version} of {} does not exist",
            pkg.name
        )));
    }
    Ok(PublishPlan {
        pkg,
        versions: vec![PlanVersion {
            references: Vec::new(),
            version,
            mode: VersionMode::None,
            metadata: String::new(),
            files: Vec::new(),
            tags: vec![TagChange {
                tag: tag.to_string(),
                remove: false,
            }],
            properties: Vec::new(),
        }],
        reply: Response::json(r#"{"ok":true}"#),
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn integrity_becomes_a_sha512_hex_expectation() {
        let mut dist = Map::new();
        let sha512 = [7u8; 64];
        dist.insert(
            "integrity".into(),
            format!("sha512-{}", STANDARD.encode(sha512)).into(),
        );
        dist.insert("shasum".into(), "a".repeat(40).into());
        let d = expected_digest(&dist).unwrap();
        assert_eq!(d.algorithm, HashAlgorithm::Sha512);
        assert_eq!(d.hex, "07".repeat(64));
    }

    #[test]
    fn shasum_is_the_fallback_and_garbage_is_refused() {
        let mut dist = Map::new();
        dist.insert("shasum".into(), "AB".repeat(20).into());
        assert_eq!(expected_digest(&dist).unwrap().hex, "ab".repeat(20));
        dist.insert("integrity".into(), "sha1-xxxx".into());
        assert!(expected_digest(&dist).is_err());
        assert!(expected_digest(&Map::new()).is_err());
    }

    #[test]
    fn versions_must_be_clean_semver() {
        assert_eq!(
            validate_version("1.0.0-beta.1+b").unwrap(),
            "1.0.0-beta.1+b"
        );
        for bad in [
            "1.0",
            "v1.0.0",
            "01.0.0",
            "",
            &format!("1.0.0-{}", "a".repeat(300)),
        ] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
    }
}
