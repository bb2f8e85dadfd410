//! A route's reply template applied to the response of a host-executed operation, so
//! each format answers in its own words (npm `{"ok":true}`, OCI `202` and `Location`)
//! while the host keeps doing the work.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::error::Error;
use crate::plugins::api::ReplyTemplate;

/// What an operation produced, for the template's placeholders.
#[derive(Debug, Default)]
pub struct Outcome {
    pub token: Option<String>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// Upload session id (`{id}`).
    pub id: Option<String>,
    /// Index of the last byte an upload session holds, 0 when empty (`{end}`).
    pub end: Option<u64>,
    /// `algorithm:hex` as the client named it (`{digest}`); else `sha256:{sha256}`.
    pub digest: Option<String>,
}

impl Outcome {
    fn expand(&self, text: &str) -> String {
        if !text.contains('{') {
            return text.to_string();
        }
        let mut out = text.to_string();
        let digest = self
            .digest
            .clone()
            .or_else(|| self.sha256.as_ref().map(|s| format!("sha256:{s}")));
        let values = [
            ("{token}", self.token.clone()),
            ("{size}", self.size.map(|s| s.to_string())),
            ("{sha256}", self.sha256.clone()),
            ("{id}", self.id.clone()),
            ("{end}", self.end.map(|e| e.to_string())),
            ("{digest}", digest),
        ];
        for (placeholder, value) in values {
            if let Some(value) = value {
                out = out.replace(placeholder, &value);
            }
        }
        out
    }
}

impl Outcome {
    /// Where an upload session stands: `{id}` and `{end}`.
    pub fn session(id: &str, received: u64) -> Self {
        Self {
            id: Some(id.to_string()),
            end: Some(received.saturating_sub(1)),
            ..Self::default()
        }
    }
}

/// Gives a 416 on an upload session the template's headers that describe the session
/// (those naming `{id}` or `{end}`: `Location`, `Range`), so the client learns where to
/// resume; a finishing request's template names the blob it would have stored, which a
/// 416 must not claim. Other errors pass through unchanged.
pub fn error_headers(error: Error, template: Option<&ReplyTemplate>) -> Error {
    match (error, template) {
        (
            Error::RangeMismatch {
                id,
                received,
                headers: _,
            },
            Some(template),
        ) => {
            let outcome = Outcome::session(&id, received);
            let headers = template
                .headers
                .iter()
                .filter(|(_, value)| value.contains("{id}") || value.contains("{end}"))
                .map(|(name, value)| (name.clone(), outcome.expand(value)))
                .collect();
            Error::RangeMismatch {
                id,
                received,
                headers,
            }
        }
        (error, _) => error,
    }
}

/// Applies `template` to `response`. A streamed file keeps its status and body (Range
/// and conditional requests decide those); other replies take all four parts.
pub fn apply(
    mut response: Response,
    template: Option<&ReplyTemplate>,
    outcome: &Outcome,
    streamed: bool,
) -> Response {
    let Some(template) = template else {
        return response;
    };
    if !streamed {
        if let Some(status) = StatusCode::from_u16(template.status)
            .ok()
            .filter(|_| template.status != 0)
        {
            *response.status_mut() = status;
        }
        if !template.body.is_empty() {
            let body = outcome.expand(&template.body);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            *response.body_mut() = Body::from(body);
        }
        if !template.content_type.is_empty()
            && let Ok(v) = HeaderValue::from_str(&template.content_type)
        {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
    }
    for (name, value) in &template.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if is_framing(&name) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&outcome.expand(value)) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// Headers that describe the body's framing: only the host may set them.
pub fn is_framing(name: &HeaderName) -> bool {
    [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        header::CONTENT_RANGE,
    ]
    .contains(name)
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    fn template(status: u16, body: &str) -> ReplyTemplate {
        ReplyTemplate {
            status,
            content_type: "application/json".into(),
            headers: vec![
                ("location".into(), "/blobs/sha256:{sha256}".into()),
                ("content-length".into(), "1".into()),
            ],
            body: body.into(),
        }
    }

    #[test]
    fn replaces_status_body_and_expands_placeholders() {
        let outcome = Outcome {
            token: Some("wharf_x".into()),
            sha256: Some("ab".into()),
            ..Outcome::default()
        };
        let r = apply(
            StatusCode::NO_CONTENT.into_response(),
            Some(&template(200, r#"{"token":"{token}"}"#)),
            &outcome,
            false,
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["location"], "/blobs/sha256:ab");
        assert_eq!(r.headers()["content-length"], "19");
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn session_placeholders_and_416_headers() {
        let mut t = template(202, "");
        t.headers = vec![
            ("location".into(), "/up/{id}".into()),
            ("range".into(), "0-{end}".into()),
            ("docker-content-digest".into(), "{digest}".into()),
        ];
        let r = apply(
            StatusCode::OK.into_response(),
            Some(&t),
            &Outcome::session("abc", 10),
            false,
        );
        assert_eq!(r.headers()["location"], "/up/abc");
        assert_eq!(r.headers()["range"], "0-9");
        let empty = Outcome::session("abc", 0);
        assert_eq!(empty.expand("0-{end}"), "0-0");
        let stored = Outcome {
            sha256: Some("ab".into()),
            ..Outcome::default()
        };
        assert_eq!(stored.expand("{digest}"), "sha256:ab");
        let named = Outcome {
            digest: Some("sha512:cd".into()),
            ..stored
        };
        assert_eq!(named.expand("{digest}"), "sha512:cd");

        let Error::RangeMismatch { headers, .. } =
            error_headers(Error::range_mismatch("abc", 4), Some(&t))
        else {
            panic!("stays a range mismatch");
        };
        assert!(headers.contains(&("range".to_string(), "0-3".to_string())));
        assert!(headers.contains(&("location".to_string(), "/up/abc".to_string())));
        let mut finish = template(201, "");
        finish.headers = vec![
            ("location".into(), "/blobs/sha256:ab".into()),
            ("docker-content-digest".into(), "sha256:ab".into()),
        ];
        let Error::RangeMismatch { headers, .. } =
            error_headers(Error::range_mismatch("abc", 4), Some(&finish))
        else {
            panic!("stays a range mismatch");
        };
        assert!(headers.is_empty(), "{headers:?}");
        assert!(matches!(
            error_headers(Error::not_found("x"), Some(&t)),
            Error::NotFound(_)
        ));
    }

    #[test]
    fn streamed_files_keep_their_status_and_body() {
        let r = apply(
            (StatusCode::PARTIAL_CONTENT, "abc").into_response(),
            Some(&template(200, "x")),
            &Outcome::default(),
            true,
        );
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        // The template's framing header is never copied.
        assert!(r.headers().get("content-length").is_none());
        assert!(r.headers().get("content-type").unwrap() != "application/json");
    }
}
