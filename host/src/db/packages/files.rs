//! Files of versions: adding, finding (by name, blob or tag), counting, deleting.

use rusqlite::{Connection, OptionalExtension, params};

use super::{FILE_COLUMNS, FileRow, file_from_row};
use crate::db::now;
use crate::error::Error;

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

/// The newest file of this name among all the owner's packages of `format` (a chart
/// repository's `/charts/{file}`: the file name alone says which package).
pub fn newest_owner_file(
    conn: &Connection,
    owner_id: i64,
    format: &str,
    name: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files INDEXED BY files_by_name
         JOIN versions ON versions.id = files.version_id
         JOIN packages ON packages.id = versions.package_id
         WHERE packages.owner_id = ?1 AND packages.format = ?2 AND files.lower_name = ?3
         ORDER BY versions.created DESC, versions.id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(
            params![owner_id, format, name.to_lowercase()],
            file_from_row,
        )
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

pub fn files_of(conn: &Connection, version_id: i64) -> Result<Vec<FileRow>, Error> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE version_id = ?1 ORDER BY files.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([version_id], file_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
