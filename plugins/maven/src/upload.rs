//! What a deploy PUT means: a file added to its version (a POM also sets the version's
//! metadata), or a checksum that is compared with a stored file and then dropped.

use wharf_plugin_sdk::{
    FileSource, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan, Request, Response,
    Upload, UploadSpec, VersionMode, VersionRef, host, params,
};

use crate::path::{self, Artifact, Target, is_snapshot};
use crate::{checksum, pom};

/// The upload parameter `routes` sets: which kind of upload a PUT is, one of the two
/// values below.
pub const KIND: &str = "kind";
pub const FILE: &str = "file";
pub const CHECKSUM: &str = "checksum";

pub fn parse(
    request: &Request,
    spec: UploadSpec,
    body: &Upload,
) -> Result<PublishPlan, PluginError> {
    // The route put only the kind of upload into the params; the path says the rest.
    let Some(Target::File {
        artifact,
        version,
        file,
        checksum: digest,
    }) = path::parse_request(request)?
    else {
        return Err(mismatch());
    };
    match (params::text(&spec.params, KIND), digest) {
        (FILE, None) => {
            let metadata = if pom::is_pom(&file) {
                pom_metadata(&read_pom(body)?, &artifact, &version)?
            } else {
                // Empty keeps what a POM deployed earlier stored (OP-15).
                String::new()
            };
            Ok(file_plan(spec.pkg, version, file, metadata))
        }
        (CHECKSUM, Some(algorithm)) => {
            let target = VersionRef {
                pkg: spec.pkg.clone(),
                version,
            };
            let stored = host::file_digest(&target, &file, algorithm);
            checksum::verify(&body.read(0, checksum::MAX_BODY as u32), stored)?;
            Ok(checksum_accepted(spec.pkg))
        }
        _ => Err(mismatch()),
    }
}

fn mismatch() -> PluginError {
    PluginError::new(500, "the upload's kind does not match its path")
}

fn read_pom(body: &Upload) -> Result<Vec<u8>, PluginError> {
    // The route's max-size already holds large bodies back; this guards the read.
    let size = body.size();
    if size > pom::MAX_SIZE {
        return Err(PluginError::new(413, "a POM may be at most 4 MiB"));
    }
    Ok(body.read(0, size as u32))
}

/// Parses a POM, checks it against its path and renders the version metadata.
fn pom_metadata(bytes: &[u8], artifact: &Artifact, version: &str) -> Result<String, PluginError> {
    let pom = pom::parse(bytes)?;
    pom.check(artifact, version)?;
    Ok(pom.metadata(artifact, version))
}

/// Adds one file to its version, creating the version with the first file deployed.
/// Release files are immutable (a second deploy is a 409) so that builds stay
/// reproducible; snapshot files, the version-level `maven-metadata.xml` included, are
/// rewritten by every snapshot deploy.
fn file_plan(pkg: PackageRef, version: String, file: String, metadata: String) -> PublishPlan {
    let overwrite = is_snapshot(&version);
    PublishPlan {
        pkg,
        versions: vec![PlanVersion {
            references: Vec::new(),
            version,
            mode: VersionMode::CreateOrExtend,
            metadata,
            files: vec![PlanFile {
                content_type: content_type(&file).into(),
                // Downloads count POM fetches: every resolver reads the POM, while
                // the jar may be skipped (or be absent for `pom` packaging).
                lead: pom::is_pom(&file),
                overwrite,
                name: file,
                source: FileSource::Whole,
                expect: None,
            }],
            tags: Vec::new(),
            properties: Vec::new(),
        }],
        reply: Response::created(),
    }
}

/// A matching checksum changes nothing; Maven only needs the 200.
fn checksum_accepted(pkg: PackageRef) -> PublishPlan {
    PublishPlan {
        pkg,
        versions: Vec::new(),
        reply: acknowledged(),
    }
}

/// `200 OK` without a body: the answer to an upload Wharf checks or drops instead of
/// storing (a checksum, the client's copy of `maven-metadata.xml`).
pub fn acknowledged() -> Response {
    Response::new(200, "", Vec::new())
}

/// Content types as Gitea serves them.
fn content_type(file: &str) -> &'static str {
    if file.ends_with(".jar") {
        "application/java-archive"
    } else if file.ends_with(".pom") || file.ends_with(".xml") {
        "text/xml"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg() -> PackageRef {
        PackageRef {
            owner: "alice".into(),
            name: "com.example:lib".into(),
        }
    }

    fn lib() -> Artifact {
        Artifact {
            group: "com.example".into(),
            artifact: "lib".into(),
        }
    }

    fn only_file(plan: &PublishPlan) -> (&PlanVersion, &PlanFile) {
        let [version] = &plan.versions[..] else {
            panic!("one version expected");
        };
        let [file] = &version.files[..] else {
            panic!("one file expected");
        };
        (version, file)
    }

    #[test]
    fn release_files_extend_their_version_and_are_immutable() {
        let plan = file_plan(pkg(), "1.0".into(), "lib-1.0.jar".into(), String::new());
        let (version, file) = only_file(&plan);
        assert_eq!(version.version, "1.0");
        assert!(matches!(version.mode, VersionMode::CreateOrExtend));
        assert_eq!(version.metadata, "");
        assert_eq!(file.name, "lib-1.0.jar");
        assert!(matches!(file.source, FileSource::Whole));
        assert_eq!(file.content_type, "application/java-archive");
        assert!(!file.lead && !file.overwrite && file.expect.is_none());
        assert_eq!(plan.reply.status, 0);
    }

    #[test]
    fn poms_lead_and_snapshots_are_overwritable() {
        let plan = file_plan(
            pkg(),
            "1.0-SNAPSHOT".into(),
            "lib-1.0-20240101.120000-1.pom".into(),
            "{}".into(),
        );
        let (version, file) = only_file(&plan);
        assert_eq!(version.metadata, "{}");
        assert_eq!(file.content_type, "text/xml");
        assert!(file.lead && file.overwrite);
        let meta = file_plan(
            pkg(),
            "1.0-SNAPSHOT".into(),
            "maven-metadata.xml".into(),
            String::new(),
        );
        let (_, file) = only_file(&meta);
        assert_eq!(file.content_type, "text/xml");
        assert!(!file.lead && file.overwrite);
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("a.jar"), "application/java-archive");
        assert_eq!(content_type("a.pom"), "text/xml");
        assert_eq!(content_type("maven-metadata.xml"), "text/xml");
        assert_eq!(content_type("a.jar.asc"), "application/octet-stream");
        assert_eq!(content_type("a.module"), "application/octet-stream");
    }

    #[test]
    fn a_pom_becomes_metadata_only_if_it_matches_its_path() {
        let doc = b"<project><groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version><name>Lib</name></project>";
        let meta: serde_json::Value =
            serde_json::from_str(&pom_metadata(doc, &lib(), "1.0").unwrap()).unwrap();
        assert_eq!(meta["name"], "Lib");
        assert_eq!(pom_metadata(doc, &lib(), "2.0").unwrap_err().status, 400);
        assert_eq!(
            pom_metadata(b"<project>", &lib(), "1.0")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn a_matching_checksum_changes_nothing_and_answers_200() {
        let plan = checksum_accepted(pkg());
        assert!(plan.versions.is_empty());
        assert_eq!((plan.reply.status, plan.reply.body.len()), (200, 0));
    }
}
