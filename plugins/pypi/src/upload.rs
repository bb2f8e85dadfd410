//! Uploads through the legacy upload API that twine speaks (Warehouse's "forklift"):
//! one `POST` of a `multipart/form-data` body per file, with `:action=file_upload`,
//! the core metadata as form fields and the file as the part named `content`.
//!
//! The file never enters the guest: it is a byte range of the stored body that the
//! plan hands back to the host, with the sha256 the client computed as the digest
//! the host must find (a mismatch is a 400 and nothing is stored). Only a wheel's
//! METADATA is read out of it (PEP 658). Files of one version arrive one request at a
//! time, so the version is created by the first and extended by the others; a file
//! name that exists already is the host's 409.

use std::io::{Read, Seek};

use wharf_plugin_sdk::multipart::{Form, Limits, Part};
use wharf_plugin_sdk::{
    Digest, FileSource, HashAlgorithm, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan,
    Request, Response, Upload, UploadBody, UploadReader, UploadSpec, VersionMode,
};

use crate::filename::{self, Kind};
use crate::metadata::{self, FileFacts};
use crate::{names, version, wheel};

/// The suffix of the file holding a wheel's core metadata (PEP 658).
pub const METADATA_SUFFIX: &str = ".metadata";

/// A checked upload, before the wheel's METADATA is read.
#[derive(Debug)]
pub struct Checked {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub kind: Kind,
    pub content: Part,
    pub expect: Option<Digest>,
    pub facts: FileFacts,
    pub release_json: String,
}

/// `parse-upload` for twine's upload: read the form, check it, read a wheel's METADATA.
pub fn parse(
    request: &Request,
    spec: &UploadSpec,
    body: &Upload,
) -> Result<PublishPlan, PluginError> {
    let content_type = request.header("content-type").unwrap_or_default();
    let checked = check(body, content_type)?;
    let core_metadata = match checked.kind {
        Kind::Wheel => {
            let range = &checked.content.range;
            Some(read_metadata(
                UploadReader::range(body, range.offset, range.length),
                &checked,
            )?)
        }
        Kind::Sdist => None,
    };
    Ok(plan(&spec.pkg.owner, checked, core_metadata))
}

fn read_metadata<R: Read + Seek>(reader: R, checked: &Checked) -> Result<Vec<u8>, PluginError> {
    wheel::core_metadata(reader, &checked.name, &checked.version)
}

/// Reads and checks the form of an upload body.
pub fn check<B: UploadBody + ?Sized>(body: &B, content_type: &str) -> Result<Checked, PluginError> {
    let form = Form::read(body, content_type, Limits::default())?;
    match form.field(":action") {
        Some("file_upload") => {}
        Some("submit") => {
            return Err(PluginError::new(
                410,
                "project registration is not needed: upload the files",
            ));
        }
        Some(other) => {
            return Err(PluginError::bad_request(format!(
                "unsupported :action {other:?}; only file_upload is"
            )));
        }
        None => return Err(PluginError::bad_request("the form has no :action field")),
    }
    if let Some(protocol) = form.field("protocol_version")
        && protocol != "1"
    {
        return Err(PluginError::bad_request(format!(
            "unsupported protocol_version {protocol:?}"
        )));
    }
    let raw_name = required(&form, "name")?;
    let name = names::normalized(raw_name).ok_or_else(|| {
        PluginError::bad_request(format!(
            "invalid project name {raw_name:?}: use ASCII letters, digits, '.', '_' and '-', \
             starting and ending with a letter or digit"
        ))
    })?;
    let raw_version = required(&form, "version")?;
    let version = version::normalize(raw_version).ok_or_else(|| {
        PluginError::bad_request(format!(
            "invalid version {raw_version:?}: not a PEP 440 version"
        ))
    })?;
    let content = form
        .file("content")
        .cloned()
        .ok_or_else(|| PluginError::bad_request("the form has no file part named \"content\""))?;
    let filename = content.filename.clone().unwrap_or_default();
    let kind = filename::check(&filename, &name, &version)?;
    if let Some(filetype) = form.field("filetype")
        && filetype != kind.filetype()
    {
        return Err(PluginError::bad_request(format!(
            "{filename} is a {}, but the form says filetype {filetype:?}",
            kind.filetype()
        )));
    }
    if content.range.length == 0 {
        return Err(PluginError::bad_request(format!("{filename} is empty")));
    }
    let requires_python = form.field("requires_python").unwrap_or_default().trim();
    if !requires_python.is_empty() && !version::is_valid_specifier_set(requires_python) {
        return Err(PluginError::bad_request(format!(
            "invalid requires_python {requires_python:?}: not a PEP 440 specifier set"
        )));
    }
    Ok(Checked {
        expect: expected_digest(&form)?,
        facts: FileFacts {
            requires_python: requires_python.to_string(),
            filetype: kind.filetype().to_string(),
            python_version: form.field("pyversion").unwrap_or_default().to_string(),
        },
        release_json: metadata::release_json(&form),
        name,
        version,
        filename,
        kind,
        content,
    })
}

fn required<'a>(form: &'a Form, field: &str) -> Result<&'a str, PluginError> {
    form.field(field)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PluginError::bad_request(format!("the form has no {field} field")))
}

/// The digest the stored file must have: sha256 when the client sent it (twine always
/// does), else md5 (older clients). blake2b-256 is not among the host's algorithms; a
/// client sending only that gets its file stored unchecked, as with no digest at all.
fn expected_digest(form: &Form) -> Result<Option<Digest>, PluginError> {
    for (field, algorithm, length) in [
        ("sha256_digest", HashAlgorithm::Sha256, 64),
        ("md5_digest", HashAlgorithm::Md5, 32),
    ] {
        let Some(hex) = form.field(field).map(str::trim).filter(|h| !h.is_empty()) else {
            continue;
        };
        if hex.len() != length || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PluginError::bad_request(format!(
                "{field} is not {length} hexadecimal digits"
            )));
        }
        return Ok(Some(Digest {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        }));
    }
    Ok(None)
}

/// The plan: the file (and a wheel's METADATA beside it) added to the version,
/// created if new, with the release metadata and the file's facts.
pub fn plan(owner: &str, checked: Checked, core_metadata: Option<Vec<u8>>) -> PublishPlan {
    let mut files = vec![PlanFile {
        name: checked.filename.clone(),
        source: FileSource::Slice(checked.content.range),
        content_type: content_type(checked.kind).to_string(),
        lead: true,
        overwrite: false,
        expect: checked.expect,
    }];
    if let Some(bytes) = core_metadata {
        files.push(PlanFile {
            name: format!("{}{METADATA_SUFFIX}", checked.filename),
            source: FileSource::Inline(bytes),
            content_type: "text/plain; charset=utf-8".to_string(),
            lead: false,
            overwrite: false,
            expect: None,
        });
    }
    PublishPlan {
        pkg: PackageRef {
            owner: owner.to_string(),
            name: checked.name,
        },
        versions: vec![PlanVersion {
            references: Vec::new(),
            version: checked.version,
            mode: VersionMode::CreateOrExtend,
            metadata: checked.release_json,
            files,
            tags: Vec::new(),
            properties: vec![(
                metadata::file_property(&checked.filename),
                checked.facts.to_json(),
            )],
        }],
        reply: Response::created(),
    }
}

fn content_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Wheel => "application/zip",
        Kind::Sdist => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::wheel::tests::wheel;

    const SHA256_OF_PK: &str = "7d8d3ec6a1f4c2e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0d";

    /// A body as twine sends it: the metadata fields, then the file.
    fn body(fields: &[(&str, &str)], filename: &str, content: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--xYzZY\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--xYzZY\r\nContent-Disposition: form-data; name=\"content\"; \
                 filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--xYzZY--\r\n");
        body
    }

    const FORM: &str = "multipart/form-data; boundary=xYzZY";

    fn twine_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            ("name", "Wharf_Base"),
            ("version", "1.0.0"),
            ("filetype", "sdist"),
            ("pyversion", "source"),
            ("metadata_version", "2.1"),
            ("summary", "The base"),
            ("requires_python", ">=3.8"),
            ("classifiers", "Programming Language :: Python :: 3"),
            ("sha256_digest", SHA256_OF_PK),
            ("blake2_256_digest", "ab"),
            (":action", "file_upload"),
            ("protocol_version", "1"),
        ]
    }

    fn checked(fields: &[(&str, &str)], filename: &str) -> Result<Checked, PluginError> {
        check(&body(fields, filename, b"PK")[..], FORM)
    }

    fn refused(fields: &[(&str, &str)], filename: &str, expected: &str) {
        let err = checked(fields, filename).unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
        assert!(err.message.contains(expected), "{}", err.message);
    }

    fn with(field: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        let mut fields: Vec<_> = twine_fields()
            .into_iter()
            .filter(|(n, _)| *n != field)
            .collect();
        fields.push((field, value));
        fields
    }

    fn without(field: &str) -> Vec<(&'static str, &'static str)> {
        twine_fields()
            .into_iter()
            .filter(|(n, _)| *n != field)
            .collect()
    }

    #[test]
    fn an_sdist_upload_becomes_a_slice_with_its_expected_sha256() {
        let upload = body(&twine_fields(), "wharf-base-1.0.0.tar.gz", b"PK");
        let checked = check(&upload[..], FORM).unwrap();
        assert_eq!(checked.kind, Kind::Sdist);
        let range = checked.content.range;
        let plan = plan("alice", checked, None);
        assert_eq!(
            (plan.pkg.owner.as_str(), plan.pkg.name.as_str()),
            ("alice", "wharf-base")
        );
        let [version] = &plan.versions[..] else {
            panic!("one version");
        };
        assert_eq!(version.version, "1.0.0");
        assert!(matches!(version.mode, VersionMode::CreateOrExtend));
        let [file] = &version.files[..] else {
            panic!("one file");
        };
        assert_eq!(file.name, "wharf-base-1.0.0.tar.gz");
        assert!(
            matches!(&file.source, FileSource::Slice(r) if r.offset == range.offset && r.length == 2)
        );
        assert_eq!(&upload[range.offset as usize..][..2], b"PK");
        assert!(file.lead && !file.overwrite);
        let expect = file.expect.as_ref().expect("a digest to check");
        assert_eq!(
            (expect.algorithm, expect.hex.as_str()),
            (HashAlgorithm::Sha256, SHA256_OF_PK)
        );
        assert_eq!(
            version.properties,
            [(
                "file:wharf-base-1.0.0.tar.gz".to_string(),
                r#"{"requires_python":">=3.8","filetype":"sdist","python_version":"source"}"#
                    .to_string()
            )]
        );
        let release: serde_json::Value = serde_json::from_str(&version.metadata).unwrap();
        assert_eq!(release["name"], "Wharf_Base");
        assert_eq!(release["summary"], "The base");
        assert_eq!(
            release["classifiers"][0],
            "Programming Language :: Python :: 3"
        );
    }

    #[test]
    fn a_wheel_upload_carries_its_metadata_file() {
        let metadata = "Metadata-Version: 2.1\nName: wharf-base\nVersion: 1.0.0\n";
        let bytes = wheel("wharf_base-1.0.0.dist-info", metadata);
        let fields = with("filetype", "bdist_wheel");
        let upload = body(&fields, "wharf_base-1.0.0-py3-none-any.whl", &bytes);
        let checked = check(&upload[..], FORM).unwrap();
        let range = checked.content.range;
        let part = &upload[range.offset as usize..(range.offset + range.length) as usize];
        let core = read_metadata(Cursor::new(part), &checked).unwrap();
        let plan = plan("alice", checked, Some(core));
        let files = &plan.versions[0].files;
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].content_type, "application/zip");
        assert_eq!(files[1].name, "wharf_base-1.0.0-py3-none-any.whl.metadata");
        assert!(!files[1].lead && files[1].expect.is_none());
        assert!(matches!(&files[1].source, FileSource::Inline(b) if b == metadata.as_bytes()));
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        refused(&without(":action"), "x-1.0.tar.gz", "no :action field");
        refused(
            &with(":action", "remove_pkg"),
            "x-1.0.tar.gz",
            "unsupported :action",
        );
        refused(
            &with("protocol_version", "2"),
            "x-1.0.tar.gz",
            "protocol_version",
        );
        refused(&without("name"), "x-1.0.tar.gz", "no name field");
        refused(
            &with("name", "bad name!"),
            "x-1.0.tar.gz",
            "invalid project name",
        );
        refused(&without("version"), "x-1.0.tar.gz", "no version field");
        refused(
            &with("version", "one"),
            "x-1.0.tar.gz",
            "not a PEP 440 version",
        );
        let name = "wharf_base-1.0.0.tar.gz";
        refused(
            &with("version", "1.0.1"),
            name,
            "is not a distribution of wharf-base 1.0.1",
        );
        refused(
            &twine_fields(),
            "wharf_base-1.0.0.egg",
            "unsupported file type",
        );
        refused(&with("filetype", "bdist_wheel"), name, "form says filetype");
        refused(
            &with("requires_python", "3.8+"),
            name,
            "invalid requires_python",
        );
        refused(
            &with("sha256_digest", "abc"),
            name,
            "sha256_digest is not 64",
        );
        let md5_only = [without("sha256_digest"), vec![("md5_digest", "xyz")]].concat();
        refused(&md5_only, name, "md5_digest is not 32");
        let err = check(&body(&twine_fields(), name, b"")[..], FORM).unwrap_err();
        assert!(err.message.contains("is empty"), "{}", err.message);
        let err = check(&b"{}"[..], "application/json").unwrap_err();
        assert!(
            err.message.contains("expected a multipart/form-data"),
            "{}",
            err.message
        );
        let mut no_file = body(&twine_fields(), name, b"PK");
        let at = no_file
            .windows(9)
            .position(|w| w == b"\"content\"")
            .unwrap();
        no_file[at + 1] = b'k';
        let err = check(&no_file[..], FORM).unwrap_err();
        assert!(
            err.message.contains("no file part named \"content\""),
            "{}",
            err.message
        );
        let whole = body(&twine_fields(), name, b"PK");
        let err = check(&whole[..whole.len() - 20], FORM).unwrap_err();
        assert!(err.message.contains("cut short"), "{}", err.message);
        let register = with(":action", "submit");
        assert_eq!(checked(&register, name).unwrap_err().status, 410);
    }

    #[test]
    fn md5_is_the_fallback_digest_and_blake2_alone_checks_nothing() {
        let name = "wharf_base-1.0.0.tar.gz";
        let md5 = [
            without("sha256_digest"),
            vec![("md5_digest", "0123456789ABCDEF0123456789abcdef")],
        ]
        .concat();
        let expect = checked(&md5, name).unwrap().expect.unwrap();
        assert_eq!(
            (expect.algorithm, expect.hex.as_str()),
            (HashAlgorithm::Md5, "0123456789abcdef0123456789abcdef")
        );
        assert!(
            checked(&without("sha256_digest"), name)
                .unwrap()
                .expect
                .is_none()
        );
    }
}
