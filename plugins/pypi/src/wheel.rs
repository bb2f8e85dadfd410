//! A wheel's core metadata: the `{name}-{version}.dist-info/METADATA` file inside it,
//! read on upload so that the index can serve it beside the wheel (PEP 658) and pip
//! resolves dependencies without downloading whole wheels. Reading it also proves the
//! upload is a wheel of the project and version the form says.

use std::io::{Read, Seek};

use wharf_plugin_sdk::PluginError;
use wharf_plugin_sdk::archive::{self, Limits, Wanted};

use crate::{names, version};

const LIMITS: Limits = Limits {
    // METADATA holds the long description; PyPI's largest are well below this.
    entry: 4 << 20,
    // Wheels of big native packages hold tens of thousands of files.
    entries: 200_000,
    bytes_read: 48 << 20,
};

/// The METADATA bytes of the wheel `reader` views, checked to name the project `name`
/// and version `version` (both normalized).
pub fn core_metadata<R: Read + Seek>(
    reader: R,
    name: &str,
    version: &str,
) -> Result<Vec<u8>, PluginError> {
    let wanted = Wanted {
        archive: "wheel",
        entry: "top-level *.dist-info/METADATA file",
        matches: &is_metadata,
    };
    let (_, bytes) = archive::read_entry(reader, &wanted, &LIMITS)?;
    let (found_name, found_version) = name_and_version(&bytes);
    let same_name = found_name.as_deref().and_then(names::normalized);
    let same_version = found_version.as_deref().and_then(version::normalize);
    if same_name.as_deref() != Some(name) || same_version.as_deref() != Some(version) {
        return Err(PluginError::bad_request(format!(
            "the wheel's METADATA says {} {}, but the upload is {name} {version}",
            found_name.as_deref().unwrap_or("(no Name)"),
            found_version.as_deref().unwrap_or("(no Version)"),
        )));
    }
    Ok(bytes)
}

/// `X.dist-info/METADATA` where `X` is a single directory at the wheel's root.
fn is_metadata(entry: &[u8]) -> bool {
    entry
        .strip_suffix(b".dist-info/METADATA".as_slice())
        .is_some_and(|dir| !dir.is_empty() && !dir.contains(&b'/'))
}

/// `Name` and `Version` of a core metadata file: email-style headers up to the first
/// blank line (the description may follow it).
fn name_and_version(metadata: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(metadata);
    let (mut name, mut version) = (None, None);
    for line in text.lines().take_while(|l| !l.trim().is_empty()) {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match field.trim().to_ascii_lowercase().as_str() {
            "name" => &mut name,
            "version" => &mut version,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.trim().to_string());
    }
    (name, version)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    /// A wheel as a build backend writes one (only the files that matter here).
    pub fn wheel(dist_info: &str, metadata: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, content) in [
            ("wharf_base/__init__.py", "VALUE = 1\n"),
            (&format!("{dist_info}/METADATA"), metadata),
            (&format!("{dist_info}/WHEEL"), "Wheel-Version: 1.0\n"),
        ] {
            writer.start_file(name, options).unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    const METADATA: &str = "Metadata-Version: 2.1\nName: Wharf_Base\nVersion: 1.0.0\n\
        Requires-Python: >=3.8\n\nName: not a header, the description\n";

    #[test]
    fn the_metadata_of_a_matching_wheel_is_read() {
        let bytes = wheel("wharf_base-1.0.0.dist-info", METADATA);
        let metadata = core_metadata(Cursor::new(bytes), "wharf-base", "1.0.0").unwrap();
        assert_eq!(metadata, METADATA.as_bytes());
    }

    #[test]
    fn a_wheel_of_another_project_or_version_is_refused() {
        for (name, version) in [("other", "1.0.0"), ("wharf-base", "1.0.1")] {
            let bytes = wheel("wharf_base-1.0.0.dist-info", METADATA);
            let err = core_metadata(Cursor::new(bytes), name, version).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(
                err.message.contains("METADATA says Wharf_Base 1.0.0"),
                "{}",
                err.message
            );
        }
        let bytes = wheel("x.dist-info", "Metadata-Version: 2.1\n");
        let err = core_metadata(Cursor::new(bytes), "x", "1.0").unwrap_err();
        assert!(
            err.message.contains("(no Name) (no Version)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn only_a_top_level_dist_info_counts() {
        assert!(is_metadata(b"a-1.0.dist-info/METADATA"));
        for other in [
            &b"a/b-1.0.dist-info/METADATA"[..],
            b".dist-info/METADATA",
            b"a-1.0.dist-info/METADATA.txt",
            b"a-1.0.data/METADATA",
        ] {
            assert!(!is_metadata(other), "{}", String::from_utf8_lossy(other));
        }
        let err = core_metadata(Cursor::new(b"not a zip".to_vec()), "a", "1.0").unwrap_err();
        assert!(
            err.message.contains("the wheel is not a valid zip"),
            "{}",
            err.message
        );
    }
}
