//! Copying blobs from one store into another, for `wharf backup` and `wharf restore`.
//! A backup is always a local directory; the registry's own store may keep its bytes in
//! an object store, which is then downloaded from (backup) or uploaded to (restore).
//! Blobs never change once stored, so a hard link is as good a copy as the bytes, and
//! only the collector removes them: a blob it is deleting is found in the trash, or
//! not at all (then the copy of the database that names it is stale; see
//! `registry::backup`).

use std::fs::{self, File};
use std::io;
use std::path::Path;

use super::{BlobStore, Space};

/// How a blob reaches the other store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// A hard link where both are on one filesystem, else a copy.
    LinkOrCopy,
    /// Always a copy of the bytes.
    Copy,
}

/// What [`BlobStore::export`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exported {
    Linked,
    Copied,
    /// The target had it already.
    Present,
    /// The source has it neither stored nor in the trash.
    Missing,
}

impl BlobStore {
    /// The blob files of a backup in `dir` (`dir/blobs/sha256/<aa>/<hex>`, a data dir's
    /// layout), as a source or a target of [`BlobStore::export`]. Creates nothing.
    pub fn backup_at(dir: &Path) -> Self {
        Self {
            blobs: dir.join("blobs").join("sha256"),
            tmp: dir.join("blobs").join("tmp"),
            trash: dir.join("blobs").join("trash"),
            // A backup is no data dir: nothing is uploaded into it, and it gets no reserve.
            space: Space::detached(dir),
            remote: None,
        }
    }

    /// The size of a stored blob's file, if it is there.
    pub fn stored_size(&self, sha256: &str) -> io::Result<Option<u64>> {
        if let Some(remote) = &self.remote {
            return remote.stored_size(&self.checked(sha256)?);
        }
        match fs::metadata(self.path(sha256)?) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Puts the blob `sha256` into `target`, durably.
    pub fn export(&self, sha256: &str, target: &BlobStore, how: Transfer) -> io::Result<Exported> {
        if let Some(remote) = &target.remote {
            return self.upload_to(remote, sha256);
        }
        let dest = target.path(sha256)?;
        if dest.exists() {
            return Ok(Exported::Present);
        }
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        if let Some(remote) = &self.remote {
            let partial = dir.join(format!(".{sha256}.partial"));
            let found = remote.download(sha256, &partial).inspect_err(|_| {
                let _ = fs::remove_file(&partial);
            })?;
            if !found {
                return Ok(Exported::Missing);
            }
            fs::rename(&partial, &dest)?;
            File::open(dir)?.sync_all()?;
            return Ok(Exported::Copied);
        }
        // The collector may move the file into the trash between two looks.
        for source in [self.path(sha256)?, self.trash_path(sha256)?] {
            if how == Transfer::LinkOrCopy {
                match fs::hard_link(&source, &dest) {
                    Ok(()) => return Ok(Exported::Linked),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    // Another filesystem, or one without links: copy instead.
                    Err(_) => {}
                }
            }
            let partial = dir.join(format!(".{sha256}.partial"));
            match fs::copy(&source, &partial) {
                Ok(_) => {
                    File::open(&partial)?.sync_all()?;
                    fs::rename(&partial, &dest)?;
                    File::open(dir)?.sync_all()?;
                    return Ok(Exported::Copied);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let _ = fs::remove_file(&partial);
                }
                Err(e) => {
                    let _ = fs::remove_file(&partial);
                    return Err(e);
                }
            }
        }
        Ok(Exported::Missing)
    }

    /// Puts a local blob (stored or trashed) into the object store `remote`.
    fn upload_to(&self, remote: &super::Remote, sha256: &str) -> io::Result<Exported> {
        if remote.stored_size(&self.checked(sha256)?)?.is_some() {
            return Ok(Exported::Present);
        }
        for source in [self.path(sha256)?, self.trash_path(sha256)?] {
            match fs::metadata(&source) {
                Ok(meta) => {
                    remote.upload_blocking(&source, sha256, meta.len())?;
                    return Ok(Exported::Copied);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Exported::Missing)
    }

    /// Every blob file below this store, by digest (to prune a backup target).
    pub fn stored(&self) -> io::Result<Vec<String>> {
        let mut found = Vec::new();
        let dirs = match fs::read_dir(&self.blobs) {
            Ok(dirs) => dirs,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e),
        };
        for dir in dirs {
            for entry in fs::read_dir(dir?.path())? {
                if let Some(hex) = entry?.file_name().to_str()
                    && super::digest::is_sha256_hex(hex)
                {
                    found.push(hex.to_string());
                }
            }
        }
        Ok(found)
    }

    /// Deletes a blob file of a backup target (one its final database does not name).
    pub fn remove_exported(&self, sha256: &str) -> io::Result<()> {
        fs::remove_file(self.path(sha256)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Algorithm;

    #[test]
    fn exports_by_link_or_copy_and_finds_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&dir.path().join("data"), Default::default()).unwrap();
        let mut w = store.writer(&[Algorithm::Sha256]).unwrap();
        w.write(b"bytes").unwrap();
        let mut staged = w.finish().unwrap();
        staged.publish().unwrap();
        let sha = staged.sha256.clone();

        let linked = BlobStore::backup_at(&dir.path().join("a"));
        assert_eq!(
            store.export(&sha, &linked, Transfer::LinkOrCopy).unwrap(),
            Exported::Linked
        );
        assert_eq!(
            store.export(&sha, &linked, Transfer::Copy).unwrap(),
            Exported::Present
        );
        assert_eq!(linked.stored().unwrap(), vec![sha.clone()]);
        assert_eq!(linked.stored_size(&sha).unwrap(), Some(5));

        // Being collected: in the trash, still exported; then gone.
        assert!(store.trash(&sha).unwrap());
        let copied = BlobStore::backup_at(&dir.path().join("b"));
        assert_eq!(
            store.export(&sha, &copied, Transfer::Copy).unwrap(),
            Exported::Copied
        );
        assert!(store.purge(&sha).unwrap());
        let missing = BlobStore::backup_at(&dir.path().join("c"));
        assert_eq!(
            store.export(&sha, &missing, Transfer::Copy).unwrap(),
            Exported::Missing
        );
        assert!(missing.stored().unwrap().is_empty());
        assert!(!dir.path().join("c").join("blobs").join("tmp").exists());
    }
}
