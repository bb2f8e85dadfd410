//! Receiving request bodies into the blob store: hashed while they stream, capped at
//! the format's limit, never held whole in memory. Disk writes and hashing run on a
//! blocking thread fed through a small channel.

use axum::body::Body;
use futures_util::StreamExt;
use http::HeaderMap;

use crate::error::Error;
use crate::store::{Algorithm, BlobStore, StagedBlob};

/// Chunks in flight between the network and the disk writer.
const CHANNEL_DEPTH: usize = 8;

pub async fn receive(
    blobs: &BlobStore,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    digests: &[Algorithm],
) -> Result<StagedBlob, Error> {
    let too_large = || Error::TooLarge(format!("the upload exceeds the limit of {limit} bytes"));
    if let Some(len) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large());
    }

    let mut writer = blobs.writer(digests)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(CHANNEL_DEPTH);
    let disk = tokio::task::spawn_blocking(move || -> std::io::Result<StagedBlob> {
        while let Some(chunk) = rx.blocking_recv() {
            writer.write(&chunk)?;
        }
        writer.finish()
    });

    let mut stream = body.into_data_stream();
    let mut received: u64 = 0;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > limit {
                    failure = Some(too_large());
                    break;
                }
                if tx.send(chunk).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Err(e) => {
                failure = Some(Error::bad_request(format!("the upload was cut short: {e}")));
                break;
            }
        }
    }
    drop(tx);
    let staged = disk
        .await
        .map_err(|e| Error::Internal(format!("upload writer failed: {e}")))?;
    match failure {
        // Dropping the staged blob removes its temp file.
        Some(error) => Err(error),
        None => Ok(staged?),
    }
}
