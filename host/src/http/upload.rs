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
    let (mut batch, mut batched, mut received) = (Vec::<Bytes>::new(), 0usize, 0u64);
    loop {
        let chunk = stream
            .next()
            .await
            .transpose()
            .map_err(incoming::body_error)?;
        let end = chunk.is_none();
        if let Some(chunk) = chunk {
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
