//! Upload session rows: who a session belongs to and when it began. How much it has
//! received and when it was last written are the session file's length and mtime
//! (`store::sessions`), so the `received`/`updated` columns stay at their defaults.

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
        "SELECT id, owner_id, format, package, created FROM upload_sessions WHERE id = ?1",
        &[&id],
        |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                owner_id: r.get(1)?,
                format: r.get(2)?,
                package: r.get(3)?,
                created: r.get(4)?,
            })
        },
    )
}

/// Deletes a session row; whether there was one.
pub fn delete(conn: &Conn<'_>, id: &str) -> Result<bool, Error> {
    Ok(conn.execute("DELETE FROM upload_sessions WHERE id = ?1", &[&id])? > 0)
}

/// Ids and creation times of sessions created before `cutoff`: the only ones that can
/// have expired, since a session file is never older than its row. The caller decides
/// by the file's mtime.
pub fn created_before(conn: &Conn<'_>, cutoff: i64) -> Result<Vec<(String, i64)>, Error> {
    conn.query_vec(
        "SELECT id, created FROM upload_sessions WHERE created < ?1",
        &[&cutoff],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::owners::{self, OwnerKind};

    #[test]
    fn insert_find_delete_and_candidates_for_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("t.db")).unwrap();
        db.write_sync(|tx| {
            let owner_id = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
            let row = |id: &str, created| SessionRow {
                id: id.into(),
                owner_id,
                format: "oci".into(),
                package: "Team/App".into(),
                created,
            };
            insert(tx, &row("old", 100))?;
            insert(tx, &row("new", 200))?;
            let found = find(tx, "old")?.expect("inserted");
            assert_eq!(found.package, "team/app", "names are kept lower-case");
            assert!(found.belongs_to(owner_id, "oci", "TEAM/app"));
            assert!(!found.belongs_to(owner_id, "oci", "team/other"));
            assert!(!found.belongs_to(owner_id, "npm", "team/app"));
            assert!(!found.belongs_to(owner_id + 1, "oci", "team/app"));
            assert_eq!(created_before(tx, 150)?, vec![("old".to_string(), 100)]);
            assert!(delete(tx, "old")?);
            assert!(!delete(tx, "old")?);
            assert_eq!(find(tx, "old")?, None);
            Ok(())
        })
        .unwrap();
    }
}
