//! Writing a new blob: bytes go to a temp file and through the hashers, in order; the
//! digests are known before the fsync ([`HashedBlob`]), and only the fsync makes a
//! [`StagedBlob`] that can be published.
//!
//! Hashing runs on the writing thread, or (after [`BlobWriter::hash_aside`]) on a
//! thread of its own fed the same chunks in the same order: for a large download,
//! hashing and the page-cache copy each cost about as much as the network, and one
//! thread doing both is what the client would wait for.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread;

use bytes::Bytes;

use super::{Algorithm, BlobStore, MultiHasher, StagedBlob, TempFile};

/// Chunks queued for a hashing thread; bounds the memory it may fall behind by.
const QUEUED_FOR_HASHING: usize = 16;

enum Hashing {
    Inline(MultiHasher),
    Aside {
        chunks: mpsc::SyncSender<Bytes>,
        thread: thread::JoinHandle<MultiHasher>,
    },
}

/// A blob being written. Dropping it without `finish` discards the bytes.
pub struct BlobWriter {
    file: File,
    temp: TempFile,
    hashing: Hashing,
    size: u64,
    store: BlobStore,
}

impl BlobWriter {
    pub(super) fn new(file: File, temp: TempFile, extra: &[Algorithm], store: BlobStore) -> Self {
        Self {
            file,
            temp,
            hashing: Hashing::Inline(MultiHasher::new(extra)),
            size: 0,
            store,
        }
    }

    /// Hashes on a thread of its own from now on, beside the writes.
    pub fn hash_aside(&mut self) -> io::Result<()> {
        let Hashing::Inline(hasher) = &mut self.hashing else {
            return Ok(());
        };
        let mut hasher = std::mem::replace(hasher, MultiHasher::new(&[]));
        let (chunks, queue) = mpsc::sync_channel::<Bytes>(QUEUED_FOR_HASHING);
        let thread = thread::Builder::new()
            .name("blob-hasher".into())
            .spawn(move || {
                for chunk in queue {
                    hasher.update(&chunk);
                }
                hasher
            })?;
        self.hashing = Hashing::Aside { chunks, thread };
        Ok(())
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.hashing {
            Hashing::Inline(hasher) => hasher.update(bytes),
            Hashing::Aside { .. } => return self.write_bytes(Bytes::copy_from_slice(bytes)),
        }
        self.write_file(bytes)
    }

    /// [`BlobWriter::write`] for a chunk already in a `Bytes`: a hashing thread gets it
    /// without a copy.
    pub fn write_bytes(&mut self, chunk: Bytes) -> io::Result<()> {
        match &mut self.hashing {
            Hashing::Inline(hasher) => hasher.update(&chunk),
            Hashing::Aside { chunks, .. } => chunks
                .send(chunk.clone())
                .map_err(|_| io::Error::other("the blob hasher stopped"))?,
        }
        self.write_file(&chunk)
    }

    fn write_file(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file
            .write_all(bytes)
            .inspect_err(|e| self.store.space.note(e))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Opens the bytes written so far for reading, while writing goes on (a proxy
    /// streams a download to its clients as it arrives). The handle stays valid after
    /// the blob is published or dropped.
    pub fn reader(&self) -> io::Result<File> {
        File::open(self.temp.0.as_ref().expect("a writer has its temp file"))
    }

    /// Flushes the bytes to disk and returns the staged blob with its digests.
    pub fn finish(self) -> io::Result<StagedBlob> {
        self.hashed()?.sync()
    }

    /// The digests of the bytes written, before they are flushed to disk. Only
    /// [`HashedBlob::sync`] makes them a [`StagedBlob`] that can be published, so the
    /// fsync still precedes the commit; what a caller gains is the verdict early (a
    /// proxy releases a verified body's last byte without waiting for the disk).
    pub fn hashed(mut self) -> io::Result<HashedBlob> {
        let hasher = match self.hashing {
            Hashing::Inline(hasher) => hasher,
            Hashing::Aside { chunks, thread } => {
                drop(chunks);
                thread
                    .join()
                    .map_err(|_| io::Error::other("the blob hasher panicked"))?
            }
        };
        let digests = hasher.finish();
        let sha256 = digests
            .iter()
            .find(|(a, _)| *a == Algorithm::Sha256)
            .map(|(_, h)| h.clone())
            .expect("sha256 is always computed");
        Ok(HashedBlob {
            file: self.file,
            staged: StagedBlob {
                temp: TempFile(self.temp.0.take()),
                linked: None,
                sha256,
                size: self.size,
                digests,
                store: self.store,
            },
        })
    }
}

/// A written blob whose digests are known but whose bytes may not be on disk yet.
#[derive(Debug)]
pub struct HashedBlob {
    file: File,
    /// Not handed out before the fsync: publishing must wait for it.
    staged: StagedBlob,
}

impl HashedBlob {
    pub fn size(&self) -> u64 {
        self.staged.size
    }

    pub fn digest(&self, algorithm: Algorithm) -> Option<&str> {
        self.staged.digest(algorithm)
    }

    /// Flushes the bytes to disk: the blob may then be published. With an object store
    /// the staged file is a scratch copy (the object, uploaded before the commit, is
    /// the durable one, and a crash before the commit loses the upload either way), so
    /// nothing is flushed: the copy to the object store would otherwise wait for the
    /// whole upload to reach the disk.
    pub fn sync(self) -> io::Result<StagedBlob> {
        let Self { file, staged } = self;
        if staged.store.remote.is_none() {
            file.sync_all()
                .inspect_err(|e| staged.store.space.note(e))?;
        }
        Ok(staged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MinFree;
    use crate::store::digest;

    #[test]
    fn digests_come_before_the_fsync_and_an_unsynced_blob_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
        let mut w = store.writer(&[]).unwrap();
        w.write(b"abc").unwrap();
        let hashed = w.hashed().unwrap();
        let sha256 = digest::of_bytes(Algorithm::Sha256, b"abc");
        assert_eq!(hashed.digest(Algorithm::Sha256), Some(sha256.as_str()));
        assert_eq!(hashed.size(), 3);
        drop(hashed);
        assert_eq!(store.temp_file_count(), 0, "dropped before the fsync");

        let mut w = store.writer(&[]).unwrap();
        w.write(b"abc").unwrap();
        let mut staged = w.hashed().unwrap().sync().unwrap();
        staged.publish().unwrap();
        assert!(store.contains(&sha256));
    }

    #[test]
    fn hashing_aside_gives_the_same_digests_as_inline() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
        let pieces: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 1000 + i as usize]).collect();
        let whole: Vec<u8> = pieces.concat();
        let mut w = store.writer(&[Algorithm::Md5]).unwrap();
        w.write(&pieces[0]).unwrap();
        w.hash_aside().unwrap();
        w.write(&pieces[1]).unwrap();
        for piece in &pieces[2..] {
            w.write_bytes(Bytes::from(piece.clone())).unwrap();
        }
        let staged = w.finish().unwrap();
        assert_eq!(staged.size, whole.len() as u64);
        assert_eq!(staged.sha256, digest::of_bytes(Algorithm::Sha256, &whole));
        assert_eq!(
            staged.digest(Algorithm::Md5),
            Some(digest::of_bytes(Algorithm::Md5, &whole).as_str())
        );
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut staged.open().unwrap(), &mut bytes).unwrap();
        assert_eq!(bytes, whole);
    }
}
