//! Upload session rows: who a session belongs to and when it began.
//!
//! With blobs on local disk, how much a session has received and when it was last
//! written are the session file's length and mtime (`store::sessions`), so the
//! `received`/`updated` columns stay at their defaults and a chunk costs no database
//! write. With blobs in an object store (several nodes), the row is the truth instead:
//! each chunk is a part (an object) recorded by [`append_part`], whose conditional
//! update of `received` lets exactly one of two nodes append at an offset.

use super::Conn;

use crate::error::Error;

/// A session's ownership: the (owner, format, package) every request on it must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub owner_id: i64,
    pub format: String,
    /// Lower-case package name.
    pub package: String,
    pub created: i64,
    /// Bytes received, as the parts record them (0 for sessions in files).
    pub received: u64,
    /// When the last part was recorded (`created` for sessions in files).
    pub updated: i64,
}

/// A chunk of a session kept in the object store: bytes `start..start + length` are
/// the object `object`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub start: u64,
    pub length: u64,
    pub object: String,
}

impl SessionRow {
    /// Whether a request for `package` of `format` under `owner_id` may use this session.
    pub fn belongs_to(&self, owner_id: i64, format: &str, package: &str) -> bool {
        self.owner_id == owner_id && self.format == format && self.package == package.to_lowercase()
    }
}

pub fn insert(conn: &Conn<'_>, row: &SessionRow) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO upload_sessions (id, owner_id, format, package, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        &[
            &row.id,
            &row.owner_id,
            &row.format,
            &row.package.to_lowercase(),
            &row.created,
        ],
    )?;
    Ok(())
}

pub fn find(conn: &Conn<'_>, id: &str) -> Result<Option<SessionRow>, Error> {
    conn.query_opt(
        "SELECT id, owner_id, format, package, created, received, updated
         FROM upload_sessions WHERE id = ?1",
        &[&id],
        |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                owner_id: r.get(1)?,
                format: r.get(2)?,
                package: r.get(3)?,
                created: r.get(4)?,
                received: r.get::<i64>(5)?.max(0) as u64,
                updated: r.get(6)?,
            })
        },
    )
}

/// Records `part` as the session's next bytes if the session has received exactly
/// `part.start` bytes; false (nothing recorded) if another request got there first or
/// the session is gone. The check and the update are one statement, so on PostgreSQL
/// a second node appending at the same offset waits for the first one's row lock and
/// then finds `received` moved on.
pub fn append_part(conn: &Conn<'_>, id: &str, part: &Part, now: i64) -> Result<bool, Error> {
    let (start, end) = (part.start as i64, (part.start + part.length) as i64);
    let moved = conn.execute(
        "UPDATE upload_sessions SET received = ?3, updated = ?4 WHERE id = ?1 AND received = ?2",
        &[&id, &start, &end, &now],
    )?;
    if moved == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO upload_session_parts (session_id, start, length, object)
         VALUES (?1, ?2, ?3, ?4)",
        &[&id, &start, &(part.length as i64), &part.object],
    )?;
    Ok(true)
}

/// The session's parts in order.
pub fn parts(conn: &Conn<'_>, id: &str) -> Result<Vec<Part>, Error> {
    conn.query_vec(
        "SELECT start, length, object FROM upload_session_parts
         WHERE session_id = ?1 ORDER BY start",
        &[&id],
        |r| {
            Ok(Part {
                start: r.get::<i64>(0)?.max(0) as u64,
                length: r.get::<i64>(1)?.max(0) as u64,
                object: r.get(2)?,
            })
        },
    )
}

/// Deletes a session row; whether there was one.
pub fn delete(conn: &Conn<'_>, id: &str) -> Result<bool, Error> {
    Ok(conn.execute("DELETE FROM upload_sessions WHERE id = ?1", &[&id])? > 0)
}

/// Sessions created before `cutoff` (id, created, updated): the only ones that can
/// have expired, since neither a session file nor a part is older than its row. The
/// caller decides by the file's mtime or, for parts, by `updated`.
pub fn created_before(conn: &Conn<'_>, cutoff: i64) -> Result<Vec<(String, i64, i64)>, Error> {
    conn.query_vec(
        "SELECT id, created, updated FROM upload_sessions WHERE created < ?1",
        &[&cutoff],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture;

    fn row(id: &str, owner_id: i64, created: i64) -> SessionRow {
        SessionRow {
            id: id.into(),
            owner_id,
            format: "oci".into(),
            package: "Team/App".into(),
            created,
            received: 0,
            updated: created,
        }
    }

    #[test]
    fn insert_find_delete_and_candidates_for_expiry() {
        fixture::with_alice(|tx, owner_id| {
            insert(tx, &row("old", owner_id, 100)).unwrap();
            insert(tx, &row("new", owner_id, 200)).unwrap();
            let found = find(tx, "old").unwrap().expect("inserted");
            assert_eq!(found.package, "team/app", "names are kept lower-case");
            assert_eq!((found.received, found.updated), (0, 100));
            assert!(found.belongs_to(owner_id, "oci", "TEAM/app"));
            assert!(!found.belongs_to(owner_id, "oci", "team/other"));
            assert!(!found.belongs_to(owner_id, "npm", "team/app"));
            assert!(!found.belongs_to(owner_id + 1, "oci", "team/app"));
            assert_eq!(
                created_before(tx, 150).unwrap(),
                vec![("old".to_string(), 100, 100)]
            );
            assert!(delete(tx, "old").unwrap());
            assert!(!delete(tx, "old").unwrap());
            assert_eq!(find(tx, "old").unwrap(), None);
        });
    }

    #[test]
    fn parts_append_only_at_the_received_offset_and_go_with_their_session() {
        fixture::with_alice(|tx, owner_id| {
            insert(tx, &row("s", owner_id, 100)).unwrap();
            let part = |start, length, object: &str| Part {
                start,
                length,
                object: object.into(),
            };
            assert!(append_part(tx, "s", &part(0, 5, "a"), 110).unwrap());
            // A second request at offset 0 (another node's) is refused and records nothing.
            assert!(!append_part(tx, "s", &part(0, 3, "b"), 111).unwrap());
            assert!(!append_part(tx, "s", &part(6, 3, "c"), 112).unwrap());
            assert!(append_part(tx, "s", &part(5, 2, "d"), 120).unwrap());
            assert!(!append_part(tx, "gone", &part(0, 1, "e"), 120).unwrap());
            let found = find(tx, "s").unwrap().unwrap();
            assert_eq!((found.received, found.updated), (7, 120));
            assert_eq!(
                parts(tx, "s").unwrap(),
                vec![part(0, 5, "a"), part(5, 2, "d")]
            );
            assert_eq!(
                created_before(tx, 120).unwrap(),
                vec![("s".to_string(), 100, 120)],
                "last written at 120"
            );
            assert!(delete(tx, "s").unwrap());
            assert_eq!(parts(tx, "s").unwrap(), Vec::new());
        });
    }
}
