//! Manifest pushes (`PUT /{name}/manifests/{reference}`): validation and the publish plan.
//!
//! A manifest becomes the version `sha256:<hex>` whatever reference it was pushed by,
//! with one lead file `manifest` stored under its media type. The blobs it names are
//! the version's references, checked here first (for the spec's error codes) and again
//! by the host inside the publish transaction, so a manifest is never half-stored.

use std::collections::HashSet;
use std::io::Read;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256, Sha512};
use wharf_plugin_sdk::{
    BlobReference, Digest, FileSource, HashAlgorithm, IntegerRange, PackageRef, PlanFile,
    PlanVersion, PluginError, PublishPlan, Request, Response, SettingDecl, SettingKind,
    SettingValue, TagChange, UploadBody, UploadReader, UploadSpec, VersionMode, params, settings,
};

use crate::names::{self, Reference};
use crate::routes::{MANIFEST_FILE, MAX_MANIFEST, REFERENCE};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Content types that say nothing about the manifest (generic HTTP clients send them);
/// the body's `mediaType` decides then.
const GENERIC_TYPES: &[&str] = &["", "application/json", "application/octet-stream"];

/// Sizes of the package's blobs, asked of the host (faked in unit tests).
pub trait BlobSizes {
    fn blob_size(&self, pkg: &PackageRef, digest: &Digest) -> Option<u64>;
}

/// The host's view of the package's blobs.
pub struct HostBlobs;

impl BlobSizes for HostBlobs {
    fn blob_size(&self, pkg: &PackageRef, digest: &Digest) -> Option<u64> {
        wharf_plugin_sdk::host::package_blob_size(pkg, digest)
    }
}

/// The setting bounding the distinct blobs one manifest may reference (its config,
/// layers or child manifests). Real images have a few hundred layers at most; the host
/// checks each reference in the publish transaction, so a bound keeps a push well inside
/// the plugin time limit.
const MAX_REFERENCES_SETTING: &str = "max-references";
/// Its default: checked within the default time limit even in a debug build.
const DEFAULT_MAX_REFERENCES: i64 = 10_000;
/// Its largest value: a 4 MiB manifest cannot name many more descriptors (each takes
/// some 110 bytes at the least), so a higher bound would mean nothing.
const MOST_MAX_REFERENCES: i64 = 50_000;

/// The declaration of [`MAX_REFERENCES_SETTING`] for the descriptor.
pub fn max_references_setting() -> SettingDecl {
    SettingDecl {
        name: MAX_REFERENCES_SETTING.into(),
        description: "The most distinct blobs (config, layers, child manifests) one manifest \
                      may reference; a push naming more is refused with MANIFEST_INVALID."
            .into(),
        kind: SettingKind::Integer(IntegerRange {
            min: 1,
            max: MOST_MAX_REFERENCES,
        }),
        default: SettingValue::Integer(DEFAULT_MAX_REFERENCES),
    }
}

/// The operator's [`MAX_REFERENCES_SETTING`], else the default. The host refuses to
/// start on a value outside the declared range, so the clamp only makes the cast total.
fn max_references() -> usize {
    settings::integer(MAX_REFERENCES_SETTING, DEFAULT_MAX_REFERENCES).clamp(1, MOST_MAX_REFERENCES)
        as usize
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::with_code(400, "MANIFEST_INVALID", message)
}

/// What a manifest says, once validated.
struct Manifest {
    media_type: String,
    artifact_type: Option<String>,
    subject: Option<String>,
    annotations: Option<Value>,
    references: Vec<BlobReference>,
}

pub fn parse_upload(
    request: &Request,
    spec: UploadSpec,
    body: &(impl UploadBody + ?Sized),
    blobs: &impl BlobSizes,
) -> Result<PublishPlan, PluginError> {
    let reference = names::reference(params::text(&spec.params, REFERENCE))?;
    let bytes = read_all(body)?;
    let manifest = validate(&bytes, request.header("content-type"), max_references())?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let canonical = format!("sha256:{sha256}");
    let sha256_digest = Digest {
        algorithm: HashAlgorithm::Sha256,
        hex: sha256.clone(),
    };
    // The host checks the stored file against `expect` and records that digest with it,
    // so a manifest pushed by `sha512:` can be pulled by it.
    let (pushed_as, expect) = match &reference {
        Reference::Tag(_) => (canonical.clone(), sha256_digest),
        Reference::Digest(digest) => {
            check_digest(digest, &bytes, &sha256)?;
            (names::digest_text(digest), digest.clone())
        }
    };
    check_blobs(&spec.pkg, &manifest.references, blobs)?;

    let mut metadata = Map::new();
    metadata.insert("mediaType".into(), json!(manifest.media_type));
    metadata.insert("size".into(), json!(bytes.len()));
    if let Some(artifact_type) = &manifest.artifact_type {
        metadata.insert("artifactType".into(), json!(artifact_type));
    }
    if let Some(annotations) = &manifest.annotations {
        metadata.insert("annotations".into(), annotations.clone());
    }
    let mut properties = vec![("media-type".to_string(), manifest.media_type.clone())];
    properties.extend(
        manifest
            .artifact_type
            .iter()
            .map(|t| ("artifact-type".to_string(), t.clone())),
    );
    properties.extend(
        manifest
            .subject
            .iter()
            .map(|s| ("subject".to_string(), s.clone())),
    );
    let tags = match reference {
        Reference::Tag(tag) => vec![TagChange { tag, remove: false }],
        Reference::Digest(_) => Vec::new(),
    };

    let pkg = spec.pkg;
    let mut reply = Response::new(201, "", Vec::new())
        .header(
            "Location",
            format!(
                "{}/{}/{}/manifests/{pushed_as}",
                request.base_url, pkg.owner, pkg.name
            ),
        )
        .header("Docker-Content-Digest", pushed_as);
    if let Some(subject) = &manifest.subject {
        reply = reply.header("OCI-Subject", subject.clone());
    }
    Ok(PublishPlan {
        versions: vec![PlanVersion {
            version: canonical,
            // A re-push of the same bytes changes nothing but tags; keeps created/downloads.
            mode: VersionMode::CreateOrExtend,
            metadata: Value::Object(metadata).to_string(),
            files: vec![PlanFile {
                name: MANIFEST_FILE.into(),
                source: FileSource::Whole,
                content_type: manifest.media_type,
                lead: true,
                overwrite: true,
                expect: Some(expect),
            }],
            tags,
            properties,
            references: manifest.references,
        }],
        pkg,
        reply,
    })
}

fn read_all(body: &(impl UploadBody + ?Sized)) -> Result<Vec<u8>, PluginError> {
    if body.size() > MAX_MANIFEST {
        return Err(PluginError::with_code(
            413,
            "SIZE_INVALID",
            "manifests are limited to 4 MiB",
        ));
    }
    let mut bytes = Vec::new();
    UploadReader::new(body)
        .read_to_end(&mut bytes)
        .map_err(|e| PluginError::internal(format!("cannot read the manifest: {e}")))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The lower-case hex digest of `bytes` in `algorithm`: sha512, else sha256 (the two a
/// digest may name).
pub fn hex_digest(algorithm: HashAlgorithm, bytes: &[u8]) -> String {
    match algorithm {
        HashAlgorithm::Sha512 => hex(&Sha512::digest(bytes)),
        _ => hex(&Sha256::digest(bytes)),
    }
}

/// A manifest pushed by digest must have that digest.
fn check_digest(digest: &Digest, bytes: &[u8], sha256: &str) -> Result<(), PluginError> {
    let actual = match digest.algorithm {
        HashAlgorithm::Sha256 => sha256.to_string(),
        other => hex_digest(other, bytes),
    };
    if actual == digest.hex {
        Ok(())
    } else {
        Err(PluginError::with_code(
            400,
            "DIGEST_INVALID",
            format!(
                "the manifest's digest is not {}",
                names::digest_text(digest)
            ),
        ))
    }
}

/// Every referenced blob must already be in the repository, with the stated size.
fn check_blobs(
    pkg: &PackageRef,
    references: &[BlobReference],
    blobs: &impl BlobSizes,
) -> Result<(), PluginError> {
    for reference in references {
        let digest = names::digest_text(&reference.digest);
        match blobs.blob_size(pkg, &reference.digest) {
            None => {
                return Err(PluginError::with_code(
                    404,
                    "MANIFEST_BLOB_UNKNOWN",
                    format!("blob {digest} is not in the repository"),
                ));
            }
            Some(size) if size != reference.size => {
                return Err(PluginError::with_code(
                    400,
                    "SIZE_INVALID",
                    format!(
                        "blob {digest} has {size} bytes, the manifest says {}",
                        reference.size
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Parses and validates the manifest JSON against the pushed `Content-Type`; it may
/// reference at most `max_references` distinct blobs.
fn validate(
    bytes: &[u8],
    content_type: Option<&str>,
    max_references: usize,
) -> Result<Manifest, PluginError> {
    let document: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("invalid manifest JSON: {e}")))?;
    let Value::Object(object) = &document else {
        return Err(invalid("a manifest is a JSON object"));
    };
    if object.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("only schemaVersion 2 manifests are supported"));
    }
    let media_type = media_type(object, content_type)?;
    let mut references = Vec::new();
    // Hex digits of the references so far: a set, so a manifest of n references costs
    // O(n), not O(n²) (8,000 layers used to spend the whole time limit here).
    let mut seen = HashSet::new();
    let mut add = |descriptor: &Descriptor| {
        if seen.insert(descriptor.digest.hex.clone()) {
            if references.len() == max_references {
                return Err(invalid(format!(
                    "a manifest may reference at most {max_references} blobs"
                )));
            }
            references.push(BlobReference {
                digest: descriptor.digest.clone(),
                size: descriptor.size,
            });
        }
        Ok(())
    };
    let mut artifact_type = string_field(object, "artifactType")?;
    if matches!(media_type.as_str(), OCI_INDEX | DOCKER_LIST) {
        for child in array_field(object, "manifests")? {
            add(&descriptor(child, "manifests[]")?)?;
        }
    } else {
        let config = object
            .get("config")
            .ok_or_else(|| invalid("an image manifest needs a config"))?;
        let config = descriptor(config, "config")?;
        add(&config)?;
        for layer in array_field(object, "layers")? {
            let layer_descriptor = descriptor(layer, "layers[]")?;
            // Foreign layers (Windows base images) live elsewhere; nothing to keep here.
            let foreign = layer
                .get("urls")
                .and_then(Value::as_array)
                .is_some_and(|urls| !urls.is_empty());
            if !foreign {
                add(&layer_descriptor)?;
            }
        }
        // The referrers API's rule: without artifactType, the config's media type says.
        artifact_type = artifact_type.or(Some(config.media_type));
    }
    let subject = match object.get("subject") {
        Some(subject) => Some(names::digest_text(&descriptor(subject, "subject")?.digest)),
        None => None,
    };
    Ok(Manifest {
        media_type,
        artifact_type,
        subject,
        annotations: object.get("annotations").filter(|a| a.is_object()).cloned(),
        references,
    })
}

/// `Content-Type` without parameters, else the body's `mediaType`; both set and
/// different is refused, and only the four manifest types are accepted.
fn media_type(
    object: &Map<String, Value>,
    content_type: Option<&str>,
) -> Result<String, PluginError> {
    let header = content_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !GENERIC_TYPES.contains(&t.as_str()));
    let body = string_field(object, "mediaType")?;
    let chosen = match (header, body) {
        (Some(header), Some(body)) if header != body => {
            return Err(invalid(format!(
                "Content-Type {header} differs from the manifest's mediaType {body}"
            )));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Err(invalid("the manifest's media type is unknown")),
    };
    if [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(&chosen.as_str()) {
        Ok(chosen)
    } else {
        Err(invalid(format!("unsupported manifest media type {chosen}")))
    }
}

fn string_field(object: &Map<String, Value>, name: &str) -> Result<Option<String>, PluginError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

/// An array field; absent is empty (OCI artifacts may omit `layers`).
fn array_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], PluginError> {
    match object.get(name) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(invalid(format!("{name} must be an array"))),
    }
}

/// A content descriptor: `mediaType`, `digest` and `size` are required.
struct Descriptor {
    media_type: String,
    digest: Digest,
    size: u64,
}

fn descriptor(value: &Value, what: &str) -> Result<Descriptor, PluginError> {
    let Value::Object(object) = value else {
        return Err(invalid(format!("{what} must be a descriptor object")));
    };
    let media_type = string_field(object, "mediaType")?
        .ok_or_else(|| invalid(format!("{what} needs a mediaType")))?;
    let digest =
        string_field(object, "digest")?.ok_or_else(|| invalid(format!("{what} needs a digest")))?;
    let digest = names::digest(&digest)
        .map_err(|_| invalid(format!("{what} has an invalid digest {digest:?}")))?;
    let size = object
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(format!("{what} needs a size of 0 or more")))?;
    Ok(Descriptor {
        media_type,
        digest,
        size,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use wharf_plugin_sdk::testing::{FakeUpload, request, with_settings};
    use wharf_plugin_sdk::{Method, Operation};

    use super::*;

    const BASE: &str = "http://wharf.test/v2";

    /// Blobs of the repository by digest text, with their sizes.
    struct FakeBlobs(HashMap<String, u64>);

    impl BlobSizes for FakeBlobs {
        fn blob_size(&self, _pkg: &PackageRef, digest: &Digest) -> Option<u64> {
            self.0.get(&names::digest_text(digest)).copied()
        }
    }

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{}", hex(&Sha256::digest(bytes)))
    }

    fn config() -> String {
        sha(b"{}")
    }
    fn layer() -> String {
        sha(b"layer")
    }

    fn blobs() -> FakeBlobs {
        FakeBlobs(HashMap::from([(config(), 2), (layer(), 5)]))
    }

    fn image() -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer(), "size": 5}],
        })
    }

    fn push(reference: &str, content_type: &str, body: &[u8]) -> Result<PublishPlan, PluginError> {
        push_to(reference, content_type, body, &blobs())
    }

    fn push_to(
        reference: &str,
        content_type: &str,
        body: &[u8],
        blobs: &FakeBlobs,
    ) -> Result<PublishPlan, PluginError> {
        let request = request(Method::Put, &format!("/alice/app/manifests/{reference}"))
            .with_owner(None)
            .with_base_url(BASE)
            .with_header("content-type", content_type);
        // The spec the route hands the host, as the host hands it back.
        let route = crate::routes::match_route(&request).unwrap();
        let Operation::AcceptUpload(spec) = route.operation else {
            panic!("a manifest push is an upload: {:?}", route.operation)
        };
        parse_upload(&request, spec, &FakeUpload::new(body.to_vec()), blobs)
    }

    fn refused(reference: &str, content_type: &str, body: &Value) -> (u16, String) {
        let e = push(reference, content_type, body.to_string().as_bytes()).unwrap_err();
        (e.status, e.code)
    }

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn reference_digests(version: &PlanVersion) -> Vec<String> {
        version
            .references
            .iter()
            .map(|r| names::digest_text(&r.digest))
            .collect()
    }

    #[test]
    fn an_image_pushed_by_tag_becomes_its_sha256_version_with_the_tag() {
        let bytes = image().to_string().into_bytes();
        let digest = sha(&bytes);
        let plan = push("v1", OCI_MANIFEST, &bytes).unwrap();
        let [version] = plan.versions.as_slice() else {
            panic!("one version")
        };
        assert_eq!(version.version, digest);
        assert!(matches!(version.mode, VersionMode::CreateOrExtend));
        assert_eq!(version.tags.len(), 1);
        assert_eq!(
            (version.tags[0].tag.as_str(), version.tags[0].remove),
            ("v1", false)
        );
        let file = &version.files[0];
        assert_eq!(
            (file.name.as_str(), file.content_type.as_str()),
            ("manifest", OCI_MANIFEST)
        );
        assert!(file.lead && file.overwrite && matches!(file.source, FileSource::Whole));
        assert_eq!(
            format!("sha256:{}", file.expect.as_ref().unwrap().hex),
            digest
        );
        assert_eq!(reference_digests(version), [config(), layer()]);
        assert_eq!(
            version.properties,
            [
                ("media-type".to_string(), OCI_MANIFEST.to_string()),
                (
                    "artifact-type".to_string(),
                    "application/vnd.oci.image.config.v1+json".to_string()
                ),
            ]
        );
        let metadata: Value = serde_json::from_str(&version.metadata).unwrap();
        assert_eq!(
            metadata,
            json!({"mediaType": OCI_MANIFEST, "size": bytes.len(),
                   "artifactType": "application/vnd.oci.image.config.v1+json"})
        );
        assert_eq!(plan.reply.status, 201);
        assert_eq!(
            header(&plan.reply, "location"),
            Some(format!("{BASE}/alice/app/manifests/{digest}").as_str())
        );
        assert_eq!(
            header(&plan.reply, "docker-content-digest"),
            Some(digest.as_str())
        );
        assert_eq!(header(&plan.reply, "oci-subject"), None);
    }

    #[test]
    fn a_referrer_records_its_subject_artifact_type_and_annotations() {
        let subject = sha(b"subject");
        let mut manifest = image();
        manifest["artifactType"] = json!("application/vnd.example.sig");
        manifest["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": subject, "size": 7});
        manifest["annotations"] = json!({"org.example.by": "alice"});
        let bytes = manifest.to_string().into_bytes();
        let digest = sha(&bytes);
        let plan = push(&digest, "", &bytes).unwrap();
        let version = &plan.versions[0];
        assert!(version.tags.is_empty(), "pushed by digest");
        assert!(
            version
                .properties
                .contains(&("subject".into(), subject.clone()))
        );
        assert!(
            version
                .properties
                .contains(&("artifact-type".into(), "application/vnd.example.sig".into()))
        );
        let metadata: Value = serde_json::from_str(&version.metadata).unwrap();
        assert_eq!(metadata["artifactType"], "application/vnd.example.sig");
        assert_eq!(metadata["annotations"]["org.example.by"], "alice");
        assert_eq!(header(&plan.reply, "oci-subject"), Some(subject.as_str()));
        // The subject is recorded, not required: it is not a reference.
        assert_eq!(reference_digests(version), [config(), layer()]);
    }

    #[test]
    fn indexes_and_docker_lists_reference_their_children() {
        let child = sha(b"child");
        let blobs = FakeBlobs(HashMap::from([(child.clone(), 5)]));
        for media_type in [OCI_INDEX, DOCKER_LIST] {
            let index = json!({
                "schemaVersion": 2, "mediaType": media_type,
                "manifests": [
                    {"mediaType": OCI_MANIFEST, "digest": child, "size": 5, "platform": {"os": "linux"}},
                    {"mediaType": OCI_MANIFEST, "digest": child, "size": 5},
                ],
            });
            let plan = push_to("multi", media_type, index.to_string().as_bytes(), &blobs).unwrap();
            let version = &plan.versions[0];
            assert_eq!(
                reference_digests(version),
                [child.as_str()],
                "de-duplicated"
            );
            assert_eq!(version.files[0].content_type, media_type);
            assert!(!version.properties.iter().any(|(n, _)| n == "artifact-type"));
        }
    }

    #[test]
    fn docker_manifests_and_foreign_layers() {
        let mut manifest = image();
        manifest["mediaType"] = json!(DOCKER_MANIFEST);
        manifest["layers"].as_array_mut().unwrap().push(
            json!({"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                         "digest": sha(b"windows"), "size": 9, "urls": ["https://example.com/l"]}),
        );
        let plan = push("latest", DOCKER_MANIFEST, manifest.to_string().as_bytes()).unwrap();
        assert_eq!(plan.versions[0].files[0].content_type, DOCKER_MANIFEST);
        assert_eq!(
            reference_digests(&plan.versions[0]),
            [config(), layer()],
            "the foreign layer is skipped"
        );
    }

    #[test]
    fn the_media_type_comes_from_the_header_or_the_body() {
        let mut manifest = image();
        manifest.as_object_mut().unwrap().remove("mediaType");
        let plan = push(
            "v1",
            &format!("{OCI_MANIFEST}; charset=utf-8"),
            manifest.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(plan.versions[0].files[0].content_type, OCI_MANIFEST);
        let plan = push("v1", "application/json", image().to_string().as_bytes()).unwrap();
        assert_eq!(plan.versions[0].files[0].content_type, OCI_MANIFEST);
        assert_eq!(
            refused("v1", OCI_INDEX, &image()),
            (400, "MANIFEST_INVALID".into())
        );
        assert_eq!(
            refused("v1", "", &manifest),
            (400, "MANIFEST_INVALID".into())
        );
        assert_eq!(
            refused("v1", "application/vnd.example+json", &image()),
            (400, "MANIFEST_INVALID".into())
        );
    }

    #[test]
    fn malformed_manifests_are_manifest_invalid() {
        let e = push("v1", OCI_MANIFEST, b"{not json").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "MANIFEST_INVALID"));
        let without = |field: &str| {
            let mut m = image();
            m.as_object_mut().unwrap().remove(field);
            m
        };
        let mut bad_descriptors = Vec::new();
        for (field, value) in [
            ("digest", json!("sha256:nope")),
            ("size", json!(-1)),
            ("mediaType", json!(3)),
        ] {
            let mut m = image();
            m["config"][field] = value;
            bad_descriptors.push(m);
        }
        let mut no_size = image();
        no_size["layers"][0].as_object_mut().unwrap().remove("size");
        for manifest in [
            json!({"schemaVersion": 1}),
            json!([]),
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST}),
            without("schemaVersion"),
            without("config"),
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}),
            no_size,
        ]
        .into_iter()
        .chain(bad_descriptors)
        {
            assert_eq!(
                refused("v1", "", &manifest),
                (400, "MANIFEST_INVALID".into()),
                "{manifest}"
            );
        }
    }

    #[test]
    fn missing_blobs_and_wrong_sizes_are_refused() {
        let mut missing = image();
        missing["layers"][0]["digest"] = json!(sha(b"never pushed"));
        assert_eq!(
            refused("v1", OCI_MANIFEST, &missing),
            (404, "MANIFEST_BLOB_UNKNOWN".into())
        );
        let mut wrong_size = image();
        wrong_size["layers"][0]["size"] = json!(12345);
        assert_eq!(
            refused("v1", OCI_MANIFEST, &wrong_size),
            (400, "SIZE_INVALID".into())
        );
    }

    #[test]
    fn a_digest_reference_must_match_the_bytes() {
        let bytes = image().to_string().into_bytes();
        assert_eq!(
            refused(&sha(b"other"), OCI_MANIFEST, &image()),
            (400, "DIGEST_INVALID".into())
        );
        let sha512 = format!("sha512:{}", hex(&Sha512::digest(&bytes)));
        let plan = push(&sha512, OCI_MANIFEST, &bytes).unwrap();
        assert_eq!(
            plan.versions[0].version,
            sha(&bytes),
            "versions are named by sha256"
        );
        assert_eq!(
            header(&plan.reply, "docker-content-digest"),
            Some(sha512.as_str())
        );
        // The host checks, then records, the digest the manifest was pushed as.
        let expect = plan.versions[0].files[0].expect.as_ref().unwrap();
        assert_eq!(names::digest_text(expect), sha512);
        let wrong512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(
            push(&wrong512, OCI_MANIFEST, &bytes).unwrap_err().code,
            "DIGEST_INVALID"
        );
    }

    /// An image of `n` distinct layers besides its config, and the blobs it needs.
    fn image_of(n: usize) -> (Value, FakeBlobs) {
        let mut blobs = blobs();
        let layers: Vec<Value> = (0..n)
            .map(|i| {
                let digest = sha(format!("layer {i}").as_bytes());
                blobs.0.insert(digest.clone(), 5);
                json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": 5})
            })
            .collect();
        let mut manifest = image();
        manifest["layers"] = Value::Array(layers);
        (manifest, blobs)
    }

    #[test]
    fn references_are_counted_once_up_to_the_default_limit() {
        let limit = DEFAULT_MAX_REFERENCES as usize;
        let (manifest, blobs) = image_of(limit - 1);
        let mut doubled = manifest.clone();
        let layers = doubled["layers"].as_array().unwrap().clone();
        doubled["layers"].as_array_mut().unwrap().extend(layers);
        for accepted in [manifest, doubled] {
            let plan =
                push_to("v1", OCI_MANIFEST, accepted.to_string().as_bytes(), &blobs).unwrap();
            assert_eq!(plan.versions[0].references.len(), limit);
        }
        let (over, blobs) = image_of(limit);
        let e = push_to("v1", OCI_MANIFEST, over.to_string().as_bytes(), &blobs).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "MANIFEST_INVALID"));
        assert!(e.message.contains("at most 10000 blobs"), "{}", e.message);
    }

    #[test]
    fn an_operator_may_lower_the_reference_limit() {
        // The config and three layers.
        let (manifest, blobs) = image_of(3);
        let body = manifest.to_string();
        let push_with = |limit: i64| {
            let settings = [(MAX_REFERENCES_SETTING, SettingValue::Integer(limit))];
            with_settings(&settings, || {
                push_to("v1", OCI_MANIFEST, body.as_bytes(), &blobs)
            })
        };
        assert!(push_to("v1", OCI_MANIFEST, body.as_bytes(), &blobs).is_ok());
        assert_eq!(push_with(4).unwrap().versions[0].references.len(), 4);
        let e = push_with(3).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "MANIFEST_INVALID"));
        assert!(e.message.contains("at most 3 blobs"), "{}", e.message);
    }

    #[test]
    fn the_reference_limit_is_declared_with_the_default_it_falls_back_to() {
        let declared = max_references_setting();
        assert_eq!(declared.name, "max-references");
        assert!(matches!(
            declared.default,
            SettingValue::Integer(DEFAULT_MAX_REFERENCES)
        ));
        let SettingKind::Integer(range) = declared.kind else {
            panic!("an integer setting")
        };
        assert!((range.min..=range.max).contains(&DEFAULT_MAX_REFERENCES));
        assert_eq!(range.min, 1, "every image manifest references its config");
        assert!(
            range.max as u64 * 110 > MAX_MANIFEST,
            "the most a 4 MiB manifest can name is allowed"
        );
        assert_eq!(max_references(), 10_000, "no setting given");
    }

    #[test]
    fn oversized_bodies_are_size_invalid() {
        let e = push("v1", OCI_MANIFEST, &vec![b' '; MAX_MANIFEST as usize + 1]).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (413, "SIZE_INVALID"));
    }
}
