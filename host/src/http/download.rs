//! Streaming stored blobs: Range (one range), HEAD, ETag, Last-Modified and
//! conditional requests. Memory stays flat whatever the file size: small files are read
//! whole, larger ones in fixed chunks as the client takes them. With blobs in an object
//! store and `storage.redirect_downloads`, a GET of a large blob is answered 307 to a
//! presigned URL of the store instead.

use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::error::Error;
use crate::store::{BlobRange, BlobStore};

/// What to serve.
pub struct Download<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub content_type: &'a str,
    /// Seconds since the epoch, for Last-Modified.
    pub modified: i64,
    /// Suggested file name for Content-Disposition.
    pub filename: Option<&'a str>,
}

/// How a request was answered, so the caller knows whether to count a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    Full,
    Partial,
    NotModified,
    Head,
}

pub async fn serve(
    blobs: &BlobStore,
    method: &Method,
    headers: &HeaderMap,
    d: Download<'_>,
) -> Result<(Response, Served), Error> {
    let etag = format!("\"{}\"", d.sha256);
    let modified = UNIX_EPOCH + Duration::from_secs(d.modified.max(0) as u64);
    let last_modified = httpdate::fmt_http_date(modified);

    let mut common = HeaderMap::new();
    common.insert(header::ETAG, header_value(&etag));
    common.insert(header::LAST_MODIFIED, header_value(&last_modified));
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(name) = d.filename {
        common.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    }

    if not_modified(headers, &etag, modified) {
        return Ok((
            (StatusCode::NOT_MODIFIED, common).into_response(),
            Served::NotModified,
        ));
    }

    if method == Method::GET
        && let Some(url) = blobs.redirect_url(d.sha256, d.size).await?
    {
        common.insert(header::LOCATION, header_value(&url));
        return Ok((
            (StatusCode::TEMPORARY_REDIRECT, common).into_response(),
            Served::Full,
        ));
    }

    let range = match requested_range(headers, &etag, d.size) {
        RangeRequest::None => None,
        RangeRequest::Satisfiable(start, end) => Some((start, end)),
        RangeRequest::Unsatisfiable => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{}", d.size)),
            );
            return Ok((
                (StatusCode::RANGE_NOT_SATISFIABLE, common).into_response(),
                Served::NotModified,
            ));
        }
    };

    let (status, start, len) = match range {
        Some((start, end)) => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{end}/{}", d.size)),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        None => (StatusCode::OK, 0, d.size),
    };
    common.insert(header::CONTENT_TYPE, header_value(d.content_type));
    common.insert(header::CONTENT_LENGTH, HeaderValue::from(len));

    if method == Method::HEAD {
        return Ok(((status, common).into_response(), Served::Head));
    }

    let body = body(blobs, d.sha256, start, len).await?;
    crate::metrics::downloaded(len);
    let served = if status == StatusCode::OK {
        Served::Full
    } else {
        Served::Partial
    };
    Ok(((status, common, body).into_response(), served))
}

/// The bytes `start..start + len` of a stored blob as a response body.
async fn body(blobs: &BlobStore, sha256: &str, start: u64, len: u64) -> Result<Body, Error> {
    let range = blobs.read_range(sha256, start, len).await.map_err(|e| {
        match crate::store::remote::is_unavailable(&e) {
            // The object store is down (logged there): 503, the client retries.
            true => Error::from(e),
            false => Error::Internal(format!("blob {sha256} is recorded but cannot be read: {e}")),
        }
    })?;
    Ok(match range {
        BlobRange::Bytes(bytes) => Body::from(bytes),
        BlobRange::Stream(stream) => Body::from_stream(stream),
    })
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `attachment; filename="…"` for ASCII names, plus RFC 5987 `filename*` for the rest.
fn content_disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let ascii = ascii.replace(['"', '\\'], "_");
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    header_value(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
}

fn not_modified(headers: &HeaderMap, etag: &str, modified: std::time::SystemTime) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    }
    if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        && let Ok(since) = httpdate::parse_http_date(ims)
    {
        return modified <= since;
    }
    false
}

enum RangeRequest {
    None,
    Satisfiable(u64, u64),
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Multiple ranges, other units, or an `If-Range`
/// that no longer matches are answered with the whole file, as RFC 9110 allows.
fn requested_range(headers: &HeaderMap, etag: &str, size: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::None;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range != etag
    {
        return RangeRequest::None;
    }
    let Some(spec) = value.strip_prefix("bytes=") else {
        return RangeRequest::None;
    };
    if spec.contains(',') {
        return RangeRequest::None;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::None;
    };
    let (start, end) = match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => (start, end.min(size.saturating_sub(1))),
        (Some(start), None) if last.is_empty() => (start, size.saturating_sub(1)),
        (None, Some(suffix)) if first.is_empty() && suffix > 0 => {
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        _ => return RangeRequest::None,
    };
    if size == 0 || start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Satisfiable(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Option<(u64, u64)> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, v.parse().unwrap());
        match requested_range(&h, "\"x\"", size) {
            RangeRequest::Satisfiable(a, b) => Some((a, b)),
            RangeRequest::Unsatisfiable => Some((u64::MAX, u64::MAX)),
            RangeRequest::None => None,
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(range("bytes=100-", 100), Some((u64::MAX, u64::MAX)));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=9-1", 100), None);
    }
}
