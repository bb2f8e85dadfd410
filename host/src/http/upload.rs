//! Receiving request bodies into the blob store: hashed while they stream, capped at
//! the format's limit, never held whole in memory.
//!
//! Chunks are gathered on the async side and written in batches, each on the blocking
//! pool, while the next batch arrives: a thread is held only while bytes go to disk,
//! never while a slow client trickles them in (issue 19). At most two batches are in
//! memory per upload, and a slow disk slows the client down.

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::registry::incoming;
use crate::store::{Algorithm, BlobStore, BlobWriter, StagedBlob};

/// Bytes gathered before they are written in one blocking call.
const BATCH: usize = 256 << 10;

type Writing = JoinHandle<(BlobWriter, std::io::Result<()>)>;

pub async fn receive(
    blobs: &BlobStore,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    digests: &[Algorithm],
) -> Result<StagedBlob, Error> {
    if let Some(len) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(incoming::too_large(limit));
    }

    // Dropped on any failure, a writer removes its temp file (also one still inside a
    // batch, once the batch is done).
    let mut idle = Some(blobs.writer(digests)?);
    let mut writing: Option<Writing> = None;
    let mut stream = body.into_data_stream();
    let mut metered = crate::metrics::Upload::start();
    let (mut batch, mut batched, mut received) = (Vec::<Bytes>::new(), 0usize, 0u64);
    loop {
        let chunk = stream
            .next()
            .await
            .transpose()
            .map_err(incoming::body_error)?;
        let end = chunk.is_none();
        if let Some(chunk) = chunk {
            metered.received(chunk.len());
            received += chunk.len() as u64;
            if received > limit {
                return Err(incoming::too_large(limit));
            }
            batched += chunk.len();
            batch.push(chunk);
        }
        if batched >= BATCH || end && !batch.is_empty() {
            let writer = match (writing.take(), idle.take()) {
                (Some(previous), _) => written(previous).await?,
                (None, writer) => writer.expect("a writer is idle when none is writing"),
            };
            let chunks = std::mem::take(&mut batch);
            batched = 0;
            writing = Some(tokio::task::spawn_blocking(move || {
                let mut writer = writer;
                let result = chunks.iter().try_for_each(|c| writer.write(c));
                (writer, result)
            }));
        }
        if end {
            break;
        }
    }
    let writer = match (writing, idle) {
        (Some(last), _) => written(last).await?,
        (None, writer) => writer.expect("a writer is idle when none is writing"),
    };
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::Internal(format!("upload writer failed: {e}")))?
        .map_err(Error::from)
}

/// The writer back from a batch, if the batch was written.
async fn written(batch: Writing) -> Result<BlobWriter, Error> {
    let (writer, result) = batch
        .await
        .map_err(|e| Error::Internal(format!("upload writer failed: {e}")))?;
    result?;
    Ok(writer)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_slow_upload_holds_no_blocking_thread_while_it_waits() {
        // One blocking thread: an upload that kept it while the client is silent
        // would stall every other blocking call.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let blobs = BlobStore::open(dir.path(), Default::default()).unwrap();
            let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
            let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            });
            let body = Body::from_stream(chunks);
            let upload = tokio::spawn(async move {
                receive(&blobs, &HeaderMap::new(), body, 1 << 20, &[]).await
            });
            tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
            // The upload takes its first chunk, then waits for the client.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let other =
                tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(|| 42));
            assert_eq!(other.await.expect("the blocking pool is free").unwrap(), 42);
            tx.send(Ok(Bytes::from_static(b", second"))).await.unwrap();
            drop(tx);
            assert_eq!(upload.await.unwrap().unwrap().size, 13);
        });
    }
}
