//! Packages, versions, files, tags and properties.
//!
//! Names and versions are matched case-insensitively through their `lower_*` columns,
//! as Gitea does; what the client sent is kept for display.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::now;
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct PackageRow {
    pub id: i64,
    pub owner_id: i64,
    pub format: String,
    pub name: String,
    pub created: i64,
    pub modified: i64,
    pub revision: i64,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub id: i64,
    pub version: String,
    pub metadata: String,
    pub created: i64,
    pub downloads: i64,
    /// The account that published the version; gone when that account was deleted.
    pub creator_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub version_id: i64,
    pub name: String,
    pub blob: String,
    pub size: u64,
    pub content_type: String,
    pub lead: bool,
    pub created: i64,
}

impl FileRow {
    /// A blob linked to a package outside any version, served like a nameless file.
    pub fn linked_blob(sha256: String, size: u64, created: i64) -> Self {
        Self {
            id: 0,
            version_id: 0,
            name: String::new(),
            blob: sha256,
            size,
            content_type: "application/octet-stream".to_string(),
            lead: false,
            created,
        }
    }
}

/// A version with everything an index shows about it.
#[derive(Debug, Clone)]
pub struct VersionDetail {
    pub row: VersionRow,
    pub files: Vec<(FileRow, Vec<(String, String)>)>,
    pub properties: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct PackageDetail {
    pub package: PackageRow,
    pub versions: Vec<VersionDetail>,
    pub tags: Vec<(String, String)>,
}

const PACKAGE_COLUMNS: &str = "id, owner_id, format, name, created, modified, revision";

fn package_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    Ok(PackageRow {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        format: r.get(2)?,
        name: r.get(3)?,
        created: r.get(4)?,
        modified: r.get(5)?,
        revision: r.get(6)?,
    })
}

const VERSION_COLUMNS: &str = "id, version, metadata, created, downloads, creator_id";

fn version_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        id: r.get(0)?,
        version: r.get(1)?,
        metadata: r.get(2)?,
        created: r.get(3)?,
        downloads: r.get(4)?,
        creator_id: r.get(5)?,
    })
}

const FILE_COLUMNS: &str = "files.id, files.version_id, files.name, files.blob, files.size, files.content_type, files.lead, files.created";

fn file_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        version_id: r.get(1)?,
        name: r.get(2)?,
        blob: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        content_type: r.get(5)?,
        lead: r.get(6)?,
        created: r.get(7)?,
    })
}

pub fn find(
    conn: &Connection,
    owner_id: i64,
    format: &str,
    name: &str,
) -> Result<Option<PackageRow>, Error> {
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE owner_id = ?1 AND format = ?2 AND lower_name = ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(
            params![owner_id, format, name.to_lowercase()],
            package_from_row,
        )
        .optional()?)
}

/// The package's id, creating it if needed.
pub fn ensure(conn: &Connection, owner_id: i64, format: &str, name: &str) -> Result<i64, Error> {
    if let Some(p) = find(conn, owner_id, format, name)? {
        return Ok(p.id);
    }
    let t = now();
    conn.execute(
        "INSERT INTO packages (owner_id, format, name, lower_name, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![owner_id, format, name, name.to_lowercase(), t],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Marks the package changed: gives it a new revision (invalidating cached indexes),
/// drawn from the global counter so that no two package states share one.
pub fn touch(conn: &Connection, package_id: i64) -> Result<(), Error> {
    conn.execute("UPDATE revision_counter SET n = n + 1", [])?;
    conn.execute(
        "UPDATE packages SET revision = (SELECT n FROM revision_counter), modified = ?2 WHERE id = ?1",
        params![package_id, now()],
    )?;
    Ok(())
}

pub fn version(
    conn: &Connection,
    package_id: i64,
    version: &str,
) -> Result<Option<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 AND lower_version = ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(
            params![package_id, version.to_lowercase()],
            version_from_row,
        )
        .optional()?)
}

pub fn insert_version(
    conn: &Connection,
    package_id: i64,
    version: &str,
    metadata: &str,
    creator: Option<i64>,
) -> Result<i64, Error> {
    conn.execute(
        "INSERT INTO versions (package_id, version, lower_version, metadata, created, creator_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            package_id,
            version,
            version.to_lowercase(),
            metadata,
            now(),
            creator
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_metadata(conn: &Connection, version_id: i64, metadata: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE versions SET metadata = ?2 WHERE id = ?1",
        params![version_id, metadata],
    )?;
    Ok(())
}

pub fn delete_files_of(conn: &Connection, version_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM files WHERE version_id = ?1", [version_id])?;
    Ok(())
}

pub fn file(conn: &Connection, version_id: i64, name: &str) -> Result<Option<FileRow>, Error> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE version_id = ?1 AND lower_name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![version_id, name.to_lowercase()], file_from_row)
        .optional()?)
}

pub struct NewFile<'a> {
    pub version_id: i64,
    pub name: &'a str,
    pub blob: &'a str,
    pub size: u64,
    pub content_type: &'a str,
    pub lead: bool,
}

/// Adds a file; with `overwrite` an existing file of the same name is replaced,
/// otherwise it is a conflict.
pub fn insert_file(conn: &Connection, file: &NewFile<'_>, overwrite: bool) -> Result<(), Error> {
    if let Some(existing) = self::file(conn, file.version_id, file.name)? {
        if !overwrite {
            return Err(Error::Conflict(format!(
                "file {:?} already exists",
                existing.name
            )));
        }
        conn.execute("DELETE FROM files WHERE id = ?1", [existing.id])?;
    }
    conn.execute(
        "INSERT INTO files (version_id, name, lower_name, blob, size, content_type, lead, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            file.version_id,
            file.name,
            file.name.to_lowercase(),
            file.blob,
            file.size as i64,
            file.content_type,
            file.lead,
            now()
        ],
    )?;
    Ok(())
}

/// The newest version's file of this name (npm's version-less tarball URL).
pub fn newest_file_named(
    conn: &Connection,
    package_id: i64,
    name: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files INDEXED BY files_by_name
         JOIN versions ON versions.id = files.version_id
         WHERE versions.package_id = ?1 AND files.lower_name = ?2 ORDER BY versions.created DESC, versions.id DESC LIMIT 1"
    );
    // Without statistics SQLite may start from the package's versions instead, which
    // costs one probe per version; a name matches few files.
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![package_id, name.to_lowercase()], file_from_row)
        .optional()?)
}

/// A file of the package whose blob has this sha256 (OCI manifests by digest).
pub fn file_with_blob(
    conn: &Connection,
    package_id: i64,
    sha256: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files JOIN versions ON versions.id = files.version_id
         WHERE versions.package_id = ?1 AND files.blob = ?2 ORDER BY files.id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![package_id, sha256], file_from_row)
        .optional()?)
}

/// The file `name` of the version `tag` points at.
pub fn tagged_file(
    conn: &Connection,
    package_id: i64,
    tag: &str,
    name: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM tags JOIN files ON files.version_id = tags.version_id
         WHERE tags.package_id = ?1 AND tags.tag = ?2 AND files.lower_name = ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![package_id, tag, name.to_lowercase()], file_from_row)
        .optional()?)
}

/// Adds `count` downloads to a version; a version deleted meanwhile is skipped.
pub fn add_downloads(conn: &Connection, version_id: i64, count: i64) -> Result<(), Error> {
    conn.execute(
        "UPDATE versions SET downloads = downloads + ?2 WHERE id = ?1",
        params![version_id, count],
    )?;
    Ok(())
}

pub fn set_tag(
    conn: &Connection,
    package_id: i64,
    tag: &str,
    version_id: i64,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO tags (package_id, tag, version_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (package_id, tag) DO UPDATE SET version_id = excluded.version_id",
        params![package_id, tag, version_id],
    )?;
    Ok(())
}

/// Removes a tag; false if there was none.
pub fn remove_tag(conn: &Connection, package_id: i64, tag: &str) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM tags WHERE package_id = ?1 AND tag = ?2",
        params![package_id, tag],
    )? > 0)
}

pub fn set_property(
    conn: &Connection,
    version_id: i64,
    name: &str,
    value: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO properties (version_id, name, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (version_id, name) DO UPDATE SET value = excluded.value",
        params![version_id, name, value],
    )?;
    Ok(())
}

pub fn delete_file(conn: &Connection, file_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM files WHERE id = ?1", [file_id])?;
    Ok(())
}

pub fn file_count(conn: &Connection, version_id: i64) -> Result<i64, Error> {
    Ok(conn.query_row(
        "SELECT count(*) FROM files WHERE version_id = ?1",
        [version_id],
        |r| r.get(0),
    )?)
}

pub fn delete_version(conn: &Connection, version_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM versions WHERE id = ?1", [version_id])?;
    Ok(())
}

/// Deletes the package if nothing is left in it (no versions, no linked blobs).
pub fn delete_if_empty(conn: &Connection, package_id: i64) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM packages WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM versions WHERE package_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM package_blobs WHERE package_id = ?1)",
        [package_id],
    )? > 0)
}

pub fn delete_package(conn: &Connection, package_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM packages WHERE id = ?1", [package_id])?;
    Ok(())
}

/// Versions of a package, oldest first.
pub fn versions(
    conn: &Connection,
    package_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 ORDER BY created, id LIMIT ?2 OFFSET ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![package_id, limit, offset], version_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn version_count(conn: &Connection, package_id: i64) -> Result<i64, Error> {
    Ok(conn.query_row(
        "SELECT count(*) FROM versions WHERE package_id = ?1",
        [package_id],
        |r| r.get(0),
    )?)
}

pub fn files_of(conn: &Connection, version_id: i64) -> Result<Vec<FileRow>, Error> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE version_id = ?1 ORDER BY files.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([version_id], file_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Versions whose property `name` is `value`, oldest first.
pub fn versions_with_property(
    conn: &Connection,
    package_id: i64,
    name: &str,
    value: &str,
) -> Result<Vec<VersionRow>, Error> {
    let sql = format!(
        "SELECT {} FROM versions JOIN properties ON properties.version_id = versions.id
         WHERE versions.package_id = ?1 AND properties.name = ?2 AND properties.value = ?3
         ORDER BY versions.created, versions.id",
        VERSION_COLUMNS
            .split(", ")
            .map(|c| format!("versions.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![package_id, name, value], version_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A file and its digests as (algorithm, hex) pairs.
type FileWithDigests = (FileRow, Vec<(String, String)>);

/// Everything an index of the package needs, in four queries whatever the version count.
pub fn detail(conn: &Connection, package: PackageRow) -> Result<PackageDetail, Error> {
    let versions = versions(conn, package.id, i64::MAX, 0)?;

    let mut files: HashMap<i64, Vec<FileWithDigests>> = HashMap::new();
    {
        let sql = format!(
            "SELECT {FILE_COLUMNS}, blob_digests.algorithm, blob_digests.hex
             FROM files JOIN versions ON versions.id = files.version_id
             LEFT JOIN blob_digests ON blob_digests.sha256 = files.blob
             WHERE versions.package_id = ?1 ORDER BY files.id"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([package.id])?;
        while let Some(row) = rows.next()? {
            let file = file_from_row(row)?;
            let digest: Option<(String, String)> =
                match (row.get::<_, Option<String>>(8)?, row.get(9)?) {
                    (Some(a), Some(h)) => Some((a, h)),
                    _ => None,
                };
            let list = files.entry(file.version_id).or_default();
            match list.last_mut() {
                Some((last, digests)) if last.id == file.id => digests.extend(digest),
                _ => list.push((file, digest.into_iter().collect())),
            }
        }
    }

    let mut properties: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT properties.version_id, properties.name, properties.value
             FROM properties JOIN versions ON versions.id = properties.version_id
             WHERE versions.package_id = ?1",
        )?;
        let mut rows = stmt.query([package.id])?;
        while let Some(row) = rows.next()? {
            properties
                .entry(row.get(0)?)
                .or_default()
                .push((row.get(1)?, row.get(2)?));
        }
    }

    let tags = tags(conn, package.id)?;

    let versions = versions
        .into_iter()
        .map(|row| VersionDetail {
            files: files.remove(&row.id).unwrap_or_default(),
            properties: properties.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect();
    Ok(PackageDetail {
        package,
        versions,
        tags,
    })
}

/// Packages of an owner, optionally of one format and matching a name substring.
pub fn list(
    conn: &Connection,
    owner_id: i64,
    format: Option<&str>,
    query: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<PackageRow>), Error> {
    let pattern = query.map(|q| {
        format!(
            "%{}%",
            q.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        )
    });
    let filter = "owner_id = ?1 AND (?2 IS NULL OR format = ?2) AND (?3 IS NULL OR lower_name LIKE ?3 ESCAPE '\\')";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM packages WHERE {filter}"),
        params![owner_id, format, pattern],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE {filter} ORDER BY format, lower_name LIMIT ?4 OFFSET ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![owner_id, format, pattern, limit, offset],
        package_from_row,
    )?;
    Ok((total, rows.collect::<Result<_, _>>()?))
}

/// Packages of a format that have a version, among the owners `owner_ids`, with their
/// owner's name, in `owner/name` order (lower case) after `after` (OCI `_catalog`).
pub fn list_across_owners(
    conn: &Connection,
    format: &str,
    owner_ids: &[i64],
    after: &str,
    limit: i64,
) -> Result<Vec<(String, PackageRow)>, Error> {
    let ids = serde_json::to_string(owner_ids).map_err(|e| Error::Internal(e.to_string()))?;
    let columns = PACKAGE_COLUMNS
        .split(", ")
        .map(|c| format!("packages.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, owners.name FROM packages JOIN owners ON owners.id = packages.owner_id
         WHERE packages.format = ?1
           AND packages.owner_id IN (SELECT value FROM json_each(?2))
           AND EXISTS (SELECT 1 FROM versions WHERE versions.package_id = packages.id)
           AND lower(owners.name) || '/' || packages.lower_name > ?3
         ORDER BY lower(owners.name) || '/' || packages.lower_name LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![format, ids, after.to_lowercase(), limit], |r| {
        Ok((r.get(7)?, package_from_row(r)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The change counter of an owner's packages of one format: any change to any of them
/// (or a package added or deleted) moves it, so it keys cached owner-wide listings.
pub fn listing_revision(conn: &Connection, owner_id: i64, format: &str) -> Result<i64, Error> {
    Ok(conn
        .query_row(
            "SELECT revision FROM listing_revisions WHERE owner_id = ?1 AND format = ?2",
            params![owner_id, format],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Packages of a format across all owners (format-wide listings such as a catalog).
pub fn list_format(conn: &Connection, format: &str) -> Result<Vec<PackageRow>, Error> {
    let sql =
        format!("SELECT {PACKAGE_COLUMNS} FROM packages WHERE format = ?1 ORDER BY lower_name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([format], package_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A package's tags and the versions they point at, by tag name.
pub fn tags(conn: &Connection, package_id: i64) -> Result<Vec<(String, String)>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT tags.tag, versions.version FROM tags JOIN versions ON versions.id = tags.version_id
         WHERE tags.package_id = ?1 ORDER BY tags.tag",
    )?;
    let rows = stmt.query_map([package_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn newest_version(conn: &Connection, package_id: i64) -> Result<Option<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 ORDER BY created DESC, id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([package_id], version_from_row)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::owners::{self, OwnerKind};

    fn revision_of(conn: &Connection, owner_id: i64, name: &str) -> i64 {
        find(conn, owner_id, "npm", name).unwrap().unwrap().revision
    }

    #[test]
    fn revisions_never_repeat_and_listings_follow_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        db.write_sync(|tx| {
            let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
            let listing = |tx: &Connection| listing_revision(tx, alice, "npm").unwrap();
            assert_eq!(listing(tx), 0, "nothing published yet");

            let a = ensure(tx, alice, "npm", "a")?;
            touch(tx, a)?;
            let (rev_a, list_1) = (revision_of(tx, alice, "a"), listing(tx));
            assert!(list_1 > 0);

            let b = ensure(tx, alice, "npm", "b")?;
            touch(tx, b)?;
            assert!(listing(tx) > list_1, "a new package moves the listing");
            assert_eq!(
                revision_of(tx, alice, "a"),
                rev_a,
                "other packages keep theirs"
            );
            assert_eq!(
                listing_revision(tx, alice, "maven")?,
                0,
                "other formats too"
            );

            // A deleted package's id is reused by the next insert; its revision is not.
            let before_delete = listing(tx);
            let rev_b = revision_of(tx, alice, "b");
            delete_package(tx, b)?;
            assert!(listing(tx) > before_delete, "a delete moves the listing");
            let c = ensure(tx, alice, "npm", "c")?;
            touch(tx, c)?;
            assert_eq!(c, b, "SQLite reuses the freed id");
            assert!(revision_of(tx, alice, "c") > rev_b);
            Ok(())
        })
        .unwrap();
    }
}
