//! Queries about an owner across tables: what they own, and handing their packages to
//! another owner before they are deleted.

use super::{Conn, packages};
use crate::error::Error;

/// How many packages an owner has.
pub fn package_count(conn: &Conn<'_>, owner_id: i64) -> Result<i64, Error> {
    conn.query_row(
        "SELECT count(*) FROM packages WHERE owner_id = ?1",
        &[&owner_id],
        |r| r.get(0),
    )
}

/// Moves every package of `from` to `to`; refused, naming them, if `to` has packages of
/// the same format and name. Each moved package gets a new revision (its indexes carry
/// the owner in URLs), and so do both owners' listings. Returns how many moved.
pub fn transfer_packages(conn: &Conn<'_>, from: i64, to: i64) -> Result<usize, Error> {
    let clashes: Vec<String> = conn.query_vec(
        "SELECT a.format || ' ' || a.name FROM packages a JOIN packages b
         ON b.owner_id = ?2 AND b.format = a.format AND b.lower_name = a.lower_name
         WHERE a.owner_id = ?1 ORDER BY 1",
        &[&from, &to],
        |r| r.get(0),
    )?;
    if !clashes.is_empty() {
        return Err(Error::Conflict(format!(
            "the new owner already has packages of these names: {}",
            clashes.join(", ")
        )));
    }
    let ids: Vec<i64> = conn.query_vec(
        "SELECT id FROM packages WHERE owner_id = ?1",
        &[&from],
        |r| r.get(0),
    )?;
    // The update trigger moves the new owner's listings; the old owner's move here, so a
    // listing cached for the old owner id can never be served again.
    conn.execute("UPDATE revision_counter SET n = n + 1", &[])?;
    conn.execute(
        "INSERT INTO listing_revisions (owner_id, format, revision)
         SELECT DISTINCT p.owner_id, p.format, c.n FROM packages p, revision_counter c
         WHERE p.owner_id = ?1
         ON CONFLICT (owner_id, format) DO UPDATE SET revision = excluded.revision",
        &[&from],
    )?;
    conn.execute(
        "UPDATE packages SET owner_id = ?2 WHERE owner_id = ?1",
        &[&from, &to],
    )?;
    for id in &ids {
        packages::touch(conn, *id)?;
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "INSERT INTO owners (id, name, lower_name, kind, created) VALUES
           (1, 'a', 'a', 'user', 0), (2, 'b', 'b', 'user', 0), (3, 'c', 'c', 'org', 0);
         INSERT INTO packages (owner_id, format, name, lower_name, created, modified) VALUES
           (1, 'npm', 'x', 'x', 0, 0), (1, 'generic', 'y', 'y', 0, 0),
           (3, 'npm', 'x', 'x', 0, 0);";

    #[test]
    fn transfers_all_or_names_the_clashes() {
        for engine in crate::db::packages::fixture::engines("transfers_all") {
            transfers_on(&engine.db);
        }
    }

    fn transfers_on(db: &crate::db::Db) {
        db.write_sync(|conn| {
            conn.execute_batch(SEED)?;
            let err = transfer_packages(conn, 1, 3).unwrap_err();
            assert!(err.to_string().contains("npm x"), "{err}");
            assert_eq!(package_count(conn, 1)?, 2);

            let listing = |owner: i64| -> i64 {
                conn.query_row(
                    "SELECT revision FROM listing_revisions WHERE owner_id = ?1 AND format = 'npm'",
                    &[&owner],
                    |r| r.get(0),
                )
                .unwrap()
            };
            let before = listing(1);
            assert_eq!(transfer_packages(conn, 1, 2)?, 2);
            assert_eq!((package_count(conn, 1)?, package_count(conn, 2)?), (0, 2));
            let revisions: Vec<i64> = conn.query_vec(
                "SELECT revision FROM packages WHERE owner_id = 2",
                &[],
                |r| r.get(0),
            )?;
            assert!(revisions.iter().all(|r| *r > before), "{revisions:?}");
            assert!(listing(1) > before, "the old owner's listing moves too");
            Ok(())
        })
        .unwrap();
    }
}
