//! Versions of a package: their rows, metadata, download counts and properties.

use rusqlite::{Connection, OptionalExtension, params};

use super::{VERSION_COLUMNS, VersionRow, version_from_row};
use crate::db::now;
use crate::error::Error;

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

/// Adds `count` downloads to a version; a version deleted meanwhile is skipped.
pub fn add_downloads(conn: &Connection, version_id: i64, count: i64) -> Result<(), Error> {
    conn.execute(
        "UPDATE versions SET downloads = downloads + ?2 WHERE id = ?1",
        params![version_id, count],
    )?;
    Ok(())
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

pub fn delete_version(conn: &Connection, version_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM versions WHERE id = ?1", [version_id])?;
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

pub fn newest_version(conn: &Connection, package_id: i64) -> Result<Option<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 ORDER BY created DESC, id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([package_id], version_from_row)
        .optional()?)
}
