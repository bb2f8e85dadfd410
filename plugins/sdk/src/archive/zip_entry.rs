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

    use super::super::shared_tests::{LIMITS, Reader};
    use super::*;

    const WHEEL: Reader = Reader {
        archive: "wheel",
        entry: "METADATA file",
        matches: |name| name.ends_with(b"/METADATA"),
        wanted: "a/METADATA",
        read: read_entry,
        build: stored,
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

    fn stored(entries: &[(&str, &[u8])]) -> Vec<u8> {
        zip_with(CompressionMethod::Stored, entries)
    }

    #[test]
    fn the_wanted_entry_is_read() {
        let wheel = zip(&[
            ("a/__init__.py", b"x = 1"),
            ("a-1.0.dist-info/METADATA", b"Name: a"),
            ("a-1.0.dist-info/RECORD", &[0u8; 900]),
        ]);
        let (name, bytes) = WHEEL.read(wheel, &LIMITS).unwrap();
        assert_eq!(
            (name.as_str(), &bytes[..]),
            ("a-1.0.dist-info/METADATA", &b"Name: a"[..])
        );
    }

    #[test]
    fn anything_but_one_wanted_entry_is_refused() {
        let refused = |bytes, expected| WHEEL.refused(bytes, &LIMITS, expected);
        refused(b"definitely not a zip".to_vec(), "wheel is not a valid zip");
        refused(Vec::new(), "not a valid zip");
        refused(zip(&[("a.py", b"x")]), "the wheel has no METADATA file");
        refused(
            zip(&[("a/METADATA", b"1"), ("b/METADATA", b"2")]),
            "more than one METADATA file",
        );
        let mut truncated = zip(&[("a/METADATA", b"Name: a")]);
        truncated.truncate(truncated.len() - 10);
        refused(truncated, "not a valid zip");
    }

    #[test]
    fn oversized_and_lying_entries_are_refused() {
        WHEEL.caps_the_entry_size();
        let mut bomb = zip(&[("a/METADATA", &[b' '; 5000])]);
        // Declare 10 bytes in the local and the central header (a zip bomb's trick).
        let declared = 10u32.to_le_bytes();
        for (signature, size_at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = bomb.windows(4).position(|w| w == signature).unwrap();
            bomb[at + size_at..at + size_at + 4].copy_from_slice(&declared);
        }
        assert_eq!(WHEEL.read(bomb, &LIMITS).unwrap_err().status, 400);
    }

    #[test]
    fn big_directories_and_duplicates_are_refused() {
        WHEEL.caps_the_entry_count();
        // The directory is read within the budget before its entries are counted.
        let names: Vec<String> = (0..100).map(|i| format!("lib/{i}.py")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let small_budget = Limits {
            bytes_read: 2000,
            entries: 1000,
            ..LIMITS
        };
        WHEEL.refused(
            stored(&entries),
            &small_budget,
            "zip directory is too large",
        );
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
        WHEEL.refused(twice, &LIMITS, "entry name twice");
    }
}
