//! Reading the nuspec out of a nupkg (a zip archive) without reading the rest of it.
//!
//! The archive is read through a `Read + Seek` view of the stored upload, so only its
//! end-of-central-directory record, its central directory and the compressed nuspec
//! cross into the guest. A pushed archive is untrusted: its central directory can be
//! huge and its entries can lie about their sizes, so every read is bounded.

use std::io::{self, Read, Seek, SeekFrom};

use wharf_plugin_sdk::PluginError;
use zip::ZipArchive;
use zip::read::{ArchiveOffset, Config};

/// Bounds on what is read from an untrusted archive.
struct Limits {
    /// Largest nuspec, as Gitea allows; real ones are a few KiB.
    nuspec: u64,
    /// Most entries a package may have; large SDK packages hold a few thousand.
    entries: usize,
    /// Most bytes read from the archive in all: its central directory (at least 46
    /// bytes per entry, so this bounds the entries parsed, and the memory they take,
    /// before `entries` can be checked) and the nuspec's compressed bytes.
    bytes_read: u64,
}

const LIMITS: Limits = Limits {
    nuspec: 3 << 20,
    entries: 100_000,
    bytes_read: 32 << 20,
};

/// The bytes of the nupkg's nuspec: the single `*.nuspec` at the archive's root.
pub fn read_nuspec<R: Read + Seek>(reader: R) -> Result<Vec<u8>, PluginError> {
    read_nuspec_within(reader, &LIMITS)
}

fn read_nuspec_within<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Vec<u8>, PluginError> {
    let mut budget = Budget::new(reader, limits.bytes_read);
    let result = extract(&mut budget, limits);
    if budget.exceeded {
        // Whatever error the zip crate made of the refused read, this is the reason.
        return Err(PluginError::bad_request(format!(
            "the package's zip directory is too large (more than {} bytes to read)",
            limits.bytes_read
        )));
    }
    result
}

fn extract<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Vec<u8>, PluginError> {
    // The nupkg starts where its range starts. Letting the crate detect an offset
    // would make it scan the whole upload for a directory when the EOCD lies.
    let config = Config {
        archive_offset: ArchiveOffset::Known(0),
    };
    let mut archive = ZipArchive::with_config(config, reader).map_err(|e| {
        PluginError::bad_request(format!("the package is not a valid zip archive: {e}"))
    })?;
    if archive.len() > limits.entries {
        return Err(PluginError::bad_request(format!(
            "the package has {} entries, more than the {} allowed",
            archive.len(),
            limits.entries
        )));
    }
    // The crate keeps one entry per name; another reader might take the other one.
    if archive.has_duplicate_names() {
        return Err(PluginError::bad_request(
            "the package's zip lists an entry name twice",
        ));
    }
    let index = nuspec_index(archive.file_names_raw())?;
    let file = archive.by_index(index).map_err(unreadable)?;
    let too_large =
        || PluginError::bad_request(format!("the nuspec is larger than {} bytes", limits.nuspec));
    if file.size() > limits.nuspec {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(file.size() as usize);
    // The declared size is only a claim: a zip bomb inflates far beyond it.
    file.take(limits.nuspec + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limits.nuspec {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The index of the one root `*.nuspec` among the archive's entry names.
fn nuspec_index<'a>(names: impl Iterator<Item = &'a [u8]>) -> Result<usize, PluginError> {
    let mut found = names.enumerate().filter(|(_, name)| is_root_nuspec(name));
    match (found.next(), found.next()) {
        (Some((index, _)), None) => Ok(index),
        (None, _) => Err(PluginError::bad_request(
            "the package has no .nuspec file at its root",
        )),
        (Some(_), Some(_)) => Err(PluginError::bad_request(
            "the package has more than one .nuspec file at its root",
        )),
    }
}

/// Some Windows tools write `\` as the separator, so it counts as one too.
fn is_root_nuspec(name: &[u8]) -> bool {
    const EXTENSION: &[u8] = b".nuspec";
    !name.contains(&b'/')
        && !name.contains(&b'\\')
        && name.len() > EXTENSION.len()
        && name[name.len() - EXTENSION.len()..].eq_ignore_ascii_case(EXTENSION)
}

fn unreadable(e: impl std::fmt::Display) -> PluginError {
    PluginError::bad_request(format!("the package's nuspec cannot be read: {e}"))
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
pub(crate) mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    /// A deflated zip holding `entries` (name, content), as `nuget pack` writes them.
    pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        zip_with(CompressionMethod::Deflated, entries)
    }

    /// A zip whose entries are all compressed with `method`.
    fn zip_with(method: CompressionMethod, entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, content) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn read(bytes: Vec<u8>) -> Result<Vec<u8>, PluginError> {
        read_nuspec(Cursor::new(bytes))
    }

    fn refused(bytes: Vec<u8>, expected: &str) {
        let err = read(bytes).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains(expected), "{}", err.message);
    }

    #[test]
    fn the_root_nuspec_is_read() {
        let nupkg = zip(&[
            ("_rels/.rels", b"<Relationships/>"),
            ("lib/net8.0/a.nuspec", b"not this one"),
            ("Lib.NuSpec", b"<package/>"),
            ("lib/net8.0/Lib.dll", &[0u8; 1000]),
        ]);
        assert_eq!(read(nupkg).unwrap(), b"<package/>");
    }

    #[test]
    fn anything_but_one_root_nuspec_is_refused() {
        refused(b"definitely not a zip".to_vec(), "not a valid zip");
        refused(Vec::new(), "not a valid zip");
        refused(zip(&[("lib/a.dll", b"x")]), "no .nuspec");
        refused(zip(&[("sub/a.nuspec", b"<package/>")]), "no .nuspec");
        refused(zip(&[("sub\\a.nuspec", b"<package/>")]), "no .nuspec");
        refused(zip(&[(".nuspec", b"<package/>")]), "no .nuspec");
        refused(
            zip(&[("a.nuspec", b"<package/>"), ("B.NUSPEC", b"<package/>")]),
            "more than one .nuspec",
        );
    }

    #[test]
    fn a_truncated_zip_is_refused() {
        let mut nupkg = zip(&[("a.nuspec", b"<package/>")]);
        nupkg.truncate(nupkg.len() - 10);
        refused(nupkg, "not a valid zip");
    }

    #[test]
    fn oversized_nuspecs_are_refused() {
        // Stored, as deflating megabytes is slow in debug builds.
        let stored = |size: usize| {
            zip_with(
                CompressionMethod::Stored,
                &[("a.nuspec", &vec![b' '; size])],
            )
        };
        let max = LIMITS.nuspec as usize;
        refused(stored(max + 1), "larger than 3145728 bytes");
        assert_eq!(read(stored(max)).unwrap().len(), max);
    }

    #[test]
    fn a_nuspec_lying_about_its_size_is_cut_off() {
        let mut nupkg = zip(&[("a.nuspec", &[b' '; 5000])]);
        // Declare 10 bytes in the local and the central header (a zip bomb's trick).
        let declared = 10u32.to_le_bytes();
        for (signature, size_at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = nupkg.windows(4).position(|w| w == signature).unwrap();
            nupkg[at + size_at..at + size_at + 4].copy_from_slice(&declared);
        }
        let limits = Limits {
            nuspec: 1000,
            ..LIMITS
        };
        let err = read_nuspec_within(Cursor::new(nupkg), &limits).unwrap_err();
        assert_eq!(err.status, 400, "{}", err.message);
    }

    #[test]
    fn archives_with_too_many_entries_are_refused() {
        let limits = Limits {
            entries: 3,
            ..LIMITS
        };
        let entries = [("a.nuspec", &b"<package/>"[..]), ("b", b""), ("c", b"")];
        let nupkg = zip(&entries);
        assert!(read_nuspec_within(Cursor::new(nupkg), &limits).is_ok());
        let nupkg = zip(&[entries.as_slice(), &[("d", b"")]].concat());
        let err = read_nuspec_within(Cursor::new(nupkg), &limits).unwrap_err();
        assert!(
            err.message.contains("4 entries, more than the 3"),
            "{}",
            err.message
        );
    }

    #[test]
    fn huge_directories_are_refused_before_they_are_parsed() {
        let names: Vec<String> = (0..100).map(|i| format!("lib/{i}.dll")).collect();
        let mut entries: Vec<(&str, &[u8])> =
            names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        entries.push(("a.nuspec", b"<package/>"));
        let nupkg = zip_with(CompressionMethod::Stored, &entries);
        let limits = Limits {
            bytes_read: 2000,
            ..LIMITS
        };
        let err = read_nuspec_within(Cursor::new(nupkg), &limits).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains("zip directory is too large"),
            "{}",
            err.message
        );
    }

    #[test]
    fn duplicate_entry_names_are_refused() {
        let mut nupkg = zip(&[("a.nuspec", b"<package/>"), ("b.nuspec", b"<other/>")]);
        // Rename the second entry in both headers, as a smuggling archive would.
        for at in find_all(&nupkg, b"b.nuspec") {
            nupkg[at] = b'a';
        }
        refused(nupkg, "entry name twice");
    }

    fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
        haystack
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect()
    }
}
