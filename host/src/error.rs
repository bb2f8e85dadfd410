//! The host's error type below the HTTP layer.
//!
//! Policy: store, db, auth and plugin code return `Error`; only `http` turns it into a
//! response, in the requesting format's own error shape. Client mistakes carry a
//! message meant for the client; `Internal`, `Db` and `Io` are logged and answered with
//! a generic 500 body so that internals never leak.

use crate::plugins::PluginFailure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// No or invalid credentials where some are needed.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the right to do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// An upload chunk that does not start where its session stands, or a request on a
    /// session busy with another one (HTTP 416). `headers` are the route's reply headers
    /// for this session, filled in by the HTTP layer, so the client learns where to resume.
    #[error("upload session {id} has received {received} bytes; send the chunk that starts there")]
    RangeMismatch {
        id: String,
        received: u64,
        headers: Vec<(String, String)>,
    },
    /// Too many attempts from this caller (failed sign-ins): HTTP 429 with `Retry-After`.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// The server is too busy for this request now: HTTP 503 with `Retry-After`.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    /// The client stopped sending a request body it announced (HTTP 408).
    #[error("{0}")]
    Timeout(String),
    /// A plugin's own error (with its status) or a plugin that failed (trap, limits).
    #[error(transparent)]
    Plugin(#[from] PluginFailure),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn range_mismatch(id: &str, received: u64) -> Self {
        Self::RangeMismatch {
            id: id.to_string(),
            received,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(what: impl Into<String>) -> Self {
        Self::BadRequest(what.into())
    }
}
