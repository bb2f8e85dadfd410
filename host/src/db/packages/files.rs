//! Files of versions: adding, finding (by name, blob or tag), counting, deleting.

use super::{FILE_COLUMNS, FileRow, file_from_row};
use crate::db::{Conn, now};
use crate::error::Error;

pub fn delete_files_of(conn: &Conn<'_>, version_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM files WHERE version_id = ?1", &[&version_id])?;
    Ok(())
}

pub fn file(conn: &Conn<'_>, version_id: i64, name: &str) -> Result<Option<FileRow>, Error> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE version_id = ?1 AND lower_name = ?2");
    conn.query_opt(&sql, &[&version_id, &name.to_lowercase()], file_from_row)
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
pub fn insert_file(conn: &Conn<'_>, file: &NewFile<'_>, overwrite: bool) -> Result<(), Error> {
    if let Some(existing) = self::file(conn, file.version_id, file.name)? {
        if !overwrite {
            return Err(Error::Conflict(format!(
                "file {:?} already exists",
                existing.name
            )));
        }
        conn.execute("DELETE FROM files WHERE id = ?1", &[&existing.id])?;
    }
    conn.execute(
        "INSERT INTO files (version_id, name, lower_name, blob, size, content_type, lead, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            &file.version_id,
            &file.name,
            &file.name.to_lowercase(),
            &file.blob,
            &(file.size as i64),
            &file.content_type,
            &file.lead,
            &now(),
        ],
    )?;
    Ok(())
}

/// The newest version's file of this name (npm's version-less tarball URL).
pub fn newest_file_named(
    conn: &Conn<'_>,
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
    conn.query_opt(&sql, &[&package_id, &name.to_lowercase()], file_from_row)
}

/// The newest file of this name among all the owner's packages of `format` (a chart
/// repository's `/charts/{file}`: the file name alone says which package).
pub fn newest_owner_file(
    conn: &Conn<'_>,
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
    conn.query_opt(
        &sql,
        &[&owner_id, &format, &name.to_lowercase()],
        file_from_row,
    )
}

/// A file of the package whose blob has this sha256 (OCI manifests by digest).
pub fn file_with_blob(
    conn: &Conn<'_>,
    package_id: i64,
    sha256: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files JOIN versions ON versions.id = files.version_id
         WHERE versions.package_id = ?1 AND files.blob = ?2 ORDER BY files.id DESC LIMIT 1"
    );
    conn.query_opt(&sql, &[&package_id, &sha256], file_from_row)
}

/// The file `name` of the version `tag` points at.
pub fn tagged_file(
    conn: &Conn<'_>,
    package_id: i64,
    tag: &str,
    name: &str,
) -> Result<Option<FileRow>, Error> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM tags JOIN files ON files.version_id = tags.version_id
         WHERE tags.package_id = ?1 AND tags.tag = ?2 AND files.lower_name = ?3"
    );
    conn.query_opt(
        &sql,
        &[&package_id, &tag, &name.to_lowercase()],
        file_from_row,
    )
}

pub fn delete_file(conn: &Conn<'_>, file_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM files WHERE id = ?1", &[&file_id])?;
    Ok(())
}

pub fn file_count(conn: &Conn<'_>, version_id: i64) -> Result<i64, Error> {
    conn.query_row(
        "SELECT count(*) FROM files WHERE version_id = ?1",
        &[&version_id],
        |r| r.get(0),
    )
}

pub fn files_of(conn: &Conn<'_>, version_id: i64) -> Result<Vec<FileRow>, Error> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE version_id = ?1 ORDER BY files.id");
    conn.query_vec(&sql, &[&version_id], file_from_row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::db::packages::{find, version};

    use crate::db::packages::fixture::with_alice as with_db;

    fn pkg(owner_id: i64, format: &'static str, name: &'static str) -> Pkg<'static> {
        Pkg::new(owner_id, format, name)
    }

    // Guards npm's version-less tarball URL: the most recently created version wins,
    // not the most recently inserted row, and names match in any case.
    #[test]
    fn newest_file_named_orders_by_creation_time_then_id() {
        with_db(|conn, alice| {
            let app = pkg(alice, "npm", "app");
            app.put(conn, "2.0", "app.tgz", b"two");
            app.put(conn, "1.0", "app.tgz", b"one");
            app.created(conn, "2.0", 2_000);
            app.created(conn, "1.0", 1_000);
            let found = newest_file_named(conn, app.id(conn), "APP.tgz")
                .unwrap()
                .unwrap();
            assert_eq!(found.blob, fixture::sha256(b"two"));

            app.created(conn, "1.0", 2_000);
            let tie = newest_file_named(conn, app.id(conn), "app.tgz")
                .unwrap()
                .unwrap();
            assert_eq!(
                tie.blob,
                fixture::sha256(b"one"),
                "a tie goes to the later row"
            );
        });
    }

    // Guards that a package's lookup never serves another package's file of that name.
    #[test]
    fn newest_file_named_stays_in_its_package() {
        with_db(|conn, alice| {
            pkg(alice, "npm", "other").put(conn, "1.0", "app.tgz", b"other");
            let app = pkg(alice, "npm", "app");
            app.put(conn, "1.0", "readme", b"x");
            assert!(
                newest_file_named(conn, app.id(conn), "app.tgz")
                    .unwrap()
                    .is_none()
            );
        });
    }

    // Guards Helm's `/charts/{file}`: the newest file of the name among the owner's
    // packages of this format, never another format's or another owner's.
    #[test]
    fn newest_owner_file_spans_packages_of_one_owner_and_format() {
        with_db(|conn, alice| {
            let bob = fixture::owner(conn, "bob");
            pkg(alice, "helm", "a").put(conn, "1.0", "chart.tgz", b"a-old");
            pkg(alice, "helm", "b").put(conn, "1.0", "chart.tgz", b"b-new");
            pkg(alice, "helm", "a").created(conn, "1.0", 1_000);
            pkg(alice, "helm", "b").created(conn, "1.0", 2_000);
            pkg(alice, "other", "c").put(conn, "1.0", "chart.tgz", b"other-format");
            pkg(alice, "other", "c").created(conn, "1.0", 9_000);
            pkg(bob, "helm", "d").put(conn, "1.0", "chart.tgz", b"other-owner");
            pkg(bob, "helm", "d").created(conn, "1.0", 9_000);

            let found = newest_owner_file(conn, alice, "helm", "Chart.tgz")
                .unwrap()
                .unwrap();
            assert_eq!(found.blob, fixture::sha256(b"b-new"));
            let bobs = newest_owner_file(conn, bob, "helm", "chart.tgz")
                .unwrap()
                .unwrap();
            assert_eq!(bobs.blob, fixture::sha256(b"other-owner"));
            assert!(
                newest_owner_file(conn, bob, "other", "chart.tgz")
                    .unwrap()
                    .is_none()
            );
        });
    }

    // Guards OCI manifests by digest: found by blob within the package only.
    #[test]
    fn file_with_blob_finds_a_file_of_the_package_by_its_blob() {
        with_db(|conn, alice| {
            let img = pkg(alice, "oci", "img");
            let file = img.put(conn, "v1", "manifest", b"m");
            let found = file_with_blob(conn, img.id(conn), &file.blob)
                .unwrap()
                .unwrap();
            assert_eq!(found.id, file.id);
            let other = pkg(alice, "oci", "other").id(conn);
            assert!(file_with_blob(conn, other, &file.blob).unwrap().is_none());
        });
    }

    // Guards OCI manifests by tag: the file of the tagged version, and nothing once
    // the tag is gone or names another file.
    #[test]
    fn tagged_file_follows_the_tag() {
        with_db(|conn, alice| {
            let img = pkg(alice, "oci", "img");
            img.put(conn, "v1", "manifest", b"one");
            img.put(conn, "v2", "manifest", b"two");
            img.tag(conn, "latest", "v1");
            let id = img.id(conn);
            let found = tagged_file(conn, id, "latest", "manifest")
                .unwrap()
                .unwrap();
            assert_eq!(found.blob, fixture::sha256(b"one"));
            img.tag(conn, "latest", "v2");
            let moved = tagged_file(conn, id, "latest", "manifest")
                .unwrap()
                .unwrap();
            assert_eq!(moved.blob, fixture::sha256(b"two"));
            assert!(tagged_file(conn, id, "latest", "config").unwrap().is_none());
            assert!(
                tagged_file(conn, id, "stable", "manifest")
                    .unwrap()
                    .is_none()
            );
        });
    }

    // Guards re-publishing: a second file of the same name (in any case) is a conflict
    // unless overwriting, which replaces the first.
    #[test]
    fn insert_file_conflicts_unless_overwriting() {
        with_db(|conn, alice| {
            let app = pkg(alice, "generic", "app");
            let first = app.put(conn, "1.0", "a.bin", b"first");
            let blob = fixture::sha256(b"second");
            crate::db::blobs::insert(conn, &blob, 6).unwrap();
            let again = NewFile {
                version_id: first.version_id,
                name: "A.BIN",
                blob: &blob,
                size: 6,
                content_type: "text/plain",
                lead: false,
            };
            assert!(matches!(
                insert_file(conn, &again, false),
                Err(Error::Conflict(_))
            ));
            insert_file(conn, &again, true).unwrap();
            let files = files_of(conn, first.version_id).unwrap();
            assert_eq!(files.len(), 1);
            assert_eq!((files[0].name.as_str(), files[0].size), ("A.BIN", 6));
        });
    }

    // Guards the counts deletes rely on to drop an emptied version.
    #[test]
    fn counting_listing_and_deleting_files() {
        with_db(|conn, alice| {
            let app = pkg(alice, "generic", "app");
            let a = app.put(conn, "1.0", "a", b"a");
            let b = app.put(conn, "1.0", "b", b"b");
            let names: Vec<_> = files_of(conn, a.version_id)
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect();
            assert_eq!(names, ["a", "b"], "in insertion order");
            delete_file(conn, a.id).unwrap();
            assert_eq!(file_count(conn, a.version_id).unwrap(), 1);
            delete_files_of(conn, b.version_id).unwrap();
            assert_eq!(file_count(conn, a.version_id).unwrap(), 0);
            let package = find(conn, alice, "generic", "app").unwrap().unwrap();
            assert!(
                version(conn, package.id, "1.0").unwrap().is_some(),
                "versions stay"
            );
        });
    }
}
