//! One entry out of a zip (a wheel's `METADATA`, a nupkg's nuspec), read through a
//! `Read + Seek` view of the upload so that only the end-of-central-directory record,
//! the central directory and the wanted entry's compressed bytes cross into the guest.

use std::io::{Read, Seek};

use zip::ZipArchive;
use zip::read::{ArchiveOffset, Config};

use super::{Budget, Limits, Wanted};
use crate::PluginError;

/// The name and bytes of the single entry `wanted` picks.
pub fn read_entry<R: Read + Seek>(
    reader: R,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<(String, Vec<u8>), PluginError> {
    let mut budget = Budget::new(reader, limits.bytes_read);
    let result = extract(&mut budget, wanted, limits);
    if budget.exceeded {
        // Whatever error the zip crate made of the refused read, this is the reason.
        return Err(PluginError::bad_request(format!(
            "the {}'s zip directory is too large (more than {} bytes to read)",
            wanted.archive, limits.bytes_read
        )));
    }
    result
}

fn extract<R: Read + Seek>(
    reader: R,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<(String, Vec<u8>), PluginError> {
    let archive_name = wanted.archive;
    // The archive starts where its range starts. Letting the crate detect an offset
    // would make it scan the whole upload for a directory when the EOCD lies.
    let config = Config {
        archive_offset: ArchiveOffset::Known(0),
    };
    let mut archive = ZipArchive::with_config(config, reader).map_err(|e| {
        PluginError::bad_request(format!(
            "the {archive_name} is not a valid zip archive: {e}"
        ))
    })?;
    wanted.check_count(archive.len(), limits)?;
    // The crate keeps one entry per name; another reader might take the other one.
    if archive.has_duplicate_names() {
        return Err(PluginError::bad_request(format!(
            "the {archive_name}'s zip lists an entry name twice"
        )));
    }
    let found: Vec<usize> = archive
        .file_names_raw()
        .enumerate()
        .filter(|(_, name)| (wanted.matches)(name))
        .map(|(index, _)| index)
        .take(2)
        .collect();
    let index = wanted.the_one(&found)?;
    let file = archive.by_index(index).map_err(|e| wanted.unreadable(&e))?;
    let name = String::from_utf8_lossy(file.name_raw()).into_owned();
    // The declared size is only a claim: a zip bomb inflates far beyond it.
    let bytes = wanted.read_bounded(file.size(), file, &name, limits)?;
    Ok((name, bytes))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    const LIMITS: Limits = Limits {
        entry: 1000,
        entries: 100,
        bytes_read: 1 << 20,
    };

    fn zip_with(method: CompressionMethod, entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, content) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        zip_with(CompressionMethod::Deflated, entries)
    }

    fn read_within(bytes: Vec<u8>, limits: &Limits) -> Result<(String, Vec<u8>), PluginError> {
        let wanted = Wanted {
            archive: "wheel",
            entry: "METADATA file",
            matches: &|name| name.ends_with(b"/METADATA"),
        };
        read_entry(Cursor::new(bytes), &wanted, limits)
    }

    fn refused(bytes: Vec<u8>, limits: &Limits, expected: &str) {
        let err = read_within(bytes, limits).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains(expected), "{}", err.message);
    }

    #[test]
    fn the_wanted_entry_is_read() {
        let wheel = zip(&[
            ("a/__init__.py", b"x = 1"),
            ("a-1.0.dist-info/METADATA", b"Name: a"),
            ("a-1.0.dist-info/RECORD", &[0u8; 900]),
        ]);
        let (name, bytes) = read_within(wheel, &LIMITS).unwrap();
        assert_eq!(
            (name.as_str(), &bytes[..]),
            ("a-1.0.dist-info/METADATA", &b"Name: a"[..])
        );
    }

    #[test]
    fn anything_but_one_wanted_entry_is_refused() {
        refused(
            b"definitely not a zip".to_vec(),
            &LIMITS,
            "wheel is not a valid zip",
        );
        refused(Vec::new(), &LIMITS, "not a valid zip");
        refused(
            zip(&[("a.py", b"x")]),
            &LIMITS,
            "the wheel has no METADATA file",
        );
        refused(
            zip(&[("a/METADATA", b"1"), ("b/METADATA", b"2")]),
            &LIMITS,
            "more than one METADATA file",
        );
        let mut truncated = zip(&[("a/METADATA", b"Name: a")]);
        truncated.truncate(truncated.len() - 10);
        refused(truncated, &LIMITS, "not a valid zip");
    }

    #[test]
    fn oversized_and_lying_entries_are_refused() {
        let stored = |size: usize| {
            zip_with(
                CompressionMethod::Stored,
                &[("a/METADATA", &vec![b' '; size])],
            )
        };
        refused(
            stored(1001),
            &LIMITS,
            "a/METADATA is larger than 1000 bytes",
        );
        assert_eq!(read_within(stored(1000), &LIMITS).unwrap().1.len(), 1000);
        let mut bomb = zip(&[("a/METADATA", &[b' '; 5000])]);
        // Declare 10 bytes in the local and the central header (a zip bomb's trick).
        let declared = 10u32.to_le_bytes();
        for (signature, size_at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = bomb.windows(4).position(|w| w == signature).unwrap();
            bomb[at + size_at..at + size_at + 4].copy_from_slice(&declared);
        }
        assert_eq!(read_within(bomb, &LIMITS).unwrap_err().status, 400);
    }

    #[test]
    fn big_directories_and_duplicates_are_refused() {
        let names: Vec<String> = (0..100).map(|i| format!("lib/{i}.py")).collect();
        let mut entries: Vec<(&str, &[u8])> =
            names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        entries.push(("a/METADATA", b"Name: a"));
        let many = zip_with(CompressionMethod::Stored, &entries);
        refused(
            many.clone(),
            &LIMITS,
            "101 entries, more than the 100 allowed",
        );
        let small_budget = Limits {
            bytes_read: 2000,
            entries: 1000,
            ..LIMITS
        };
        refused(many, &small_budget, "zip directory is too large");
        let mut twice = zip(&[("a/METADATA", b"1"), ("b/METADATA", b"2")]);
        let at: Vec<usize> = twice
            .windows(10)
            .enumerate()
            .filter(|(_, w)| *w == b"b/METADATA")
            .map(|(i, _)| i)
            .collect();
        for i in at {
            twice[i] = b'a';
        }
        refused(twice, &LIMITS, "entry name twice");
    }
}
