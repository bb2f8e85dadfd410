//! The artifact-level `maven-metadata.xml`, rendered from the stored versions.
//!
//! Resolvers read it to expand version ranges, `LATEST` and `RELEASE`, and deploys read
//! it before writing. Rendering it (instead of storing the copy each deploy uploads)
//! keeps it consistent with the versions under concurrent deploys; the host serves its
//! checksums from the same cached bytes.

use quick_xml::escape::escape;
use wharf_plugin_sdk::{IndexInput, PackageDetail, PluginError, Response, xml};

use crate::path::{Artifact, is_snapshot};
use crate::routes::METADATA_VIEW;
use wharf_plugin_sdk::time::{compact as maven_timestamp, http_date};

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    if input.spec.view != METADATA_VIEW {
        return Err(PluginError::new(
            500,
            format!("unknown maven view {:?}", input.spec.view),
        ));
    }
    let detail = input
        .detail
        .as_ref()
        .filter(|d| !d.versions.is_empty())
        .ok_or_else(|| PluginError::not_found("package not found"))?;
    let body = document(detail)?;
    Ok(Response::new(200, "text/xml", body).header("last-modified", http_date(detail.modified)))
}

/// The document. Versions stay in the host's order, oldest first, as Gitea lists them:
/// Maven versions are free-form, and resolvers sort them by their own rules anyway.
fn document(detail: &PackageDetail) -> Result<String, PluginError> {
    let Artifact { group, artifact } = Artifact::from_name(&detail.pkg.name).ok_or_else(|| {
        PluginError::new(
            500,
            format!("stored name {:?} is not group:artifact", detail.pkg.name),
        )
    })?;
    let versions: Vec<&str> = detail.versions.iter().map(|v| v.version.as_str()).collect();
    let latest = versions.last().copied();
    let release = versions.iter().rev().copied().find(|v| !is_snapshot(v));
    Ok(write(&Versioning {
        group: &group,
        artifact: &artifact,
        latest,
        release,
        versions: &versions,
        last_updated: &maven_timestamp(detail.modified),
    }))
}

/// What an artifact-level `maven-metadata.xml` says.
pub struct Versioning<'a> {
    pub group: &'a str,
    pub artifact: &'a str,
    pub latest: Option<&'a str>,
    /// Absent, not empty, when every version is a snapshot: `RELEASE` then resolves to
    /// nothing instead of to a snapshot.
    pub release: Option<&'a str>,
    pub versions: &'a [&'a str],
    /// `yyyyMMddHHmmss`, UTC.
    pub last_updated: &'a str,
}

/// The document, in the shape Wharf serves it (hosted, and merged for groups).
pub fn write(versioning: &Versioning<'_>) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    element(&mut xml, 1, "groupId", versioning.group);
    element(&mut xml, 1, "artifactId", versioning.artifact);
    xml.push_str("  <versioning>\n");
    if let Some(latest) = versioning.latest {
        element(&mut xml, 2, "latest", latest);
    }
    if let Some(release) = versioning.release {
        element(&mut xml, 2, "release", release);
    }
    xml.push_str("    <versions>\n");
    for version in versioning.versions {
        element(&mut xml, 3, "version", version);
    }
    xml.push_str("    </versions>\n");
    element(&mut xml, 2, "lastUpdated", versioning.last_updated);
    xml.push_str("  </versioning>\n</metadata>\n");
    xml
}

/// What Wharf reads back from an artifact-level `maven-metadata.xml` (a member's, to
/// merge it; an upstream's, to check it is one). A group-level document (the plugins of
/// a group, for prefix resolution) reads as one without versions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub group: String,
    pub artifact: String,
    pub versions: Vec<String>,
    pub last_updated: String,
}

impl xml::Handler for Read {
    fn end(&mut self, path: &[&str], text: &str) {
        match path {
            ["metadata", "groupId"] => self.group = text.to_string(),
            ["metadata", "artifactId"] => self.artifact = text.to_string(),
            ["metadata", "versioning", "versions", "version"] if !text.is_empty() => {
                self.versions.push(text.to_string());
            }
            ["metadata", "versioning", "lastUpdated"] => self.last_updated = text.to_string(),
            _ => {}
        }
    }
}

/// Reads a `maven-metadata.xml`; refuses anything but a `<metadata>` document, and
/// DTDs and entities (see the SDK's `xml`).
pub fn read(bytes: &[u8]) -> Result<Read, xml::XmlError> {
    let mut read = Read::default();
    xml::walk(bytes, "metadata", &mut read)?;
    Ok(read)
}

/// One text element on its own line, indented two spaces per level.
fn element(xml: &mut String, depth: usize, name: &str, value: &str) {
    xml.push_str(&"  ".repeat(depth));
    xml.push_str(&format!("<{name}>{}</{name}>\n", escape(value)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::{HashAlgorithm, IndexSpec, PackageRef, VersionDetail};

    fn version(v: &str, created: i64) -> VersionDetail {
        VersionDetail {
            version: v.into(),
            // A version created by its jar has no metadata until the POM arrives.
            metadata: String::new(),
            created,
            downloads: 0,
            files: Vec::new(),
            properties: Vec::new(),
        }
    }

    fn input(
        name: &str,
        versions: Vec<VersionDetail>,
        digest_of: Option<HashAlgorithm>,
    ) -> IndexInput {
        let pkg = PackageRef {
            owner: "alice".into(),
            name: name.into(),
        };
        IndexInput {
            base_url: "http://x/api/packages/alice/maven".into(),
            owner: Some("alice".into()),
            spec: IndexSpec {
                pkg: Some(pkg.clone()),
                view: METADATA_VIEW.into(),
                params: Vec::new(),
                digest_of,
                listing: None,
            },
            detail: Some(PackageDetail {
                pkg,
                created: 0,
                modified: 1_795_662_495,
                versions,
                tags: Vec::new(),
            }),
            listing: Vec::new(),
            listing_total: 0,
            rendered_at: wharf_plugin_sdk::testing::RENDERED_AT,
        }
    }

    fn render_text(input: &IndexInput) -> String {
        let response = render(input).unwrap();
        assert_eq!(
            (response.status, response.content_type.as_str()),
            (200, "text/xml")
        );
        assert_eq!(
            response.headers,
            [(
                "last-modified".to_string(),
                "Thu, 26 Nov 2026 03:08:15 GMT".to_string()
            )]
        );
        String::from_utf8(response.body).unwrap()
    }

    #[test]
    fn lists_versions_in_creation_order_with_latest_and_release() {
        let xml = render_text(&input(
            "com.example:lib",
            vec![
                version("2.0", 10),
                version("1.5", 20),
                version("2.1-SNAPSHOT", 30),
            ],
            None,
        ));
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com.example</groupId>
  <artifactId>lib</artifactId>
  <versioning>
    <latest>2.1-SNAPSHOT</latest>
    <release>1.5</release>
    <versions>
      <version>2.0</version>
      <version>1.5</version>
      <version>2.1-SNAPSHOT</version>
    </versions>
    <lastUpdated>20261126030815</lastUpdated>
  </versioning>
</metadata>
"#
        );
    }

    #[test]
    fn release_is_omitted_when_every_version_is_a_snapshot() {
        let xml = render_text(&input(
            "com.example:lib",
            vec![version("1.0-SNAPSHOT", 1), version("1.1-SNAPSHOT", 2)],
            None,
        ));
        assert!(xml.contains("<latest>1.1-SNAPSHOT</latest>"));
        assert!(!xml.contains("<release>"));
    }

    #[test]
    fn text_is_escaped() {
        let xml = render_text(&input("org.a&b:it's", vec![version("1&2", 1)], None));
        assert!(xml.contains("<groupId>org.a&amp;b</groupId>"));
        assert!(xml.contains("<artifactId>it&apos;s</artifactId>"));
        assert!(xml.contains("<version>1&amp;2</version>"));
    }

    #[test]
    fn the_digest_variant_renders_the_same_document() {
        // The host hashes the body itself; the plugin must not vary it.
        let versions = || vec![version("1.0", 1)];
        assert_eq!(
            render_text(&input("g:a", versions(), None)),
            render_text(&input("g:a", versions(), Some(HashAlgorithm::Sha1)))
        );
    }

    #[test]
    fn a_missing_or_empty_package_is_not_found() {
        let mut missing = input("g:a", vec![version("1", 1)], None);
        missing.detail = None;
        assert_eq!(render(&missing).unwrap_err().status, 404);
        assert_eq!(
            render(&input("g:a", Vec::new(), None)).unwrap_err().status,
            404
        );
        let mut other = input("g:a", vec![version("1", 1)], None);
        other.spec.view = "packument".into();
        assert_eq!(render(&other).unwrap_err().status, 500);
    }
}
