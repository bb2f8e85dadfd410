//! Reading the nuspec out of a nupkg (a zip archive) without reading the rest of it.
//!
//! The archive is read through a `Read + Seek` view of the stored upload with the
//! SDK's bounded zip reader, so only its directory and the compressed nuspec cross into
//! the guest, and a hostile archive (huge directory, lying sizes) is a 400.

use std::io::{Read, Seek};

use wharf_plugin_sdk::PluginError;
use wharf_plugin_sdk::archive::{self, Limits, Wanted};

const LIMITS: Limits = Limits {
    // Largest nuspec, as Gitea allows; real ones are a few KiB.
    entry: 3 << 20,
    // Large SDK packages hold a few thousand entries.
    entries: 100_000,
    bytes_read: 32 << 20,
};

/// The bytes of the nupkg's nuspec: the single `*.nuspec` at the archive's root.
pub fn read_nuspec<R: Read + Seek>(reader: R) -> Result<Vec<u8>, PluginError> {
    let wanted = Wanted {
        archive: "package",
        entry: ".nuspec file at its root",
        matches: &is_root_nuspec,
    };
    let (_, bytes) = archive::read_entry(reader, &wanted, &LIMITS)?;
    Ok(bytes)
}

/// Bounds on the README a push keeps: what the host shows at most.
const README_LIMITS: Limits = Limits {
    entry: 1 << 20,
    ..LIMITS
};

/// The README at `path` inside the nupkg (the nuspec's `<readme>`), when there is
/// exactly one such entry within the bounds. A README is for the package's page only,
/// so one that cannot be read leaves the page without it rather than failing the push.
pub fn read_readme<R: Read + Seek>(reader: R, path: &str) -> Option<Vec<u8>> {
    let wanted_path = normalized(path.as_bytes());
    if wanted_path.is_empty() {
        return None;
    }
    let matches = |name: &[u8]| normalized(name).eq_ignore_ascii_case(&wanted_path);
    let wanted = Wanted {
        archive: "package",
        entry: "readme",
        matches: &matches,
    };
    archive::read_entry(reader, &wanted, &README_LIMITS)
        .ok()
        .map(|(_, bytes)| bytes)
}

/// A path inside the package with `/` separators and no leading `./` or `/`.
fn normalized(path: &[u8]) -> Vec<u8> {
    let path: Vec<u8> = path
        .iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    let trimmed = path.strip_prefix(b"./").unwrap_or(&path);
    trimmed.strip_prefix(b"/").unwrap_or(trimmed).to_vec()
}

/// Some Windows tools write `\` as the separator, so it counts as one too.
fn is_root_nuspec(name: &[u8]) -> bool {
    const EXTENSION: &[u8] = b".nuspec";
    !name.contains(&b'/')
        && !name.contains(&b'\\')
        && name.len() > EXTENSION.len()
        && name[name.len() - EXTENSION.len()..].eq_ignore_ascii_case(EXTENSION)
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
    fn the_readme_the_nuspec_names_is_read_when_it_can_be() {
        let nupkg = zip(&[
            ("Lib.nuspec", b"<package/>"),
            ("docs\\README.md", b"# Lib"),
            ("big.md", &[b'x'; (1 << 20) + 1]),
        ]);
        let readme = |path: &str| read_readme(Cursor::new(nupkg.clone()), path);
        assert_eq!(readme("docs/readme.md").as_deref(), Some(&b"# Lib"[..]));
        assert_eq!(readme("./docs\\README.md").as_deref(), Some(&b"# Lib"[..]));
        assert_eq!(readme("missing.md"), None);
        assert_eq!(readme("big.md"), None, "larger than a page shows");
        assert_eq!(readme(""), None);
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
        let max = LIMITS.entry as usize;
        refused(stored(max + 1), "larger than 3145728 bytes");
        assert_eq!(read(stored(max)).unwrap().len(), max);
    }
}
