//! Organizations and their members, and who may read an owner's packages.

use crate::db::owners::{self, OwnerKind, Role};
use crate::db::{Db, accounts};
use crate::error::Error;

use super::{owner_named, user_named};

/// An organization as listings show it.
#[derive(Debug, Clone)]
pub struct OrgInfo {
    pub name: String,
    pub private: bool,
    pub packages: i64,
    pub members: Vec<(String, Role)>,
}

pub fn create_org(db: &Db, name: &str, admin: &str, private: bool) -> Result<(), Error> {
    db.write_sync(|tx| {
        let user = user_named(tx, admin)?;
        let org = owners::create(tx, name, OwnerKind::Org, None, false, private)?;
        owners::set_member(tx, org, user.id, Role::Admin)
    })
}

pub fn set_member(db: &Db, org: &str, user: &str, role: Role) -> Result<(), Error> {
    db.write_sync(|tx| {
        let org = owner_named(tx, org, Some(OwnerKind::Org))?;
        let member = user_named(tx, user)?;
        owners::set_member(tx, org.id, member.id, role)
    })
}

pub fn remove_member(db: &Db, org: &str, user: &str) -> Result<(), Error> {
    db.write_sync(|tx| {
        let org_row = owner_named(tx, org, Some(OwnerKind::Org))?;
        let member = user_named(tx, user)?;
        if !owners::remove_member(tx, org_row.id, member.id)? {
            return Err(Error::not_found(format!(
                "{user:?} is not a member of {org:?}"
            )));
        }
        Ok(())
    })
}

pub fn list_orgs(db: &Db) -> Result<Vec<OrgInfo>, Error> {
    db.read_sync(|conn| {
        owners::list(conn, OwnerKind::Org)?
            .into_iter()
            .map(|o| {
                Ok(OrgInfo {
                    packages: accounts::package_count(conn, o.id)?,
                    members: owners::members(conn, o.id)?,
                    name: o.name,
                    private: o.private,
                })
            })
            .collect()
    })
}

/// Makes an owner's packages readable by anyone (`private = false`) or only by the
/// owner, its members and admins.
pub fn set_private(db: &Db, owner: &str, private: bool) -> Result<(), Error> {
    db.write_sync(|tx| {
        let owner = owner_named(tx, owner, None)?;
        owners::set_private(tx, owner.id, private)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::accounts::{create_user, test_db};

    #[test]
    fn orgs_and_visibility() {
        let (_dir, db) = test_db();
        create_user(&db, "alice", "alice-password", false, false).unwrap();
        create_user(&db, "bob", "bob-password", false, false).unwrap();
        create_org(&db, "crew", "alice", false).unwrap();
        set_member(&db, "crew", "bob", Role::Write).unwrap();
        assert_eq!(list_orgs(&db).unwrap()[0].members.len(), 2);
        remove_member(&db, "crew", "bob").unwrap();
        assert!(matches!(
            remove_member(&db, "crew", "bob"),
            Err(Error::NotFound(_))
        ));
        assert_eq!(
            list_orgs(&db).unwrap()[0].members,
            vec![("alice".to_string(), Role::Admin)]
        );
        set_private(&db, "crew", true).unwrap();
        assert!(list_orgs(&db).unwrap()[0].private);
        assert!(set_private(&db, "nobody", true).is_err());
    }
}
