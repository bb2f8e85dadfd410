//! `GET /metrics`: the Prometheus text exposition of `crate::metrics`, behind the
//! optional `[metrics] token` (sent as `Authorization: Bearer TOKEN`, Prometheus's
//! `authorization` scrape setting).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};

use super::log::ErrorReason;
use crate::registry::Registry;

/// The text format Prometheus and its compatibles scrape.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn scrape(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    if let Some(token) = &registry.config.metrics.token
        && !bearer_matches(&headers, token)
    {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "the metrics token is required\n",
        )
            .into_response();
        let reason = ErrorReason("missing or wrong metrics token".to_string());
        response.extensions_mut().insert(reason);
        return response;
    }
    let data_dir = registry.config.storage.data_dir.clone();
    match crate::metrics::render(&data_dir) {
        Some(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are unavailable: another recorder is installed\n",
        )
            .into_response(),
    }
}

/// Whether `Authorization: Bearer …` carries `token`. Digests are compared, so the
/// time taken says nothing about how much of the token was right.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, value)| value.trim())
    else {
        return false;
    };
    Sha256::digest(presented) == Sha256::digest(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_bearer_token_passes() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer_matches(&headers, "s3cret")
        };
        assert!(with("Bearer s3cret"));
        assert!(with("bearer  s3cret"));
        assert!(!with("Bearer s3cre"));
        assert!(!with("Basic s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
    }
}
