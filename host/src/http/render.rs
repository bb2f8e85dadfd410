//! Stage 5, rendering: responses a plugin computed, and rendered indexes with their
//! validators and encodings. (Errors are rendered by `errors`, downloads by `download`.)

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::reply;
use crate::plugins::api;
use crate::registry::index;

/// A header value, or an empty one where the text is not a valid header value.
pub fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A plugin-computed response. Headers that would break HTTP framing are dropped.
pub fn plugin_response(r: api::Response) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut response = (status, r.body).into_response();
    let headers = response.headers_mut();
    if !r.content_type.is_empty() {
        headers.insert(header::CONTENT_TYPE, value(&r.content_type));
    }
    for (name, v) in &r.headers {
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if reply::is_framing(&name) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.append(name, v);
        }
    }
    response
}

/// A rendered index as a response: 304 when the client has it, gzip when it takes it.
pub fn rendered(rendered: &index::Rendered, request: &HeaderMap) -> Response {
    let (body, etag, gzipped) = rendered.variant(accepts_gzip(request));
    let etag_matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if etag_matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let response = api::Response {
            status: rendered.status,
            content_type: rendered.content_type.clone(),
            headers: rendered.headers.clone(),
            body: Vec::new(),
        };
        let mut response = plugin_response(response);
        // Also for HEAD: hyper sends no body then, but its Content-Length.
        *response.body_mut() = Body::from(body);
        if gzipped {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, value(&etag));
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// Whether `Accept-Encoding` allows gzip (listed, and not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn gzip_is_taken_when_listed_and_not_refused() {
        assert!(accepts_gzip(&accept(&["gzip, deflate, br"])));
        assert!(accepts_gzip(&accept(&["br", "GZIP;q=0.5"])));
        assert!(accepts_gzip(&accept(&["*"])));
        assert!(!accepts_gzip(&accept(&["gzip;q=0"])));
        assert!(!accepts_gzip(&accept(&["identity"])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn plugin_responses_cannot_set_framing_headers() {
        let response = plugin_response(api::Response {
            status: 202,
            content_type: "application/json".into(),
            headers: vec![
                ("content-length".into(), "999".into()),
                ("transfer-encoding".into(), "chunked".into()),
                ("location".into(), "/v2/x".into()),
                ("bad name".into(), "x".into()),
            ],
            body: b"{}".to_vec(),
        });
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["location"], "/v2/x");
        assert!(headers.get("transfer-encoding").is_none());
        assert_ne!(
            headers.get("content-length").map(|v| v.as_bytes()),
            Some(&b"999"[..])
        );
    }

    #[test]
    fn a_status_a_plugin_cannot_mean_is_200() {
        let response = plugin_response(api::Response {
            status: 1000,
            content_type: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        });
        assert_eq!(response.status(), StatusCode::OK);
    }
}
