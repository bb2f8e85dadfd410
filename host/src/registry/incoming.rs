//! Request bodies on their way to disk: chunks are gathered on the async side and
//! written in batches, each on the blocking pool while the next batch arrives. A thread
//! is held only while bytes go to disk, never while a slow client trickles them in
//! (issue 19); at most two batches of a body are in memory, and a slow disk slows the
//! client down.

use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::task::JoinHandle;

use crate::error::Error;

/// Bytes gathered before they are written in one blocking call.
pub const BATCH: usize = 256 << 10;

pub fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!("the upload exceeds the limit of {limit} bytes"))
}

/// Where a body's bytes go: moved to the blocking pool for each batch, and back.
pub trait Sink: Send + 'static {
    fn write_batch(&mut self, chunks: &[Bytes]) -> io::Result<()>;
}

/// What became of a body: the sink, unless a batch's thread died with it, and why the
/// body was not stored whole, if it was not (a failed write wins over a body error).
pub struct Received<S> {
    pub sink: Option<S>,
    pub failure: Option<Error>,
}

type Writing<S> = JoinHandle<(S, io::Result<()>)>;

/// A request body as this layer sees it: chunks, or why the next one could not be
/// read (the HTTP layer says what a stalled or broken body means).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// Streams `body` into `sink` until it ends or exceeds `room` bytes (`limit` is the
/// limit the refusal names). What arrived before a failure of the body is written
/// too: a correct prefix, from which a resumable upload goes on.
pub async fn write_batched<S: Sink>(
    mut stream: ByteStream,
    sink: S,
    room: u64,
    limit: u64,
) -> Received<S> {
    let mut metered = crate::metrics::Upload::start();
    let mut batches = Batches {
        idle: Some(sink),
        writing: None,
        batch: Vec::new(),
        batched: 0,
    };
    let mut received = 0u64;
    // After a failed write nothing more goes to the sink.
    let mut broken = false;
    let mut failure = loop {
        let next = match stream.next().now_or_never() {
            Some(next) => next,
            None => {
                // The client is slower than the disk: write what came meanwhile, so a
                // slow upload's bytes are stored as they arrive.
                if batches.writing.is_none()
                    && !batches.batch.is_empty()
                    && let Err(e) = batches.flush().await
                {
                    broken = true;
                    break Some(e);
                }
                stream.next().await
            }
        };
        match next {
            Some(Ok(chunk)) => {
                metered.received(chunk.len());
                received += chunk.len() as u64;
                if received > room {
                    break Some(too_large(limit));
                }
                batches.batched += chunk.len();
                batches.batch.push(chunk);
                if batches.batched >= BATCH
                    && let Err(e) = batches.flush().await
                {
                    broken = true;
                    break Some(e);
                }
            }
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    if !broken && let Err(e) = batches.flush().await {
        failure = Some(e);
    }
    let (sink, error) = batches.finish().await;
    Received {
        sink,
        failure: error.or(failure),
    }
}

/// The batch being gathered, and the sink: idle, or writing the previous batch.
struct Batches<S> {
    idle: Option<S>,
    writing: Option<Writing<S>>,
    batch: Vec<Bytes>,
    batched: usize,
}

impl<S: Sink> Batches<S> {
    /// Waits for the batch in flight, then sends the gathered one to the blocking pool.
    async fn flush(&mut self) -> Result<(), Error> {
        if let Some(previous) = self.writing.take() {
            let (sink, error) = written(previous).await;
            self.idle = sink;
            if let Some(error) = error {
                return Err(error);
            }
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let Some(mut sink) = self.idle.take() else {
            return Err(Error::Internal("upload writer failed".to_string()));
        };
        let chunks = std::mem::take(&mut self.batch);
        self.batched = 0;
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let result = sink.write_batch(&chunks);
            (sink, result)
        }));
        Ok(())
    }

    /// The sink once every write is done, and the last write's failure.
    async fn finish(mut self) -> (Option<S>, Option<Error>) {
        match self.writing.take() {
            Some(last) => written(last).await,
            None => (self.idle, None),
        }
    }
}

/// The sink back from a batch, and the batch's failure if it failed.
async fn written<S>(batch: Writing<S>) -> (Option<S>, Option<Error>) {
    match batch.await {
        Ok((sink, Ok(()))) => (Some(sink), None),
        Ok((sink, Err(e))) => (Some(sink), Some(e.into())),
        Err(e) => (
            None,
            Some(Error::Internal(format!("upload writer failed: {e}"))),
        ),
    }
}

/// A body a test feeds chunk by chunk, like a slow client, and a check that the
/// blocking pool of a one-thread runtime is free meanwhile.
#[cfg(test)]
pub(crate) mod trickle {
    use std::time::Duration;

    use super::*;

    /// The sender that feeds the body, and the body.
    pub fn body() -> (tokio::sync::mpsc::Sender<Result<Bytes, Error>>, ByteStream) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Error>>(1);
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        (tx, Box::pin(chunks))
    }

    /// A runtime with one blocking thread: a body that kept it while the client is
    /// silent would stall every other blocking call.
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .unwrap()
    }

    /// After the client went quiet, another blocking call still runs.
    pub async fn assert_blocking_pool_free() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let other =
            tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(|| 42));
        assert_eq!(other.await.expect("the blocking pool is free").unwrap(), 42);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it is given; fails once it holds more than `fail_after` bytes.
    struct Kept {
        bytes: Vec<u8>,
        batches: usize,
        fail_after: usize,
    }

    impl Sink for Kept {
        fn write_batch(&mut self, chunks: &[Bytes]) -> io::Result<()> {
            self.batches += 1;
            chunks.iter().for_each(|c| self.bytes.extend_from_slice(c));
            if self.bytes.len() > self.fail_after {
                return Err(io::Error::other("disk broke"));
            }
            Ok(())
        }
    }

    fn kept(fail_after: usize) -> Kept {
        Kept {
            bytes: Vec::new(),
            batches: 0,
            fail_after,
        }
    }

    fn body(chunks: usize, size: usize) -> ByteStream {
        let chunks = (0..chunks).map(move |i| Ok(Bytes::from(vec![i as u8; size])));
        Box::pin(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn bodies_arrive_whole_in_batches() {
        let received = write_batched(body(10, 100 << 10), kept(usize::MAX), u64::MAX, 0).await;
        assert!(received.failure.is_none());
        let sink = received.sink.unwrap();
        assert_eq!(sink.bytes.len(), 10 * (100 << 10));
        assert_eq!(sink.batches, 4, "256 KiB batches of 100 KiB chunks");
        assert_eq!(&sink.bytes[..1], &[0]);
    }

    #[tokio::test]
    async fn a_body_over_its_room_or_a_failed_write_is_refused() {
        let received = write_batched(body(10, 1000), kept(usize::MAX), 5000, 5000).await;
        assert!(matches!(received.failure, Some(Error::TooLarge(_))));
        let received = write_batched(body(10, 100 << 10), kept(300 << 10), u64::MAX, 0).await;
        assert!(
            matches!(received.failure, Some(Error::Io(_))),
            "the write's failure"
        );
        assert!(received.sink.is_some(), "the sink comes back");
    }

    #[test]
    fn a_silent_client_holds_no_blocking_thread() {
        trickle::runtime().block_on(async {
            let (tx, body) = trickle::body();
            let upload = tokio::spawn(write_batched(body, kept(usize::MAX), u64::MAX, 0));
            tx.send(Ok(Bytes::from(vec![1u8; BATCH]))).await.unwrap();
            trickle::assert_blocking_pool_free().await;
            drop(tx);
            let received = upload.await.unwrap();
            assert_eq!(received.sink.unwrap().bytes.len(), BATCH);
        });
    }
}
