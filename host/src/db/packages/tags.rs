//! Tags: names pointing at one version of a package.

use crate::db::Conn;
use crate::error::Error;

pub fn set_tag(conn: &Conn<'_>, package_id: i64, tag: &str, version_id: i64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO tags (package_id, tag, version_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (package_id, tag) DO UPDATE SET version_id = excluded.version_id",
        &[&package_id, &tag, &version_id],
    )?;
    Ok(())
}

/// Removes a tag; false if there was none.
pub fn remove_tag(conn: &Conn<'_>, package_id: i64, tag: &str) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM tags WHERE package_id = ?1 AND tag = ?2",
        &[&package_id, &tag],
    )? > 0)
}

/// A package's tags and the versions they point at, by tag name.
pub fn tags(conn: &Conn<'_>, package_id: i64) -> Result<Vec<(String, String)>, Error> {
    conn.query_vec(
        "SELECT tags.tag, versions.version FROM tags JOIN versions ON versions.id = tags.version_id
         WHERE tags.package_id = ?1 ORDER BY tags.tag",
        &[&package_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
