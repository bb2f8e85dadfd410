//! The proxy cache's own rows (migration 8): upstream documents with their validators,
//! the artifacts they declare, and where each fetched file came from. Fetched files
//! themselves are ordinary `files` rows of the proxy owner (see `db::packages`).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Error;

/// A cached upstream document (or a remembered 404 when `blob` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub status: u16,
    /// The upstream URL the document came from.
    pub upstream: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The value of the plan's `head-validator` header when the document was fetched.
    pub validator: Option<String>,
    /// sha256 of the raw body in the blob store.
    pub blob: Option<String>,
    pub content_type: String,
    /// Upstream headers with lower-case names, as JSON pairs.
    pub headers: String,
    pub fetched_at: i64,
    pub checked_at: i64,
}

pub fn document(conn: &Connection, owner_id: i64, key: &str) -> Result<Option<DocumentRow>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT status, upstream, etag, last_modified, validator, blob, content_type, headers,
                    fetched_at, checked_at
             FROM proxy_documents WHERE owner_id = ?1 AND key = ?2",
        )?
        .query_row(params![owner_id, key], |r| {
            Ok(DocumentRow {
                status: r.get::<_, i64>(0)? as u16,
                upstream: r.get(1)?,
                etag: r.get(2)?,
                last_modified: r.get(3)?,
                validator: r.get(4)?,
                blob: r.get(5)?,
                content_type: r.get(6)?,
                headers: r.get(7)?,
                fetched_at: r.get(8)?,
                checked_at: r.get(9)?,
            })
        })
        .optional()?)
}

/// Which cached document: the proxy owner, the render-index key and the package it is
/// about (empty for listings).
pub struct DocumentKey<'a> {
    pub owner_id: i64,
    pub key: &'a str,
    pub package: &'a str,
}

/// Records a document as fetched now (its blob row must exist already).
pub fn put_document(
    conn: &Connection,
    at: &DocumentKey<'_>,
    row: &DocumentRow,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT INTO proxy_documents (owner_id, key, status, upstream, etag, last_modified,
                                      validator, blob, content_type, headers, fetched_at,
                                      checked_at, package)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (owner_id, key) DO UPDATE SET
             status = excluded.status, upstream = excluded.upstream, etag = excluded.etag,
             last_modified = excluded.last_modified, validator = excluded.validator,
             blob = excluded.blob, content_type = excluded.content_type,
             headers = excluded.headers, fetched_at = excluded.fetched_at,
             checked_at = excluded.checked_at",
    )?
    .execute(params![
        at.owner_id,
        at.key,
        row.status as i64,
        row.upstream,
        row.etag,
        row.last_modified,
        row.validator,
        row.blob,
        row.content_type,
        row.headers,
        row.fetched_at,
        row.checked_at,
        at.package.to_lowercase()
    ])?;
    Ok(())
}

/// Forgets a proxy's cached documents and declarations, all or those of one package
/// (`wharf cache purge`); their raw bodies are left to the collector. Returns how many
/// documents went.
pub fn purge(conn: &Connection, owner_id: i64, package: Option<&str>) -> Result<usize, Error> {
    let package = package.map(str::to_lowercase);
    conn.execute(
        "DELETE FROM proxy_declarations WHERE owner_id = ?1 AND (?2 IS NULL OR document IN
             (SELECT key FROM proxy_documents WHERE owner_id = ?1 AND package = ?2))",
        params![owner_id, package],
    )?;
    Ok(conn.execute(
        "DELETE FROM proxy_documents WHERE owner_id = ?1 AND (?2 IS NULL OR package = ?2)",
        params![owner_id, package],
    )?)
}

/// Drops what a proxy owner cached of `package` (any case; everything when `None`): its
/// packages with their versions and files, and its documents and declarations. The
/// blobs go at the next collection, once nothing references them. Returns the numbers of
/// packages and documents dropped.
pub fn purge_cached(
    conn: &Connection,
    owner_id: i64,
    package: Option<&str>,
) -> Result<(usize, usize), Error> {
    let lower = package.map(str::to_lowercase);
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM packages WHERE owner_id = ?1 AND (?2 IS NULL OR lower_name = ?2)",
        )?
        .query_map(params![owner_id, lower], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        crate::db::packages::delete_package(conn, *id)?;
    }
    Ok((ids.len(), purge(conn, owner_id, package)?))
}

/// Marks a cached document as confirmed by the upstream at `now` (a 304).
pub fn touch_document(conn: &Connection, owner_id: i64, key: &str, now: i64) -> Result<(), Error> {
    conn.execute(
        "UPDATE proxy_documents SET checked_at = ?3 WHERE owner_id = ?1 AND key = ?2",
        params![owner_id, key, now],
    )?;
    Ok(())
}

/// An artifact a document declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub file: String,
    pub version: String,
    /// Absolute upstream URL.
    pub url: String,
    /// `algorithm:hex` strings.
    pub digests: Vec<String>,
}

/// Replaces every declaration of the document `document` (a key of `proxy::key`): it
/// was rewritten after a change, and what the upstream dropped is dropped here too.
pub fn replace_declarations(
    conn: &Connection,
    owner_id: i64,
    document: &str,
    declared: &[Declaration],
) -> Result<(), Error> {
    conn.execute(
        "DELETE FROM proxy_declarations WHERE owner_id = ?1 AND document = ?2",
        params![owner_id, document],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO proxy_declarations (owner_id, document, file, version, url, digests)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (owner_id, document, file) DO UPDATE SET
             version = excluded.version, url = excluded.url, digests = excluded.digests",
    )?;
    for d in declared {
        let digests = serde_json::to_string(&d.digests).unwrap_or_else(|_| "[]".into());
        insert.execute(params![
            owner_id,
            document,
            d.file.to_lowercase(),
            d.version,
            d.url,
            digests
        ])?;
    }
    Ok(())
}

/// The declaration of `file` in the document `document`.
pub fn declaration(
    conn: &Connection,
    owner_id: i64,
    document: &str,
    file: &str,
) -> Result<Option<Declaration>, Error> {
    let found: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT version, url, digests FROM proxy_declarations
             WHERE owner_id = ?1 AND document = ?2 AND file = ?3",
        )?
        .query_row(params![owner_id, document, file.to_lowercase()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    Ok(found.map(|(version, url, digests)| Declaration {
        file: file.to_string(),
        version,
        url,
        digests: serde_json::from_str(&digests).unwrap_or_default(),
    }))
}

/// Records where a fetched file came from; being fetched is its last use so far.
pub fn record_fetch(conn: &Connection, file_id: i64, url: &str, now: i64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO proxy_fetches (file_id, url, fetched_at, used_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (file_id) DO UPDATE SET url = excluded.url, fetched_at = excluded.fetched_at,
             used_at = excluded.used_at",
        params![file_id, url, now],
    )?;
    Ok(())
}

/// Moves the last use of fetched files forward to the given times, as `(file id, time)`
/// pairs (never back: a batch may be older than a fetch written since). A file evicted
/// or purged meanwhile has no row left to update.
pub fn set_used(conn: &Connection, uses: &[(i64, i64)]) -> Result<(), Error> {
    let mut update = conn.prepare_cached(
        "UPDATE proxy_fetches SET used_at = ?2 WHERE file_id = ?1 AND used_at < ?2",
    )?;
    for (file_id, at) in uses {
        update.execute(params![file_id, at])?;
    }
    Ok(())
}

/// When a fetched file was last used (as far as written), if a proxy fetched it.
pub fn used_at(conn: &Connection, file_id: i64) -> Result<Option<i64>, Error> {
    Ok(conn
        .prepare_cached("SELECT used_at FROM proxy_fetches WHERE file_id = ?1")?
        .query_row([file_id], |r| r.get(0))
        .optional()?)
}

/// When and from which URL a file was fetched, if a proxy fetched it.
pub fn fetch_of(conn: &Connection, file_id: i64) -> Result<Option<(String, i64)>, Error> {
    Ok(conn
        .prepare_cached("SELECT url, fetched_at FROM proxy_fetches WHERE file_id = ?1")?
        .query_row([file_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};

    fn row(blob: Option<String>) -> DocumentRow {
        DocumentRow {
            status: if blob.is_some() { 200 } else { 404 },
            upstream: "http://up/x".into(),
            etag: Some("\"e\"".into()),
            last_modified: None,
            validator: None,
            blob,
            content_type: "application/json".into(),
            headers: "[]".into(),
            fetched_at: 10,
            checked_at: 10,
        }
    }

    fn at(owner_id: i64, key: &str) -> DocumentKey<'_> {
        DocumentKey {
            owner_id,
            key,
            package: if key == "listing" { "" } else { "Pkg" },
        }
    }

    #[test]
    fn a_purge_forgets_one_package_or_all() {
        fixture::with_alice(|conn, alice| {
            for key in ["k", "k2", "listing"] {
                put_document(conn, &at(alice, key), &row(None)).unwrap();
            }
            let decl = Declaration {
                file: "a.tgz".into(),
                version: "1.0".into(),
                url: "http://up/a.tgz".into(),
                digests: Vec::new(),
            };
            replace_declarations(conn, alice, "k", std::slice::from_ref(&decl)).unwrap();
            replace_declarations(conn, alice, "listing", &[decl]).unwrap();
            assert_eq!(purge(conn, alice, Some("PKG")).unwrap(), 2);
            assert_eq!(declaration(conn, alice, "k", "a.tgz").unwrap(), None);
            assert!(
                declaration(conn, alice, "listing", "a.tgz")
                    .unwrap()
                    .is_some()
            );
            assert!(document(conn, alice, "listing").unwrap().is_some());
            assert_eq!(purge(conn, alice, None).unwrap(), 1);
        });
    }

    #[test]
    fn a_cache_purge_drops_packages_and_documents_of_one_name_or_all() {
        fixture::with_alice(|conn, alice| {
            Pkg::new(alice, "npm", "Pkg").put(conn, "1.0", "pkg-1.0.tgz", b"a");
            Pkg::new(alice, "npm", "other").put(conn, "1.0", "other-1.0.tgz", b"b");
            put_document(conn, &at(alice, "k"), &row(None)).unwrap();
            assert_eq!(purge_cached(conn, alice, Some("PKG")).unwrap(), (1, 1));
            assert!(
                crate::db::packages::find(conn, alice, "npm", "pkg")
                    .unwrap()
                    .is_none()
            );
            assert!(
                crate::db::packages::find(conn, alice, "npm", "other")
                    .unwrap()
                    .is_some()
            );
            assert_eq!(purge_cached(conn, alice, None).unwrap(), (1, 0));
            assert!(
                crate::db::packages::find(conn, alice, "npm", "other")
                    .unwrap()
                    .is_none()
            );
        });
    }

    #[test]
    fn documents_round_trip_and_touch() {
        fixture::with_alice(|conn, alice| {
            assert_eq!(document(conn, alice, "k").unwrap(), None);
            put_document(conn, &at(alice, "k"), &row(None)).unwrap();
            touch_document(conn, alice, "k", 99).unwrap();
            let found = document(conn, alice, "k").unwrap().unwrap();
            assert_eq!((found.status, found.checked_at), (404, 99));
        });
    }

    // Guards the collector: a document's raw body is referenced while its row names it.
    #[test]
    fn a_document_body_is_not_an_orphan() {
        let (_dir, db) = fixture::db();
        db.write_sync(|tx| {
            let alice = fixture::owner(tx, "alice");
            let sha = fixture::sha256(b"doc");
            crate::db::blobs::insert(tx, &sha, 3)?;
            put_document(tx, &at(alice, "k"), &row(Some(sha)))?;
            assert_eq!(crate::db::gc::mark_orphans(tx, 100)?, 0);
            put_document(tx, &at(alice, "k"), &row(None))?;
            assert_eq!(crate::db::gc::mark_orphans(tx, 100)?, 1);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn declarations_are_replaced_wholesale_and_fetches_go_with_their_file() {
        fixture::with_alice(|conn, alice| {
            let decl = |file: &str| Declaration {
                file: file.into(),
                version: "1.0".into(),
                url: format!("http://up/{file}"),
                digests: vec!["sha256:ab".into()],
            };
            replace_declarations(conn, alice, "doc", &[decl("a.tgz"), decl("b.tgz")]).unwrap();
            // Another document of the same package keeps its own declarations.
            replace_declarations(conn, alice, "other", &[decl("c.tgz")]).unwrap();
            replace_declarations(conn, alice, "doc", &[decl("b.tgz")]).unwrap();
            assert_eq!(declaration(conn, alice, "doc", "a.tgz").unwrap(), None);
            let b = declaration(conn, alice, "doc", "B.tgz").unwrap().unwrap();
            assert_eq!(b.digests, ["sha256:ab"]);
            assert!(
                declaration(conn, alice, "other", "c.tgz")
                    .unwrap()
                    .is_some()
            );
            assert_eq!(declaration(conn, alice, "other", "b.tgz").unwrap(), None);

            let file = Pkg::new(alice, "generic", "pkg").put(conn, "1.0", "b.tgz", b"b");
            record_fetch(conn, file.id, "http://up/b.tgz", 5).unwrap();
            assert_eq!(
                fetch_of(conn, file.id).unwrap(),
                Some(("http://up/b.tgz".into(), 5))
            );
            crate::db::packages::delete_file(conn, file.id).unwrap();
            assert_eq!(fetch_of(conn, file.id).unwrap(), None);
        });
    }

    // Guards the last-use column eviction orders by: a fetch sets it, a use moves it
    // forward only, and a file that went meanwhile is skipped.
    #[test]
    fn last_use_starts_at_the_fetch_and_only_moves_forward() {
        fixture::with_alice(|conn, alice| {
            let file = Pkg::new(alice, "generic", "pkg").put(conn, "1.0", "a.bin", b"a");
            assert_eq!(used_at(conn, file.id).unwrap(), None, "not fetched");
            record_fetch(conn, file.id, "http://up/a.bin", 100).unwrap();
            assert_eq!(used_at(conn, file.id).unwrap(), Some(100));
            set_used(conn, &[(file.id, 200), (file.id + 1000, 300)]).unwrap();
            assert_eq!(used_at(conn, file.id).unwrap(), Some(200));
            set_used(conn, &[(file.id, 150)]).unwrap();
            assert_eq!(used_at(conn, file.id).unwrap(), Some(200), "never back");
            record_fetch(conn, file.id, "http://up/a.bin", 400).unwrap();
            assert_eq!(used_at(conn, file.id).unwrap(), Some(400), "fetched anew");
        });
    }
}
