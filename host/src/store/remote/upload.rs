//! Copying a staged file up as a blob. Keys are content addresses, so an upload is
//! idempotent: an object already there with the right size is the same bytes and
//! nothing is sent; a small blob is created with a conditional PUT (`If-None-Match: *`)
//! where the server supports it; a large one goes up in parts, a few at a time, so
//! memory stays bounded whatever its size.

use std::io;
use std::path::Path as LocalPath;

use bytes::BytesMut;
use futures_util::TryStreamExt;
use object_store::{PutMode, PutPayload};
use tokio::io::AsyncReadExt;

use super::Remote;

/// Blobs up to this size go up in one PUT (read into memory whole).
const SINGLE_PUT: u64 = 8 << 20;
/// The smallest part; S3 wants at least 5 MiB for all but the last.
const MIN_PART: u64 = 8 << 20;
/// S3 allows 10,000 parts; keep a margin.
const MAX_PARTS: u64 = 9_000;
/// Parts in flight at once: memory per upload is about one more than this times the
/// part size (the part being read).
const PARTS_IN_FLIGHT: usize = 4;

impl Remote {
    /// Makes the blob `sha256` (`size` bytes, the file at `source`) present in the store.
    pub async fn upload(&self, source: &LocalPath, sha256: &str, size: u64) -> io::Result<()> {
        let key = self.key(sha256);
        let existing = self.head(&key).await?;
        if existing.as_ref().is_some_and(|meta| meta.size == size) {
            return Ok(());
        }
        // A wrong size can only be a broken earlier write: replace it.
        let mode = match existing {
            Some(meta) => {
                tracing::warn!(store = %self.name, key = %key, size = meta.size, expected = size, "replacing a blob object of the wrong size");
                PutMode::Overwrite
            }
            None => PutMode::Create,
        };
        match self.put_file(source, &key, size, mode).await {
            // Someone stored the same bytes meanwhile.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    }

    /// Writes the file at `source` (`size` bytes) to `key`: one PUT with `mode` when
    /// small, else a multipart upload (which always overwrites).
    pub(super) async fn put_file(
        &self,
        source: &LocalPath,
        key: &object_store::path::Path,
        size: u64,
        mode: PutMode,
    ) -> io::Result<()> {
        if size <= SINGLE_PUT {
            let bytes = tokio::fs::read(source).await?;
            let payload = PutPayload::from(bytes);
            return self
                .timed("put", self.store.put_opts(key, payload, mode.into()))
                .await
                .map(drop);
        }
        self.upload_parts(source, key, size).await
    }

    /// [`Remote::upload`] for a blocking caller (the publish transaction).
    pub fn upload_blocking(&self, source: &LocalPath, sha256: &str, size: u64) -> io::Result<()> {
        let (this, source, sha256) = (self.clone(), source.to_path_buf(), sha256.to_string());
        self.block_on(async move { this.upload(&source, &sha256, size).await })
    }

    async fn upload_parts(
        &self,
        source: &LocalPath,
        key: &object_store::path::Path,
        size: u64,
    ) -> io::Result<()> {
        let part_size = MIN_PART.max(size.div_ceil(MAX_PARTS)) as usize;
        let mut upload = self
            .timed("create multipart upload", self.store.put_multipart(key))
            .await?;
        // Reading the next part overlaps the parts in flight, and each part's request
        // starts as soon as it is read (futures in a FuturesUnordered that is not being
        // polled would not start).
        let sent = async {
            let file = tokio::fs::File::open(source).await?;
            let parts = futures_util::stream::try_unfold(file, |mut file| async move {
                let part = read_part(&mut file, part_size).await?;
                Ok::<_, io::Error>((!part.is_empty()).then_some((part, file)))
            });
            parts
                .map_ok(|part| self.timed("upload part", upload.put_part(part.freeze().into())))
                .try_buffer_unordered(PARTS_IN_FLIGHT)
                .try_collect::<()>()
                .await
        }
        .await;
        match sent {
            Ok(()) => self
                .timed("complete multipart upload", upload.complete())
                .await
                .map(drop),
            Err(e) => {
                // Parts left behind cost storage until the bucket's lifecycle rule or
                // this abort removes them; the blob itself is simply not there.
                let _ = self.timed("abort multipart upload", upload.abort()).await;
                Err(e)
            }
        }
    }
}

/// Up to `len` bytes from `file`: fewer only at its end.
async fn read_part(file: &mut tokio::fs::File, len: usize) -> io::Result<BytesMut> {
    let mut part = BytesMut::with_capacity(len);
    while part.len() < len {
        if file.read_buf(&mut part).await? == 0 {
            break;
        }
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    use super::*;
    use crate::store::digest::{Algorithm, of_bytes};

    #[tokio::test]
    async fn uploads_once_whole_or_in_parts() {
        let memory = Arc::new(InMemory::new());
        let remote = Remote::over(memory.clone(), "p");
        let dir = tempfile::tempdir().unwrap();
        for size in [3usize, SINGLE_PUT as usize + 5] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let path = dir.path().join("staged");
            std::fs::write(&path, &bytes).unwrap();
            let sha256 = of_bytes(Algorithm::Sha256, &bytes);
            remote.upload(&path, &sha256, size as u64).await.unwrap();
            let stored = memory.get(&remote.key(&sha256)).await.unwrap();
            let modified = stored.meta.last_modified;
            assert_eq!(stored.bytes().await.unwrap(), bytes);
            // Again: the object is there, nothing is written.
            remote.upload(&path, &sha256, size as u64).await.unwrap();
            let again = memory.head(&remote.key(&sha256)).await.unwrap();
            assert_eq!(again.last_modified, modified, "size {size}");
        }
    }
}
