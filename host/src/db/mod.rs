//! The metadata store: SQLite in WAL mode behind a small connection pool.
//!
//! All SQL lives in this module's table files (`owners`, `tokens`, `packages`, …), as
//! functions taking a connection or transaction. Callers run them through
//! [`Db::read`]/[`Db::write`], which move the blocking work off the async executor.
//! SQLite allows one writer at a time, so there is exactly one write connection.

pub mod accounts;
pub mod backup;
pub mod blobs;
pub mod gc;
pub mod owners;
pub mod packages;
pub mod proxy;
pub mod secrets;
pub mod sessions;
pub mod tokens;
pub mod virtual_owners;
pub mod web_sessions;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::error::Error;

/// Migrations in order; the index + 1 is the schema version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2_files_by_name.sql"),
    include_str!("migration_3_listing_revisions.sql"),
    include_str!("migration_4_blob_references.sql"),
    include_str!("migration_5_host_secrets.sql"),
    include_str!("migration_6_token_details.sql"),
    include_str!("migration_7_virtual_owners.sql"),
    include_str!("migration_8_proxy_cache.sql"),
    include_str!("migration_9_proxy_use.sql"),
    include_str!("migration_10_web_sessions.sql"),
];

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: std::path::PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

pub use crate::clock::now;

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut writer = open_connection(path, false)?;
        migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` in a write transaction on a blocking thread; commits if it returns Ok.
    pub async fn write<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, Error> + Send + 'static,
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
        F: FnOnce(&Connection) -> Result<R, Error> + Send + 'static,
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
    pub fn read_now<R>(&self, f: impl FnOnce(&Connection) -> Result<R, Error>) -> Result<R, Error> {
        self.read_sync(f)
    }

    /// The blocking form of [`Db::write`], for code already off the executor.
    pub fn write_sync<R>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let waiting = std::time::Instant::now();
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::metrics::db_write_wait(waiting.elapsed());
        let result = f(&tx)?;
        tx.commit()?;
        Ok(result)
    }

    /// The blocking form of [`Db::read`], for code already off the executor (plugin
    /// host imports).
    pub fn read_sync<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let conn = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let conn = match conn {
            Some(conn) => conn,
            None => open_connection(&self.inner.path, true)?,
        };
        let result = f(&conn);
        let mut readers = self.inner.readers.lock().unwrap_or_else(|p| p.into_inner());
        // Keep a handful warm; more concurrent readers open and close their own.
        if readers.len() < 8 {
            readers.push(conn);
        }
        result
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    // Concurrent CLI commands and the server share the file; wait instead of failing.
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if !read_only {
        // `PRAGMA journal_mode` answers with a row, so it is a query, not an update.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        // WAL + NORMAL is durable across application crashes and cheap per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(Error::Internal(format!(
            "database schema version {current} is newer than this wharf ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
