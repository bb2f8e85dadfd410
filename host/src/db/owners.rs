//! Owners (users and organizations) and organization membership.

use std::sync::LazyLock;

use super::{Conn, Db, Row, now};
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    Org,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub id: i64,
    pub name: String,
    pub kind: OwnerKind,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub private: bool,
}

/// A member's role in an organization, ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

const COLUMNS: &str = "id, name, kind, password_hash, is_admin, private";

fn from_row(row: &Row<'_>) -> Result<Owner, Error> {
    Ok(Owner {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: if row.get::<String>(2)? == "org" {
            OwnerKind::Org
        } else {
            OwnerKind::User
        },
        password_hash: row.get(3)?,
        is_admin: row.get(4)?,
        private: row.get(5)?,
    })
}

fn kind_str(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::User => "user",
        OwnerKind::Org => "org",
    }
}

/// Owner names: letters, digits, `-`, `_`, `.`; no leading or trailing punctuation.
pub fn valid_name(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    name.len() <= 64
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.contains("..")
}

pub fn by_name(conn: &Conn<'_>, name: &str) -> Result<Option<Owner>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM owners WHERE lower_name = ?1");
    conn.query_opt(&sql, &[&name.to_lowercase()], from_row)
}

/// The owner named `name` and the listing revision of its packages of `format` (0
/// while it never had one), in one lookup: a node may reuse package rows it read
/// earlier while that revision holds, since every change to a package moves it
/// (`registry::index::rows`), which saves each request a second round trip.
pub fn by_name_with_listing(
    conn: &Conn<'_>,
    name: &str,
    format: &str,
) -> Result<Option<(Owner, i64)>, Error> {
    conn.query_opt(
        &WITH_LISTING,
        &[&name.to_lowercase(), &format],
        with_listing,
    )
}

/// [`by_name_with_listing`] awaited on the calling task (stage 1, on every request).
pub async fn by_name_with_listing_now(
    db: &Db,
    name: &str,
    format: &str,
) -> Result<Option<(Owner, i64)>, Error> {
    db.query_opt_now(
        &WITH_LISTING,
        &[&name.to_lowercase(), &format],
        with_listing,
    )
    .await
}

static WITH_LISTING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, (SELECT revision FROM listing_revisions l
                            WHERE l.owner_id = owners.id AND l.format = ?2)
         FROM owners WHERE lower_name = ?1"
    )
});

fn with_listing(row: &Row<'_>) -> Result<(Owner, i64), Error> {
    Ok((from_row(row)?, row.get::<Option<i64>>(6)?.unwrap_or(0)))
}

pub fn by_id(conn: &Conn<'_>, id: i64) -> Result<Option<Owner>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM owners WHERE id = ?1");
    conn.query_opt(&sql, &[&id], from_row)
}

/// Owners that have packages of a format.
pub fn with_packages_of(conn: &Conn<'_>, format: &str) -> Result<Vec<Owner>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM owners WHERE id IN (SELECT owner_id FROM packages WHERE format = ?1)"
    );
    conn.query_vec(&sql, &[&format], from_row)
}

pub fn count(conn: &Conn<'_>) -> Result<i64, Error> {
    conn.query_row("SELECT count(*) FROM owners", &[], |r| r.get(0))
}

pub fn create(
    conn: &Conn<'_>,
    name: &str,
    kind: OwnerKind,
    password_hash: Option<&str>,
    is_admin: bool,
    private: bool,
) -> Result<i64, Error> {
    if !valid_name(name) {
        return Err(Error::bad_request(format!(
            "invalid name {name:?}: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        )));
    }
    if by_name(conn, name)?.is_some() {
        return Err(Error::Conflict(format!(
            "the name {name:?} is already taken"
        )));
    }
    conn.query_row(
        "INSERT INTO owners (name, lower_name, kind, password_hash, is_admin, private, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        &[
            &name,
            &name.to_lowercase(),
            &kind_str(kind),
            &password_hash,
            &is_admin,
            &private,
            &now(),
        ],
        |r| r.get(0),
    )
}

pub fn set_member(conn: &Conn<'_>, org_id: i64, user_id: i64, role: Role) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO org_members (org_id, user_id, role) VALUES (?1, ?2, ?3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        &[&org_id, &user_id, &role.as_str()],
    )?;
    Ok(())
}

/// Owners of one kind, by name.
pub fn list(conn: &Conn<'_>, kind: OwnerKind) -> Result<Vec<Owner>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM owners WHERE kind = ?1 ORDER BY lower_name");
    conn.query_vec(&sql, &[&kind_str(kind)], from_row)
}

/// When an owner was created (seconds since the epoch).
pub fn created(conn: &Conn<'_>, id: i64) -> Result<i64, Error> {
    conn.query_row("SELECT created FROM owners WHERE id = ?1", &[&id], |r| {
        r.get(0)
    })
}

/// Deletes an owner; memberships, tokens and upload sessions go with it (cascades).
pub fn delete(conn: &Conn<'_>, id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM owners WHERE id = ?1", &[&id])?;
    Ok(())
}

pub fn set_password(conn: &Conn<'_>, id: i64, password_hash: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE owners SET password_hash = ?2 WHERE id = ?1",
        &[&id, &password_hash],
    )?;
    Ok(())
}

pub fn set_private(conn: &Conn<'_>, id: i64, private: bool) -> Result<(), Error> {
    conn.execute(
        "UPDATE owners SET private = ?2 WHERE id = ?1",
        &[&id, &private],
    )?;
    Ok(())
}

/// The number of site administrators.
pub fn admin_count(conn: &Conn<'_>) -> Result<i64, Error> {
    conn.query_row(
        "SELECT count(*) FROM owners WHERE kind = 'user' AND is_admin",
        &[],
        |r| r.get(0),
    )
}

/// An organization's members with their roles, by name.
pub fn members(conn: &Conn<'_>, org_id: i64) -> Result<Vec<(String, Role)>, Error> {
    conn.query_vec(
        "SELECT o.name, m.role FROM org_members m JOIN owners o ON o.id = m.user_id
         WHERE m.org_id = ?1 ORDER BY o.lower_name",
        &[&org_id],
        |r| {
            let role = r.get::<String>(1)?;
            Ok((r.get(0)?, Role::parse(&role).unwrap_or(Role::Read)))
        },
    )
}

/// Removes a member; false if they were none.
pub fn remove_member(conn: &Conn<'_>, org_id: i64, user_id: i64) -> Result<bool, Error> {
    Ok(conn.execute(
        "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
        &[&org_id, &user_id],
    )? > 0)
}

pub fn member_role(conn: &Conn<'_>, org_id: i64, user_id: i64) -> Result<Option<Role>, Error> {
    let role: Option<String> = conn.query_opt(
        "SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2",
        &[&org_id, &user_id],
        |r| r.get(0),
    )?;
    Ok(role.as_deref().and_then(Role::parse))
}

#[cfg(test)]
mod tests {
    use super::{by_name_with_listing, valid_name};
    use crate::db::packages::{self, fixture};

    // Guards what the package-row cache relies on: the owner's listing revision of a
    // format comes with the owner, is 0 before any package, moves when one is added or
    // changed, and is another format's own.
    #[test]
    fn the_owner_comes_with_its_listing_revision_of_a_format() {
        fixture::with_alice(|conn, alice| {
            let listing = |format| {
                let (owner, revision) = by_name_with_listing(conn, "ALICE", format)
                    .unwrap()
                    .expect("alice exists");
                assert_eq!(owner.id, alice);
                revision
            };
            assert_eq!(listing("npm"), 0);
            let id = packages::ensure(conn, alice, "npm", "left-pad").unwrap();
            let created = listing("npm");
            assert!(created > 0);
            packages::touch(conn, id).unwrap();
            assert!(listing("npm") > created);
            assert_eq!(listing("maven"), 0);
            assert!(
                by_name_with_listing(conn, "nobody", "npm")
                    .unwrap()
                    .is_none()
            );
        });
    }

    #[test]
    fn owner_names() {
        for ok in ["alice", "a", "team-7", "a.b_c"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a/b", "a..b", "é", "a b", "..", "a%2f"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
