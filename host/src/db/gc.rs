//! What garbage collection asks of the metadata: which blobs are still referenced, and
//! the bookkeeping (`blobs.orphaned`) that makes a blob wait out its grace period.
//!
//! A blob is referenced while it is a file of a version (`files`), kept alive by a
//! version without being its file (`version_refs`: an OCI manifest's layers and child
//! manifests), or linked to a package (`package_blobs`: layers pushed before their
//! manifest, mounts). Each of the three has an index by blob, so every check is a lookup.

use super::{Conn, Tx};
use crate::error::Error;

const REFERENCED: &str = "(EXISTS (SELECT 1 FROM files WHERE files.blob = blobs.sha256)
    OR EXISTS (SELECT 1 FROM version_refs WHERE version_refs.blob = blobs.sha256)
    OR EXISTS (SELECT 1 FROM package_blobs WHERE package_blobs.blob = blobs.sha256)
    OR EXISTS (SELECT 1 FROM proxy_documents WHERE proxy_documents.blob = blobs.sha256))";

/// The advisory lock key the collector holds (PostgreSQL).
const COLLECTOR_LOCK: i64 = 0x7768_6172_665f_6763; // "wharf_gc"

/// Makes the calling transaction the only collector until it ends. SQLite's single
/// writer already is; on PostgreSQL, where several nodes may collect at once, this waits
/// for a transaction-scoped advisory lock.
pub fn lock_collector(tx: &Tx<'_>) -> Result<(), Error> {
    if tx.is_postgres() {
        tx.query_row(
            "SELECT pg_advisory_xact_lock(?1)",
            &[&COLLECTOR_LOCK],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

/// Drops package links created before `before` whose blob no version of that package
/// uses (neither as a file nor as a reference): uploads whose manifest never came, and
/// mounts nothing used. A package left with neither versions nor links goes too, as it
/// does when a delete empties it: it holds nothing a client could fetch, so it must not
/// be listed. Returns how many links went.
pub fn drop_unused_links(tx: &Tx<'_>, before: i64) -> Result<usize, Error> {
    let packages: Vec<i64> = tx.query_vec(
        "DELETE FROM package_blobs WHERE created < ?1
           AND NOT EXISTS (SELECT 1 FROM version_refs JOIN versions ON versions.id = version_refs.version_id
                           WHERE versions.package_id = package_blobs.package_id
                             AND version_refs.blob = package_blobs.blob)
           AND NOT EXISTS (SELECT 1 FROM files JOIN versions ON versions.id = files.version_id
                           WHERE versions.package_id = package_blobs.package_id
                             AND files.blob = package_blobs.blob)
         RETURNING package_id",
        &[&before],
        |r| r.get(0),
    )?;
    let dropped = packages.len();
    let unlinked: std::collections::BTreeSet<i64> = packages.into_iter().collect();
    for package_id in unlinked {
        super::packages::delete_if_empty(tx, package_id)?;
    }
    Ok(dropped)
}

/// Clears the orphan mark of blobs referenced again, and marks blobs that lost their last
/// reference with `now`. Returns how many were newly marked.
pub fn mark_orphans(tx: &Tx<'_>, now: i64) -> Result<usize, Error> {
    tx.execute(
        &format!("UPDATE blobs SET orphaned = NULL WHERE orphaned IS NOT NULL AND {REFERENCED}"),
        &[],
    )?;
    tx.execute(
        &format!("UPDATE blobs SET orphaned = ?1 WHERE orphaned IS NULL AND NOT {REFERENCED}"),
        &[&now],
    )
}

/// Up to `limit` blobs marked orphaned at or before `before` and still unreferenced (a
/// push may have used one again since it was marked), with their sizes.
pub fn collectable(tx: &Tx<'_>, before: i64, limit: usize) -> Result<Vec<(String, u64)>, Error> {
    tx.query_vec(
        &format!(
            "SELECT sha256, size FROM blobs WHERE orphaned IS NOT NULL AND orphaned <= ?1
                   AND NOT {REFERENCED} ORDER BY orphaned LIMIT ?2"
        ),
        &[&before, &(limit as i64)],
        |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)),
    )
}

/// Forgets a blob (its secondary digests go with it).
pub fn forget(tx: &Tx<'_>, sha256: &str) -> Result<(), Error> {
    tx.execute("DELETE FROM blobs WHERE sha256 = ?1", &[&sha256])?;
    Ok(())
}

/// Those of `sha256s` (files found in the store) that no blob row records: bytes a crash
/// or a failed commit left between their rename into the store and their commit.
pub fn unrecorded(conn: &Conn<'_>, sha256s: &[String]) -> Result<Vec<String>, Error> {
    let mut unknown = Vec::new();
    for sha256 in sha256s {
        if !super::blobs::exists(conn, sha256)? {
            unknown.push(sha256.clone());
        }
    }
    Ok(unknown)
}

/// Whether the database still knows the blob (the trash is emptied only of blobs it
/// does not).
pub fn known(tx: &Tx<'_>, sha256: &str) -> Result<bool, Error> {
    super::blobs::exists(tx, sha256)
}
