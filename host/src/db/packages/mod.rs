//! Packages, versions, files, tags and properties: the row types and the package rows
//! themselves; versions, files, tags and listings live in the submodules.
//!
//! Names and versions are matched case-insensitively through their `lower_*` columns,
//! as Gitea does; what the client sent is kept for display.

mod files;
#[cfg(test)]
pub mod fixture;
mod listing;
mod search;
mod tags;
mod versions;

pub use files::{
    NewFile, delete_file, delete_files_of, file, file_count, file_with_blob, files_of, insert_file,
    newest_file_named, newest_owner_file, tagged_file,
};
pub use listing::{detail, list, list_across_owners, list_format, listing_revision};
pub use search::across_owners;
pub use tags::{remove_tag, set_tag, tags};
pub use versions::{
    add_downloads, delete_version, insert_version, newest_version, properties, set_metadata,
    set_property, version, version_count, versions, versions_with_property,
};

use super::{Conn, Row, now};
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

fn package_from_row(r: &Row<'_>) -> Result<PackageRow, Error> {
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

fn version_from_row(r: &Row<'_>) -> Result<VersionRow, Error> {
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

fn file_from_row(r: &Row<'_>) -> Result<FileRow, Error> {
    Ok(FileRow {
        id: r.get(0)?,
        version_id: r.get(1)?,
        name: r.get(2)?,
        blob: r.get(3)?,
        size: r.get::<i64>(4)? as u64,
        content_type: r.get(5)?,
        lead: r.get(6)?,
        created: r.get(7)?,
    })
}

pub fn find(
    conn: &Conn<'_>,
    owner_id: i64,
    format: &str,
    name: &str,
) -> Result<Option<PackageRow>, Error> {
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE owner_id = ?1 AND format = ?2 AND lower_name = ?3"
    );
    conn.query_opt(
        &sql,
        &[&owner_id, &format, &name.to_lowercase()],
        package_from_row,
    )
}

/// The package's id, creating it if needed.
pub fn ensure(conn: &Conn<'_>, owner_id: i64, format: &str, name: &str) -> Result<i64, Error> {
    if let Some(p) = find(conn, owner_id, format, name)? {
        return Ok(p.id);
    }
    // A concurrent first publish of the same package (another node, on PostgreSQL) may
    // create it between the lookup and the insert: then its row is the one to use.
    let created = conn.query_opt(
        "INSERT INTO packages (owner_id, format, name, lower_name, created, modified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING RETURNING id",
        &[&owner_id, &format, &name, &name.to_lowercase(), &now()],
        |r| r.get(0),
    )?;
    match created {
        Some(id) => Ok(id),
        None => find(conn, owner_id, format, name)?
            .map(|p| p.id)
            .ok_or_else(|| Error::Conflict(format!("package {name:?} was deleted meanwhile"))),
    }
}

/// Marks the package changed: gives it a new revision (invalidating cached indexes),
/// drawn from the global counter so that no two package states share one.
pub fn touch(conn: &Conn<'_>, package_id: i64) -> Result<(), Error> {
    conn.execute("UPDATE revision_counter SET n = n + 1", &[])?;
    conn.execute(
        "UPDATE packages SET revision = (SELECT n FROM revision_counter), modified = ?2 WHERE id = ?1",
        &[&package_id, &now()],
    )?;
    Ok(())
}

/// Deletes the package if nothing is left in it (no versions, no linked blobs).
pub fn delete_if_empty(conn: &Conn<'_>, package_id: i64) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM packages WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM versions WHERE package_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM package_blobs WHERE package_id = ?1)",
        &[&package_id],
    )? > 0)
}

pub fn delete_package(conn: &Conn<'_>, package_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM packages WHERE id = ?1", &[&package_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::owners::{self, OwnerKind};

    fn revision_of(conn: &Conn<'_>, owner_id: i64, name: &str) -> i64 {
        find(conn, owner_id, "npm", name).unwrap().unwrap().revision
    }

    #[test]
    fn revisions_never_repeat_and_listings_follow_every_change() {
        for engine in crate::db::packages::fixture::engines("revisions_never_repeat") {
            revisions_never_repeat_on(&engine.db);
        }
    }

    fn revisions_never_repeat_on(db: &Db) {
        db.write_sync(|tx| {
            let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
            let listing = |tx: &Conn<'_>| listing_revision(tx, alice, "npm").unwrap();
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
            if !tx.is_postgres() {
                assert_eq!(c, b, "SQLite reuses the freed id");
            }
            assert!(revision_of(tx, alice, "c") > rev_b);
            Ok(())
        })
        .unwrap();
    }
}
