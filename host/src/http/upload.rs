//! Receiving request bodies into the blob store: hashed while they stream, capped at
//! the format's limit, never held whole in memory, written in batches off the async
//! runtime (`registry::incoming::write_batched`).

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;

use crate::error::Error;
use crate::registry::incoming::{self, Sink};
use crate::store::{Algorithm, BlobStore, BlobWriter, StagedBlob};

impl Sink for BlobWriter {
    fn write_batch(&mut self, chunks: &[Bytes]) -> std::io::Result<()> {
        chunks.iter().try_for_each(|c| self.write(c))
    }
}

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
    let received = incoming::write_batched(body, blobs.writer(digests)?, limit, limit).await;
    if let Some(failure) = received.failure {
        return Err(failure);
    }
    let writer = received
        .sink
        .ok_or_else(|| Error::Internal("upload writer failed".to_string()))?;
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::Internal(format!("upload writer failed: {e}")))?
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::incoming::trickle;

    #[test]
    fn a_slow_upload_holds_no_blocking_thread_while_it_waits() {
        trickle::runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let blobs = BlobStore::open(dir.path(), Default::default()).unwrap();
            let (tx, body) = trickle::body();
            let upload = tokio::spawn(async move {
                receive(&blobs, &HeaderMap::new(), body, 1 << 20, &[]).await
            });
            tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
            // The upload takes its first chunk, then waits for the client.
            trickle::assert_blocking_pool_free().await;
            tx.send(Ok(Bytes::from_static(b", second"))).await.unwrap();
            drop(tx);
            assert_eq!(upload.await.unwrap().unwrap().size, 13);
        });
    }
}
