//! Walking the stored blobs for the collector, which reconciles them with the database.
//!
//! A store holds millions of files, so nothing here lists them whole: directory entries
//! are read as the kernel hands them out (an object store's listing page by page) and
//! passed on in batches of a bounded size.

use std::fs;
use std::io;
use std::time::SystemTime;

use super::{BlobStore, digest};

/// A stored blob: its sha256 and size.
pub type Found = (String, u64);

impl BlobStore {
    /// Passes the blobs last modified before `before` to `f`, at most `batch` at a time,
    /// streaming the directories. `f` may take blobs out of the store as it goes. Names
    /// that are not sha256 hex (nothing writes them) are skipped with a warning.
    pub fn walk_older<E: From<io::Error>>(
        &self,
        before: SystemTime,
        batch: usize,
        mut f: impl FnMut(Vec<Found>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(remote) = &self.remote {
            return remote.walk_older(before, batch, f);
        }
        let mut pending = Vec::with_capacity(batch);
        for prefix in fs::read_dir(&self.blobs)? {
            let prefix = prefix?;
            if !prefix.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(prefix.path())? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(hex) = name.to_str().filter(|n| digest::is_sha256_hex(n)) else {
                    tracing::warn!(path = %entry.path().display(), "unexpected file in the blob store");
                    continue;
                };
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    // Taken out since the directory was read.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                if meta.is_file() && meta.modified()? < before {
                    pending.push((hex.to_string(), meta.len()));
                }
                if pending.len() >= batch {
                    f(std::mem::replace(&mut pending, Vec::with_capacity(batch)))?;
                }
            }
        }
        if !pending.is_empty() {
            f(pending)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::MinFree;

    #[test]
    fn walks_old_blobs_in_bounded_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), MinFree::Bytes(0)).unwrap();
        let mut stored = Vec::new();
        for i in 0..5u8 {
            let mut writer = store.writer(&[]).unwrap();
            writer.write(&[i]).unwrap();
            let mut staged = writer.finish().unwrap();
            staged.publish().unwrap();
            stored.push(staged.sha256.clone());
        }
        let young = stored.pop().unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        for sha256 in &stored {
            let file = fs::File::options()
                .write(true)
                .open(store.path(sha256).unwrap())
                .unwrap();
            file.set_modified(past).unwrap();
        }

        let mut batches = Vec::new();
        store
            .walk_older(SystemTime::now() - Duration::from_secs(60), 3, |b| {
                batches.push(b);
                Ok::<_, io::Error>(())
            })
            .unwrap();
        assert!(batches.iter().all(|b| b.len() <= 3), "{batches:?}");
        let mut seen: Vec<String> = batches.into_iter().flatten().map(|(h, _)| h).collect();
        seen.sort();
        stored.sort();
        assert_eq!(seen, stored, "the young blob {young} is not offered");
    }
}
