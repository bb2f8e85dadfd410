//! What garbage collection asks of the metadata: which blobs are still referenced, the
//! bookkeeping (`blobs.orphaned`) that makes a blob wait out its grace period, and which
//! artifacts a proxy past its `max_size` evicts (least recently used first).
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
    collector_lock(tx, "SELECT pg_advisory_xact_lock(?1)")
}

/// Keeps the collector out until the calling transaction ends: every transaction that
/// records a reference to a blob calls this first, before it takes any row lock.
///
/// SQLite's single writer keeps a publish and the collector apart already. On
/// PostgreSQL, nodes write at once, and READ COMMITTED hides a publish's uncommitted
/// rows from the collector: without this, it could take bytes a publish on another node
/// has just checked are there (its in-transaction `HEAD`) and is about to reference, or
/// fail its own delete on the foreign key that publish's new row adds (both found by
/// `tests/cluster.rs`, gc beside publishing nodes). Publishes share the lock among
/// themselves; the collector's transactions take it alone ([`lock_collector`]), so each
/// of them waits for the publishes under way and holds off new ones until it commits,
/// and a publish after it finds the bytes gone and uploads them again.
pub fn hold_off_collector(tx: &Tx<'_>) -> Result<(), Error> {
    collector_lock(tx, "SELECT pg_advisory_xact_lock_shared(?1)")
}

/// Takes the collector's advisory lock with `sql` (its mode), on PostgreSQL only.
fn collector_lock(tx: &Tx<'_>, sql: &str) -> Result<(), Error> {
    if tx.is_postgres() {
        tx.query_row(sql, &[&COLLECTOR_LOCK], |_| Ok(()))?;
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

/// An artifact a proxy cached, as eviction (`[proxies.NAME] max_size`) weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub file_id: i64,
    pub version_id: i64,
    pub package_id: i64,
    pub size: u64,
}

/// The bytes of every file the proxy `owner_id` holds: what its `max_size` bounds. A
/// blob two of its files share counts twice, so the bound errs on the safe side.
pub fn cached_size(conn: &Conn<'_>, owner_id: i64) -> Result<u64, Error> {
    // PostgreSQL sums BIGINTs into a NUMERIC; the cast makes it an integer on both.
    let total: i64 = conn.query_row(
        "SELECT CAST(COALESCE(SUM(files.size), 0) AS BIGINT) FROM files
           JOIN versions ON versions.id = files.version_id
           JOIN packages ON packages.id = versions.package_id
         WHERE packages.owner_id = ?1",
        &[&owner_id],
        |r| r.get(0),
    )?;
    Ok(total as u64)
}

/// Up to `limit` of the files the proxy `owner_id` fetched, least recently used first
/// (the earlier fetched first among equals). Walks the fetches by their last use, so a
/// large cache is not sorted to find the few to evict.
pub fn least_recently_used(
    conn: &Conn<'_>,
    owner_id: i64,
    limit: usize,
) -> Result<Vec<Cached>, Error> {
    conn.query_vec(
        "SELECT files.id, files.version_id, versions.package_id, files.size
         FROM proxy_fetches
           JOIN files ON files.id = proxy_fetches.file_id
           JOIN versions ON versions.id = files.version_id
           JOIN packages ON packages.id = versions.package_id
         WHERE packages.owner_id = ?1
         ORDER BY proxy_fetches.used_at, proxy_fetches.file_id
         LIMIT ?2",
        &[&owner_id, &(limit as i64)],
        |r| {
            Ok(Cached {
                file_id: r.get(0)?,
                version_id: r.get(1)?,
                package_id: r.get(2)?,
                size: r.get::<i64>(3)? as u64,
            })
        },
    )
}

/// Evicts a cached artifact as a delete of its file would: the file row (its fetch record
/// goes with it), its version with its last file, its package with its last version,
/// else the package gets a new revision. Its blob is left to the collector's usual
/// rules; the proxy's metadata documents and declarations stay, so the next request
/// fetches the file again.
pub fn evict(conn: &Conn<'_>, cached: &Cached) -> Result<(), Error> {
    use super::packages;
    packages::delete_file(conn, cached.file_id)?;
    if packages::file_count(conn, cached.version_id)? == 0 {
        packages::delete_version(conn, cached.version_id)?;
    }
    if !packages::delete_if_empty(conn, cached.package_id)? {
        packages::touch(conn, cached.package_id)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::{
        self,
        fixture::{self, Pkg},
    };
    use crate::db::proxy::record_fetch;

    // Guards the order eviction takes: last use first, fetch order among equals, and
    // files without a fetch record (published, not fetched) never.
    #[test]
    fn the_least_recently_used_fetches_come_first() {
        fixture::with_alice(|conn, alice| {
            let pkg = Pkg::new(alice, "generic", "pkg");
            let a = pkg.put(conn, "1", "a", b"aa");
            let b = pkg.put(conn, "1", "b", b"bbb");
            let c = pkg.put(conn, "2", "c", b"c");
            pkg.put(conn, "3", "not-fetched", b"x");
            for (file, at) in [(&a, 10), (&b, 10), (&c, 5)] {
                record_fetch(conn, file.id, "http://up/f", at).unwrap();
            }
            crate::db::proxy::set_used(conn, &[(a.id, 20)]).unwrap();
            let order: Vec<i64> = least_recently_used(conn, alice, 10)
                .unwrap()
                .iter()
                .map(|c| c.file_id)
                .collect();
            assert_eq!(order, [c.id, b.id, a.id]);
            assert_eq!(least_recently_used(conn, alice, 1).unwrap()[0].size, 1);
            assert_eq!(cached_size(conn, alice).unwrap(), 2 + 3 + 1 + 1);
            assert_eq!(cached_size(conn, alice + 1).unwrap(), 0);
        });
    }

    // Guards what an eviction leaves: the version goes with its last file, the package
    // with its last version, and a package that stays gets a new revision.
    #[test]
    fn an_eviction_drops_emptied_versions_and_packages() {
        let (_dir, db) = fixture::db();
        db.write_sync(|tx| {
            let alice = fixture::owner(tx, "alice");
            let kept = Pkg::new(alice, "generic", "kept");
            kept.put(tx, "1", "a", b"a");
            let b = kept.put(tx, "2", "b", b"b");
            let gone = Pkg::new(alice, "generic", "gone").put(tx, "1", "c", b"c");
            for file in [&b, &gone] {
                record_fetch(tx, file.id, "http://up/f", 1)?;
            }
            let before = packages::find(tx, alice, "generic", "kept")?
                .unwrap()
                .revision;
            for cached in least_recently_used(tx, alice, 10)? {
                evict(tx, &cached)?;
            }
            let kept_row = packages::find(tx, alice, "generic", "kept")?.unwrap();
            assert!(kept_row.revision > before, "a new revision");
            assert!(packages::version(tx, kept_row.id, "2")?.is_none());
            assert!(packages::version(tx, kept_row.id, "1")?.is_some());
            assert!(packages::find(tx, alice, "generic", "gone")?.is_none());
            assert_eq!(crate::db::proxy::fetch_of(tx, b.id)?, None);
            // Their blobs are unreferenced now: the collector's to mark.
            assert_eq!(mark_orphans(tx, 100)?, 2);
            Ok(())
        })
        .unwrap();
    }

    // Guards the exclusion `hold_off_collector` exists for: while a publish holds it,
    // a collector's transaction waits, and publishes do not wait for each other.
    #[test]
    fn a_publish_in_flight_holds_off_the_collector_but_not_other_publishes() {
        use std::sync::mpsc;
        use std::time::Duration;
        for engine in fixture::engines("hold_off_collector") {
            if !engine.db.is_postgres() {
                // SQLite's single writer is the exclusion; the call is a no-op there.
                engine.db.write_sync(hold_off_collector).unwrap();
                continue;
            }
            let db = &engine.db;
            let (held, holding) = mpsc::channel();
            let (release, released) = mpsc::channel::<()>();
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    db.write_sync(|tx| {
                        hold_off_collector(tx)?;
                        held.send(()).unwrap();
                        released.recv().unwrap();
                        Ok(())
                    })
                    .unwrap();
                });
                holding.recv().unwrap();
                // Another publish gets in at once.
                db.write_sync(hold_off_collector).unwrap();
                let (collected, done) = mpsc::channel();
                scope.spawn(move || {
                    db.write_sync(lock_collector).unwrap();
                    collected.send(()).unwrap();
                });
                let waited = done.recv_timeout(Duration::from_millis(300));
                assert!(waited.is_err(), "the collector waits for the publish");
                release.send(()).unwrap();
                done.recv_timeout(Duration::from_secs(10))
                    .expect("the collector runs once the publish commits");
            });
        }
    }
}
