//! A route's reply template applied to the response of a host-executed operation, so
//! each format answers in its own words (npm `{"ok":true}`, OCI `202` and `Location`)
//! while the host keeps doing the work.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::error::Error;
use crate::plugins::api::{ReplyPart, ReplyTemplate};

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
    /// The text of a header value or body: each part as the operation's outcome fills
    /// it in; a value the operation did not produce is empty.
    fn expand(&self, parts: &[ReplyPart]) -> String {
        let mut out = String::new();
        for part in parts {
            match part {
                ReplyPart::Text(text) => out.push_str(text),
                ReplyPart::Token => out.push_str(self.token.as_deref().unwrap_or_default()),
                ReplyPart::Size => {
                    out.push_str(&self.size.map(|s| s.to_string()).unwrap_or_default())
                }
                ReplyPart::Sha256 => out.push_str(self.sha256.as_deref().unwrap_or_default()),
                ReplyPart::SessionId => out.push_str(self.id.as_deref().unwrap_or_default()),
                ReplyPart::ReceivedEnd => {
                    out.push_str(&self.end.map(|e| e.to_string()).unwrap_or_default())
                }
                ReplyPart::Digest => match (&self.digest, &self.sha256) {
                    (Some(digest), _) => out.push_str(digest),
                    (None, Some(sha256)) => out.push_str(&format!("sha256:{sha256}")),
                    (None, None) => {}
                },
            }
        }
        out
    }
}

/// Whether a template value describes an upload session (names its id or its end).
fn names_session(parts: &[ReplyPart]) -> bool {
    parts
        .iter()
        .any(|p| matches!(p, ReplyPart::SessionId | ReplyPart::ReceivedEnd))
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
/// (those naming the session id or end: `Location`, `Range`), so the client learns where to
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
                .filter(|(_, value)| names_session(value))
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
    use ReplyPart::{Digest, ReceivedEnd, SessionId, Sha256, Token};

    fn text(t: &str) -> ReplyPart {
        ReplyPart::Text(t.into())
    }

    fn template(status: u16, body: Vec<ReplyPart>) -> ReplyTemplate {
        ReplyTemplate {
            status,
            content_type: "application/json".into(),
            headers: vec![
                ("location".into(), vec![text("/blobs/sha256:"), Sha256]),
                ("content-length".into(), vec![text("1")]),
            ],
            body,
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
            Some(&template(
                200,
                vec![text(r#"{"token":""#), Token, text(r#""}"#)],
            )),
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
        let mut t = template(202, vec![]);
        t.headers = vec![
            ("location".into(), vec![text("/up/"), SessionId]),
            ("range".into(), vec![text("0-"), ReceivedEnd]),
            ("docker-content-digest".into(), vec![Digest]),
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
        assert_eq!(empty.expand(&[text("0-"), ReceivedEnd]), "0-0");
        let stored = Outcome {
            sha256: Some("ab".into()),
            ..Outcome::default()
        };
        assert_eq!(stored.expand(&[Digest]), "sha256:ab");
        let named = Outcome {
            digest: Some("sha512:cd".into()),
            ..stored
        };
        assert_eq!(named.expand(&[Digest]), "sha512:cd");
        // A value the operation did not produce is left out, not spelled as a placeholder.
        assert_eq!(Outcome::default().expand(&[text("t="), Token]), "t=");

        let Error::RangeMismatch { headers, .. } =
            error_headers(Error::range_mismatch("abc", 4), Some(&t))
        else {
            panic!("stays a range mismatch");
        };
        assert!(headers.contains(&("range".to_string(), "0-3".to_string())));
        assert!(headers.contains(&("location".to_string(), "/up/abc".to_string())));
        let mut finish = template(201, vec![]);
        finish.headers = vec![
            ("location".into(), vec![text("/blobs/"), Digest]),
            ("docker-content-digest".into(), vec![Digest]),
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
            Some(&template(200, vec![text("x")])),
            &Outcome::default(),
            true,
        );
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        // The template's framing header is never copied.
        assert!(r.headers().get("content-length").is_none());
        assert!(r.headers().get("content-type").unwrap() != "application/json");
    }
}
