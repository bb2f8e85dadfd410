//! Versions of a package: their rows, metadata, download counts and properties.

use super::{VERSION_COLUMNS, VersionRow, version_from_row};
use crate::db::{Conn, now};
use crate::error::Error;

pub fn version(
    conn: &Conn<'_>,
    package_id: i64,
    version: &str,
) -> Result<Option<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 AND lower_version = ?2"
    );
    conn.query_opt(
        &sql,
        &[&package_id, &version.to_lowercase()],
        version_from_row,
    )
}

pub fn insert_version(
    conn: &Conn<'_>,
    package_id: i64,
    version: &str,
    metadata: &str,
    creator: Option<i64>,
) -> Result<i64, Error> {
    conn.query_row(
        "INSERT INTO versions (package_id, version, lower_version, metadata, created, creator_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        &[
            &package_id,
            &version,
            &version.to_lowercase(),
            &metadata,
            &now(),
            &creator,
        ],
        |r| r.get(0),
    )
}

pub fn set_metadata(conn: &Conn<'_>, version_id: i64, metadata: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE versions SET metadata = ?2 WHERE id = ?1",
        &[&version_id, &metadata],
    )?;
    Ok(())
}

/// Adds `count` downloads to a version; a version deleted meanwhile is skipped.
pub fn add_downloads(conn: &Conn<'_>, version_id: i64, count: i64) -> Result<(), Error> {
    conn.execute(
        "UPDATE versions SET downloads = downloads + ?2 WHERE id = ?1",
        &[&version_id, &count],
    )?;
    Ok(())
}

pub fn set_property(
    conn: &Conn<'_>,
    version_id: i64,
    name: &str,
    value: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO properties (version_id, name, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (version_id, name) DO UPDATE SET value = excluded.value",
        &[&version_id, &name, &value],
    )?;
    Ok(())
}

/// A version's properties, by name.
pub fn properties(conn: &Conn<'_>, version_id: i64) -> Result<Vec<(String, String)>, Error> {
    conn.query_vec(
        "SELECT name, value FROM properties WHERE version_id = ?1 ORDER BY name",
        &[&version_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

pub fn delete_version(conn: &Conn<'_>, version_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM versions WHERE id = ?1", &[&version_id])?;
    Ok(())
}

/// Versions of a package, oldest first.
pub fn versions(
    conn: &Conn<'_>,
    package_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 ORDER BY created, id LIMIT ?2 OFFSET ?3"
    );
    conn.query_vec(&sql, &[&package_id, &limit, &offset], version_from_row)
}

pub fn version_count(conn: &Conn<'_>, package_id: i64) -> Result<i64, Error> {
    conn.query_row(
        "SELECT count(*) FROM versions WHERE package_id = ?1",
        &[&package_id],
        |r| r.get(0),
    )
}

/// Versions whose property `name` is `value`, oldest first.
pub fn versions_with_property(
    conn: &Conn<'_>,
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
    conn.query_vec(&sql, &[&package_id, &name, &value], version_from_row)
}

pub fn newest_version(conn: &Conn<'_>, package_id: i64) -> Result<Option<VersionRow>, Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM versions WHERE package_id = ?1 ORDER BY created DESC, id DESC LIMIT 1"
    );
    conn.query_opt(&sql, &[&package_id], version_from_row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::db::packages::{file_count, tagged_file, tags};

    fn with_app(f: impl FnOnce(&Conn<'_>, Pkg<'static>, i64)) {
        let (_dir, db) = fixture::db();
        db.write_sync(|tx| {
            let app = Pkg::new(fixture::owner(tx, "alice"), "generic", "app");
            let id = app.id(tx);
            f(tx, app, id);
            Ok(())
        })
        .unwrap();
    }

    fn names(rows: Vec<VersionRow>) -> Vec<String> {
        rows.into_iter().map(|v| v.version).collect()
    }

    // Guards concurrent publishes of one version (on PostgreSQL from several nodes):
    // both writers check and insert at once, and exactly one wins; the other is told of
    // a conflict, from SQLite's check (writers take turns) or from PostgreSQL's unique
    // constraint (both inserts run, the second waits for the first to commit).
    #[test]
    fn of_two_concurrent_publishes_of_one_version_exactly_one_wins() {
        for engine in fixture::engines("concurrent_publishes") {
            let db = &engine.db;
            // The package exists already: a writer creating it would hold its row, and
            // the other would wait for that one's commit before reaching the barrier.
            let package = db
                .write_sync(|tx| Ok(Pkg::new(fixture::owner(tx, "alice"), "npm", "app").id(tx)))
                .unwrap();
            let both_checked = std::sync::Barrier::new(2);
            let publish = |_| {
                db.write_sync(|tx| {
                    let exists = version(tx, package, "1.0")?.is_some();
                    // SQLite's writers cannot overlap; PostgreSQL's both check first.
                    if tx.is_postgres() {
                        both_checked.wait();
                    }
                    if exists {
                        return Err(Error::Conflict("version 1.0 exists".into()));
                    }
                    insert_version(tx, package, "1.0", "{}", None)
                })
            };
            let results: Vec<_> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..2).map(|i| s.spawn(move || publish(i))).collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let won = results.iter().filter(|r| r.is_ok()).count();
            let conflicts = results
                .iter()
                .filter(|r| matches!(r, Err(Error::Conflict(_))))
                .count();
            assert_eq!((won, conflicts), (1, 1), "{results:?}");
        }
    }

    // Guards case-insensitive version lookup with the spelling the client sent kept.
    #[test]
    fn versions_match_in_any_case_and_keep_their_spelling() {
        with_app(|conn, app, id| {
            app.version(conn, "1.0-RC1");
            let found = version(conn, id, "1.0-rc1").unwrap().unwrap();
            assert_eq!(found.version, "1.0-RC1");
            assert!(version(conn, id, "1.0").unwrap().is_none());
        });
    }

    // Guards listings' "oldest first" and paging, and newest_version's choice by time.
    #[test]
    fn versions_are_ordered_by_creation_time() {
        with_app(|conn, app, id| {
            for v in ["b", "a", "c"] {
                app.version(conn, v);
            }
            app.created(conn, "b", 3_000);
            app.created(conn, "a", 1_000);
            app.created(conn, "c", 2_000);
            assert_eq!(
                names(versions(conn, id, i64::MAX, 0).unwrap()),
                ["a", "c", "b"]
            );
            assert_eq!(names(versions(conn, id, 1, 1).unwrap()), ["c"]);
            assert_eq!(version_count(conn, id).unwrap(), 3);
            assert_eq!(newest_version(conn, id).unwrap().unwrap().version, "b");
        });
    }

    // Guards download batches adding up, and properties replacing by name.
    #[test]
    fn downloads_add_up_and_properties_are_replaced_by_name() {
        with_app(|conn, app, id| {
            let v1 = app.version(conn, "1");
            let v2 = app.version(conn, "2");
            add_downloads(conn, v1, 2).unwrap();
            add_downloads(conn, v1, 3).unwrap();
            add_downloads(conn, -1, 7).unwrap();
            assert_eq!(version(conn, id, "1").unwrap().unwrap().downloads, 5);

            set_property(conn, v1, "channel", "beta").unwrap();
            set_property(conn, v1, "channel", "stable").unwrap();
            set_property(conn, v2, "channel", "beta").unwrap();
            let stable = versions_with_property(conn, id, "channel", "stable").unwrap();
            assert_eq!(names(stable), ["1"]);
            assert_eq!(
                names(versions_with_property(conn, id, "channel", "beta").unwrap()),
                ["2"]
            );
            set_metadata(conn, v2, r#"{"x":1}"#).unwrap();
            assert_eq!(
                version(conn, id, "2").unwrap().unwrap().metadata,
                r#"{"x":1}"#
            );
        });
    }

    // Guards the cascade a version delete relies on: its files and tags go with it.
    #[test]
    fn deleting_a_version_takes_its_files_and_tags() {
        with_app(|conn, app, id| {
            app.put(conn, "1", "f", b"f");
            app.put(conn, "2", "f", b"g");
            app.tag(conn, "old", "1");
            app.tag(conn, "new", "2");
            let v1 = app.version(conn, "1");
            delete_version(conn, v1).unwrap();
            assert_eq!(file_count(conn, v1).unwrap(), 0);
            assert_eq!(
                tags(conn, id).unwrap(),
                [("new".to_string(), "2".to_string())]
            );
            assert!(tagged_file(conn, id, "new", "f").unwrap().is_some());
        });
    }
}
