//! Reading a nuspec: the package's id and version, and the fields the feeds show.
//!
//! Nuspecs come from any client, so they are parsed with a real XML parser and DTDs
//! are refused outright, as are entities other than XML's five predefined ones and
//! character references: no entity expansion bombs, no external entities. `nuget
//! pack` never writes a DTD. Each schema version has its own namespace
//! (`…/2010/07/nuspec.xsd` to `…/2013/05/nuspec.xsd`, or none), so elements and
//! attributes are matched by local name.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use wharf_plugin_sdk::PluginError;

use crate::metadata::{Dependency, DependencyGroup, License, Metadata, PackageType, Repository};
use crate::routes::is_valid_id;
use crate::version::Version;

/// Deepest element nesting accepted; a nuspec needs 5 levels.
const MAX_DEPTH: usize = 64;

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
    // The reader drops a UTF-8 byte order mark itself.
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().expand_empty_elements = true;
    let mut builder = Builder::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("{e} (near byte {})", reader.error_position())))?;
        match event {
            Event::DocType(_) => {
                return Err(malformed(
                    "DTDs (<!DOCTYPE …>) are not allowed in a nuspec".into(),
                ));
            }
            Event::Start(start) => {
                let name = utf8(start.local_name().into_inner())?.to_string();
                if stack.is_empty() {
                    check_root(&name, seen_root)?;
                    seen_root = true;
                }
                if stack.len() == MAX_DEPTH {
                    return Err(malformed("elements are nested too deeply".into()));
                }
                stack.push(name);
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                builder.start(&path, &attributes(&reader, &start)?);
                text.clear();
            }
            Event::End(_) => {
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                builder.end(&path, text.trim());
                stack.pop();
                text.clear();
            }
            Event::Text(t) => {
                text.push_str(&t.xml10_content().map_err(|e| malformed(e.to_string()))?);
            }
            Event::CData(c) => text.push_str(&c.decode().map_err(|e| malformed(e.to_string()))?),
            Event::GeneralRef(r) => resolve_reference(&r, &mut text)?,
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::Empty(_) => {}
        }
    }
    if !seen_root {
        return Err(malformed("no <package> element".into()));
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends inside an element".into()));
    }
    Ok(builder.metadata)
}

fn check_root(name: &str, seen_root: bool) -> Result<(), PluginError> {
    if seen_root {
        return Err(malformed("content after the <package> element".into()));
    }
    if name != "package" {
        return Err(malformed(format!(
            "the root element is <{name}>, not <package>"
        )));
    }
    Ok(())
}

/// An element's attributes by local name, unescaped (an unknown entity is an error).
fn attributes(
    reader: &Reader<&[u8]>,
    start: &BytesStart<'_>,
) -> Result<Vec<(String, String)>, PluginError> {
    start
        .attributes()
        .map(|attribute| {
            let attribute: Attribute<'_> = attribute.map_err(|e| malformed(e.to_string()))?;
            let name = utf8(attribute.key.local_name().into_inner())?.to_string();
            let value = attribute
                .decode_and_unescape_value(reader.decoder())
                .map_err(|e| malformed(e.to_string()))?;
            Ok((name, value.trim().to_string()))
        })
        .collect()
}

fn malformed(why: String) -> PluginError {
    PluginError::bad_request(format!("malformed nuspec: {why}"))
}

fn utf8(bytes: &[u8]) -> Result<&str, PluginError> {
    std::str::from_utf8(bytes).map_err(|_| malformed("invalid UTF-8 in a name".into()))
}

/// Character references and the five predefined entities; any other entity would need
/// a DTD to declare it, and DTDs are refused.
fn resolve_reference(reference: &BytesRef<'_>, text: &mut String) -> Result<(), PluginError> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| malformed(e.to_string()))?
    {
        text.push(c);
        return Ok(());
    }
    let name = reference.decode().map_err(|e| malformed(e.to_string()))?;
    let value = resolve_predefined_entity(&name)
        .ok_or_else(|| malformed(format!("undeclared entity &{name};")))?;
    text.push_str(value);
    Ok(())
}

/// The value of attribute `name`, empty when absent.
fn attribute(attributes: &[(String, String)], name: &str) -> String {
    attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Collects the metadata as elements open (attributes) and close (text).
#[derive(Default)]
struct Builder {
    metadata: Metadata,
    /// Index of the group collecting `<dependency>` elements outside any `<group>`.
    flat_group: Option<usize>,
}

impl Builder {
    /// Only exact paths count: a `<dependency>` elsewhere is not the package's.
    fn start(&mut self, path: &[&str], attributes: &[(String, String)]) {
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

fn dependency(attributes: &[(String, String)]) -> Dependency {
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

    #[test]
    fn dtds_and_entities_are_refused() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<package><metadata><id>&lol9;</id></metadata></package>"#;
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package><metadata><description>&xxe;</description></metadata></package>"#;
        for doc in [billion_laughs, xxe, "<!DOCTYPE package><package/>"] {
            refused(doc, "DTD");
        }
        refused(
            "<package><metadata><id>&xxe;</id></metadata></package>",
            "undeclared entity &xxe;",
        );
        refused(
            r#"<package><metadata><repository url="&xxe;"/></metadata></package>"#,
            "malformed nuspec",
        );
        refused(
            r#"<package><!ENTITY a "b"><metadata/></package>"#,
            "malformed nuspec",
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
        let mut invalid_utf8 = b"<package><metadata><id>A".to_vec();
        invalid_utf8.push(0xff);
        invalid_utf8.extend_from_slice(b"</id></metadata></package>");
        assert_eq!(parse(&invalid_utf8).unwrap_err().status, 400);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let mut doc = vec![0xef, 0xbb, 0xbf];
        doc.extend_from_slice(minimal("A", "1.0.0").as_bytes());
        assert_eq!(parse(&doc).unwrap().metadata.id, "A");
    }
}
