//! Whole-package and owner-wide reads: index detail and package listings.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    FILE_COLUMNS, FileRow, PACKAGE_COLUMNS, PackageDetail, PackageRow, VersionDetail,
    file_from_row, package_from_row, tags, versions,
};
use crate::error::Error;

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
