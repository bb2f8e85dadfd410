//! Packages across several owners, most recently changed first: the web UI's search
//! and its "recently updated" list. The caller passes the owners the visitor may read,
//! so a private owner's packages are never counted or listed for others.

use super::{PACKAGE_COLUMNS, PackageRow, package_from_row};
use crate::db::{Conn, Param};
use crate::error::Error;

/// Packages with a version among `owner_ids` whose name contains `query` (any case),
/// newest change first, each with its owner's name; the total before paging.
pub fn across_owners(
    conn: &Conn<'_>,
    owner_ids: &[i64],
    query: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<(String, PackageRow)>), Error> {
    if owner_ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    // One numbered placeholder per owner: plain SQL every database understands.
    let owners = (1..=owner_ids.len())
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let pattern = query.filter(|q| !q.is_empty()).map(|q| {
        format!(
            "%{}%",
            q.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        )
    });
    let mut values: Vec<&dyn Param> = owner_ids.iter().map(|id| id as &dyn Param).collect();
    let mut filter = format!(
        "p.owner_id IN ({owners}) AND EXISTS (SELECT 1 FROM versions v WHERE v.package_id = p.id)"
    );
    if let Some(pattern) = &pattern {
        values.push(pattern);
        filter.push_str(&format!(
            " AND p.lower_name LIKE ?{} ESCAPE '\\'",
            values.len()
        ));
    }
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM packages p WHERE {filter}"),
        &values,
        |r| r.get(0),
    )?;
    let columns = PACKAGE_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, o.name FROM packages p JOIN owners o ON o.id = p.owner_id
         WHERE {filter} ORDER BY p.modified DESC, p.id DESC LIMIT ?{} OFFSET ?{}",
        values.len() + 1,
        values.len() + 2
    );
    values.extend([&limit as &dyn Param, &offset]);
    let rows = conn.query_vec(&sql, &values, |r| Ok((r.get(7)?, package_from_row(r)?)))?;
    Ok((total, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};

    // Guards the cross-owner search: only the given owners, only packages with a
    // version, the name filter (with LIKE's wildcards taken literally), newest change
    // first, and the total before paging.
    #[test]
    fn searches_only_the_given_owners_newest_first() {
        fixture::with_alice(|conn, alice| {
            let bob = fixture::owner(conn, "bob");
            Pkg::new(alice, "generic", "app").put(conn, "1", "a", b"a");
            Pkg::new(alice, "npm", "app_x").put(conn, "1", "b", b"b");
            Pkg::new(alice, "generic", "empty").id(conn);
            Pkg::new(bob, "generic", "bobs-app").put(conn, "1", "c", b"c");
            conn.execute("UPDATE packages SET modified = id", &[])
                .unwrap();

            let names = |ids: &[i64], q: Option<&str>, limit| {
                let (total, rows) = across_owners(conn, ids, q, limit, 0).unwrap();
                let names: Vec<String> = rows
                    .into_iter()
                    .map(|(owner, p)| format!("{owner}/{}", p.name))
                    .collect();
                (total, names)
            };
            assert_eq!(
                names(&[alice], None, 10),
                (2, vec!["alice/app_x".into(), "alice/app".into()])
            );
            assert_eq!(names(&[alice, bob], Some("APP"), 1).0, 3);
            assert_eq!(names(&[alice, bob], Some("app"), 1).1, ["bob/bobs-app"]);
            assert_eq!(names(&[alice], Some("p_"), 10).1, ["alice/app_x"]);
            assert_eq!(names(&[], None, 10), (0, vec![]));
        });
    }
}
