//! Whole-package and owner-wide reads: index detail and package listings.

use std::collections::HashMap;

use super::{
    FILE_COLUMNS, FileRow, PACKAGE_COLUMNS, PackageDetail, PackageRow, VersionDetail,
    file_from_row, package_from_row, tags, versions,
};
use crate::db::Conn;
use crate::error::Error;

/// A file and its digests as (algorithm, hex) pairs.
type FileWithDigests = (FileRow, Vec<(String, String)>);

/// Everything an index of the package needs, in four queries whatever the version count.
pub fn detail(conn: &Conn<'_>, package: PackageRow) -> Result<PackageDetail, Error> {
    let versions = versions(conn, package.id, i64::MAX, 0)?;

    let mut files: HashMap<i64, Vec<FileWithDigests>> = HashMap::new();
    {
        let sql = format!(
            "SELECT {FILE_COLUMNS}, blob_digests.algorithm, blob_digests.hex
             FROM files JOIN versions ON versions.id = files.version_id
             LEFT JOIN blob_digests ON blob_digests.sha256 = files.blob
             WHERE versions.package_id = ?1 ORDER BY files.id"
        );
        conn.query_each(&sql, &[&package.id], |row| {
            let file = file_from_row(row)?;
            let digest: Option<(String, String)> =
                match (row.get::<Option<String>>(8)?, row.get(9)?) {
                    (Some(a), Some(h)) => Some((a, h)),
                    _ => None,
                };
            let list = files.entry(file.version_id).or_default();
            match list.last_mut() {
                Some((last, digests)) if last.id == file.id => digests.extend(digest),
                _ => list.push((file, digest.into_iter().collect())),
            }
            Ok(())
        })?;
    }

    let mut properties: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    {
        conn.query_each(
            "SELECT properties.version_id, properties.name, properties.value
             FROM properties JOIN versions ON versions.id = properties.version_id
             WHERE versions.package_id = ?1",
            &[&package.id],
            |row| {
                properties
                    .entry(row.get(0)?)
                    .or_default()
                    .push((row.get(1)?, row.get(2)?));
                Ok(())
            },
        )?;
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

/// Packages of an owner, optionally of one format, matching a name substring and
/// (unless `after` is empty) sorting after `after` in lower case; the total counts
/// every package those conditions admit, before paging.
pub fn list(
    conn: &Conn<'_>,
    owner_id: i64,
    format: Option<&str>,
    query: Option<&str>,
    after: &str,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<PackageRow>), Error> {
    let pattern = query.map(|q| {
        format!(
            "%{}%",
            q.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        )
    });
    // A NULL parameter's type is spelled out: PostgreSQL infers none from `IS NULL`.
    let filter = "owner_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR format = ?2) AND (CAST(?3 AS TEXT) IS NULL OR lower_name LIKE ?3 ESCAPE '\\') AND lower_name > ?4";
    let after = after.to_lowercase();
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM packages WHERE {filter}"),
        &[&owner_id, &format, &pattern, &after],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE {filter} ORDER BY format, lower_name LIMIT ?5 OFFSET ?6"
    );
    let rows = conn.query_vec(
        &sql,
        &[&owner_id, &format, &pattern, &after, &limit, &offset],
        package_from_row,
    )?;
    Ok((total, rows))
}

/// Packages of a format that have a version, among the owners `owner_ids`, with their
/// owner's name, in `owner/name` order (lower case) after `after` (OCI `_catalog`).
pub fn list_across_owners(
    conn: &Conn<'_>,
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
    let ids_of_json = conn.json_elements(2, "bigint");
    let sql = format!(
        "SELECT {columns}, owners.name FROM packages JOIN owners ON owners.id = packages.owner_id
         WHERE packages.format = ?1
           AND packages.owner_id IN ({ids_of_json})
           AND EXISTS (SELECT 1 FROM versions WHERE versions.package_id = packages.id)
           AND lower(owners.name) || '/' || packages.lower_name > ?3
         ORDER BY lower(owners.name) || '/' || packages.lower_name LIMIT ?4"
    );
    conn.query_vec(&sql, &[&format, &ids, &after.to_lowercase(), &limit], |r| {
        Ok((r.get(7)?, package_from_row(r)?))
    })
}

/// The change counter of an owner's packages of one format: any change to any of them
/// (or a package added or deleted) moves it, so it keys cached owner-wide listings.
pub fn listing_revision(conn: &Conn<'_>, owner_id: i64, format: &str) -> Result<i64, Error> {
    Ok(conn
        .query_opt(
            "SELECT revision FROM listing_revisions WHERE owner_id = ?1 AND format = ?2",
            &[&owner_id, &format],
            |r| r.get(0),
        )?
        .unwrap_or(0))
}

/// Packages of a format across all owners (format-wide listings such as a catalog).
pub fn list_format(conn: &Conn<'_>, format: &str) -> Result<Vec<PackageRow>, Error> {
    let sql =
        format!("SELECT {PACKAGE_COLUMNS} FROM packages WHERE format = ?1 ORDER BY lower_name");
    conn.query_vec(&sql, &[&format], package_from_row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::db::packages::{find, set_property};

    use crate::db::packages::fixture::with_alice as with_db;

    fn pkg(owner_id: i64, format: &'static str, name: &'static str) -> Pkg<'static> {
        Pkg::new(owner_id, format, name)
    }

    fn names(rows: &[PackageRow]) -> Vec<&str> {
        rows.iter().map(|p| p.name.as_str()).collect()
    }

    // Guards the four-query detail: each file carries its own blob's digests (one row
    // per digest from the join, folded back into one file), each version its own
    // properties, and the tags.
    #[test]
    fn detail_groups_files_digests_and_properties_by_version() {
        with_db(|conn, alice| {
            let app = pkg(alice, "maven", "app");
            let a = app.put(conn, "1", "a.jar", b"a");
            app.put(conn, "1", "b.jar", b"b");
            app.put(conn, "2", "c.jar", b"c");
            crate::db::blobs::set_digest(conn, &a.blob, "md5", "m").unwrap();
            crate::db::blobs::set_digest(conn, &a.blob, "sha1", "s").unwrap();
            set_property(conn, app.version(conn, "2"), "k", "v").unwrap();
            app.tag(conn, "latest", "2");

            let row = find(conn, alice, "maven", "app").unwrap().unwrap();
            let d = detail(conn, row).unwrap();
            let shape: Vec<(&str, Vec<(&str, usize)>)> = d
                .versions
                .iter()
                .map(|v| {
                    let files = v.files.iter().map(|(f, dg)| (f.name.as_str(), dg.len()));
                    (v.row.version.as_str(), files.collect())
                })
                .collect();
            assert_eq!(
                shape,
                [
                    ("1", vec![("a.jar", 2), ("b.jar", 0)]),
                    ("2", vec![("c.jar", 0)])
                ]
            );
            assert!(d.versions[0].properties.is_empty());
            assert_eq!(d.versions[1].properties, [("k".into(), "v".into())]);
            assert_eq!(d.tags, [("latest".to_string(), "2".to_string())]);
        });
    }

    // Guards search input: the filter is a literal, case-insensitive substring (`_` and
    // `%` are not wildcards), the total ignores paging, and other formats stay out.
    #[test]
    fn list_filters_literally_and_counts_before_paging() {
        with_db(|conn, alice| {
            for name in ["my_app", "myXapp", "My_Lib", "zz"] {
                pkg(alice, "npm", name).id(conn);
            }
            pkg(alice, "pypi", "my_other").id(conn);
            let (total, rows) = list(conn, alice, Some("npm"), Some("MY_"), "", 1, 1).unwrap();
            assert_eq!(total, 2);
            assert_eq!(names(&rows), ["My_Lib"]);
            let (all, rows) = list(conn, alice, None, None, "", i64::MAX, 0).unwrap();
            assert_eq!(all, 5);
            assert_eq!(
                names(&rows),
                ["my_app", "My_Lib", "myXapp", "zz", "my_other"]
            );
        });
    }

    // Guards OCI `_catalog`: `after` is exclusive and compares `owner/name` in lower
    // case, only the given owners count, packages without a version are left out.
    #[test]
    fn list_across_owners_pages_by_owner_and_name() {
        with_db(|conn, alice| {
            let bob = fixture::owner(conn, "Bob");
            let carol = fixture::owner(conn, "carol");
            pkg(alice, "oci", "b").put(conn, "v", "m", b"1");
            pkg(alice, "oci", "A").put(conn, "v", "m", b"2");
            pkg(alice, "oci", "empty").id(conn);
            pkg(bob, "oci", "x").put(conn, "v", "m", b"3");
            pkg(carol, "oci", "hidden").put(conn, "v", "m", b"4");
            pkg(alice, "npm", "a2").put(conn, "v", "m", b"5");

            let page = |after: &str, limit| {
                list_across_owners(conn, "oci", &[alice, bob], after, limit)
                    .unwrap()
                    .into_iter()
                    .map(|(owner, p)| format!("{owner}/{}", p.name))
                    .collect::<Vec<_>>()
            };
            assert_eq!(page("", i64::MAX), ["alice/A", "alice/b", "Bob/x"]);
            assert_eq!(page("ALICE/a", i64::MAX), ["alice/b", "Bob/x"]);
            assert_eq!(page("", 1), ["alice/A"]);
            assert!(page("bob/x", i64::MAX).is_empty());
        });
    }

    // Guards format-wide listings: every owner's packages of the format, by name.
    #[test]
    fn list_format_spans_owners() {
        with_db(|conn, alice| {
            let bob = fixture::owner(conn, "bob");
            pkg(bob, "cargo", "b").id(conn);
            pkg(alice, "cargo", "a").id(conn);
            pkg(alice, "npm", "c").id(conn);
            assert_eq!(names(&list_format(conn, "cargo").unwrap()), ["a", "b"]);
        });
    }
}
