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
