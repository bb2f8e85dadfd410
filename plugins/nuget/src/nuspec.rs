//! Reading a nuspec: the package's id and version, and the fields the feeds show.
//!
//! Nuspecs come from any client, so they are walked with the SDK's [`xml`] module,
//! which refuses DTDs and every entity but XML's five predefined ones and character
//! references: no entity expansion bombs, no external entities. `nuget pack` never
//! writes a DTD. Each schema version has its own namespace (`…/2010/07/nuspec.xsd` to
//! `…/2013/05/nuspec.xsd`, or none), which the walk's local names leave out.

use wharf_plugin_sdk::PluginError;
use wharf_plugin_sdk::xml::{self, Attributes, XmlError};

use crate::metadata::{Dependency, DependencyGroup, License, Metadata, PackageType, Repository};
use crate::routes::is_valid_id;
use crate::version::Version;

/// A parsed nuspec.
#[derive(Debug)]
pub struct Nuspec {
    /// The metadata to store, with `version` in its full normalized form.
    pub metadata: Metadata,
    pub version: Version,
}

/// Parses a nuspec and checks its id and version; every failure is a 400 saying why.
pub fn parse(bytes: &[u8]) -> Result<Nuspec, PluginError> {
    let mut metadata = read(bytes)?;
    if metadata.id.is_empty() {
        return Err(PluginError::bad_request("the nuspec has no <id>"));
    }
    if !is_valid_id(&metadata.id) {
        return Err(PluginError::bad_request(format!(
            "the package id {:?} is not valid: use letters, digits and _ separated by single . or -",
            metadata.id
        )));
    }
    let version = Version::parse(&metadata.version).ok_or_else(|| {
        PluginError::bad_request(format!(
            "the package version {:?} is not a valid NuGet version",
            metadata.version
        ))
    })?;
    metadata.version = version.full();
    metadata.semver2 = version.is_semver2();
    Ok(Nuspec { metadata, version })
}

/// The fields of `<package><metadata>`, as written.
fn read(bytes: &[u8]) -> Result<Metadata, PluginError> {
    // The walk drops a UTF-8 byte order mark itself.
    let mut builder = Builder::default();
    xml::walk(bytes, "package", &mut builder).map_err(malformed)?;
    Ok(builder.metadata)
}

fn malformed(error: XmlError) -> PluginError {
    PluginError::bad_request(format!("malformed nuspec: {error}"))
}

/// The value of attribute `name`, trimmed; empty when absent.
fn attribute(attributes: &Attributes, name: &str) -> String {
    attributes
        .get(name)
        .map(str::trim)
        .unwrap_or_default()
        .to_string()
}

/// Collects the metadata as elements open (attributes) and close (text).
#[derive(Default)]
struct Builder {
    metadata: Metadata,
    /// Index of the group collecting `<dependency>` elements outside any `<group>`.
    flat_group: Option<usize>,
}

impl xml::Handler for Builder {
    /// Only exact paths count: a `<dependency>` elsewhere is not the package's.
    fn start(&mut self, path: &[&str], attributes: &Attributes) {
        let get = |name| attribute(attributes, name);
        let metadata = &mut self.metadata;
        match path {
            ["package", "metadata"] => metadata.min_client_version = get("minClientVersion"),
            ["package", "metadata", "license"] => {
                metadata.license = Some(License {
                    kind: get("type"),
                    value: String::new(),
                });
            }
            ["package", "metadata", "repository"] => {
                metadata.repository = Some(Repository {
                    kind: get("type"),
                    url: get("url"),
                    branch: get("branch"),
                    commit: get("commit"),
                });
            }
            ["package", "metadata", "packageTypes", "packageType"] => {
                metadata.package_types.push(PackageType {
                    name: get("name"),
                    version: get("version"),
                });
            }
            ["package", "metadata", "dependencies", "group"] => {
                metadata.dependency_groups.push(DependencyGroup {
                    target_framework: get("targetFramework"),
                    dependencies: Vec::new(),
                });
            }
            ["package", "metadata", "dependencies", "group", "dependency"] => {
                // The group was pushed when `<group>` opened.
                if let Some(group) = metadata.dependency_groups.last_mut() {
                    group.dependencies.push(dependency(attributes));
                }
            }
            ["package", "metadata", "dependencies", "dependency"] => {
                let groups = &mut metadata.dependency_groups;
                let index = *self.flat_group.get_or_insert_with(|| {
                    groups.push(DependencyGroup::default());
                    groups.len() - 1
                });
                groups[index].dependencies.push(dependency(attributes));
            }
            _ => {}
        }
    }

    fn end(&mut self, path: &[&str], text: &str) {
        let ["package", "metadata", field] = path else {
            return;
        };
        let metadata = &mut self.metadata;
        let slot = match *field {
            "id" => &mut metadata.id,
            "version" => &mut metadata.version,
            "title" => &mut metadata.title,
            "authors" => &mut metadata.authors,
            "owners" => &mut metadata.owners,
            "description" => &mut metadata.description,
            "summary" => &mut metadata.summary,
            "releaseNotes" => &mut metadata.release_notes,
            "copyright" => &mut metadata.copyright,
            "language" => &mut metadata.language,
            "tags" => &mut metadata.tags,
            "projectUrl" => &mut metadata.project_url,
            "iconUrl" => &mut metadata.icon_url,
            "icon" => &mut metadata.icon,
            "licenseUrl" => &mut metadata.license_url,
            "readme" => &mut metadata.readme,
            "license" => match metadata.license.as_mut() {
                Some(license) => &mut license.value,
                None => return,
            },
            "requireLicenseAcceptance" => {
                metadata.require_license_acceptance = is_true(text);
                return;
            }
            "developmentDependency" => {
                metadata.development_dependency = is_true(text);
                return;
            }
            _ => return,
        };
        *slot = text.to_string();
    }
}

fn dependency(attributes: &Attributes) -> Dependency {
    Dependency {
        id: attribute(attributes, "id"),
        range: attribute(attributes, "version"),
        exclude: attribute(attributes, "exclude"),
        include: attribute(attributes, "include"),
    }
}

/// NuGet reads these flags with `bool.Parse`: `true` in any case.
fn is_true(text: &str) -> bool {
    text.eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A nuspec with `metadata` inside, in the namespace `nuget pack` writes today.
    fn nuspec(metadata: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>{metadata}</metadata>
  <files><file src="x" target="lib"/></files>
</package>"#
        )
    }

    fn minimal(id: &str, version: &str) -> String {
        nuspec(&format!(
            "<id>{id}</id><version>{version}</version><authors>a</authors><description>d</description>"
        ))
    }

    fn parse_str(doc: &str) -> Result<Nuspec, PluginError> {
        parse(doc.as_bytes())
    }

    fn refused(doc: &str, expected: &str) {
        let err = parse_str(doc).unwrap_err();
        assert_eq!(err.status, 400, "{doc}");
        assert!(err.message.contains(expected), "{}", err.message);
    }

    #[test]
    fn every_field_is_read() {
        let doc = nuspec(
            r#"
    <id>Contoso.Utility</id>
    <version>1.02.0-Beta.1+git.abc</version>
    <title>Utility &amp; more</title>
    <authors>Jane, John</authors>
    <owners>Contoso</owners>
    <description><![CDATA[Does <things>]]></description>
    <summary>Short</summary>
    <releaseNotes>Fixed &#x263A;</releaseNotes>
    <copyright>© Contoso</copyright>
    <language>en-US</language>
    <tags>util tools</tags>
    <projectUrl>https://example.com</projectUrl>
    <iconUrl>https://example.com/icon.png</iconUrl>
    <icon>images/icon.png</icon>
    <licenseUrl>https://licenses.nuget.org/MIT</licenseUrl>
    <license type="expression">MIT</license>
    <readme>docs/README.md</readme>
    <requireLicenseAcceptance>True</requireLicenseAcceptance>
    <developmentDependency>true</developmentDependency>
    <repository type="git" url="https://github.com/contoso/u" branch="main" commit="abc123"/>
    <packageTypes><packageType name="DotnetTool" version="1.0"/></packageTypes>
    <serviceable>true</serviceable>"#,
        )
        .replace("<metadata>", r#"<metadata minClientVersion="5.0">"#);
        let parsed = parse_str(&doc).unwrap();
        let m = &parsed.metadata;
        assert_eq!(m.id, "Contoso.Utility");
        assert_eq!(m.version, "1.2.0-Beta.1+git.abc");
        assert!(m.semver2);
        assert_eq!(parsed.version.normalized(), "1.2.0-Beta.1");
        assert_eq!(m.title, "Utility & more");
        assert_eq!(
            (m.authors.as_str(), m.owners.as_str()),
            ("Jane, John", "Contoso")
        );
        assert_eq!(m.description, "Does <things>");
        assert_eq!(m.summary, "Short");
        assert_eq!(m.release_notes, "Fixed \u{263A}");
        assert_eq!(m.copyright, "© Contoso");
        assert_eq!(m.language, "en-US");
        assert_eq!(m.tags, "util tools");
        assert_eq!(m.project_url, "https://example.com");
        assert_eq!(m.icon_url, "https://example.com/icon.png");
        assert_eq!(m.icon, "images/icon.png");
        assert_eq!(m.license_url, "https://licenses.nuget.org/MIT");
        assert_eq!(
            m.license,
            Some(License {
                kind: "expression".into(),
                value: "MIT".into()
            })
        );
        assert_eq!(m.readme, "docs/README.md");
        assert!(m.require_license_acceptance && m.development_dependency);
        assert_eq!(m.min_client_version, "5.0");
        assert_eq!(
            m.repository,
            Some(Repository {
                kind: "git".into(),
                url: "https://github.com/contoso/u".into(),
                branch: "main".into(),
                commit: "abc123".into(),
            })
        );
        assert_eq!(
            m.package_types,
            [PackageType {
                name: "DotnetTool".into(),
                version: "1.0".into()
            }]
        );
        assert!(!m.is_symbols_package());
    }

    #[test]
    fn absent_fields_stay_empty() {
        let m = parse_str(&minimal("A", "1.0")).unwrap().metadata;
        assert_eq!(m.version, "1.0.0");
        assert!(!m.semver2 && !m.require_license_acceptance);
        assert!(m.license.is_none() && m.repository.is_none());
        assert!(m.package_types.is_empty() && m.dependency_groups.is_empty());
        assert_eq!(m.title, "");
    }

    #[test]
    fn every_schema_namespace_is_read() {
        let body = "<metadata><id>A</id><version>1.0.0</version></metadata>";
        for namespace in [
            "",
            r#" xmlns="http://schemas.microsoft.com/packaging/2010/07/nuspec.xsd""#,
            r#" xmlns="http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd""#,
            r#" xmlns="http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd""#,
            r#" xmlns="http://schemas.microsoft.com/packaging/2013/01/nuspec.xsd""#,
        ] {
            let doc = format!("<package{namespace}>{body}</package>");
            assert_eq!(parse_str(&doc).unwrap().metadata.id, "A", "{doc}");
        }
        let prefixed = r#"<n:package xmlns:n="http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd">
            <n:metadata><n:id>A</n:id><n:version>2.0</n:version>
            <n:dependencies><n:dependency n:id="B" version="1.0"/></n:dependencies>
            </n:metadata></n:package>"#;
        let m = parse_str(prefixed).unwrap().metadata;
        assert_eq!((m.id.as_str(), m.version.as_str()), ("A", "2.0.0"));
        assert_eq!(m.dependency_groups[0].dependencies[0].id, "B");
    }

    #[test]
    fn dependency_groups_are_read() {
        let m = parse_str(&nuspec(
            r#"<id>A</id><version>1.0.0</version>
            <dependencies>
              <group targetFramework="net8.0">
                <dependency id="B" version="[1.0, 2.0)" exclude="Build,Analyzers"/>
                <dependency id="C" include="Compile"/>
              </group>
              <group targetFramework=".NETStandard2.0"/>
              <group><dependency id="D" version="3.0"></dependency></group>
            </dependencies>"#,
        ))
        .unwrap()
        .metadata;
        let groups = &m.dependency_groups;
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].target_framework, "net8.0");
        assert_eq!(
            groups[0].dependencies,
            [
                Dependency {
                    id: "B".into(),
                    range: "[1.0, 2.0)".into(),
                    exclude: "Build,Analyzers".into(),
                    include: String::new(),
                },
                Dependency {
                    id: "C".into(),
                    include: "Compile".into(),
                    ..Dependency::default()
                },
            ]
        );
        assert_eq!(groups[1].target_framework, ".NETStandard2.0");
        assert!(groups[1].dependencies.is_empty());
        assert_eq!(groups[2].target_framework, "");
        assert_eq!(groups[2].dependencies[0].range, "3.0");
    }

    #[test]
    fn flat_dependencies_form_one_group() {
        let m = parse_str(&nuspec(
            r#"<id>A</id><version>1.0.0</version>
            <dependencies>
              <dependency id="B" version="1.0"/>
              <dependency id="C"/>
            </dependencies>
            <frameworkAssemblies><frameworkAssembly assemblyName="System"/></frameworkAssemblies>"#,
        ))
        .unwrap()
        .metadata;
        let [group] = &m.dependency_groups[..] else {
            panic!("one group expected: {:?}", m.dependency_groups);
        };
        assert_eq!(group.target_framework, "");
        let ids: Vec<&str> = group.dependencies.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["B", "C"]);
    }

    #[test]
    fn symbol_packages_are_recognised() {
        let doc = nuspec(
            r#"<id>A</id><version>1.0.0</version>
            <packageTypes><packageType name="SymbolsPackage"/></packageTypes>"#,
        );
        assert!(parse_str(&doc).unwrap().metadata.is_symbols_package());
    }

    #[test]
    fn ids_and_versions_are_checked() {
        refused(&nuspec("<version>1.0.0</version>"), "no <id>");
        refused(&minimal("a b", "1.0.0"), r#"package id "a b" is not valid"#);
        refused(&minimal("a..b", "1.0.0"), r#"package id "a..b""#);
        refused(&minimal(&"a".repeat(101), "1.0.0"), "is not valid");
        refused(&minimal("A", "1.0.0.0.0"), r#"package version "1.0.0.0.0""#);
        refused(&nuspec("<id>A</id>"), r#"package version """#);
        refused(&minimal("A", "not-a-version"), "not a valid NuGet version");
        assert!(parse_str(&minimal("Contoso_Lib-2.x", "1.0.0")).is_ok());
    }

    #[test]
    fn fields_outside_metadata_are_ignored() {
        let doc = r#"<package><metadata><id>A</id><version>1.0</version></metadata>
            <files><id>B</id></files><id>C</id></package>"#;
        assert_eq!(parse_str(doc).unwrap().metadata.id, "A");
    }

    // The refusals themselves are the SDK's (`wharf_plugin_sdk::xml`) and tested there;
    // these show that a nuspec is walked with them and each becomes a 400.

    #[test]
    fn dtds_and_entities_are_refused() {
        let xxe = r#"<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <package><metadata><description>&xxe;</description></metadata></package>"#;
        refused(xxe, "DTD");
        refused(
            "<package><metadata><id>&xxe;</id></metadata></package>",
            "undeclared entity &xxe;",
        );
        refused(
            r#"<package><metadata><repository url="&xxe;"/></metadata></package>"#,
            "malformed nuspec: undeclared entity &xxe;",
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        for doc in [
            "",
            "not xml",
            "<package><metadata><id>a</version></metadata></package>",
            "<package><metadata>",
            "<nuspec/>",
            "<package/><package/>",
        ] {
            refused(doc, "malformed nuspec: ");
        }
        let deep = format!(
            "<package>{}{}</package>",
            "<a>".repeat(80),
            "</a>".repeat(80)
        );
        refused(&deep, "nested too deeply");
        refused(
            "<package><metadata><id>\u{FFFD}</id></metadata></package>",
            "is not valid",
        );
        let invalid_utf8 = b"<package><metadata><id>A\xff</id></metadata></package>";
        assert_eq!(parse(invalid_utf8).unwrap_err().status, 400);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let mut doc = vec![0xef, 0xbb, 0xbf];
        doc.extend_from_slice(minimal("A", "1.0.0").as_bytes());
        assert_eq!(parse(&doc).unwrap().metadata.id, "A");
    }
}
