//! Reading one small entry out of an uploaded archive (a wheel's `METADATA`, a nupkg's
//! nuspec, a Helm chart's `Chart.yaml`) without holding the rest of it.
//!
//! Zip (feature `zip`) is read through a `Read + Seek` view of the stored upload, so
//! only its directory and the wanted entry cross into the guest. Tar, gzipped or not
//! (feature `tar`), has no directory: it is streamed once from start to end, and
//! nothing but the wanted entry is kept. An upload is untrusted: directories can be
//! huge, entries can lie about their sizes and gzip can inflate a thousandfold, so
//! every read is bounded by the same [`Limits`] and every refusal is a 400 that says
//! which bound was hit.

use std::io::{self, Read};

use crate::PluginError;

#[cfg(feature = "tar")]
mod tar_entry;
#[cfg(feature = "zip")]
mod zip_entry;

#[cfg(feature = "tar")]
pub use tar_entry::read_tar_entry;
#[cfg(feature = "zip")]
pub use zip_entry::read_entry;

/// Bounds on what is read from an untrusted archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest entry, uncompressed.
    pub entry: u64,
    /// Most entries the archive may have.
    pub entries: usize,
    /// Most bytes read from the archive in all. For a zip: its central directory (at
    /// least 46 bytes per entry, so this bounds the entries parsed, and the memory they
    /// take, before `entries` can be checked) and the entry's compressed bytes. For a
    /// tar: the whole tar stream after gunzipping, headers and skipped entries included
    /// (what a gzip bomb inflates to).
    pub bytes_read: u64,
}

/// Which entry to read, and the words errors use for it.
pub struct Wanted<'a> {
    /// What the archive is, for messages: `wheel`, `package`, `chart`.
    pub archive: &'a str,
    /// What the entry is, for messages: `.nuspec file at its root`.
    pub entry: &'a str,
    /// Whether a raw entry name is the wanted one; exactly one entry must match.
    pub matches: &'a dyn Fn(&[u8]) -> bool,
}

impl Wanted<'_> {
    /// A 400 about the archive as a whole.
    fn refuse(&self, what: std::fmt::Arguments<'_>) -> PluginError {
        PluginError::bad_request(format!("the {}{what}", self.archive))
    }

    fn check_count(&self, entries: usize, limits: &Limits) -> Result<(), PluginError> {
        if entries > limits.entries {
            return Err(self.refuse(format_args!(
                " has {entries} entries, more than the {} allowed",
                limits.entries
            )));
        }
        Ok(())
    }

    /// The single match among `found` (the first two matches suffice to tell).
    #[cfg(feature = "zip")]
    fn the_one<T: Copy>(&self, found: &[T]) -> Result<T, PluginError> {
        match found {
            [one] => Ok(*one),
            [] => Err(self.missing()),
            _ => Err(self.twice()),
        }
    }

    fn missing(&self) -> PluginError {
        self.refuse(format_args!(" has no {}", self.entry))
    }

    fn twice(&self) -> PluginError {
        self.refuse(format_args!(" has more than one {}", self.entry))
    }

    fn unreadable(&self, e: &dyn std::fmt::Display) -> PluginError {
        self.refuse(format_args!("'s {} cannot be read: {e}", self.entry))
    }

    /// Reads the entry `name` whose header claims `declared` bytes, refusing it past
    /// `limits.entry` whatever it claimed.
    fn read_bounded(
        &self,
        declared: u64,
        entry: impl Read,
        name: &str,
        limits: &Limits,
    ) -> Result<Vec<u8>, PluginError> {
        let too_large = || {
            self.refuse(format_args!(
                "'s {name} is larger than {} bytes",
                limits.entry
            ))
        };
        if declared > limits.entry {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(declared as usize);
        entry
            .take(limits.entry + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.unreadable(&e))?;
        if bytes.len() as u64 > limits.entry {
            return Err(too_large());
        }
        Ok(bytes)
    }
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

#[cfg(feature = "zip")]
impl<R: io::Seek> io::Seek for Budget<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

/// What every reader must do alike, written once and run by each reader's tests
/// against archives of its own kind.
#[cfg(test)]
mod shared_tests {
    use std::io::Cursor;

    use super::{Limits, Wanted};
    use crate::PluginError;

    pub const LIMITS: Limits = Limits {
        entry: 1000,
        entries: 100,
        bytes_read: 1 << 20,
    };

    type Found = Result<(String, Vec<u8>), PluginError>;
    type Entries<'a> = &'a [(&'a str, &'a [u8])];

    /// A reader under test, and how to make an archive for it.
    pub struct Reader {
        /// The archive and entry words of its messages.
        pub archive: &'static str,
        pub entry: &'static str,
        pub matches: fn(&[u8]) -> bool,
        /// A name `matches` takes.
        pub wanted: &'static str,
        pub read: fn(Cursor<Vec<u8>>, &Wanted<'_>, &Limits) -> Found,
        /// An archive of these entries, in this order.
        pub build: fn(Entries<'_>) -> Vec<u8>,
    }

    impl Reader {
        pub fn read(&self, bytes: Vec<u8>, limits: &Limits) -> Found {
            let wanted = Wanted {
                archive: self.archive,
                entry: self.entry,
                matches: &self.matches,
            };
            (self.read)(Cursor::new(bytes), &wanted, limits)
        }

        /// `bytes` are a 400 whose message holds `expected`.
        pub fn refused(&self, bytes: Vec<u8>, limits: &Limits, expected: &str) {
            let err = self.read(bytes, limits).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(expected), "{}", err.message);
        }

        /// An entry of `LIMITS.entry` bytes is read; one byte more is refused, named.
        pub fn caps_the_entry_size(&self) {
            let sized = |size| (self.build)(&[(self.wanted, &vec![b' '; size])]);
            let (name, bytes) = self.read(sized(1000), &LIMITS).unwrap();
            assert_eq!((name.as_str(), bytes.len()), (self.wanted, 1000));
            let expected = format!("{} is larger than 1000 bytes", self.wanted);
            self.refused(sized(1001), &LIMITS, &expected);
        }

        /// Past `LIMITS.entries` entries the archive is refused, whatever it holds.
        pub fn caps_the_entry_count(&self) {
            let names: Vec<String> = (0..100).map(|i| format!("other/{i}.txt")).collect();
            let mut entries: Vec<(&str, &[u8])> =
                names.iter().map(|n| (n.as_str(), &b""[..])).collect();
            entries.push((self.wanted, b"x"));
            let expected = "101 entries, more than the 100 allowed";
            self.refused((self.build)(&entries), &LIMITS, expected);
            entries.remove(0);
            assert!(self.read((self.build)(&entries), &LIMITS).is_ok());
        }
    }
}
