//! `upload-session` operations over HTTP: the host's default status for each step and
//! the values the route's reply template needs (`{id}`, `{end}`, `{digest}`).
//!
//! Defaults: start and append 202, status and cancel 204, finish 201. A chunk that
//! does not start at the session's length, or a second request on a session busy with
//! another, is 416 with the template's headers (`Location`, `Range`).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use super::{reply, upload};
use crate::error::Error;
use crate::plugins::api::{SessionOp, SessionRequest};
use crate::registry::sessions::{self, Incoming, Progress, Stored, Target};
use crate::registry::{FormatEntry, Registry};

pub async fn execute(
    registry: &Registry,
    entry: &FormatEntry,
    owner_id: i64,
    headers: &HeaderMap,
    request: SessionRequest,
    body: Body,
) -> Result<(Response, reply::Outcome), Error> {
    let target = Target {
        owner_id,
        format: entry.name.clone(),
        package: request.pkg.name.clone(),
    };
    let incoming = Incoming {
        body: super::upload::byte_stream(body),
        declared: content_length(headers),
        limit: entry.max_upload,
    };
    let id = request.id.as_str();
    match request.op {
        SessionOp::Start => progress(
            StatusCode::ACCEPTED,
            sessions::start(registry, &target, incoming).await?,
        ),
        SessionOp::Append(offset) => progress(
            StatusCode::ACCEPTED,
            sessions::append(registry, &target, id, offset, incoming).await?,
        ),
        SessionOp::Status => progress(
            StatusCode::NO_CONTENT,
            sessions::status(registry, &target, id)?,
        ),
        SessionOp::Finish(digest) if id.is_empty() => {
            let (algorithm, _) = sessions::wanted(&digest)?;
            let extra = sessions::extra_digests(algorithm);
            let staged = upload::receive(
                &registry.blobs,
                headers,
                incoming.body,
                incoming.limit,
                &extra,
            )
            .await?;
            stored(sessions::store_whole(registry, &target, &digest, staged).await?)
        }
        SessionOp::Finish(digest) => {
            let offset = content_range_start(headers);
            stored(sessions::finish(registry, &target, id, &digest, offset, incoming).await?)
        }
        SessionOp::Cancel => {
            sessions::cancel(registry, &target, id).await?;
            let outcome = reply::Outcome {
                id: Some(id.to_string()),
                ..reply::Outcome::default()
            };
            Ok((StatusCode::NO_CONTENT.into_response(), outcome))
        }
    }
}

fn progress(status: StatusCode, p: Progress) -> Result<(Response, reply::Outcome), Error> {
    Ok((
        status.into_response(),
        reply::Outcome::session(&p.id, p.received),
    ))
}

fn stored(s: Stored) -> Result<(Response, reply::Outcome), Error> {
    let outcome = reply::Outcome {
        size: Some(s.size),
        sha256: Some(s.sha256),
        digest: Some(s.digest),
        ..reply::Outcome::default()
    };
    Ok((StatusCode::CREATED.into_response(), outcome))
}

/// Where the body of a finishing request goes: the start of its `Content-Range`
/// (`a-b`, `bytes a-b/n` or `bytes=a-b`), else the end of the session. The contract's
/// `finish` has no offset, unlike `append`, so the host reads the header itself: a last
/// chunk out of order must be a 416 that leaves the session resumable, not a digest
/// mismatch that discards it. The plugin has checked the header's form.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let range = headers.get(header::CONTENT_RANGE)?.to_str().ok()?.trim();
    let range = range
        .strip_prefix("bytes=")
        .or_else(|| range.strip_prefix("bytes "))
        .unwrap_or(range);
    range.split_once('-')?.0.trim().parse().ok()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closing_chunk_is_placed_by_its_content_range() {
        let start = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_RANGE, value.parse().unwrap());
            content_range_start(&headers)
        };
        assert_eq!(start("10-19"), Some(10));
        assert_eq!(start("bytes 0-9/20"), Some(0));
        assert_eq!(start("bytes=5-5"), Some(5));
        assert_eq!(start("garbage"), None);
        assert_eq!(content_range_start(&HeaderMap::new()), None);
    }
}
