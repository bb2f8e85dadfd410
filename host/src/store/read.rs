//! Reading stored blobs: a range of one as bytes or a stream, and a whole one as a
//! reader. Callers never see how the bytes are kept; on the local disk, small ranges
//! the page cache holds are copied right on the calling task, the rest is read on the
//! blocking pool (whole for small ranges, in fixed chunks for large ones). An object
//! store is read with ranged GETs (`remote::read`).

use std::io::{self, Read};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::BlobStore;
use crate::config::REDIRECT_MIN_SIZE;

/// Ranges up to this size are read in one go. Every read of a `tokio::fs::File` is a
/// round trip to the blocking pool, and on small files (tarballs, poms) those hops, not
/// the disk, set the request rate.
pub(super) const READ_WHOLE: u64 = 512 << 10;
/// Chunk size for larger ranges: big enough that blocking-pool hops cost little next
/// to the copy, small enough that many concurrent downloads stay cheap.
const CHUNK: usize = 512 << 10;

/// How long a redirect's presigned URL works: the client follows it at once, and S3
/// checks it when the download starts, not while it runs.
const REDIRECT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(120);

/// Chunks of a blob as they are read.
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A range of a blob: whole bytes when small, else a stream in constant memory.
pub enum BlobRange {
    Bytes(Bytes),
    Stream(BlobStream),
}

impl BlobStore {
    /// The bytes `start..start + len` of a stored blob. A blob shorter than that is an
    /// error (`UnexpectedEof`) for small ranges and a short stream for large ones.
    pub async fn read_range(&self, sha256: &str, start: u64, len: u64) -> io::Result<BlobRange> {
        if let Some(remote) = &self.remote {
            return remote.read_range(&self.checked(sha256)?, start, len).await;
        }
        let file = std::fs::File::open(self.path(sha256)?)?;
        if len <= READ_WHOLE {
            if let Some(bytes) = super::read_cached(&file, start, len as usize) {
                return Ok(BlobRange::Bytes(Bytes::from(bytes)));
            }
            let bytes = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0; len as usize];
                file.read_exact_at(&mut bytes, start)?;
                Ok::<_, io::Error>(bytes)
            })
            .await
            .map_err(|e| io::Error::other(format!("blob read did not complete: {e}")))??;
            return Ok(BlobRange::Bytes(Bytes::from(bytes)));
        }
        let mut file = tokio::fs::File::from_std(file);
        if start > 0 {
            file.seek(io::SeekFrom::Start(start)).await?;
        }
        Ok(BlobRange::Stream(Box::pin(ReaderStream::with_capacity(
            file.take(len),
            CHUNK,
        ))))
    }

    /// A whole stored blob as a blocking reader (digests computed after the fact).
    /// Where to send a client for a blob of `size` bytes instead of serving it: a URL
    /// of the object store valid for [`REDIRECT_EXPIRY`], when `storage.redirect_downloads`
    /// is on and the blob is at least [`REDIRECT_MIN_SIZE`] bytes.
    pub async fn redirect_url(&self, sha256: &str, size: u64) -> io::Result<Option<String>> {
        match &self.remote {
            Some(remote) if size >= REDIRECT_MIN_SIZE => {
                remote
                    .presigned_get(&self.checked(sha256)?, REDIRECT_EXPIRY)
                    .await
            }
            _ => Ok(None),
        }
    }

    /// Blocking: call it off the async executor.
    pub fn reader(&self, sha256: &str) -> io::Result<Box<dyn Read + Send>> {
        if let Some(remote) = &self.remote {
            return remote.reader(&self.checked(sha256)?);
        }
        Ok(Box::new(std::fs::File::open(self.path(sha256)?)?))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::store::Algorithm;

    fn stored(blobs: &BlobStore, bytes: &[u8]) -> String {
        let mut writer = blobs.writer(&[Algorithm::Sha256]).unwrap();
        writer.write(bytes).unwrap();
        let mut staged = writer.finish().unwrap();
        let sha256 = staged.sha256.clone();
        staged.publish().unwrap();
        sha256
    }

    #[tokio::test]
    async fn small_ranges_are_bytes_and_large_ones_stream() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path(), Default::default()).unwrap();
        let big: Vec<u8> = (0..(READ_WHOLE as usize + 10)).map(|i| i as u8).collect();
        let sha256 = stored(&blobs, &big);

        let BlobRange::Bytes(bytes) = blobs.read_range(&sha256, 5, 10).await.unwrap() else {
            panic!("a small range is read whole");
        };
        assert_eq!(&bytes[..], &big[5..15]);

        let len = big.len() as u64 - 3;
        let BlobRange::Stream(mut stream) = blobs.read_range(&sha256, 3, len).await.unwrap() else {
            panic!("a large range streams");
        };
        let mut streamed = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= CHUNK);
            streamed.extend_from_slice(&chunk);
        }
        assert_eq!(streamed, big[3..]);

        let mut whole = Vec::new();
        blobs
            .reader(&sha256)
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        assert_eq!(whole, big);
    }

    #[tokio::test]
    async fn a_range_past_the_end_or_a_missing_blob_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path(), Default::default()).unwrap();
        let sha256 = stored(&blobs, b"short");
        assert!(blobs.read_range(&sha256, 2, 10).await.is_err());
        assert!(blobs.read_range(&"0".repeat(64), 0, 1).await.is_err());
    }
}
