//! One artifact download shared by every client that wants it.
//!
//! The leader writes the upstream body into a temp file of the blob store and publishes
//! its progress on a `watch` channel; each client reads the same file from its own
//! offset as it grows, in fixed-size pieces (memory stays flat whatever the size). The
//! last byte is held back until the download is verified and committed, so a download
//! that fails, or whose digest does not match, ends every client's stream with an
//! error before the client has a complete body.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use super::ProxyError;
use crate::db::packages::FileRow;
use crate::store::BlobStream;

/// Bytes read for a client at a time.
const CHUNK: u64 = 256 << 10;

/// Where a download stands.
#[derive(Debug, Clone)]
pub(super) enum Progress {
    /// Waiting for the upstream's answer.
    Connecting,
    /// Receiving: `written` bytes are in `file`.
    Streaming {
        file: Arc<File>,
        content_type: String,
        /// The upstream's `Content-Length`, if it sent one.
        length: Option<u64>,
        written: u64,
    },
    /// Verified and stored as `row`.
    Committed {
        size: u64,
        row: FileRow,
    },
    Failed(ProxyError),
}

/// A download under way, as one client receives it.
pub struct Download {
    content_type: String,
    length: Option<u64>,
    file: Arc<File>,
    progress: watch::Receiver<Progress>,
}

impl Download {
    pub(super) fn new(
        file: Arc<File>,
        content_type: String,
        length: Option<u64>,
        progress: watch::Receiver<Progress>,
    ) -> Self {
        Self {
            content_type,
            length,
            file,
            progress,
        }
    }

    /// The upstream's content type (`application/octet-stream` when it sent none).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The body's length, when the upstream announced it.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// The body from its first byte, as it arrives.
    pub fn into_stream(self) -> BlobStream {
        let reader = Reader {
            file: self.file,
            progress: self.progress,
            offset: 0,
            done: false,
        };
        Box::pin(futures_util::stream::unfold(reader, Reader::next))
    }

    /// Waits until the download is stored, and returns its file row.
    pub async fn finished(mut self) -> Result<FileRow, ProxyError> {
        loop {
            match &*self.progress.borrow_and_update() {
                Progress::Committed { row, .. } => return Ok(row.clone()),
                Progress::Failed(e) => return Err(e.clone()),
                Progress::Connecting | Progress::Streaming { .. } => {}
            }
            if self.progress.changed().await.is_err() {
                return Err(stopped());
            }
        }
    }
}

fn stopped() -> ProxyError {
    ProxyError::Upstream("the download stopped".into())
}

/// What a client may read now.
enum Readable {
    /// Up to this offset, and more may come.
    UpTo(u64),
    /// Up to this offset, which is the end.
    End(u64),
    Failed(ProxyError),
}

struct Reader {
    file: Arc<File>,
    progress: watch::Receiver<Progress>,
    offset: u64,
    done: bool,
}

impl Reader {
    fn readable(&mut self) -> Readable {
        match &*self.progress.borrow_and_update() {
            Progress::Connecting => Readable::UpTo(0),
            // The last byte waits for the verdict: a client must never hold a complete
            // body that turns out wrong.
            Progress::Streaming {
                written, length, ..
            } => Readable::UpTo(match length {
                Some(length) => (*written).min(length.saturating_sub(1)),
                None => *written,
            }),
            Progress::Committed { size, .. } => Readable::End(*size),
            Progress::Failed(e) => Readable::Failed(e.clone()),
        }
    }

    async fn next(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.done {
            return None;
        }
        loop {
            let (until, end) = match self.readable() {
                Readable::UpTo(until) => (until, false),
                Readable::End(until) => (until, true),
                Readable::Failed(e) => return Some(self.fail(io::Error::other(e.to_string()))),
            };
            if self.offset < until {
                let len = (until - self.offset).min(CHUNK) as usize;
                let (file, offset) = (self.file.clone(), self.offset);
                let read = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; len];
                    file.read_exact_at(&mut buf, offset)?;
                    Ok::<_, io::Error>(Bytes::from(buf))
                })
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
                return match read {
                    Ok(bytes) => {
                        self.offset += bytes.len() as u64;
                        Some((Ok(bytes), self))
                    }
                    Err(e) => Some(self.fail(e)),
                };
            }
            if end {
                return None;
            }
            if self.progress.changed().await.is_err() {
                return Some(self.fail(io::Error::other(stopped().to_string())));
            }
        }
    }

    fn fail(mut self, error: io::Error) -> (io::Result<Bytes>, Self) {
        self.done = true;
        (Err(error), self)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use futures_util::StreamExt;

    use super::*;

    fn streaming(file: &Arc<File>, written: u64, length: Option<u64>) -> Progress {
        Progress::Streaming {
            file: file.clone(),
            content_type: "x".into(),
            length,
            written,
        }
    }

    #[tokio::test]
    async fn a_reader_follows_the_file_and_never_gets_the_last_byte_before_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut writer = File::create(&path).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let (tx, rx) = watch::channel(streaming(&file, 0, Some(6)));
        let mut stream = Download::new(file.clone(), "x".into(), Some(6), rx).into_stream();

        writer.write_all(b"abc").unwrap();
        tx.send_replace(streaming(&file, 3, Some(6)));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"abc");
        writer.write_all(b"def").unwrap();
        tx.send_replace(streaming(&file, 6, Some(6)));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"de");
        let last = tokio::spawn(async move { stream.next().await.unwrap() });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!last.is_finished(), "the last byte waits for the verdict");
        tx.send_replace(Progress::Failed(ProxyError::Integrity("digest".into())));
        assert!(last.await.unwrap().is_err());
    }
}
