//! User accounts: creating, listing, deleting, passwords and signing in.

use crate::auth::secrets;
use crate::db::owners::{self, Owner, OwnerKind};
use crate::db::tokens;
use crate::db::{Db, accounts};
use crate::error::Error;

use super::{check_password, owner_named, user_named};

/// A user as listings show it.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub is_admin: bool,
    pub private: bool,
    pub created: i64,
    pub packages: i64,
    pub tokens: usize,
}

pub fn create_user(
    db: &Db,
    name: &str,
    password: &str,
    admin: bool,
    private: bool,
) -> Result<(), Error> {
    check_password(password)?;
    let hash = secrets::hash_password(password);
    db.write_sync(|tx| owners::create(tx, name, OwnerKind::User, Some(&hash), admin, private))?;
    Ok(())
}

pub fn list_users(db: &Db) -> Result<Vec<UserInfo>, Error> {
    db.read_sync(|conn| {
        let tokens = tokens::list(conn, None)?;
        owners::list(conn, OwnerKind::User)?
            .into_iter()
            .map(|o| {
                Ok(UserInfo {
                    packages: accounts::package_count(conn, o.id)?,
                    created: owners::created(conn, o.id)?,
                    tokens: tokens.iter().filter(|t| t.user == o.name).count(),
                    id: o.id,
                    name: o.name,
                    is_admin: o.is_admin,
                    private: o.private,
                })
            })
            .collect()
    })
}

/// What deleting a user took with it.
#[derive(Debug, Clone, Copy)]
pub struct Deleted {
    pub tokens: usize,
    pub packages_moved: usize,
}

/// Deletes a user with their tokens and memberships. Refused while they own packages,
/// unless `transfer_to` names the owner who gets them; refused for the last admin.
pub fn delete_user(db: &Db, name: &str, transfer_to: Option<&str>) -> Result<Deleted, Error> {
    db.write_sync(|tx| {
        let user = user_named(tx, name)?;
        if user.is_admin && owners::admin_count(tx)? <= 1 {
            return Err(Error::Conflict(format!(
                "{name:?} is the last administrator; make another user an admin first"
            )));
        }
        let packages = accounts::package_count(tx, user.id)?;
        let packages_moved = match transfer_to {
            Some(heir) => {
                let heir = owner_named(tx, heir, None)?;
                if heir.id == user.id {
                    return Err(Error::bad_request(
                        "--transfer-to names the user being deleted",
                    ));
                }
                accounts::transfer_packages(tx, user.id, heir.id)?
            }
            None if packages > 0 => {
                return Err(Error::Conflict(format!(
                    "{name:?} owns {packages} package(s); name who gets them with --transfer-to \
                     OWNER, or delete them first"
                )));
            }
            None => 0,
        };
        let tokens = tokens::list(tx, Some(user.id))?.len();
        owners::delete(tx, user.id)?;
        Ok(Deleted {
            tokens,
            packages_moved,
        })
    })
}

pub fn set_password(db: &Db, name: &str, password: &str) -> Result<(), Error> {
    check_password(password)?;
    let hash = secrets::hash_password(password);
    db.write_sync(|tx| {
        let user = user_named(tx, name)?;
        owners::set_password(tx, user.id, &hash)
    })
}

/// Checks a user's password (not a token): what token management asks for, as Gitea does.
pub fn sign_in(db: &Db, name: &str, password: &str) -> Result<Owner, Error> {
    let invalid = || Error::Unauthorized("invalid user name or password".to_string());
    let user = db
        .read_sync(|conn| user_named(conn, name))
        .map_err(|_| invalid())?;
    let hash = user.password_hash.as_deref().ok_or_else(invalid)?;
    if !secrets::verify_password(password, hash) {
        return Err(invalid());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::accounts::{
        Scope, TokenNames, TokenRef, create_token, list_tokens, revoke_token, test_db,
    };

    #[test]
    fn users_tokens_and_their_lifecycle() {
        let (_dir, db) = test_db();
        assert!(create_user(&db, "short", "1234567", false, false).is_err());
        create_user(&db, "root", "root-password", true, false).unwrap();
        create_user(&db, "alice", "alice-password", false, false).unwrap();
        assert!(sign_in(&db, "alice", "alice-password").is_ok());
        assert!(sign_in(&db, "alice", "wrong-password").is_err());

        let t = create_token(&db, "alice", "ci", Scope::Read, Some(1), TokenNames::Unique).unwrap();
        assert!(t.secret.ends_with(&t.info.last_eight) && t.info.last_eight.len() == 8);
        assert!(create_token(&db, "alice", "ci", Scope::Read, None, TokenNames::Unique).is_err());
        create_token(&db, "alice", "ci", Scope::Read, None, TokenNames::Any).unwrap();
        assert_eq!(list_tokens(&db, Some("alice")).unwrap().len(), 2);
        assert!(matches!(
            revoke_token(&db, &TokenRef::parse("ci"), Some("alice")),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            revoke_token(&db, &TokenRef::Id(t.info.id), Some("root")),
            Err(Error::NotFound(_))
        ));
        revoke_token(&db, &TokenRef::Id(t.info.id), None).unwrap();
        assert_eq!(list_tokens(&db, None).unwrap().len(), 1);

        set_password(&db, "alice", "new-password").unwrap();
        assert!(sign_in(&db, "alice", "new-password").is_ok());
        let users = list_users(&db).unwrap();
        assert_eq!(
            users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["alice", "root"]
        );
        assert_eq!(users[0].tokens, 1);

        assert!(delete_user(&db, "root", None).is_err(), "last admin");
        let deleted = delete_user(&db, "alice", None).unwrap();
        assert_eq!((deleted.tokens, deleted.packages_moved), (1, 0));
        assert!(
            list_tokens(&db, None).unwrap().is_empty(),
            "tokens went with her"
        );
    }
}
