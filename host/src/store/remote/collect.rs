//! The collector's side in an object store: walking stored blobs, and trash, restore
//! and purge with the same contract as on disk (`registry::gc`).
//!
//! An object store has no rename, so trashing is a server-side copy to
//! `trash/sha256/<hex>` followed by a delete of the blob's key; restoring is the same
//! the other way. Each step is safe to repeat, and after a crash at any point the
//! bytes exist under one key or both: `trashed` finds what the trash holds, and the
//! start-up recovery restores or purges it as the database says. A copy rather than
//! a marker object keeps reads simple: a blob's key holds bytes exactly when the blob
//! is stored, so reads never look anywhere else.

use std::io;
use std::time::SystemTime;

use futures_util::StreamExt;

use super::Remote;
use crate::store::digest;
use crate::store::walk::Found;

/// Listing entries handed from the I/O runtime to the walking thread ahead of it.
const LIST_AHEAD: usize = 1000;

impl Remote {
    /// Passes the blobs last modified before `before` to `f`, at most `batch` at a
    /// time, as the listing pages arrive (blocking; call it off the async executor).
    pub fn walk_older<E: From<io::Error>>(
        &self,
        before: SystemTime,
        batch: usize,
        mut f: impl FnMut(Vec<Found>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(LIST_AHEAD);
        let (this, dir) = (self.clone(), self.blobs_dir());
        self.io.handle().spawn(async move {
            let mut listing = this.store.list(Some(&dir));
            while let Some(entry) = listing.next().await {
                let entry = entry.map_err(|e| this.io_error("list", e));
                if tx.send(entry).await.is_err() {
                    break;
                }
            }
        });
        let mut pending = Vec::with_capacity(batch);
        while let Some(entry) = rx.blocking_recv() {
            let meta = entry?;
            let name = meta.location.filename().unwrap_or_default();
            if !digest::is_sha256_hex(name) {
                tracing::warn!(key = %meta.location, "unexpected object in the blob store");
                continue;
            }
            if SystemTime::from(meta.last_modified) < before {
                pending.push((name.to_string(), meta.size));
            }
            if pending.len() >= batch {
                f(std::mem::replace(&mut pending, Vec::with_capacity(batch)))?;
            }
        }
        if !pending.is_empty() {
            f(pending)?;
        }
        Ok(())
    }

    /// Moves a blob into the trash; false if it was not stored (blocking). This node's
    /// cached copy goes first: the database stops naming the blob in this transaction
    /// (see `cache` for why other nodes' copies may stay).
    pub fn trash(&self, sha256: &str) -> io::Result<bool> {
        self.cache.remove(sha256);
        self.relocate(self.key(sha256), self.trash_key(sha256))
    }

    /// Puts a trashed blob back; false if the trash does not hold it (blocking).
    pub fn restore(&self, sha256: &str) -> io::Result<bool> {
        self.relocate(self.trash_key(sha256), self.key(sha256))
    }

    /// Copies `from` to `to`, then deletes `from`.
    fn relocate(
        &self,
        from: object_store::path::Path,
        to: object_store::path::Path,
    ) -> io::Result<bool> {
        let this = self.clone();
        self.block_on(async move {
            match this.timed("copy", this.store.copy(&from, &to)).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
            this.timed("delete", this.store.delete(&from)).await?;
            Ok(true)
        })
    }

    /// Deletes a trashed blob for good; false if the trash does not hold it (blocking).
    pub fn purge(&self, sha256: &str) -> io::Result<bool> {
        let (this, key) = (self.clone(), self.trash_key(sha256));
        self.block_on(async move {
            // S3 deletes a missing key without complaint; ask first to tell the two apart.
            if this.head(&key).await?.is_none() {
                return Ok(false);
            }
            this.timed("delete", this.store.delete(&key)).await?;
            Ok(true)
        })
    }

    /// The blobs in the trash (left there by a collection cut short).
    pub fn trashed(&self) -> io::Result<Vec<String>> {
        let (this, dir) = (self.clone(), self.trash_dir());
        self.block_on(async move {
            let mut found = Vec::new();
            let mut listing = this.store.list(Some(&dir));
            while let Some(entry) = listing.next().await {
                let meta = entry.map_err(|e| this.io_error("list", e))?;
                match meta.location.filename() {
                    Some(hex) if digest::is_sha256_hex(hex) => found.push(hex.to_string()),
                    // Nothing else is ever written here.
                    _ => {
                        tracing::warn!(key = %meta.location, "unexpected object in the blob trash")
                    }
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    use super::*;

    #[test]
    fn trash_restore_purge_and_walk() {
        let memory = Arc::new(InMemory::new());
        let remote = Remote::over(memory.clone(), "p");
        let (a, b) = ("a1".repeat(32), "b2".repeat(32));
        remote
            .block_on({
                let (memory, ka, kb) = (memory.clone(), remote.key(&a), remote.key(&b));
                async move {
                    memory.put(&ka, b"aaa".to_vec().into()).await.unwrap();
                    memory.put(&kb, b"bb".to_vec().into()).await.unwrap();
                    Ok(())
                }
            })
            .unwrap();

        let mut seen = Vec::new();
        remote
            .walk_older(SystemTime::now() + Duration::from_secs(60), 1, |found| {
                assert_eq!(found.len(), 1);
                seen.extend(found);
                Ok::<_, io::Error>(())
            })
            .unwrap();
        seen.sort();
        assert_eq!(seen, vec![(a.clone(), 3), (b.clone(), 2)]);
        let mut none = 0;
        remote
            .walk_older(SystemTime::now() - Duration::from_secs(60), 10, |found| {
                none += found.len();
                Ok::<_, io::Error>(())
            })
            .unwrap();
        assert_eq!(none, 0, "young blobs are not offered");

        assert!(remote.trash(&a).unwrap());
        assert!(!remote.contains(&a).unwrap());
        assert!(!remote.trash(&a).unwrap(), "trashing twice is harmless");
        assert_eq!(remote.trashed().unwrap(), vec![a.clone()]);
        assert!(remote.restore(&a).unwrap());
        assert_eq!(remote.stored_size(&a).unwrap(), Some(3));
        assert!(remote.trash(&a).unwrap());
        assert!(remote.purge(&a).unwrap());
        assert!(!remote.purge(&a).unwrap(), "purging twice is harmless");
        assert!(remote.trashed().unwrap().is_empty());
        assert!(remote.contains(&b).unwrap());
    }
}
