//! Turning host errors into responses in each format's own error shape.
//!
//! The status mapping is one exhaustive `match`; 5xx details are logged, and the client
//! gets a generic message (plugin failures name the plugin, nothing more). Every error
//! response carries its reason as an [`ErrorReason`] extension for the request log:
//! the client's message, or for a 5xx the internal cause.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::log::ErrorReason;
use crate::error::Error;
use crate::pipeline::Hints;
use crate::plugins::PluginFailure;
use crate::plugins::api::{Challenge, Descriptor, ErrorStyle};

/// How one format wants its errors and challenges.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub style: ErrorStyle,
    pub challenge: Challenge,
    /// The format's protocol codes by status, for failures the host detects (the
    /// descriptor's `error-codes`); a route's own codes come first.
    pub codes: Vec<(u16, String)>,
    pub public_url: String,
    /// The token scope the request needs (`repository:alice/img:pull`), once the route
    /// is known; Bearer challenges name it.
    pub scope: Option<String>,
    /// Set when a registry token lacked `scope`: that 403 carries the challenge too,
    /// with `error="insufficient_scope"`, so clients fetch a token with more scope.
    pub insufficient_scope: bool,
    /// Set when the request's token was refused (unknown, expired, badly signed): the
    /// 401's Bearer challenge says `error="invalid_token"`, so clients fetch a new one
    /// instead of taking the 401 as missing credentials.
    pub invalid_token: bool,
}

impl Envelope {
    /// The envelope of a format, from its plugin's descriptor.
    pub fn of(descriptor: &Descriptor, public_url: &str) -> Self {
        Self {
            style: descriptor.error_style.clone(),
            challenge: descriptor.challenge.clone(),
            codes: descriptor.error_codes.clone(),
            public_url: public_url.to_string(),
            scope: None,
            insufficient_scope: false,
            invalid_token: false,
        }
    }

    /// Takes in what the pipeline learnt for the challenge of a refusal.
    pub fn learn(&mut self, hints: Hints) {
        self.invalid_token = hints.invalid_token;
        self.scope = hints.scope.scope;
        self.insufficient_scope = hints.scope.insufficient;
    }

    /// The envelope for routes outside any format (management API): JSON `message`.
    pub fn management(public_url: &str) -> Self {
        Self {
            style: ErrorStyle::JsonField("message".to_string()),
            challenge: Challenge::Basic("Wharf".to_string()),
            codes: Vec::new(),
            public_url: public_url.to_string(),
            scope: None,
            insufficient_scope: false,
            invalid_token: false,
        }
    }

    pub fn render(&self, error: Error) -> Response {
        self.render_coded(error, &[])
    }

    /// Renders an error with the protocol codes a route names for the statuses of
    /// failures the host detects (OCI `BLOB_UNKNOWN` rather than the format-wide 404
    /// code). A plugin's own error keeps its code; without one, the format-wide code for
    /// its status applies.
    pub fn render_coded(&self, error: Error, codes: &[(u16, String)]) -> Response {
        let (status, code, message) = classify(&error);
        fn by_status(codes: &[(u16, String)], status: StatusCode) -> Option<&str> {
            codes
                .iter()
                .find(|(s, _)| *s == status.as_u16())
                .map(|(_, c)| c.as_str())
        }
        let route_codes = if matches!(error, Error::Plugin(_)) {
            None
        } else {
            by_status(codes, status)
        };
        let code = Some(code)
            .filter(|c| !c.is_empty())
            .or(route_codes)
            .or_else(|| by_status(&self.codes, status))
            .unwrap_or_default();
        let mut response = body(&self.style, status, code, &message);
        let reason = if status.is_server_error() {
            error.to_string()
        } else {
            message
        };
        response.extensions_mut().insert(ErrorReason(reason));
        if let Error::RangeMismatch { headers, .. } = &error {
            for (name, value) in headers {
                let name = http::HeaderName::from_bytes(name.as_bytes());
                if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(value))
                    && !super::reply::is_framing(&name)
                {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        if let Error::Plugin(PluginFailure::Busy { retry_after, .. }) = &error {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.as_secs().into());
        }
        if let Error::TooManyRequests { retry_after, .. } | Error::Unavailable { retry_after, .. } =
            &error
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        let insufficient_scope = self.insufficient_scope && status == StatusCode::FORBIDDEN;
        if status == StatusCode::UNAUTHORIZED || insufficient_scope {
            let error = if insufficient_scope {
                Some("insufficient_scope")
            } else {
                self.invalid_token.then_some("invalid_token")
            };
            let value =
                self.challenge
                    .header_value_for(&self.public_url, self.scope.as_deref(), error);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Status, protocol code and client message for an error.
pub(super) fn classify(error: &Error) -> (StatusCode, &str, String) {
    match error {
        Error::BadRequest(m) => (StatusCode::BAD_REQUEST, "", m.clone()),
        Error::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "", m.clone()),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, "", m.clone()),
        Error::NotFound(m) => (StatusCode::NOT_FOUND, "", m.clone()),
        Error::Conflict(m) => (StatusCode::CONFLICT, "", m.clone()),
        Error::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "", m.clone()),
        Error::TooManyRequests { message, .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "", message.clone())
        }
        Error::Unavailable { message, .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "", message.clone())
        }
        Error::Timeout(m) => (StatusCode::REQUEST_TIMEOUT, "", m.clone()),
        Error::RangeMismatch { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "", error.to_string()),
        Error::Plugin(PluginFailure::Rejected {
            status,
            code,
            message,
        }) => {
            let status = StatusCode::from_u16(*status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, code.as_str(), message.clone())
        }
        Error::Plugin(PluginFailure::Crashed { plugin, .. }) => {
            // Already logged with the reason where it happened.
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                format!("internal error: the {plugin} plugin failed on this request"),
            )
        }
        Error::InsufficientStorage { detail } => {
            // The early refusal was logged once, when space ran low; a failed write is
            // logged here, each time, with what failed.
            if let Some(detail) = detail {
                tracing::error!(error = %detail, "out of disk space");
            }
            (
                StatusCode::INSUFFICIENT_STORAGE,
                "",
                "insufficient storage: the registry is out of disk space, nothing was stored; \
                 try again once an administrator has freed space"
                    .to_string(),
            )
        }
        Error::Plugin(PluginFailure::Busy { .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, "", error.to_string())
        }
        Error::Db(_) | Error::Io(_) | Error::Internal(_) => {
            tracing::error!(error = %error, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                "internal server error".to_string(),
            )
        }
    }
}

fn body(style: &ErrorStyle, status: StatusCode, code: &str, message: &str) -> Response {
    match style {
        ErrorStyle::PlainText => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response(),
        ErrorStyle::JsonField(field) => {
            let mut object = serde_json::Map::new();
            object.insert(
                field.clone(),
                serde_json::Value::String(message.to_string()),
            );
            (status, axum::Json(serde_json::Value::Object(object))).into_response()
        }
        ErrorStyle::ErrorEnvelope => {
            // The envelope's `code` is required; this one is in the distribution spec's
            // set and says no more than the status does.
            let code = if code.is_empty() { "UNSUPPORTED" } else { code };
            // `detail` repeats the message: the distribution spec allows any JSON there,
            // and crates.io's API (hence cargo) reads the message from `errors[].detail`.
            let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": message}]});
            (status, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn rendered(style: ErrorStyle, error: Error) -> (StatusCode, String) {
        let envelope = Envelope {
            style,
            codes: vec![
                (507, "UNAVAILABLE".to_string()),
                (404, "NAME_UNKNOWN".to_string()),
            ],
            ..Envelope::management("http://127.0.0.1")
        };
        let response = envelope.render(error);
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn code_of(envelope: &Envelope, error: Error, route: &[(u16, String)]) -> String {
        let response = envelope.render_coded(error, route);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        body["errors"][0]["code"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn codes_come_from_the_plugin_then_the_route_then_the_descriptor() {
        let envelope = Envelope {
            style: ErrorStyle::ErrorEnvelope,
            codes: vec![(404, "NAME_UNKNOWN".into()), (401, "UNAUTHORIZED".into())],
            ..Envelope::management("http://127.0.0.1")
        };
        let route = [(404, "BLOB_UNKNOWN".to_string())];
        let missing = || Error::not_found("no such blob");
        assert_eq!(code_of(&envelope, missing(), &route).await, "BLOB_UNKNOWN");
        assert_eq!(code_of(&envelope, missing(), &[]).await, "NAME_UNKNOWN");
        let refused = Error::Unauthorized("sign in".into());
        assert_eq!(code_of(&envelope, refused, &route).await, "UNAUTHORIZED");
        // A plugin's own code wins; without one the route's codes do not apply to it.
        let rejected = |code: &str| {
            Error::Plugin(PluginFailure::Rejected {
                status: 404,
                code: code.into(),
                message: "m".into(),
            })
        };
        assert_eq!(
            code_of(&envelope, rejected("MANIFEST_UNKNOWN"), &route).await,
            "MANIFEST_UNKNOWN"
        );
        assert_eq!(
            code_of(&envelope, rejected(""), &route).await,
            "NAME_UNKNOWN"
        );
        // Nothing declared: the envelope still carries a code.
        let bare = Envelope {
            codes: Vec::new(),
            ..envelope
        };
        assert_eq!(
            code_of(&bare, Error::Conflict("x".into()), &[]).await,
            "UNSUPPORTED"
        );
    }

    #[tokio::test]
    async fn a_full_disk_is_507_in_every_style() {
        let full = || Error::from(std::io::Error::from(std::io::ErrorKind::StorageFull));
        let (status, body) = rendered(ErrorStyle::ErrorEnvelope, full()).await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errors"][0]["code"], "UNAVAILABLE");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("out of disk space"), "{message}");

        let (status, body) = rendered(ErrorStyle::JsonField("error".into()), full()).await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("out of disk space")
        );

        let early = Error::InsufficientStorage { detail: None };
        let (status, body) = rendered(ErrorStyle::PlainText, early).await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(body.starts_with("insufficient storage"), "{body}");
        assert!(!body.contains("os error"), "no internals: {body}");
    }

    fn reason(response: &Response) -> &str {
        &response.extensions().get::<ErrorReason>().unwrap().0
    }

    #[test]
    fn the_log_learns_what_the_client_was_told_or_the_hidden_cause() {
        let envelope = Envelope::management("http://localhost");
        let refused = envelope.render(Error::bad_request("version must be semver"));
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(reason(&refused), "version must be semver");
        let failed = envelope.render(Error::Internal("the disk is on fire".to_string()));
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reason(&failed), "the disk is on fire");
    }
}
