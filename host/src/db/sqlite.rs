//! The embedded engine: SQLite in WAL mode, one write connection (SQLite allows one
//! writer at a time) and a few warm read connections, migrated by `PRAGMA user_version`.
//! Everything SQLite-only about connections (pragmas, the version counter) is here.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::sql::{Conn, Tx};
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
    include_str!("migration_11_cluster_sessions.sql"),
];

/// Statements each connection keeps prepared. Every statement goes through the cache
/// (`sql::Conn`), and the hot point lookups must not push each other out: the table
/// modules have about a hundred distinct statements.
const STATEMENT_CACHE: usize = 128;

pub(super) struct Sqlite {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Sqlite {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub(super) fn open(path: &Path) -> Result<Self, Error> {
        let mut writer = open_connection(path, false)?;
        migrate(&mut writer)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` in an immediate write transaction; commits if it returns Ok.
    pub(super) fn write<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, Error>) -> Result<R, Error> {
        let waiting = std::time::Instant::now();
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::metrics::db_write_wait(waiting.elapsed());
        let result = f(&Tx::new(Conn::sqlite(&tx)))?;
        tx.commit()?;
        Ok(result)
    }

    /// Runs `f` on a read connection.
    pub(super) fn read<R>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let conn = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(conn) => conn,
            None => open_connection(&self.path, true)?,
        };
        let result = f(&Conn::sqlite(&conn));
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
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
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
