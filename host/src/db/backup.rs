//! Consistent copies of the database for `wharf backup` and `wharf restore`.
//!
//! SQLite's online backup API copies every page inside one read transaction, so the copy
//! is a snapshot of one moment while the server keeps writing (WAL readers never block
//! the writer, nor the other way round).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use super::{Conn, Db};
use crate::error::Error;

/// Writes a snapshot of the registry's database to a new database file at `dest`.
pub fn snapshot(db: &Db, dest: &Path) -> Result<(), Error> {
    db.read_sync(|conn| {
        let source = conn.as_sqlite().ok_or_else(|| {
            Error::Internal(
                "wharf backup copies the embedded SQLite database; back up PostgreSQL with its own \
                 tools (pg_dump), then the blobs (see docs/scale-out.md)"
                    .into(),
            )
        })?;
        copy(source, dest)
    })
}

/// A database file outside the registry: the copy in a backup.
pub struct Copy {
    conn: Connection,
}

impl Copy {
    /// Opens the copy at `path` to read and change it.
    pub fn open(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            conn: Connection::open(path)?,
        })
    }

    /// Opens the copy at `path` without changing it (a restore's source).
    pub fn open_read_only(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            conn: Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        })
    }

    /// Every blob the copy knows, with its size. These are the files it needs.
    pub fn blobs(&self) -> Result<Vec<(String, u64)>, Error> {
        Conn::sqlite(&self.conn).query_vec(
            "SELECT sha256, size FROM blobs ORDER BY sha256",
            &[],
            |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)),
        )
    }

    /// Forgets upload sessions: their bytes are temp files a backup does not take, so a
    /// client whose upload was cut resumes from nothing.
    pub fn forget_upload_sessions(&self) -> Result<(), Error> {
        Conn::sqlite(&self.conn).execute("DELETE FROM upload_sessions", &[])?;
        Ok(())
    }

    /// Writes a snapshot of the copy to a new database file at `dest`.
    pub fn snapshot(&self, dest: &Path) -> Result<(), Error> {
        copy(&self.conn, dest)
    }
}

fn copy(source: &Connection, dest: &Path) -> Result<(), Error> {
    let mut target = Connection::open(dest)?;
    {
        let backup = Backup::new(source, &mut target)?;
        // All pages in one step: one read transaction, hence one moment. Copying in
        // small steps would restart whenever the server commits, and might never end.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                // The enum is non-exhaustive; anything new is retried the same way.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    // The copy is a closed file of its own: fold its journal in.
    let _mode: String = target.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let source = Connection::open(dir.path().join("a.db")).unwrap();
        let _: String = source
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        source
            .execute_batch(
                "CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER, created INTEGER);
                 INSERT INTO blobs VALUES ('aa', 1, 0), ('bb', 2, 0);",
            )
            .unwrap();
        let reader = Copy::open_read_only(&dir.path().join("a.db")).unwrap();
        reader.snapshot(&dir.path().join("b.db")).unwrap();
        source
            .execute("INSERT INTO blobs VALUES ('cc', 3, 0)", [])
            .unwrap();
        let copy = Copy::open(&dir.path().join("b.db")).unwrap();
        assert_eq!(
            copy.blobs().unwrap(),
            vec![("aa".to_string(), 1), ("bb".to_string(), 2)]
        );
        assert!(!dir.path().join("b.db-wal").exists());
    }
}
