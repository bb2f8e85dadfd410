//! Receiving request bodies into the blob store: hashed while they stream, capped at
//! the format's limit, never held whole in memory, written in batches off the async
//! runtime (`registry::incoming::write_batched`).

use axum::body::Body;
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::HeaderMap;

use crate::error::Error;
use crate::registry::incoming::{self, ByteStream, Sink};
use crate::store::{Algorithm, BlobStore, BlobWriter, StagedBlob};

impl Sink for BlobWriter {
    fn write_batch(&mut self, chunks: &[Bytes]) -> std::io::Result<()> {
        chunks.iter().try_for_each(|c| self.write(c))
    }
}

pub async fn receive(
    blobs: &BlobStore,
    headers: &HeaderMap,
    body: ByteStream,
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

/// The body as the registry layer reads it, each read failure told in its terms.
pub fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(body_error))
}

/// Why reading a request body failed: the client stopped sending it (the stall
/// timeout of `http::router`: 408), or the connection broke.
fn body_error(error: axum::Error) -> Error {
    let stalled = std::error::Error::source(&error)
        .is_some_and(|e| e.is::<tower_http::timeout::TimeoutError>());
    if stalled {
        Error::Timeout("the upload stopped sending; send it again".to_string())
    } else {
        Error::bad_request(format!("the upload was cut short: {error}"))
    }
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
