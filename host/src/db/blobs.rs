//! Blob rows: which content-addressed blobs exist, their sizes and secondary digests.
//! The bytes themselves live in the blob store; this table is what makes them known.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{Conn, Param, now};
use crate::error::Error;

/// Records a blob (idempotent: identical bytes are one row).
pub fn insert(conn: &Conn<'_>, sha256: &str, size: u64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO blobs (sha256, size, created) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
        &[&sha256, &(size as i64), &now()],
    )?;
    Ok(())
}

pub fn exists(conn: &Conn<'_>, sha256: &str) -> Result<bool, Error> {
    Ok(conn
        .query_opt("SELECT 1 FROM blobs WHERE sha256 = ?1", &[&sha256], |_| {
            Ok(())
        })?
        .is_some())
}

pub fn digest(conn: &Conn<'_>, sha256: &str, algorithm: &str) -> Result<Option<String>, Error> {
    conn.query_opt(
        "SELECT hex FROM blob_digests WHERE sha256 = ?1 AND algorithm = ?2",
        &[&sha256, &algorithm],
        |r| r.get(0),
    )
}

/// Every secondary digest known for a blob, as (algorithm, hex) pairs.
pub fn digests(conn: &Conn<'_>, sha256: &str) -> Result<Vec<(String, String)>, Error> {
    conn.query_vec(
        "SELECT algorithm, hex FROM blob_digests WHERE sha256 = ?1 ORDER BY algorithm",
        &[&sha256],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

pub fn set_digest(conn: &Conn<'_>, sha256: &str, algorithm: &str, hex: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO blob_digests (sha256, algorithm, hex) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256, algorithm) DO NOTHING",
        &[&sha256, &algorithm, &hex],
    )?;
    Ok(())
}

/// Links a blob to a package outside any version (OCI layers before their manifest).
pub fn link_to_package(conn: &Conn<'_>, package_id: i64, sha256: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO package_blobs (package_id, blob, created) VALUES (?1, ?2, ?3)
         ON CONFLICT (package_id, blob) DO NOTHING",
        &[&package_id, &sha256, &now()],
    )?;
    Ok(())
}

/// The blobs of package `?1`: those linked to it and the files of its versions. The
/// statements below ask this in the shape their plans need: blob by blob through the
/// indexes ([`belongs`]), or as one set for all the package's blobs.
const LINKED: &str = "SELECT blob FROM package_blobs WHERE package_id = ?1";
const IN_FILES: &str =
    "SELECT files.blob FROM files JOIN versions ON versions.id = files.version_id
                        WHERE versions.package_id = ?1";

/// A condition: the blob `sha256` (an SQL expression) is one of package `?1`'s.
fn belongs(sha256: &str) -> String {
    format!(
        "(EXISTS ({LINKED} AND blob = {sha256}) OR EXISTS ({IN_FILES} AND files.blob = {sha256}))"
    )
}

/// Whether the blob is a file of one of the package's versions or linked to it.
pub fn package_has(conn: &Conn<'_>, package_id: i64, sha256: &str) -> Result<bool, Error> {
    Ok(package_blob_size(conn, package_id, sha256)?.is_some())
}

/// The size of a blob that is a file of one of the package's versions or linked to it.
pub fn package_blob_size(
    conn: &Conn<'_>,
    package_id: i64,
    sha256: &str,
) -> Result<Option<u64>, Error> {
    Ok(package_blob(conn, package_id, sha256)?.map(|(size, _)| size))
}

/// Size and creation time of a blob that is a file of one of the package's versions or
/// linked to it.
pub fn package_blob(
    conn: &Conn<'_>,
    package_id: i64,
    sha256: &str,
) -> Result<Option<(u64, i64)>, Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT blobs.size, blobs.created FROM blobs WHERE blobs.sha256 = ?2 AND {}",
            belongs("?2")
        )
    });
    conn.query_opt(&SQL, &[&package_id, &sha256], |r| {
        Ok((r.get::<i64>(0)? as u64, r.get(1)?))
    })
}

/// The sizes of those of `sha256s` that are files of the package's versions or linked
/// to it, in one statement (an OCI manifest may name thousands; on PostgreSQL each
/// lookup on its own was a round trip).
pub fn package_blob_sizes(
    conn: &Conn<'_>,
    package_id: i64,
    sha256s: &[String],
) -> Result<HashMap<String, u64>, Error> {
    let listed = json_list(sha256s)?;
    let sql = format!(
        "SELECT blobs.sha256, blobs.size FROM blobs WHERE blobs.sha256 IN ({}) AND {}",
        conn.json_elements(2, "text"),
        belongs("blobs.sha256")
    );
    sizes(conn, &sql, &[&package_id, &listed])
}

/// Every blob that is a file of one of the package's versions or linked to it, with its
/// size; `None` when there are more than `most` (the caller then asks blob by blob).
pub fn all_package_blob_sizes(
    conn: &Conn<'_>,
    package_id: i64,
    most: usize,
) -> Result<Option<HashMap<String, u64>>, Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT blobs.sha256, blobs.size FROM blobs
             WHERE blobs.sha256 IN ({LINKED} UNION {IN_FILES}) LIMIT ?2"
        )
    });
    let found = sizes(conn, &SQL, &[&package_id, &(most as i64 + 1)])?;
    Ok((found.len() <= most).then_some(found))
}

/// Runs a statement selecting (sha256, size) pairs.
fn sizes(conn: &Conn<'_>, sql: &str, params: &[&dyn Param]) -> Result<HashMap<String, u64>, Error> {
    let mut sizes = HashMap::new();
    conn.query_each(sql, params, |r| {
        sizes.insert(r.get(0)?, r.get::<i64>(1)? as u64);
        Ok(())
    })?;
    Ok(sizes)
}

fn json_list(items: &[String]) -> Result<String, Error> {
    serde_json::to_string(items).map_err(|e| Error::Internal(e.to_string()))
}

/// The sha256 of the stored blob a secondary digest names (an OCI `sha512:` reference).
pub fn by_digest(conn: &Conn<'_>, algorithm: &str, hex: &str) -> Result<Option<String>, Error> {
    conn.query_opt(
        "SELECT sha256 FROM blob_digests WHERE algorithm = ?1 AND hex = ?2",
        &[&algorithm, &hex],
        |r| r.get(0),
    )
}

/// Removes a package's link to a blob; false if there was none.
pub fn unlink_from_package(conn: &Conn<'_>, package_id: i64, sha256: &str) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM package_blobs WHERE package_id = ?1 AND blob = ?2",
        &[&package_id, &sha256],
    )? > 0)
}

/// Replaces the blobs a version references (and so keeps alive).
pub fn set_references(conn: &Conn<'_>, version_id: i64, sha256s: &[String]) -> Result<(), Error> {
    conn.execute(
        "DELETE FROM version_refs WHERE version_id = ?1",
        &[&version_id],
    )?;
    if sha256s.is_empty() {
        return Ok(());
    }
    // One statement however many: `WHERE true` tells SQLite's parser that `ON CONFLICT`
    // is the upsert clause, not a join constraint.
    let sql = format!(
        "INSERT INTO version_refs (version_id, blob) SELECT ?1, value FROM ({}) AS listed
         WHERE true ON CONFLICT DO NOTHING",
        conn.json_elements(2, "text")
    );
    conn.execute(&sql, &[&version_id, &json_list(sha256s)?])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::packages::fixture::{Pkg, sha256, with_alice};

    #[test]
    fn a_package_s_blobs_are_its_files_and_links_up_to_a_bound() {
        with_alice(|tx, alice| {
            let pkg = Pkg::new(alice, "oci", "app");
            pkg.put(tx, "1", "manifest", b"abc");
            let layer = "cd".repeat(32);
            insert(tx, &layer, 5).unwrap();
            link_to_package(tx, pkg.id(tx), &layer).unwrap();
            // Another package's file is not this package's blob.
            Pkg::new(alice, "oci", "other").put(tx, "1", "manifest", b"other");
            let all = all_package_blob_sizes(tx, pkg.id(tx), 2).unwrap();
            let expected = HashMap::from([(sha256(b"abc"), 3), (layer.clone(), 5)]);
            assert_eq!(all, Some(expected));
            // A blob both linked and a file counts once.
            link_to_package(tx, pkg.id(tx), &sha256(b"abc")).unwrap();
            assert_eq!(
                all_package_blob_sizes(tx, pkg.id(tx), 2)
                    .unwrap()
                    .map(|a| a.len()),
                Some(2)
            );
            assert_eq!(all_package_blob_sizes(tx, pkg.id(tx), 1).unwrap(), None);
        });
    }

    #[test]
    fn digests_are_the_known_ones_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        db.write_sync(|tx| {
            let sha256 = "ab".repeat(32);
            insert(tx, &sha256, 3)?;
            assert!(digests(tx, &sha256)?.is_empty(), "none computed yet");
            set_digest(tx, &sha256, "sha1", "cd")?;
            set_digest(tx, &sha256, "md5", "ef")?;
            let known = digests(tx, &sha256)?;
            assert_eq!(
                known,
                [("md5".into(), "ef".into()), ("sha1".into(), "cd".into())]
            );
            Ok(())
        })
        .unwrap();
    }
}
