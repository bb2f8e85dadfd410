//! Reading blobs back: a range with one ranged GET, small ones whole and larger ones
//! streamed as the client takes them (constant memory); a whole blob as a blocking
//! reader for code on the blocking pool. Small blobs read whole are kept in this
//! node's memory (`cache`), which stands in for the disk store's page cache; anything
//! else is a request to the object store.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::{GetOptions, GetRange};
use tokio::io::AsyncWriteExt;

use super::Remote;
use crate::store::read::{BlobRange, READ_WHOLE};

/// Chunks a blocking reader may have fetched ahead of its caller.
const READ_AHEAD: usize = 4;

impl Remote {
    /// The bytes `start..start + len` of a stored blob; a blob shorter than that is an
    /// `UnexpectedEof` error.
    pub async fn read_range(&self, sha256: &str, start: u64, len: u64) -> io::Result<BlobRange> {
        if len == 0 {
            // A zero-length range is no valid HTTP range; there is nothing to fetch.
            return Ok(BlobRange::Bytes(Bytes::new()));
        }
        if len <= READ_WHOLE
            && let Some(cached) = self.cache.range(sha256, start, len)
        {
            return cached.map(BlobRange::Bytes);
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start + len)),
            ..Default::default()
        };
        let key = self.key(sha256);
        let got = self
            .timed("get", self.store.get_opts(&key, options))
            .await?;
        if got.range.end - got.range.start < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob {sha256} is shorter than {}", start + len),
            ));
        }
        // The range is the whole blob (a download rather than a client's Range).
        let whole_blob = start == 0 && got.meta.size == len;
        let this = self.clone();
        let stream = got
            .into_stream()
            .map_err(move |e| this.io_error("get (body)", e));
        if len <= READ_WHOLE {
            let chunks: Vec<Bytes> = stream.try_collect().await?;
            let bytes = Bytes::from(chunks.concat());
            if whole_blob && bytes.len() as u64 == len {
                self.cache.insert(sha256, bytes.clone());
            }
            return Ok(BlobRange::Bytes(bytes));
        }
        Ok(BlobRange::Stream(Box::pin(stream)))
    }

    /// A whole stored blob as a blocking reader; call it off the async executor.
    pub fn reader(&self, sha256: &str) -> io::Result<Box<dyn Read + Send>> {
        // Readers (digests computed once, READMEs, proxied documents that are cached
        // rewritten) are rare next to downloads and do not fill the cache; a copy
        // already there saves them the request.
        if let Some(bytes) = self.cache.whole(sha256) {
            return Ok(Box::new(io::Cursor::new(bytes)));
        }
        self.reader_of(self.key(sha256))
    }

    /// The object at `key` as a blocking reader.
    pub(super) fn reader_of(
        &self,
        key: object_store::path::Path,
    ) -> io::Result<Box<dyn Read + Send>> {
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        let this = self.clone();
        // The GET is answered before the reader is returned, so a missing blob is an
        // error here rather than at the first read.
        self.block_on(async move {
            let got = this.timed("get", this.store.get(&key)).await?;
            let mut stream = got.into_stream();
            tokio::spawn(async move {
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| this.io_error("get (body)", e));
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            });
            Ok(())
        })?;
        Ok(Box::new(ChunkReader {
            chunks: rx,
            current: Bytes::new(),
        }))
    }
}

impl Remote {
    /// Writes the blob, or else its trashed copy, to the new file `dest`, fsynced;
    /// false if neither is there (blocking; backups of a live server).
    pub fn download(&self, sha256: &str, dest: &std::path::Path) -> io::Result<bool> {
        let (this, sha256, dest) = (self.clone(), sha256.to_string(), dest.to_path_buf());
        self.block_on(async move {
            for key in [this.key(&sha256), this.trash_key(&sha256)] {
                let got = match this.timed("get", this.store.get(&key)).await {
                    Ok(got) => got,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let mut file = tokio::fs::File::create_new(&dest).await?;
                let mut stream = got.into_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| this.io_error("get (body)", e))?;
                    file.write_all(&chunk).await?;
                }
                file.sync_all().await?;
                return Ok(true);
            }
            Ok(false)
        })
    }
}

/// Reads the chunks a task on the I/O runtime forwards.
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::ObjectStore;
    use object_store::memory::InMemory;

    use super::*;

    async fn stored(bytes: &[u8]) -> (Remote, String) {
        let memory = Arc::new(InMemory::new());
        let remote = Remote::over(memory.clone(), "p");
        let sha256 = "cd".repeat(32);
        memory
            .put(&remote.key(&sha256), bytes.to_vec().into())
            .await
            .unwrap();
        (remote, sha256)
    }

    #[tokio::test]
    async fn ranges_are_bytes_or_streams_and_short_blobs_fail() {
        let big: Vec<u8> = (0..READ_WHOLE as usize + 100).map(|i| i as u8).collect();
        let (remote, sha256) = stored(&big).await;
        let BlobRange::Bytes(bytes) = remote.read_range(&sha256, 10, 20).await.unwrap() else {
            panic!("a small range is read whole");
        };
        assert_eq!(&bytes[..], &big[10..30]);
        let len = big.len() as u64 - 1;
        let BlobRange::Stream(stream) = remote.read_range(&sha256, 1, len).await.unwrap() else {
            panic!("a large range streams");
        };
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert_eq!(chunks.concat(), &big[1..]);
        let short = remote.read_range(&sha256, 5, big.len() as u64).await;
        assert_eq!(
            short.err().map(|e| e.kind()),
            Some(io::ErrorKind::UnexpectedEof)
        );
        let missing = remote.read_range(&"0".repeat(64), 0, 1).await;
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
    }

    #[tokio::test]
    async fn small_blobs_read_whole_are_cached_until_they_are_trashed() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let memory = Arc::new(InMemory::new());
        let remote = Remote::over(memory.clone(), "p");
        let (whole, ranged) = ("a1".repeat(32), "b2".repeat(32));
        for sha256 in [&whole, &ranged] {
            let key = remote.key(sha256);
            memory.put(&key, bytes.clone().into()).await.unwrap();
        }
        let len = bytes.len() as u64;
        remote.read_range(&whole, 0, len).await.unwrap();
        remote.read_range(&ranged, 1, len - 1).await.unwrap();
        for sha256 in [&whole, &ranged] {
            memory.delete(&remote.key(sha256)).await.unwrap();
        }

        // Served from memory: the object is gone from the store.
        let BlobRange::Bytes(again) = remote.read_range(&whole, 0, len).await.unwrap() else {
            panic!("a small range is read whole");
        };
        assert_eq!(again, bytes);
        let BlobRange::Bytes(part) = remote.read_range(&whole, 10, 5).await.unwrap() else {
            panic!("a small range is read whole");
        };
        assert_eq!(part, &bytes[10..15]);
        let past_end = remote.read_range(&whole, 10, len).await.err().unwrap();
        assert_eq!(past_end.kind(), io::ErrorKind::UnexpectedEof);
        let (blocking, sha256) = (remote.clone(), whole.clone());
        let read = tokio::task::spawn_blocking(move || {
            let mut read = Vec::new();
            blocking.reader(&sha256)?.read_to_end(&mut read)?;
            // The collector's node forgets its copy.
            assert!(!blocking.trash(&sha256)?);
            Ok::<_, io::Error>(read)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(read, bytes);
        let trashed = remote.read_range(&whole, 0, len).await;
        assert_eq!(
            trashed.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        // A client's Range is not the blob: nothing was kept.
        let missing = remote.read_range(&ranged, 0, len).await;
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
    }

    #[tokio::test]
    async fn a_blocking_reader_reads_it_all() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
        let (remote, sha256) = stored(&bytes).await;
        let read = tokio::task::spawn_blocking(move || {
            let mut read = Vec::new();
            remote.reader(&sha256)?.read_to_end(&mut read)?;
            assert!(remote.reader(&"0".repeat(64)).is_err());
            Ok::<_, io::Error>(read)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(read, bytes);
    }
}
