//! Push and symbol push: what a pushed nupkg (or snupkg) adds to the feed.
//!
//! The id and version are known only from the nuspec inside the package (OP-13), so
//! the plan names the package itself. The package bytes are never copied into the
//! guest: the nupkg is a range of the stored body, and only its zip directory and
//! nuspec are read.

use wharf_plugin_sdk::{
    ByteRange, FileSource, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan, Request,
    Response, Upload, UploadBody, UploadReader, UploadSpec, VersionMode, VersionRef, host,
};
use wharf_plugin_sdk::{multipart, params};

use crate::nupkg;
use crate::nuspec::{self, Nuspec};
use crate::render::BUILD_METADATA;
use crate::routes::param;

/// Upload kinds (the `kind` param): a package push (`PUT /`) and a symbol package push.
pub const PACKAGE: &str = "package";
pub const SYMBOLS: &str = "symbols";

const OCTET_STREAM: &str = "application/octet-stream";

/// The form field NuGet clients put the package in.
const PACKAGE_PART: &str = "package";

pub fn parse(
    request: &Request,
    spec: &UploadSpec,
    body: &Upload,
) -> Result<PublishPlan, PluginError> {
    let content_type = request.header("content-type").unwrap_or_default();
    let (nuspec, nuspec_bytes, source, range) = read_push(body, content_type)?;
    let owner = &spec.pkg.owner;
    match params::text(&spec.params, param::KIND) {
        PACKAGE => {
            let package = UploadReader::range(body, range.offset, range.length);
            let readme = nupkg::read_readme(package, &nuspec.metadata.readme);
            package_plan(owner, &nuspec, nuspec_bytes, source, readme)
        }
        SYMBOLS => {
            let plan = symbols_plan(owner, &nuspec, source)?;
            require_version(&plan)?;
            Ok(plan)
        }
        _ => Err(PluginError::new(500, "unknown NuGet upload kind")),
    }
}

/// The pushed package's nuspec (parsed and as stored) and where the nupkg lies in the
/// body: NuGet.exe and `dotnet nuget push` send it as the `package` part of a multipart
/// form, older tools as the whole body.
fn read_push<B: UploadBody + ?Sized>(
    body: &B,
    content_type: &str,
) -> Result<(Nuspec, Vec<u8>, FileSource, ByteRange), PluginError> {
    let (range, source) = match multipart::boundary(content_type)? {
        Some(boundary) => {
            let part = multipart::find_part(body, &boundary, PACKAGE_PART)?;
            (part, FileSource::Slice(part))
        }
        None => {
            let whole = ByteRange {
                offset: 0,
                length: body.size(),
            };
            (whole, FileSource::Whole)
        }
    };
    let reader = UploadReader::range(body, range.offset, range.length);
    let nuspec_bytes = nupkg::read_nuspec(reader)?;
    let nuspec = nuspec::parse(&nuspec_bytes)?;
    Ok((nuspec, nuspec_bytes, source, range))
}

/// A new version: the nupkg, and its nuspec beside it for clients that fetch it alone,
/// and the README the nuspec names, for the package's page.
fn package_plan(
    owner: &str,
    nuspec: &Nuspec,
    nuspec_bytes: Vec<u8>,
    source: FileSource,
    readme: Option<Vec<u8>>,
) -> Result<PublishPlan, PluginError> {
    if nuspec.metadata.is_symbols_package() {
        return Err(PluginError::bad_request(
            "this is a symbol package (type SymbolsPackage): push it to the symbol package endpoint",
        ));
    }
    let id = id_lower(nuspec);
    let mut files = vec![
        file(
            format!("{id}.{}.nupkg", version_lower(nuspec)),
            source,
            OCTET_STREAM,
            true,
        ),
        file(
            format!("{id}.nuspec"),
            FileSource::Inline(nuspec_bytes),
            "application/xml",
            false,
        ),
    ];
    if let Some(readme) = readme {
        let (name, source) = (crate::pages::README_FILE.into(), FileSource::Inline(readme));
        files.push(file(name, source, "text/markdown; charset=utf-8", false));
    }
    Ok(plan(
        owner,
        nuspec,
        VersionMode::Create,
        nuspec.metadata.to_json(),
        files,
    ))
}

/// Symbols of an existing version: the snupkg joins its files. Its metadata stays
/// the package's, and a second push of the same file is the host's 409.
fn symbols_plan(
    owner: &str,
    nuspec: &Nuspec,
    source: FileSource,
) -> Result<PublishPlan, PluginError> {
    if !nuspec.metadata.is_symbols_package() {
        return Err(PluginError::bad_request(
            "this is not a symbol package: a .snupkg must have the package type SymbolsPackage",
        ));
    }
    let name = format!("{}.{}.snupkg", id_lower(nuspec), version_lower(nuspec));
    let files = vec![file(name, source, OCTET_STREAM, false)];
    Ok(plan(
        owner,
        nuspec,
        VersionMode::Extend,
        String::new(),
        files,
    ))
}

/// Symbols only attach to a pushed package; `extend` would 404 too, but without
/// saying which package is missing.
fn require_version(plan: &PublishPlan) -> Result<(), PluginError> {
    let version = &plan.versions[0].version;
    let target = VersionRef {
        pkg: plan.pkg.clone(),
        version: version.clone(),
    };
    match host::get_version(&target) {
        Some(_) => Ok(()),
        None => Err(PluginError::not_found(format!(
            "package {} {version} not found: push the package before its symbols",
            plan.pkg.name
        ))),
    }
}

fn plan(
    owner: &str,
    nuspec: &Nuspec,
    mode: VersionMode,
    metadata: String,
    files: Vec<PlanFile>,
) -> PublishPlan {
    // Symbols leave the version's properties as the package push set them.
    let properties = match mode {
        VersionMode::Extend => Vec::new(),
        _ => vec![(
            BUILD_METADATA.to_string(),
            nuspec.version.build_metadata().to_string(),
        )],
    };
    PublishPlan {
        pkg: PackageRef {
            owner: owner.to_string(),
            name: nuspec.metadata.id.clone(),
        },
        versions: vec![PlanVersion {
            references: Vec::new(),
            // Case kept: the host compares versions case-insensitively.
            version: nuspec.version.normalized(),
            mode,
            metadata,
            files,
            tags: Vec::new(),
            properties,
        }],
        reply: Response::created(),
    }
}

fn file(name: String, source: FileSource, content_type: &str, lead: bool) -> PlanFile {
    PlanFile {
        name,
        source,
        content_type: content_type.to_string(),
        lead,
        overwrite: false,
        expect: None,
    }
}

/// File names are lower-case, as the flat container addresses them.
fn id_lower(nuspec: &Nuspec) -> String {
    nuspec.metadata.id.to_ascii_lowercase()
}

fn version_lower(nuspec: &Nuspec) -> String {
    nuspec.version.normalized().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Metadata;
    use crate::nupkg::tests::zip;

    fn nuspec_xml(package_type: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>Contoso.Lib</id><version>1.0.3.0-RC.1</version><authors>a</authors>
    <description>d</description>{package_type}</metadata>
</package>"#
        )
    }

    const SYMBOLS_TYPE: &str =
        r#"<packageTypes><packageType name="SymbolsPackage"/></packageTypes>"#;

    fn slice() -> FileSource {
        FileSource::Slice(ByteRange {
            offset: 200,
            length: 1000,
        })
    }

    fn pushed(body: &[u8], content_type: &str) -> Result<(Nuspec, Vec<u8>), PluginError> {
        read_push(body, content_type).map(|(nuspec, bytes, _, _)| (nuspec, bytes))
    }

    #[test]
    fn a_multipart_push_reads_the_nuspec_of_its_part() {
        let xml = nuspec_xml("");
        let nupkg = zip(&[
            ("Contoso.Lib.nuspec", xml.as_bytes()),
            ("lib/net8.0/Contoso.Lib.dll", b"MZ"),
        ]);
        let mut body = b"--9f1e\r\nContent-Type: application/octet-stream\r\n\
            Content-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n"
            .to_vec();
        body.extend_from_slice(&nupkg);
        body.extend_from_slice(b"\r\n--9f1e--\r\n");
        let (nuspec, bytes) = pushed(&body, r#"multipart/form-data; boundary="9f1e""#).unwrap();
        assert_eq!(nuspec.metadata.id, "Contoso.Lib");
        assert_eq!(bytes, xml.as_bytes());
        // The same package pushed bare.
        let (bare, _) = pushed(&nupkg, "application/octet-stream").unwrap();
        assert_eq!(bare.metadata, nuspec.metadata);
    }

    #[test]
    fn a_push_creates_the_version_with_its_nupkg_and_nuspec() {
        let xml = nuspec_xml("");
        let nuspec = nuspec::parse(xml.as_bytes()).unwrap();
        let plan = package_plan("alice", &nuspec, xml.clone().into_bytes(), slice(), None).unwrap();
        assert_eq!(plan.pkg.owner, "alice");
        assert_eq!(plan.pkg.name, "Contoso.Lib");
        assert_eq!((plan.reply.status, plan.reply.body.len()), (0, 0));
        let [version] = &plan.versions[..] else {
            panic!("one version expected");
        };
        assert_eq!(version.version, "1.0.3-RC.1");
        assert!(matches!(version.mode, VersionMode::Create));
        let stored = Metadata::from_stored(&version.metadata);
        assert_eq!(stored.version, "1.0.3-RC.1");
        assert_eq!(stored.id, "Contoso.Lib");
        assert_eq!(
            version.properties,
            [(BUILD_METADATA.to_string(), String::new())]
        );
        let [nupkg, spec] = &version.files[..] else {
            panic!("two files expected");
        };
        assert_eq!(nupkg.name, "contoso.lib.1.0.3-rc.1.nupkg");
        assert!(matches!(
            nupkg.source,
            FileSource::Slice(ByteRange {
                offset: 200,
                length: 1000
            })
        ));
        assert_eq!(nupkg.content_type, "application/octet-stream");
        assert!(nupkg.lead && !nupkg.overwrite && nupkg.expect.is_none());
        assert_eq!(spec.name, "contoso.lib.nuspec");
        assert!(matches!(&spec.source, FileSource::Inline(b) if b == xml.as_bytes()));
        assert_eq!(spec.content_type, "application/xml");
        assert!(!spec.lead && !spec.overwrite);
    }

    #[test]
    fn a_push_keeps_the_readme_beside_the_package() {
        let xml = nuspec_xml("");
        let nuspec = nuspec::parse(xml.as_bytes()).unwrap();
        let readme = Some(b"# Lib".to_vec());
        let plan = package_plan("alice", &nuspec, Vec::new(), slice(), readme).unwrap();
        let [_, _, readme] = &plan.versions[0].files[..] else {
            panic!("nupkg, nuspec and readme expected");
        };
        assert_eq!(readme.name, crate::pages::README_FILE);
        assert!(!readme.lead && matches!(&readme.source, FileSource::Inline(b) if b == b"# Lib"));
    }

    #[test]
    fn a_symbol_package_is_refused_as_a_package() {
        let nuspec = nuspec::parse(nuspec_xml(SYMBOLS_TYPE).as_bytes()).unwrap();
        let err = package_plan("alice", &nuspec, Vec::new(), FileSource::Whole, None).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains("symbol package endpoint"),
            "{}",
            err.message
        );
    }

    #[test]
    fn symbols_extend_the_version_with_the_snupkg() {
        let nuspec = nuspec::parse(nuspec_xml(SYMBOLS_TYPE).as_bytes()).unwrap();
        let plan = symbols_plan("alice", &nuspec, FileSource::Whole).unwrap();
        assert_eq!(plan.pkg.name, "Contoso.Lib");
        let [version] = &plan.versions[..] else {
            panic!("one version expected");
        };
        assert_eq!(version.version, "1.0.3-RC.1");
        assert!(matches!(version.mode, VersionMode::Extend));
        assert_eq!(version.metadata, "");
        assert!(version.properties.is_empty(), "the package's stay");
        let [snupkg] = &version.files[..] else {
            panic!("one file expected");
        };
        assert_eq!(snupkg.name, "contoso.lib.1.0.3-rc.1.snupkg");
        assert!(matches!(snupkg.source, FileSource::Whole));
        assert_eq!(snupkg.content_type, "application/octet-stream");
        assert!(!snupkg.lead && !snupkg.overwrite);
    }

    #[test]
    fn a_plain_package_is_refused_as_symbols() {
        let nuspec = nuspec::parse(nuspec_xml("").as_bytes()).unwrap();
        let err = symbols_plan("alice", &nuspec, slice()).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("SymbolsPackage"), "{}", err.message);
    }
}
