//! Request bodies on their way to disk. The network side runs here, on the async
//! runtime; the disk side is a blocking thread fed through a small channel, so a slow
//! disk slows the client down instead of filling memory.

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc::Sender;

use crate::error::Error;

/// Chunks in flight between the network and the disk writer.
pub const CHANNEL_DEPTH: usize = 8;

pub fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!("the upload exceeds the limit of {limit} bytes"))
}

/// Sends `body` to the writer behind `tx` until it ends, `room` bytes are exceeded, or
/// the writer stops. Returns why the body was not forwarded whole, if it was not; a
/// writer that stopped reports its own error.
pub async fn forward(body: Body, room: u64, limit: u64, tx: Sender<Bytes>) -> Option<Error> {
    let mut stream = body.into_data_stream();
    let mut received: u64 = 0;
    let mut metered = crate::metrics::Upload::start();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                metered.received(chunk.len());
                if received > room {
                    return Some(too_large(limit));
                }
                if tx.send(chunk).await.is_err() {
                    return None;
                }
            }
            Err(e) => return Some(body_error(e)),
        }
    }
    None
}

/// Why reading a request body failed: the client stopped sending it (the stall
/// timeout of `http::router`: 408), or the connection broke.
pub fn body_error(error: axum::Error) -> Error {
    let stalled = std::error::Error::source(&error)
        .is_some_and(|e| e.is::<tower_http::timeout::TimeoutError>());
    if stalled {
        Error::Timeout("the upload stopped sending; send it again".to_string())
    } else {
        Error::bad_request(format!("the upload was cut short: {error}"))
    }
}
