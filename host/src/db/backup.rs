//! Consistent copies of the database for `wharf backup` and `wharf restore`.
//!
//! SQLite's online backup API copies every page inside one read transaction, so the copy
//! is a snapshot of one moment while the server keeps writing (WAL readers never block
//! the writer, nor the other way round).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use crate::error::Error;

/// Writes a snapshot of `source` to a new database file at `dest`.
pub fn snapshot(source: &Connection, dest: &Path) -> Result<(), Error> {
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

/// Every blob a database knows, with its size. These are the files a copy of it needs.
pub fn blobs(conn: &Connection) -> Result<Vec<(String, u64)>, Error> {
    let mut stmt = conn.prepare("SELECT sha256, size FROM blobs ORDER BY sha256")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets upload sessions in a copy: their bytes are temp files a backup does not take,
/// so a client whose upload was cut resumes from nothing.
pub fn forget_upload_sessions(conn: &Connection) -> Result<(), Error> {
    conn.execute("DELETE FROM upload_sessions", [])?;
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
        let reader = Connection::open(dir.path().join("a.db")).unwrap();
        snapshot(&reader, &dir.path().join("b.db")).unwrap();
        source
            .execute("INSERT INTO blobs VALUES ('cc', 3, 0)", [])
            .unwrap();
        let copy = Connection::open(dir.path().join("b.db")).unwrap();
        assert_eq!(
            blobs(&copy).unwrap(),
            vec![("aa".to_string(), 1), ("bb".to_string(), 2)]
        );
        assert!(!dir.path().join("b.db-wal").exists());
    }
}
