//! One artifact download shared by every client that wants it.
//!
//! The leader keeps the chunks it received last in memory ([`Body`]) and publishes how
//! far it got on a `watch` channel; clients take their bytes from those chunks, and
//! only a client that falls behind them (or joins late) reads the file the leader
//! writes. So clients get bytes at the network's pace, not the disk's, and memory stays
//! flat whatever the size. The last byte is held back until the download's digests are
//! verified, so a download that fails, or whose digest does not match, ends every
//! client's stream with an error before the client has a complete body. It does not
//! wait for the fsync and the commit: bytes of a verified digest are right even if
//! storing them fails afterwards.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::watch;

use super::ProxyError;
use crate::db::packages::FileRow;
use crate::store::BlobStream;

/// Bytes read from the file for a client at a time.
const CHUNK: u64 = 512 << 10;
/// Received bytes kept in memory for the clients once they are on disk (more are kept
/// while the writer is behind; its queue bounds that).
const RECENT: usize = 8 << 20;

/// Where a download stands.
#[derive(Debug, Clone)]
pub(super) enum Progress {
    /// Waiting for the upstream's answer.
    Connecting,
    /// Receiving (`received` bytes are in `body`), then storing once verified (see
    /// [`Body::verified`]).
    Streaming {
        body: Arc<Body>,
        received: u64,
    },
    /// Stored as `row`.
    Committed {
        size: u64,
        row: FileRow,
    },
    Failed(ProxyError),
}

/// A download's bytes as they arrive: the recent ones in memory, all of them (once
/// written) in the store's temp file.
#[derive(Debug)]
pub(super) struct Body {
    file: File,
    content_type: String,
    /// The upstream's `Content-Length`, if it sent one.
    length: Option<u64>,
    recent: Mutex<Recent>,
    /// The size, once every byte arrived and matched the digests. Kept here rather than
    /// in [`Progress`], which a failed fsync or commit replaces: a client that missed
    /// the verdict must still get the last byte of a verified body.
    verified: OnceLock<u64>,
}

/// The received chunks from offset `start` on; those before `start` are in the file.
#[derive(Debug, Default)]
struct Recent {
    start: u64,
    chunks: VecDeque<Bytes>,
    held: usize,
    /// Bytes the writer has put in the file; no chunk past this leaves memory.
    written: u64,
}

impl Body {
    pub(super) fn new(file: File, content_type: String, length: Option<u64>) -> Self {
        Self {
            file,
            content_type,
            length,
            recent: Mutex::default(),
            verified: OnceLock::new(),
        }
    }

    /// All `size` bytes arrived and matched their digests (the leader, who then tells
    /// the clients through [`Progress`]).
    pub(super) fn verified(&self, size: u64) {
        let _ = self.verified.set(size);
    }

    /// Keeps a received chunk for the clients (the leader, in order).
    pub(super) fn push(&self, chunk: Bytes) {
        let mut recent = lock(&self.recent);
        recent.held += chunk.len();
        recent.chunks.push_back(chunk);
        recent.trim();
    }

    /// The writer has put the first `written` bytes in the file.
    pub(super) fn written(&self, written: u64) {
        let mut recent = lock(&self.recent);
        recent.written = written;
        recent.trim();
    }

    /// Bytes from `offset` (before `until`), from memory; `Err(start)` when they left
    /// memory already and are in the file before `start`.
    fn recent(&self, offset: u64, until: u64) -> Result<Bytes, u64> {
        let recent = lock(&self.recent);
        if offset < recent.start {
            return Err(recent.start);
        }
        let mut at = recent.start;
        for chunk in &recent.chunks {
            let end = at + chunk.len() as u64;
            if offset < end {
                let from = (offset - at) as usize;
                let to = (until.min(end) - at) as usize;
                return Ok(chunk.slice(from..to));
            }
            at = end;
        }
        // The caller asks only for received bytes; this is not reached.
        Ok(Bytes::new())
    }
}

impl Recent {
    fn trim(&mut self) {
        while self.held > RECENT {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let end = self.start + front.len() as u64;
            if end > self.written {
                break;
            }
            self.held -= front.len();
            self.start = end;
            self.chunks.pop_front();
        }
    }
}

/// A download under way, as one client receives it.
pub struct Download {
    body: Arc<Body>,
    progress: watch::Receiver<Progress>,
}

impl Download {
    pub(super) fn new(body: Arc<Body>, progress: watch::Receiver<Progress>) -> Self {
        Self { body, progress }
    }

    /// The upstream's content type (`application/octet-stream` when it sent none).
    pub fn content_type(&self) -> &str {
        &self.body.content_type
    }

    /// The body's length, when the upstream announced it.
    pub fn length(&self) -> Option<u64> {
        self.body.length
    }

    /// The body from its first byte, as it arrives.
    pub fn into_stream(self) -> BlobStream {
        let reader = Reader {
            body: self.body,
            progress: self.progress,
            offset: 0,
            end: None,
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a client may read now.
enum Readable {
    /// Up to this offset, and more may come.
    UpTo(u64),
    Failed(ProxyError),
}

struct Reader {
    body: Arc<Body>,
    progress: watch::Receiver<Progress>,
    offset: u64,
    /// The verified size, once known: the stream ends there.
    end: Option<u64>,
    done: bool,
}

impl Reader {
    fn readable(&mut self) -> Readable {
        let progress = self.progress.borrow_and_update();
        if let Some(end) = self.body.verified.get() {
            self.end = Some(*end);
            return Readable::UpTo(*end);
        }
        match &*progress {
            Progress::Connecting => Readable::UpTo(0),
            Progress::Committed { size, .. } => {
                self.end = Some(*size);
                Readable::UpTo(*size)
            }
            // The last byte waits for the verdict: a client must never hold a complete
            // body that turns out wrong.
            Progress::Streaming { received, .. } => Readable::UpTo(match self.body.length {
                Some(length) => (*received).min(length.saturating_sub(1)),
                None => *received,
            }),
            Progress::Failed(e) => Readable::Failed(e.clone()),
        }
    }

    async fn next(mut self) -> Option<(io::Result<Bytes>, Self)> {
        if self.done {
            return None;
        }
        loop {
            let until = match self.readable() {
                Readable::UpTo(until) => until,
                Readable::Failed(e) => return Some(self.fail(io::Error::other(e.to_string()))),
            };
            if self.offset < until {
                let read = match self.body.recent(self.offset, until) {
                    Ok(bytes) => Ok(bytes),
                    Err(start) => self.read_file(start).await,
                };
                return match read {
                    Ok(bytes) => {
                        self.offset += bytes.len() as u64;
                        Some((Ok(bytes), self))
                    }
                    Err(e) => Some(self.fail(e)),
                };
            }
            if self.end.is_some() {
                return None;
            }
            if self.progress.changed().await.is_err() {
                return Some(self.fail(io::Error::other(stopped().to_string())));
            }
        }
    }

    /// The bytes from the offset on, before `start` (where memory begins), from disk.
    async fn read_file(&self, start: u64) -> io::Result<Bytes> {
        let len = (start - self.offset).min(CHUNK) as usize;
        let (body, offset) = (self.body.clone(), self.offset);
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; len];
            body.file.read_exact_at(&mut buf, offset)?;
            Ok(Bytes::from(buf))
        })
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
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

    fn streaming(body: &Arc<Body>, received: u64) -> Progress {
        Progress::Streaming {
            body: body.clone(),
            received,
        }
    }

    fn body(length: Option<u64>) -> (tempfile::TempDir, File, Arc<Body>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let writer = File::create(&path).unwrap();
        let body = Body::new(File::open(&path).unwrap(), "x".into(), length);
        (dir, writer, Arc::new(body))
    }

    #[tokio::test]
    async fn a_reader_never_gets_the_last_byte_before_the_verdict() {
        let (_dir, _writer, body) = body(Some(6));
        let (tx, rx) = watch::channel(streaming(&body, 0));
        let mut stream = Download::new(body.clone(), rx).into_stream();

        body.push(Bytes::from_static(b"abc"));
        tx.send_replace(streaming(&body, 3));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"abc");
        body.push(Bytes::from_static(b"def"));
        tx.send_replace(streaming(&body, 6));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"de");
        let last = tokio::spawn(async move { stream.next().await.unwrap() });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!last.is_finished(), "the last byte waits for the verdict");
        tx.send_replace(Progress::Failed(ProxyError::Integrity("digest".into())));
        assert!(last.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_verified_body_ends_whatever_storing_it_does() {
        let (_dir, _writer, body) = body(Some(3));
        let (tx, rx) = watch::channel(streaming(&body, 0));
        let mut stream = Download::new(body.clone(), rx).into_stream();
        body.push(Bytes::from_static(b"abc"));
        tx.send_replace(streaming(&body, 3));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"ab");
        body.verified(3);
        // The fsync or the commit fails right after the verdict, before the client looks
        // again: the bytes are right all the same.
        tx.send_replace(Progress::Failed(ProxyError::Upstream("disk".into())));
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"c");
        assert!(stream.next().await.is_none(), "the body ends");
    }

    #[tokio::test]
    async fn memory_holds_the_recent_written_bytes_and_a_late_reader_uses_the_file() {
        let (_dir, mut writer, body) = body(None);
        let piece = Bytes::from(vec![7u8; RECENT / 4]);
        let mut received = 0;
        for _ in 0..8 {
            body.push(piece.clone());
            received += piece.len() as u64;
            assert!(
                lock(&body.recent).held >= received.min(RECENT as u64) as usize,
                "unwritten chunks stay in memory"
            );
        }
        writer.write_all(&vec![7u8; received as usize]).unwrap();
        body.written(received);
        assert!(lock(&body.recent).held <= RECENT, "written chunks leave");

        body.verified(received);
        let (tx, rx) = watch::channel(streaming(&body, received));
        let mut stream = Download::new(body.clone(), rx).into_stream();
        let mut got = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.iter().all(|b| *b == 7));
            got += chunk.len() as u64;
        }
        assert_eq!(got, received);
        drop(tx);
    }
}
