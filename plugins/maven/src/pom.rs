//! Reading a deployed POM: the coordinates it claims, and what Wharf keeps of it as
//! the version's metadata.
//!
//! POMs come from any client, so they are walked with the SDK's [`xml`] module, which
//! refuses DTDs and every entity but XML's five predefined ones and character
//! references: no entity expansion bombs ("billion laughs"), no external entities
//! (XXE). Maven itself never writes a DTD into a POM.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use wharf_plugin_sdk::PluginError;
use wharf_plugin_sdk::xml::{self, XmlError};

use crate::path::Artifact;

/// Largest POM read. Real POMs are a few KiB; flattened ones with long dependency
/// lists stay well below this.
pub const MAX_SIZE: u64 = 4 << 20;

/// Children of `<project>` kept in the metadata.
const PROJECT_FIELDS: &[&str] = &[
    "groupId",
    "artifactId",
    "version",
    "packaging",
    "name",
    "description",
    "url",
];
const PARENT_FIELDS: &[&str] = &["groupId", "artifactId", "version"];
const LICENSE_FIELDS: &[&str] = &["name", "url"];
const DEPENDENCY_FIELDS: &[&str] = &[
    "groupId",
    "artifactId",
    "version",
    "scope",
    "optional",
    "classifier",
    "type",
];

/// Encoding labels of Latin-1, which old POMs still declare. Every other declared
/// encoding is read as UTF-8 (and fails if it is not).
const LATIN1_LABELS: &[&str] = &["iso-8859-1", "iso8859-1", "latin1", "l1", "iso_8859-1"];

/// Whether a file is a POM (the lead file of a version, parsed on deploy).
pub fn is_pom(file: &str) -> bool {
    file.ends_with(".pom")
}

/// Element name → trimmed text, named as in the POM so the metadata reads like it.
type Fields = BTreeMap<String, String>;

/// What Wharf reads from a POM. Values are as written: properties (`${…}`) are not
/// interpolated, as that needs the parent POM and the build's own settings.
#[derive(Debug, Default, PartialEq)]
pub struct Pom {
    project: Fields,
    /// Empty when the POM has no parent.
    parent: Fields,
    licenses: Vec<Fields>,
    dependencies: Vec<Fields>,
}

impl Pom {
    /// The effective groupId: the project's own, else its parent's.
    pub fn group_id(&self) -> Option<&str> {
        self.inherited("groupId")
    }

    pub fn artifact_id(&self) -> Option<&str> {
        self.project.get("artifactId").map(String::as_str)
    }

    /// The effective version: the project's own, else its parent's.
    pub fn version(&self) -> Option<&str> {
        self.inherited("version")
    }

    fn inherited(&self, field: &str) -> Option<&str> {
        self.project
            .get(field)
            .or_else(|| self.parent.get(field))
            .map(String::as_str)
    }

    /// Checks that the POM describes the artifact and version its path names, so
    /// that no POM is stored where resolvers would take it for another artifact.
    pub fn check(&self, artifact: &Artifact, version: &str) -> Result<(), PluginError> {
        for (label, claimed, expected) in [
            ("groupId", self.group_id(), artifact.group.as_str()),
            ("artifactId", self.artifact_id(), artifact.artifact.as_str()),
            ("version", self.version(), version),
        ] {
            match claimed {
                None => {
                    return Err(PluginError::bad_request(format!("the POM has no {label}")));
                }
                // An expression's value comes from the build (`-Drevision=…`), so the
                // path is the best account of it there is.
                Some(claimed) if claimed == expected || claimed.contains("${") => {}
                Some(claimed) => {
                    return Err(PluginError::bad_request(format!(
                        "the POM's {label} {claimed:?} differs from the path's {expected:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The version metadata: the POM's fields under their POM names, with the
    /// coordinates the version is stored under (the POM may inherit or compute them).
    pub fn metadata(&self, artifact: &Artifact, version: &str) -> String {
        let mut doc = object(&self.project);
        doc.insert("groupId".into(), artifact.group.clone().into());
        doc.insert("artifactId".into(), artifact.artifact.clone().into());
        doc.insert("version".into(), version.into());
        if !self.parent.is_empty() {
            doc.insert("parent".into(), Value::Object(object(&self.parent)));
        }
        for (key, list) in [
            ("licenses", &self.licenses),
            ("dependencies", &self.dependencies),
        ] {
            if !list.is_empty() {
                let items = list.iter().map(|f| Value::Object(object(f))).collect();
                doc.insert(key.into(), Value::Array(items));
            }
        }
        Value::Object(doc).to_string()
    }
}

fn object(fields: &Fields) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// Parses a POM; every failure is a 400 saying what is wrong.
pub fn parse(bytes: &[u8]) -> Result<Pom, PluginError> {
    let latin1;
    let bytes = if declares_latin1(bytes) {
        latin1 = bytes.iter().map(|&b| char::from(b)).collect::<String>();
        latin1.as_bytes()
    } else {
        bytes
    };
    let mut builder = Builder::default();
    xml::walk(bytes, "project", &mut builder).map_err(malformed)?;
    Ok(builder.pom)
}

fn malformed(error: XmlError) -> PluginError {
    PluginError::bad_request(format!("malformed POM: {error}"))
}

/// Whether the XML declaration names Latin-1, whose bytes are then read as the
/// code points they stand for.
fn declares_latin1(bytes: &[u8]) -> bool {
    xml::declared_encoding(bytes)
        .is_some_and(|label| LATIN1_LABELS.iter().any(|l| label.eq_ignore_ascii_case(l)))
}

/// Collects the fields of interest as their elements close.
#[derive(Default)]
struct Builder {
    pom: Pom,
    license: Fields,
    dependency: Fields,
}

impl xml::Handler for Builder {
    /// An element at `path` closed with `text` inside. Only exact paths count: the
    /// dependencies of `<dependencyManagement>` or of a profile are not the artifact's.
    fn end(&mut self, path: &[&str], text: &str) {
        let (fields, allowed, field) = match path {
            ["project", "licenses", "license"] => {
                self.pom.licenses.push(std::mem::take(&mut self.license));
                return;
            }
            ["project", "dependencies", "dependency"] => {
                let dependency = std::mem::take(&mut self.dependency);
                self.pom.dependencies.push(dependency);
                return;
            }
            ["project", field] => (&mut self.pom.project, PROJECT_FIELDS, *field),
            ["project", "parent", field] => (&mut self.pom.parent, PARENT_FIELDS, *field),
            ["project", "licenses", "license", field] => {
                (&mut self.license, LICENSE_FIELDS, *field)
            }
            ["project", "dependencies", "dependency", field] => {
                (&mut self.dependency, DEPENDENCY_FIELDS, *field)
            }
            _ => return,
        };
        if allowed.contains(&field) && !text.is_empty() {
            fields.insert(field.to_string(), text.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.example</groupId>
    <artifactId>parent</artifactId>
    <version>7</version>
    <relativePath/>
  </parent>
  <groupId>com.example</groupId>
  <artifactId>lib</artifactId>
  <version>1.0</version>
  <packaging>jar</packaging>
  <name>Lib &amp; friends &#x263A;</name>
  <description><![CDATA[Says <hello>]]></description>
  <url>https://example.com/lib</url>
  <licenses>
    <license>
      <name>Apache-2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0</url>
      <distribution>repo</distribution>
    </license>
    <license><name>MIT</name></license>
  </licenses>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>managed</groupId><artifactId>only</artifactId></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>junit</groupId>
      <artifactId>junit</artifactId>
      <version>${junit.version}</version>
      <scope>test</scope>
    </dependency>
    <dependency>
      <groupId>org.example</groupId>
      <artifactId>natives</artifactId>
      <version>2.1</version>
      <classifier>linux</classifier>
      <type>zip</type>
      <optional>true</optional>
      <exclusions><exclusion><groupId>x</groupId></exclusion></exclusions>
    </dependency>
  </dependencies>
  <profiles>
    <profile>
      <dependencies><dependency><groupId>profile</groupId></dependency></dependencies>
    </profile>
  </profiles>
</project>
"#;

    fn lib() -> Artifact {
        Artifact {
            group: "com.example".into(),
            artifact: "lib".into(),
        }
    }

    #[test]
    fn reads_everything_wharf_keeps() {
        let pom = parse(FULL.as_bytes()).unwrap();
        assert_eq!(pom.group_id(), Some("com.example"));
        assert_eq!(pom.artifact_id(), Some("lib"));
        assert_eq!(pom.version(), Some("1.0"));
        pom.check(&lib(), "1.0").unwrap();
        let meta: Value = serde_json::from_str(&pom.metadata(&lib(), "1.0")).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({
                "groupId": "com.example",
                "artifactId": "lib",
                "version": "1.0",
                "packaging": "jar",
                "name": "Lib & friends \u{263A}",
                "description": "Says <hello>",
                "url": "https://example.com/lib",
                "parent": {"groupId": "com.example", "artifactId": "parent", "version": "7"},
                "licenses": [
                    {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
                    {"name": "MIT"}
                ],
                "dependencies": [
                    {"groupId": "junit", "artifactId": "junit", "version": "${junit.version}", "scope": "test"},
                    {"groupId": "org.example", "artifactId": "natives", "version": "2.1",
                     "classifier": "linux", "type": "zip", "optional": "true"}
                ]
            })
        );
    }

    #[test]
    fn group_and_version_are_inherited_from_the_parent() {
        let pom = parse(
            br#"<project><parent><groupId>com.example</groupId><artifactId>p</artifactId>
                <version>2.0-SNAPSHOT</version></parent><artifactId>lib</artifactId></project>"#,
        )
        .unwrap();
        assert_eq!(pom.group_id(), Some("com.example"));
        assert_eq!(pom.version(), Some("2.0-SNAPSHOT"));
        pom.check(&lib(), "2.0-SNAPSHOT").unwrap();
        let meta: Value = serde_json::from_str(&pom.metadata(&lib(), "2.0-SNAPSHOT")).unwrap();
        assert_eq!(meta["groupId"], "com.example");
        assert_eq!(meta["version"], "2.0-SNAPSHOT");
        assert_eq!(meta["parent"]["artifactId"], "p");
        assert!(meta.get("licenses").is_none() && meta.get("dependencies").is_none());
    }

    #[test]
    fn the_project_overrides_its_parent() {
        let pom = parse(
            br#"<project><parent><groupId>org.parent</groupId><version>1</version></parent>
                <groupId>com.example</groupId><artifactId>lib</artifactId><version>3</version></project>"#,
        )
        .unwrap();
        assert_eq!(
            (pom.group_id(), pom.version()),
            (Some("com.example"), Some("3"))
        );
    }

    #[test]
    fn coordinates_must_match_the_path() {
        let pom = |g: &str, a: &str, v: &str| {
            parse(
                format!("<project><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></project>")
                    .as_bytes(),
            )
            .unwrap()
        };
        assert!(
            pom("com.example", "lib", "1.0")
                .check(&lib(), "1.0")
                .is_ok()
        );
        for (g, a, v) in [
            ("com.other", "lib", "1.0"),
            ("com.example", "lib2", "1.0"),
            ("com.example", "lib", "1.1"),
            ("com.example", "LIB", "1.0"),
        ] {
            let err = pom(g, a, v).check(&lib(), "1.0").unwrap_err();
            assert_eq!(err.status, 400, "{g}:{a}:{v}");
            assert!(
                err.message.contains("differs from the path"),
                "{}",
                err.message
            );
        }
        // CI-friendly versions: the value is the build's, the path is all we know.
        assert!(
            pom("com.example", "lib", "${revision}")
                .check(&lib(), "1.0")
                .is_ok()
        );
    }

    #[test]
    fn missing_coordinates_are_refused() {
        for (doc, missing) in [
            (
                "<project><artifactId>lib</artifactId><version>1</version></project>",
                "groupId",
            ),
            (
                "<project><groupId>com.example</groupId><version>1</version></project>",
                "artifactId",
            ),
            (
                "<project><groupId>com.example</groupId><artifactId>lib</artifactId></project>",
                "version",
            ),
            (
                "<project><groupId>com.example</groupId><artifactId>lib</artifactId><version> </version></project>",
                "version",
            ),
            ("<project/>", "groupId"),
        ] {
            let err = parse(doc.as_bytes())
                .unwrap()
                .check(&lib(), "1")
                .unwrap_err();
            assert_eq!(err.message, format!("the POM has no {missing}"), "{doc}");
        }
    }

    // The refusals themselves are the SDK's (`wharf_plugin_sdk::xml`) and tested there;
    // these show that a POM is walked with them and each becomes a 400.

    #[test]
    fn dtds_and_entities_are_refused() {
        let xxe = r#"<!DOCTYPE project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <project><name>&xxe;</name></project>"#;
        let err = parse(xxe.as_bytes()).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("DTD"), "{}", err.message);
        let undeclared = parse(b"<project><name>&xxe;</name></project>").unwrap_err();
        assert_eq!(undeclared.status, 400);
        assert!(undeclared.message.contains("undeclared entity &xxe;"));
    }

    #[test]
    fn malformed_documents_are_400_with_a_reason() {
        let deep = format!(
            "<project>{}{}</project>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        for (doc, reason) in [
            ("", "no <project> element"),
            ("<project><groupId>a</artifactId></project>", ""),
            (
                "<settings/>",
                "the root element is <settings>, not <project>",
            ),
            (
                "<project/><project/>",
                "content after the <project> element",
            ),
            (&deep, "too deeply"),
        ] {
            let err = parse(doc.as_bytes()).unwrap_err();
            assert_eq!(err.status, 400, "{doc}");
            let message = err.message.strip_prefix("malformed POM: ");
            assert!(
                message.is_some_and(|m| m.contains(reason)),
                "{}",
                err.message
            );
        }
        assert_eq!(parse(&[b'<', 0xff, b'>']).unwrap_err().status, 400);
    }

    #[test]
    fn prefixed_names_byte_order_marks_and_latin1_are_read() {
        let prefixed = parse(
            br#"<m:project xmlns:m="http://maven.apache.org/POM/4.0.0"><m:artifactId>lib</m:artifactId></m:project>"#,
        )
        .unwrap();
        assert_eq!(prefixed.artifact_id(), Some("lib"));

        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(
            b"<?xml version=\"1.0\"?><project><artifactId>lib</artifactId></project>",
        );
        assert_eq!(parse(&bom).unwrap().artifact_id(), Some("lib"));

        let mut latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><project><name>J".to_vec();
        latin1.push(0xfc); // ü
        latin1.extend_from_slice(b"rgen</name></project>");
        let pom = parse(&latin1).unwrap();
        let meta: Value = serde_json::from_str(&pom.metadata(&lib(), "1")).unwrap();
        assert_eq!(meta["name"], "J\u{fc}rgen");
        // Undeclared, the same byte is invalid UTF-8.
        let mut undeclared = b"<project><name>J".to_vec();
        undeclared.push(0xfc);
        undeclared.extend_from_slice(b"rgen</name></project>");
        assert_eq!(parse(&undeclared).unwrap_err().status, 400);
    }

    #[test]
    fn pom_files_are_recognised_by_extension() {
        assert!(is_pom("lib-1.0.pom"));
        assert!(is_pom("lib-1.0-20240101.120000-1.pom"));
        assert!(!is_pom("lib-1.0.pom.asc"));
        assert!(!is_pom("lib-1.0.jar"));
    }
}
