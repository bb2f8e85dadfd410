//! The content-addressed blob store on local disk.
//!
//! Bytes are written to `tmp/`, hashed while they stream, fsynced, and only then
//! renamed to `blobs/sha256/<aa>/<hex>`. Identical bytes end up as one file. The store
//! knows nothing of packages: which name maps to which digest lives only in the
//! database. Paths are built from validated sha256 hex only, never from a URL.
//!
//! The interface is narrow: stage and publish; read a range as bytes or a stream, or a
//! whole blob as a reader (`read`); walk and trash for the garbage collector. No caller
//! gets a file: the page-cache fast path for small downloads is this module's detail,
//! so an object store stands behind the same calls (`remote`, issue 22: blob bytes in
//! S3). Uploads are staged on local disk either way (plugins read them by range before
//! they are published), and the local trash, walk and reads give way to the object
//! store's when there is one. New blobs are refused while free space under the data
//! dir (the staging area) is low (`space`).

mod cached;
pub mod digest;
mod export;
mod read;
pub mod remote;
pub mod sessions;
pub mod space;
mod walk;
mod writer;

/// Page-cache-only reads of an opened blob (`None` when any byte would come from the
/// disk): hot small files are served without a trip to the blocking pool.
use cached::read_exact_at as read_cached;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub use digest::{Algorithm, MultiHasher};
pub use export::{Exported, Transfer};
pub use read::{BlobRange, BlobStream};
pub use remote::Remote;
pub use space::{Space, SpaceStatus};
pub use writer::{BlobWriter, HashedBlob};

use crate::config::MinFree;

#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
    /// Blobs the collector took out of the store, until their database rows are gone
    /// for good (then they are purged) or kept after all (then they are restored).
    trash: PathBuf,
    space: Space,
    /// The object store holding the blob bytes instead of `blobs`, if configured.
    remote: Option<Remote>,
}

impl BlobStore {
    /// Opens the store below `data_dir` for the server. Leftover temp files (an upload
    /// cut by a crash or a hard stop) are removed: nothing refers to them. Free space
    /// is watched from now on (see [`Space::watch`]).
    pub fn open(data_dir: &Path, min_free: MinFree) -> io::Result<Self> {
        let store = Self::attach(data_dir, min_free)?;
        fs::remove_dir_all(&store.tmp)?;
        fs::create_dir_all(&store.tmp)?;
        store.space.watch();
        Ok(store)
    }

    /// Opens the store beside a server that may be running (`wharf gc`): its temp files
    /// are in-flight uploads, so they stay.
    pub fn attach(data_dir: &Path, min_free: MinFree) -> io::Result<Self> {
        let store = Self {
            blobs: data_dir.join("blobs").join("sha256"),
            tmp: data_dir.join("tmp").join("blobs"),
            trash: data_dir.join("trash").join("sha256"),
            space: Space::open(data_dir, min_free),
            remote: None,
        };
        for dir in [&store.blobs, &store.tmp, &store.trash] {
            fs::create_dir_all(dir)?;
        }
        Ok(store)
    }

    /// Keeps the blob bytes in `remote` (when given) instead of the data dir's `blobs/`;
    /// staging stays local.
    pub fn with_remote(mut self, remote: Option<Remote>) -> Self {
        self.remote = remote;
        self
    }

    /// The object store holding the blob bytes, if any (upload sessions keep their
    /// chunks there too, so that any node can finish them).
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        if !digest::is_sha256_hex(sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a sha256 digest",
            ));
        }
        Ok(self.blobs.join(&sha256[..2]).join(sha256))
    }

    /// Free space under the data dir: whether uploads are refused, for health checks.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// Starts writing a new blob; `extra` digests are computed alongside sha256. Refused
    /// (a [`space::LowSpace`] error) while free space is below `storage.min_free`, so an
    /// upload is turned away before its body is read.
    pub fn writer(&self, extra: &[Algorithm]) -> io::Result<BlobWriter> {
        self.space.check_room()?;
        let name = format!("{:016x}{:016x}", random_u64(), random_u64());
        let path = self.tmp.join(name);
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok(BlobWriter::new(
            file,
            TempFile(Some(path)),
            extra,
            self.clone(),
        ))
    }

    /// Stages a file already complete on disk that must stay where it is until the
    /// blob's transaction has committed (a finished upload session: a crash or a failed
    /// commit must leave it resumable). [`StagedBlob::publish`] hard-links it into the
    /// store instead of moving it; the caller removes `path` after the commit and must
    /// never write to it in place while it has another link (see
    /// `sessions::SessionFiles::unshare`). The caller has hashed and fsynced it; `path`
    /// must be on the store's filesystem.
    pub fn stage_linked(
        &self,
        path: PathBuf,
        sha256: String,
        size: u64,
        digests: Vec<(Algorithm, String)>,
    ) -> StagedBlob {
        StagedBlob {
            temp: TempFile(None),
            linked: Some(path),
            sha256,
            size,
            digests,
            store: self.clone(),
        }
    }

    pub fn contains(&self, sha256: &str) -> bool {
        match (&self.remote, self.path(sha256)) {
            (_, Err(_)) => false,
            (Some(remote), Ok(_)) => remote.contains(sha256).unwrap_or(false),
            (None, Ok(path)) => path.exists(),
        }
    }

    /// `sha256` if it is a digest that may name a blob (the object store's keys are built
    /// from it as the paths are).
    fn checked(&self, sha256: &str) -> io::Result<String> {
        self.path(sha256)?;
        Ok(sha256.to_string())
    }

    fn trash_path(&self, sha256: &str) -> io::Result<PathBuf> {
        self.path(sha256)?;
        Ok(self.trash.join(sha256))
    }

    /// Moves a blob out of the store into the trash (garbage collection, inside the
    /// transaction that forgets it); false if it was not stored.
    pub fn trash(&self, sha256: &str) -> io::Result<bool> {
        if let Some(remote) = &self.remote {
            return remote.trash(&self.checked(sha256)?);
        }
        ignore_missing(fs::rename(self.path(sha256)?, self.trash_path(sha256)?))
    }

    /// Puts a trashed blob back (its transaction did not commit).
    pub fn restore(&self, sha256: &str) -> io::Result<bool> {
        if let Some(remote) = &self.remote {
            return remote.restore(&self.checked(sha256)?);
        }
        let target = self.path(sha256)?;
        fs::create_dir_all(target.parent().expect("blob paths have a parent"))?;
        ignore_missing(fs::rename(self.trash_path(sha256)?, target))
    }

    /// Deletes a trashed blob for good.
    pub fn purge(&self, sha256: &str) -> io::Result<bool> {
        if let Some(remote) = &self.remote {
            return remote.purge(&self.checked(sha256)?);
        }
        ignore_missing(fs::remove_file(self.trash_path(sha256)?))
    }

    /// The blobs in the trash (left there by a collection cut short).
    pub fn trashed(&self) -> io::Result<Vec<String>> {
        if let Some(remote) = &self.remote {
            return remote.trashed();
        }
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.trash)? {
            let name = entry?.file_name();
            match name.to_str() {
                Some(hex) if digest::is_sha256_hex(hex) => found.push(hex.to_string()),
                // Nothing else is ever written here.
                _ => tracing::warn!(name = ?name, "unexpected file in the blob trash"),
            }
        }
        Ok(found)
    }

    /// Temp files currently present (tests check that failed uploads leave none).
    pub fn temp_file_count(&self) -> usize {
        fs::read_dir(&self.tmp).map(|d| d.count()).unwrap_or(0)
    }
}

/// A temp file that is deleted when dropped unless it was moved into the store.
#[derive(Debug)]
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Bytes on disk with known digests, not yet part of the store.
#[derive(Debug)]
pub struct StagedBlob {
    temp: TempFile,
    /// A file to link into the store rather than move (see [`BlobStore::stage_linked`]).
    linked: Option<PathBuf>,
    pub sha256: String,
    pub size: u64,
    /// sha256 and any extra digests computed while writing.
    pub digests: Vec<(Algorithm, String)>,
    store: BlobStore,
}

impl StagedBlob {
    /// Opens the staged bytes for reading (plugins read uploads by range).
    pub fn open(&self) -> io::Result<File> {
        match self.source() {
            Some(path) => File::open(path),
            None => File::open(self.store.path(&self.sha256)?),
        }
    }

    pub fn digest(&self, algorithm: Algorithm) -> Option<&str> {
        self.digests
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, h)| h.as_str())
    }

    /// Copies the bytes up to the object store ahead of the transaction that records
    /// them, so that the transaction's [`StagedBlob::publish`] only has to check they
    /// are still there (a no-op without an object store). A failure here is the
    /// object store's (503) and nothing is committed.
    pub async fn upload(&self) -> io::Result<()> {
        let (Some(remote), Some(source)) = (&self.store.remote, self.source()) else {
            return Ok(());
        };
        remote.upload(source, &self.sha256, self.size).await
    }

    /// The staged file, until the bytes have been moved into the local store.
    fn source(&self) -> Option<&PathBuf> {
        self.temp.0.as_ref().or(self.linked.as_ref())
    }

    /// Moves the bytes into the store. Identical bytes already stored are kept and
    /// this copy dropped. Callers do this inside the database transaction that records
    /// the blob, so garbage collection (which deletes under the same lock) cannot
    /// remove a file between its arrival and its first reference.
    ///
    /// A crash (or a failed commit) after this leaves a complete file no row names;
    /// the collector removes such files once they are older than its orphan grace.
    ///
    /// With an object store, this uploads the bytes unless they are there already
    /// (after [`StagedBlob::upload`], one HEAD request): the check must happen in the
    /// transaction, since the collector may have taken an unreferenced copy of the same
    /// bytes away since the upload. The staged file is removed when this drops.
    pub fn publish(&mut self) -> io::Result<()> {
        let published = self.place();
        if let Err(e) = &published {
            self.store.space.note(e);
        }
        published
    }

    fn place(&mut self) -> io::Result<()> {
        let target = self.store.path(&self.sha256)?;
        let Some(source) = self.source() else {
            return Ok(());
        };
        if let Some(remote) = &self.store.remote {
            // The staged file stays readable through `open` until this drops.
            return remote.upload_blocking(source, &self.sha256, self.size);
        }
        if !target.exists() {
            let dir = target.parent().expect("blob paths have a parent");
            fs::create_dir_all(dir)?;
            if self.linked.is_some() {
                fs::hard_link(source, &target)?;
            } else {
                fs::rename(source, &target)?;
                self.temp.0 = None;
            }
            // Make the new directory entry itself durable.
            File::open(dir)?.sync_all()?;
        }
        self.linked = None;
        Ok(())
    }
}

/// `Ok(false)` for a file that is not there, so repeating a step is harmless.
fn ignore_missing(result: io::Result<()>) -> io::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_publish_dedup_and_cleanup() {
        let dir = std::env::temp_dir().join(format!("wharf-store-{:x}", random_u64()));
        let store = BlobStore::open(&dir, MinFree::Bytes(0)).unwrap();
        let mut w = store.writer(&[Algorithm::Md5]).unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"world").unwrap();
        let mut staged = w.finish().unwrap();
        assert_eq!(staged.size, 11);
        assert_eq!(
            staged.digest(Algorithm::Md5),
            Some("5eb63bbbe01eeed093cb22bb8f5acdc3")
        );
        staged.publish().unwrap();
        assert!(store.contains(&staged.sha256));

        let mut again = store.writer(&[]).unwrap();
        again.write(b"hello world").unwrap();
        let mut again = again.finish().unwrap();
        again.publish().unwrap();
        drop(again);
        assert_eq!(
            store.temp_file_count(),
            0,
            "the duplicate's temp file is gone"
        );

        let abandoned = store.writer(&[]).unwrap();
        drop(abandoned);
        assert_eq!(store.temp_file_count(), 0);
        assert!(store.reader("../../../etc/passwd").is_err());

        assert!(store.trash(&staged.sha256).unwrap());
        assert!(!store.contains(&staged.sha256));
        assert_eq!(store.trashed().unwrap(), vec![staged.sha256.clone()]);
        assert!(store.restore(&staged.sha256).unwrap());
        assert!(store.contains(&staged.sha256));
        assert!(store.trash(&staged.sha256).unwrap());
        assert!(store.purge(&staged.sha256).unwrap());
        assert!(
            !store.purge(&staged.sha256).unwrap(),
            "purging twice is harmless"
        );
        assert!(store.trashed().unwrap().is_empty());
        assert!(store.trash("../x").is_err());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_linked_blob_keeps_its_source_until_the_caller_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
        let source = dir.path().join("session");
        fs::write(&source, b"session bytes").unwrap();
        let sha256 = digest::of_bytes(Algorithm::Sha256, b"session bytes");
        let mut staged = store.stage_linked(source.clone(), sha256.clone(), 13, Vec::new());
        staged.publish().unwrap();
        drop(staged);
        assert!(source.exists(), "the source stays for a retry");
        assert!(store.contains(&sha256));
        // Publishing again (a retried finish) finds the blob there and is harmless.
        let mut again = store.stage_linked(source.clone(), sha256.clone(), 13, Vec::new());
        again.publish().unwrap();
        drop(again);
        fs::remove_file(&source).unwrap();
        assert_eq!(
            fs::read(store.path(&sha256).unwrap()).unwrap(),
            b"session bytes"
        );
    }

    #[test]
    fn no_new_blob_while_space_is_low() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), MinFree::Percent(100.0)).unwrap();
        if store.space().status().total_bytes == 0 {
            return; // Free space cannot be measured here.
        }
        let refused = store.writer(&[]).err().expect("refused");
        assert!(space::is_low_space(&refused));
        assert_eq!(store.temp_file_count(), 0);
    }
}
