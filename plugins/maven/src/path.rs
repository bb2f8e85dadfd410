//! The Maven 2 repository layout: what a request path names.
//!
//! `/{g1}/…/{gn}/{artifactId}/{version}/{file}` is a file of version `version` of the
//! package `g1.….gn:artifactId`. `maven-metadata.xml` directly below the artifact
//! directory is the artifact-level index Wharf renders; below a `-SNAPSHOT` version
//! directory it is an ordinary file the client writes. A trailing `.md5`, `.sha1`,
//! `.sha256` or `.sha512` names the checksum of the file without it. The rules follow
//! Gitea's `extractPathParameters`.

use wharf_plugin_sdk::{HashAlgorithm, PluginError, Request};

use crate::checksum;

/// The index file clients read to learn an artifact's versions.
pub const METADATA_FILE: &str = "maven-metadata.xml";

/// Characters Gitea refuses in coordinates; refused in every segment here, so that
/// nothing is stored under a name a Windows client or a shell cannot handle.
const ILLEGAL: &[char] = &['\\', '/', ':', '"', '<', '>', '|', '?', '*'];

/// A package: `groupId:artifactId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub group: String,
    pub artifact: String,
}

impl Artifact {
    /// The package name: `groupId:artifactId`. Neither part can hold a `:`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.group, self.artifact)
    }

    /// Splits a package name back into its coordinates.
    pub fn from_name(name: &str) -> Option<Self> {
        let (group, artifact) = name.rsplit_once(':')?;
        Some(Self {
            group: group.to_string(),
            artifact: artifact.to_string(),
        })
    }
}

/// What a path names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `/{g…}/{a}/maven-metadata.xml[.alg]`: the index Wharf renders.
    Metadata {
        artifact: Artifact,
        checksum: Option<HashAlgorithm>,
    },
    /// `/{g…}/{a}/{v}/{file}[.alg]`: a stored file, or its checksum.
    File {
        artifact: Artifact,
        version: String,
        file: String,
        checksum: Option<HashAlgorithm>,
    },
}

/// Parses the request's path; `None` for the bare mount, which names nothing.
pub fn parse_request(request: &Request) -> Result<Option<Target>, PluginError> {
    let segments = request
        .segments()
        .ok_or_else(|| PluginError::bad_request("invalid percent-encoding in path"))?;
    parse(&segments)
}

/// Parses decoded path segments (see the module header).
fn parse(segments: &[String]) -> Result<Option<Target>, PluginError> {
    let Some((last, dirs)) = segments.split_last() else {
        return Ok(None);
    };
    for segment in segments {
        validate_segment(segment)?;
    }
    let (file, checksum) = match checksum::split_suffix(last) {
        Some((file, algorithm)) => (file, Some(algorithm)),
        None => (last.as_str(), None),
    };
    validate_segment(file)?;

    let is_snapshot_dir = dirs.last().is_some_and(|d| is_snapshot(d));
    if file == METADATA_FILE && !is_snapshot_dir {
        return Ok(Some(Target::Metadata {
            artifact: artifact(dirs)?,
            checksum,
        }));
    }
    let Some((version, artifact_dirs)) = dirs.split_last() else {
        return Err(too_short());
    };
    Ok(Some(Target::File {
        artifact: artifact(artifact_dirs)?,
        version: version.clone(),
        file: file.to_string(),
        checksum,
    }))
}

/// Whether a version is a snapshot, which Maven decides by this exact suffix.
pub fn is_snapshot(version: &str) -> bool {
    version.ends_with("-SNAPSHOT")
}

/// The group directories and the artifact directory after them.
fn artifact(dirs: &[String]) -> Result<Artifact, PluginError> {
    match dirs {
        [group @ .., artifact] if !group.is_empty() => Ok(Artifact {
            group: group.join("."),
            artifact: artifact.clone(),
        }),
        _ => Err(too_short()),
    }
}

fn too_short() -> PluginError {
    PluginError::bad_request(
        "a Maven path is /{group dirs}/{artifactId}/{version}/{file}, with at least one group directory",
    )
}

fn validate_segment(segment: &str) -> Result<(), PluginError> {
    let invalid = |why: &str| {
        Err(PluginError::bad_request(format!(
            "invalid path segment {segment:?}: {why}"
        )))
    };
    if segment.is_empty() {
        return invalid("empty");
    }
    if segment == "." || segment == ".." {
        return invalid("dot segments are not allowed");
    }
    if segment.contains(ILLEGAL) || segment.chars().any(char::is_control) {
        return invalid(r#"control characters and any of \ / : " < > | ? * are not allowed"#);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;

    fn request(path: &str) -> Request {
        testing::request(wharf_plugin_sdk::Method::Get, path)
            .with_base_url("http://x/api/packages/alice/maven")
    }

    fn parse_path(path: &str) -> Result<Option<Target>, PluginError> {
        parse_request(&request(path))
    }

    fn artifact(group: &str, artifact: &str) -> Artifact {
        Artifact {
            group: group.into(),
            artifact: artifact.into(),
        }
    }

    fn file(
        a: Artifact,
        version: &str,
        name: &str,
        checksum: Option<HashAlgorithm>,
    ) -> Option<Target> {
        Some(Target::File {
            artifact: a,
            version: version.into(),
            file: name.into(),
            checksum,
        })
    }

    #[test]
    fn files_and_their_checksums() {
        let lib = || artifact("com.example", "lib");
        assert_eq!(
            parse_path("/com/example/lib/1.0/lib-1.0.jar").unwrap(),
            file(lib(), "1.0", "lib-1.0.jar", None)
        );
        assert_eq!(
            parse_path("/com/example/lib/1.0/lib-1.0.pom.sha1").unwrap(),
            file(lib(), "1.0", "lib-1.0.pom", Some(HashAlgorithm::Sha1))
        );
        assert_eq!(
            parse_path("/org/lib/2/lib-2-sources.jar.md5").unwrap(),
            file(
                artifact("org", "lib"),
                "2",
                "lib-2-sources.jar",
                Some(HashAlgorithm::Md5)
            )
        );
    }

    #[test]
    fn artifact_metadata_is_an_index() {
        assert_eq!(
            parse_path("/com/example/lib/maven-metadata.xml").unwrap(),
            Some(Target::Metadata {
                artifact: artifact("com.example", "lib"),
                checksum: None
            })
        );
        assert_eq!(
            parse_path("/com/example/lib/maven-metadata.xml.sha512").unwrap(),
            Some(Target::Metadata {
                artifact: artifact("com.example", "lib"),
                checksum: Some(HashAlgorithm::Sha512)
            })
        );
        // Like Gitea: below a release directory it names that directory's artifact.
        assert_eq!(
            parse_path("/com/example/lib/1.0/maven-metadata.xml").unwrap(),
            Some(Target::Metadata {
                artifact: artifact("com.example.lib", "1.0"),
                checksum: None
            })
        );
    }

    #[test]
    fn snapshot_metadata_is_a_stored_file() {
        assert_eq!(
            parse_path("/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml.md5").unwrap(),
            file(
                artifact("com.example", "lib"),
                "1.0-SNAPSHOT",
                "maven-metadata.xml",
                Some(HashAlgorithm::Md5)
            )
        );
        assert!(is_snapshot("1.0-SNAPSHOT"));
        assert!(!is_snapshot("1.0-snapshot"));
        assert!(!is_snapshot("1.0"));
    }

    #[test]
    fn too_few_segments_are_refused() {
        for path in [
            "/lib/1.0/lib-1.0.jar",
            "/lib-1.0.jar",
            "/lib/maven-metadata.xml",
            "/maven-metadata.xml",
            "/a.jar.sha1",
        ] {
            assert_eq!(parse_path(path).unwrap_err().status, 400, "{path}");
        }
        assert_eq!(parse_path("/").unwrap(), None);
    }

    #[test]
    fn traversal_empty_and_illegal_segments_are_refused() {
        for path in [
            "/com/example/../lib/1.0/a.jar",
            "/com/./lib/1.0/a.jar",
            "/com/example/lib/1.0/..",
            "/com/example/lib/..",
            "/com/example/lib/1.0/..sha1",
            "/com/example/lib/1.0/.sha1",
            "/com//lib/1.0/a.jar",
            "/com/example/lib/1.0/",
            "/com/ex:ample/lib/1.0/a.jar",
            "/com/example/lib/1.0/a\\b.jar",
            "/com/example/lib/1\"0/a.jar",
            "/com/example/lib/1.0/a<b.jar",
            "/com/example/lib/1.0/a>b.jar",
            "/com/example/lib/1.0/a|b.jar",
            "/com/example/lib/1.0/a?b.jar",
            "/com/example/lib/1.0/a*.jar",
            "/com/example/lib/1.0/a\nb.jar",
            "/com/example/lib/1.0/a\u{7f}.jar",
        ] {
            assert_eq!(parse_path(path).unwrap_err().status, 400, "{path:?}");
        }
    }

    #[test]
    fn encoded_separators_and_dots_do_not_get_through() {
        for path in [
            "/com/example/lib/1.0/a%2fb.jar",
            "/com/example/%2e%2e/1.0/a.jar",
            "/com/example/lib/1.0/%2E%2E",
            "/com/example/lib/1.0/bad%zz",
            "/com/example/lib/1.0/a%3Ab.jar",
        ] {
            assert_eq!(parse_path(path).unwrap_err().status, 400, "{path}");
        }
        assert!(matches!(
            parse_path("/com/example/lib/1.0/a%20b.jar").unwrap(),
            Some(Target::File { file, .. }) if file == "a b.jar"
        ));
    }

    #[test]
    fn names_round_trip() {
        let a = artifact("com.example.deep", "lib-core");
        assert_eq!(a.name(), "com.example.deep:lib-core");
        assert_eq!(Artifact::from_name(&a.name()), Some(a));
        assert_eq!(Artifact::from_name("nocolon"), None);
    }
}
