//! The host's error type below the HTTP layer.
//!
//! Policy: store, db, auth and plugin code return `Error`; only `http` turns it into a
//! response, in the requesting format's own error shape. Client mistakes carry a
//! message meant for the client; `Internal`, `Db` and `Io` are logged and answered with
//! a generic 500 body so that internals never leak. Running out of disk space is told
//! apart from other I/O and database failures wherever it happens (507), and so is an
//! object store that does not answer (503).

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
    /// The disk is full (ENOSPC, EDQUOT, SQLite's `SQLITE_FULL`), or free space is below
    /// `storage.min_free` so uploads are refused (HTTP 507). `detail` is for the log;
    /// it is `None` for that early refusal, which the store logs once when space runs low.
    #[error("insufficient storage: {}", detail.as_deref().unwrap_or("free space is below storage.min_free"))]
    InsufficientStorage { detail: Option<String> },
    #[error("database error: {0}")]
    Db(crate::db::DbError),
    #[error("storage error: {0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if crate::store::remote::is_unavailable(&e) {
            // Logged with its details where it happened (`store::remote`).
            Self::Unavailable {
                message: "blob storage is unavailable; try again shortly".into(),
                retry_after: 5,
            }
        } else if crate::store::space::is_low_space(&e) {
            Self::InsufficientStorage { detail: None }
        } else if crate::store::space::is_full(&e) {
            Self::InsufficientStorage {
                detail: Some(format!("storage error: {e}")),
            }
        } else {
            Self::Io(e)
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            Self::InsufficientStorage {
                detail: Some(format!("database error: {e}")),
            }
        } else {
            Self::Db(crate::db::DbError::Sqlite(e))
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    /// What a PostgreSQL failure means for the request. A unique constraint that another
    /// writer satisfied first is the conflict SQLite's single writer reported from its
    /// checks (two publishes of one version: exactly one wins). A server that cannot be
    /// reached, is restarting or refuses more connections is a 503 the client may retry.
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let unavailable = |why: &str| Self::Unavailable {
            message: format!("the database is unavailable ({why}); retry shortly"),
            retry_after: 1,
        };
        match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
                Self::Conflict("a concurrent request created the same thing first".to_string())
            }
            Some(code) if *code == SqlState::DISK_FULL => Self::InsufficientStorage {
                detail: Some(format!("database error: {e}")),
            },
            Some(code)
                if [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(code) =>
            {
                unavailable(code.code())
            }
            // No SQLSTATE: the connection itself failed (refused, reset, closed).
            None if is_connection(&e) => unavailable("no connection"),
            _ => Self::Db(crate::db::DbError::Postgres(e)),
        }
    }
}

/// Whether a PostgreSQL error without SQLSTATE came from the connection (I/O, a
/// closed socket) rather than from converting a value.
fn is_connection(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    e.is_closed()
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Unavailable {
                message: format!("the database is unavailable ({other}); retry shortly"),
                retry_after: 1,
            },
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_apart_wherever_it_happens() {
        let full = |e: Error| matches!(e, Error::InsufficientStorage { .. });
        assert!(full(
            std::io::Error::from(std::io::ErrorKind::StorageFull).into()
        ));
        assert!(full(
            std::io::Error::from(std::io::ErrorKind::QuotaExceeded).into()
        ));
        let sqlite_full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        assert!(full(sqlite_full.into()));
        assert!(matches!(
            Error::from(std::io::Error::from(std::io::ErrorKind::NotFound)),
            Error::Io(_)
        ));
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(Error::from(busy), Error::Db(_)));
    }
}
