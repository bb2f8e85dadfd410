//! Reading one small entry out of an uploaded zip archive (a wheel's `METADATA`, a
//! nupkg's nuspec) without reading the rest of it.
//!
//! The archive is read through a `Read + Seek` view of the stored upload
//! ([`crate::UploadReader`]), so only its end-of-central-directory record, its
//! central directory and the wanted entry's compressed bytes cross into the guest. An
//! upload is untrusted: its central directory can be huge and its entries can lie
//! about their sizes, so every read is bounded and every refusal is a 400 that says
//! which bound was hit.

use std::io::{self, Read, Seek, SeekFrom};

use zip::ZipArchive;
use zip::read::{ArchiveOffset, Config};

use crate::PluginError;

/// Bounds on what is read from an untrusted archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest entry, uncompressed.
    pub entry: u64,
    /// Most entries the archive may have.
    pub entries: usize,
    /// Most bytes read from the archive in all: its central directory (at least 46
    /// bytes per entry, so this bounds the entries parsed, and the memory they take,
    /// before `entries` can be checked) and the entry's compressed bytes.
    pub bytes_read: u64,
}

/// Which entry to read, and the words errors use for it.
pub struct Wanted<'a> {
    /// What the archive is, for messages: `wheel`, `package`.
    pub archive: &'a str,
    /// What the entry is, for messages: `.nuspec file at its root`.
    pub entry: &'a str,
    /// Whether a raw entry name is the wanted one; exactly one entry must match.
    pub matches: &'a dyn Fn(&[u8]) -> bool,
}

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
    if archive.len() > limits.entries {
        return Err(PluginError::bad_request(format!(
            "the {archive_name} has {} entries, more than the {} allowed",
            archive.len(),
            limits.entries
        )));
    }
    // The crate keeps one entry per name; another reader might take the other one.
    if archive.has_duplicate_names() {
        return Err(PluginError::bad_request(format!(
            "the {archive_name}'s zip lists an entry name twice"
        )));
    }
    let mut found = archive
        .file_names_raw()
        .enumerate()
        .filter(|(_, name)| (wanted.matches)(name))
        .map(|(index, _)| index);
    let first_two = (found.next(), found.next());
    drop(found);
    let index = match first_two {
        (Some(index), None) => index,
        (None, _) => {
            return Err(PluginError::bad_request(format!(
                "the {archive_name} has no {}",
                wanted.entry
            )));
        }
        (Some(_), Some(_)) => {
            return Err(PluginError::bad_request(format!(
                "the {archive_name} has more than one {}",
                wanted.entry
            )));
        }
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        PluginError::bad_request(format!(
            "the {archive_name}'s {} cannot be read: {e}",
            wanted.entry
        ))
    };
    let file = archive.by_index(index).map_err(|e| unreadable(&e))?;
    let name = String::from_utf8_lossy(file.name_raw()).into_owned();
    let too_large = || {
        PluginError::bad_request(format!(
            "the {archive_name}'s {name} is larger than {} bytes",
            limits.entry
        ))
    };
    if file.size() > limits.entry {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(file.size() as usize);
    // The declared size is only a claim: a zip bomb inflates far beyond it.
    file.take(limits.entry + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    if bytes.len() as u64 > limits.entry {
        return Err(too_large());
    }
    Ok((name, bytes))
}

/// A reader that fails once `remaining` bytes have been read, remembering that it did.
struct Budget<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R> Budget<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            remaining: limit,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 && !buf.is_empty() {
            self.exceeded = true;
            return Err(io::Error::other("read budget exceeded"));
        }
        let allowed = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..allowed])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
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
