//! Which owners are proxies or groups (migration 7), and the read access their
//! `readers` get: an `org_members` row with role `read` per reader, where a reader may
//! be an organization, whose members then read through it.

use super::Conn;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualKind {
    Proxy,
    Group,
}

impl VirtualKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proxy => "proxy",
            Self::Group => "group",
        }
    }
}

/// Whether owner `id` is a proxy or a group (configured now or once).
pub fn kind_of(conn: &Conn<'_>, id: i64) -> Result<Option<VirtualKind>, Error> {
    let kind: Option<String> = conn.query_opt(
        "SELECT kind FROM virtual_owners WHERE owner_id = ?1",
        &[&id],
        |r| r.get(0),
    )?;
    Ok(kind.map(|k| match k.as_str() {
        "proxy" => VirtualKind::Proxy,
        _ => VirtualKind::Group,
    }))
}

/// Marks owner `id` as a proxy or group (a changed kind replaces the old one).
pub fn set(conn: &Conn<'_>, id: i64, kind: VirtualKind) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO virtual_owners (owner_id, kind) VALUES (?1, ?2)
         ON CONFLICT (owner_id) DO UPDATE SET kind = excluded.kind",
        &[&id, &kind.as_str()],
    )?;
    Ok(())
}

/// Owners that are neither proxies nor groups (users and organizations people made).
pub fn real_owner_count(conn: &Conn<'_>) -> Result<i64, Error> {
    conn.query_row(
        "SELECT count(*) FROM owners WHERE id NOT IN (SELECT owner_id FROM virtual_owners)",
        &[],
        |r| r.get(0),
    )
}

/// Makes `readers` (owner ids) the only members of virtual owner `id`, all with role
/// `read`.
pub fn set_readers(conn: &Conn<'_>, id: i64, readers: &[i64]) -> Result<(), Error> {
    conn.execute("DELETE FROM org_members WHERE org_id = ?1", &[&id])?;
    for reader in readers {
        conn.execute(
            "INSERT INTO org_members (org_id, user_id, role) VALUES (?1, ?2, 'read')
             ON CONFLICT DO NOTHING",
            &[&id, reader],
        )?;
    }
    Ok(())
}

/// Whether `user_id` belongs to an organization that is a reader of `owner_id` (only
/// proxies and groups have organizations among their members).
pub fn reads_through_org(conn: &Conn<'_>, owner_id: i64, user_id: i64) -> Result<bool, Error> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM org_members reader JOIN org_members m ON m.org_id = reader.user_id
             WHERE reader.org_id = ?1 AND m.user_id = ?2 LIMIT 1",
            &[&owner_id, &user_id],
            |_| Ok(()),
        )?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::owners::{self, OwnerKind, Role};

    #[test]
    fn kinds_readers_and_the_real_owner_count() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("t.db")).unwrap();
        db.write_sync(|tx| {
            let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
            let bob = owners::create(tx, "bob", OwnerKind::User, None, false, false)?;
            let acme = owners::create(tx, "acme", OwnerKind::Org, None, false, false)?;
            owners::set_member(tx, acme, bob, Role::Write)?;
            let cache = owners::create(tx, "cache", OwnerKind::Org, None, false, true)?;
            assert_eq!(real_owner_count(tx)?, 4);
            set(tx, cache, VirtualKind::Group)?;
            set(tx, cache, VirtualKind::Proxy)?;
            assert_eq!(kind_of(tx, cache)?, Some(VirtualKind::Proxy));
            assert_eq!(kind_of(tx, acme)?, None);
            assert_eq!(real_owner_count(tx)?, 3);

            set_readers(tx, cache, &[alice, acme])?;
            assert_eq!(owners::member_role(tx, cache, alice)?, Some(Role::Read));
            assert!(reads_through_org(tx, cache, bob)?, "bob is in acme");
            assert!(
                !reads_through_org(tx, cache, alice)?,
                "alice reads directly"
            );
            set_readers(tx, cache, &[alice])?;
            assert!(
                !reads_through_org(tx, cache, bob)?,
                "acme is no reader any more"
            );
            // Deleting the owner takes its mark along.
            owners::delete(tx, cache)?;
            assert_eq!(kind_of(tx, cache)?, None);
            Ok(())
        })
        .unwrap();
    }
}
