//! Secrets the host generates for itself, such as the key registry tokens are signed
//! with. Created once, on first use, and kept until an operator deletes the row.

use super::{Tx, now};
use crate::error::Error;

/// The secret named `name`, created from `generate` if there is none yet. Runs in a
/// write transaction, so concurrent first starts (of several nodes too) agree on one
/// value.
pub fn get_or_create(
    tx: &Tx<'_>,
    name: &str,
    generate: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, Error> {
    let existing = tx.query_opt(
        "SELECT value FROM host_secrets WHERE name = ?1",
        &[&name],
        |r| r.get::<Vec<u8>>(0),
    )?;
    if let Some(value) = existing {
        return Ok(value);
    }
    // Another node's first start may store one meanwhile (PostgreSQL): the stored one
    // wins, and every node reads it back.
    tx.execute(
        "INSERT INTO host_secrets (name, value, created) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &generate(), &now()],
    )?;
    tx.query_row(
        "SELECT value FROM host_secrets WHERE name = ?1",
        &[&name],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = crate::db::Db::open(&path).unwrap();
        let first = db
            .write_sync(|tx| super::get_or_create(tx, "k", || vec![1, 2, 3]))
            .unwrap();
        let again = db
            .write_sync(|tx| super::get_or_create(tx, "k", || vec![9]))
            .unwrap();
        assert_eq!((first, again), (vec![1, 2, 3], vec![1, 2, 3]));
        drop(db);
        let reopened = crate::db::Db::open(&path).unwrap();
        let kept = reopened
            .write_sync(|tx| super::get_or_create(tx, "k", || vec![9]))
            .unwrap();
        assert_eq!(kept, vec![1, 2, 3]);
    }
}
