//! Receiving request bodies into the blob store: hashed while they stream, capped at
//! the format's limit, never held whole in memory. Disk writes and hashing run on a
//! blocking thread fed through a small channel.

use axum::body::Body;
use http::HeaderMap;

use crate::error::Error;
use crate::registry::incoming::{self, CHANNEL_DEPTH};
use crate::store::{Algorithm, BlobStore, StagedBlob};

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

    let mut writer = blobs.writer(digests)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(CHANNEL_DEPTH);
    let disk = tokio::task::spawn_blocking(move || -> std::io::Result<StagedBlob> {
        while let Some(chunk) = rx.blocking_recv() {
            writer.write(&chunk)?;
        }
        writer.finish()
    });

    let failure = incoming::forward(body, limit, limit, tx).await;
    let staged = disk
        .await
        .map_err(|e| Error::Internal(format!("upload writer failed: {e}")))?;
    match failure {
        // Dropping the staged blob removes its temp file.
        Some(error) => Err(error),
        None => Ok(staged?),
    }
}
