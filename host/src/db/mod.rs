//! The metadata store: every table's SQL, and the engine that runs it.
//!
//! All SQL lives in this module's table files (`owners`, `tokens`, `packages`, …), as
//! functions taking a [`Conn`] (reads) or a [`Tx`] (a write transaction): the
//! engine-neutral handles of `sql`. Callers run them through [`Db::read`]/[`Db::write`],
//! which move the blocking work off the async executor. The engine is SQLite by default
//! (`sqlite`: WAL mode, one write connection, since SQLite allows one writer at a time),
//! or PostgreSQL (`postgres`: a connection pool, for several nodes sharing one registry).

pub mod accounts;
pub mod backup;
pub mod blobs;
pub mod copy;
pub mod gc;
pub mod login_failures;
pub mod owners;
pub mod packages;
mod postgres;
pub mod proxy;
pub mod secrets;
pub mod sessions;
mod sql;
mod sqlite;
pub mod tokens;
pub mod virtual_owners;
pub mod web_sessions;

pub use postgres::ScratchDatabase;
pub use sql::{Column, Conn, DbError, FromColumn, Param, Row, Session, Tx, Value};

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;

#[derive(Clone)]
pub struct Db {
    inner: Arc<Engine>,
}

enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

pub use crate::clock::now;

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Engine::Sqlite(sqlite::Sqlite::open(path)?)),
        })
    }

    /// The database `[storage] database` names: `"sqlite"` (the file `sqlite_path`) or
    /// a `postgres://` URL, with up to `pool_size` connections; migrated.
    pub fn connect(database: &str, pool_size: u32, sqlite_path: &Path) -> Result<Self, Error> {
        if database == "sqlite" {
            return Self::open(sqlite_path);
        }
        if !(database.starts_with("postgres://") || database.starts_with("postgresql://")) {
            return Err(Error::Internal(format!(
                "storage.database: expected \"sqlite\" or a postgres:// URL, not {database:?}"
            )));
        }
        // Connecting waits on the engine's own runtime; never on an async worker.
        let engine = outside_async(|| postgres::Postgres::connect(database, pool_size))?;
        Ok(Self {
            inner: Arc::new(Engine::Postgres(engine)),
        })
    }

    /// Whether the metadata is in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(*self.inner, Engine::Postgres(_))
    }

    /// Runs `f` in a write transaction on a blocking thread; commits if it returns Ok.
    pub async fn write<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<R, Error> + Send + 'static,
    {
        let db = self.clone();
        // What the write logs (audit events) stays in the caller's span: a request's.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| db.write_sync(f)))
            .await
            .map_err(|e| Error::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<R, Error> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_sync(f))
            .await
            .map_err(|e| Error::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` on a read connection right here, on the calling async task. Only for
    /// indexed point lookups (a token, an owner, a file row): they take microseconds,
    /// less than the two thread switches a trip through the blocking pool costs, and
    /// those switches, not SQLite, limited how many small downloads a second we served.
    /// WAL readers never wait for the writer, so this cannot stall on a long publish.
    /// On PostgreSQL a lookup is a network round trip, so the worker thread is handed
    /// back to the runtime while it waits.
    pub fn read_now<R>(&self, f: impl FnOnce(&Conn<'_>) -> Result<R, Error>) -> Result<R, Error> {
        self.read_sync(f)
    }

    /// The first row of one read statement, read by `f`, awaited on the calling task:
    /// for the lookup every request makes (stage 1's). On PostgreSQL the task waits for
    /// the round trip as for any other I/O, where [`Db::read_now`] hands the worker's
    /// other tasks to another thread and blocks this one, a cost that matched the
    /// query's own on a small machine; on SQLite it is `read_now`.
    pub async fn query_opt_now<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, Error> + Send,
    ) -> Result<Option<T>, Error> {
        match &*self.inner {
            Engine::Sqlite(db) => db.read(|conn| conn.query_opt(sql, params, f)),
            Engine::Postgres(db) => db.query_opt(sql, params, f).await,
        }
    }

    /// The blocking form of [`Db::write`], for code already off the executor.
    pub fn write_sync<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, Error>) -> Result<R, Error> {
        match &*self.inner {
            Engine::Sqlite(db) => db.write(f),
            Engine::Postgres(db) => outside_async(|| db.write(f)),
        }
    }

    /// The blocking form of [`Db::read`], for code already off the executor (plugin
    /// host imports).
    pub fn read_sync<R>(&self, f: impl FnOnce(&Conn<'_>) -> Result<R, Error>) -> Result<R, Error> {
        match &*self.inner {
            Engine::Sqlite(db) => db.read(f),
            Engine::Postgres(db) => outside_async(|| db.read(f)),
        }
    }
}

/// Runs `f`, which waits on PostgreSQL, where waiting is allowed: directly on a blocking
/// thread (or one without a runtime), and on an async worker of the multi-threaded
/// runtime after handing its tasks to other workers. The server's runtime is
/// multi-threaded; a current-thread runtime cannot wait here (its tests use `read`).
fn outside_async<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
