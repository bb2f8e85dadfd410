//! Blob rows: which content-addressed blobs exist, their sizes and secondary digests.
//! The bytes themselves live in the blob store; this table is what makes them known.

use rusqlite::{Connection, OptionalExtension, params};

use super::now;
use crate::error::Error;

/// Records a blob (idempotent: identical bytes are one row).
pub fn insert(conn: &Connection, sha256: &str, size: u64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO blobs (sha256, size, created) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
        params![sha256, size as i64, now()],
    )?;
    Ok(())
}

pub fn exists(conn: &Connection, sha256: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM blobs WHERE sha256 = ?1",
            [sha256],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn digest(conn: &Connection, sha256: &str, algorithm: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row(
            "SELECT hex FROM blob_digests WHERE sha256 = ?1 AND algorithm = ?2",
            [sha256, algorithm],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_digest(
    conn: &Connection,
    sha256: &str,
    algorithm: &str,
    hex: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO blob_digests (sha256, algorithm, hex) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256, algorithm) DO NOTHING",
        params![sha256, algorithm, hex],
    )?;
    Ok(())
}

/// Links a blob to a package outside any version (OCI layers before their manifest).
pub fn link_to_package(conn: &Connection, package_id: i64, sha256: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO package_blobs (package_id, blob, created) VALUES (?1, ?2, ?3)
         ON CONFLICT (package_id, blob) DO NOTHING",
        params![package_id, sha256, now()],
    )?;
    Ok(())
}

/// Whether the blob is a file of one of the package's versions or linked to it.
pub fn package_has(conn: &Connection, package_id: i64, sha256: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM package_blobs WHERE package_id = ?1 AND blob = ?2
             UNION ALL
             SELECT 1 FROM files JOIN versions ON versions.id = files.version_id
             WHERE versions.package_id = ?1 AND files.blob = ?2
             LIMIT 1",
            params![package_id, sha256],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
