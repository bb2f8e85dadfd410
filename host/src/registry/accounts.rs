//! Users, organizations and tokens: the operations behind `wharf user|org|token|owner`
//! and the token management API, each one transaction. Blocking (passwords are hashed
//! slowly on purpose); async callers go through [`blocking`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::passwords::Checked;
use crate::auth::{self, secrets};
use crate::db::owners::{self, Owner, OwnerKind, Role};
use crate::db::tokens;
pub use crate::db::tokens::{Scope, TokenInfo};
use crate::db::{self, Db, accounts};
use crate::error::Error;

/// The shortest password accepted, from the CLI, the API or `WHARF_ADMIN_PASSWORD`.
pub const MIN_PASSWORD_LEN: usize = 8;

pub fn check_password(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::bad_request(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

/// Runs an account operation on the blocking pool.
pub async fn blocking<R: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&Db) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| Error::Internal(format!("account task failed: {e}")))?
}

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

/// An organization as listings show it.
#[derive(Debug, Clone)]
pub struct OrgInfo {
    pub name: String,
    pub private: bool,
    pub packages: i64,
    pub members: Vec<(String, Role)>,
}

/// A token just made: its listing and the secret, shown this once.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// Whether a token's name must be unused among the user's tokens (Gitea's rule for the
/// API), or may repeat (the CLI's default name `cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenNames {
    Unique,
    Any,
}

fn owner_named(
    conn: &rusqlite::Connection,
    name: &str,
    kind: Option<OwnerKind>,
) -> Result<Owner, Error> {
    let what = match kind {
        Some(OwnerKind::User) => "user",
        Some(OwnerKind::Org) => "organization",
        None => "owner",
    };
    owners::by_name(conn, name)?
        .filter(|o| kind.is_none_or(|k| o.kind == k))
        .ok_or_else(|| Error::not_found(format!("no {what} named {name:?}")))
}

pub fn user_named(conn: &rusqlite::Connection, name: &str) -> Result<Owner, Error> {
    owner_named(conn, name, Some(OwnerKind::User))
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

/// Who may manage `username`'s tokens: that user or an admin, signed in with a password
/// (HTTP Basic), never with a token, as Gitea requires: a leaked token must not mint
/// more tokens or hide itself by revoking others.
/// The password was verified by `auth::Passwords` (bounded, rate-limited), so this
/// never hashes one itself.
pub fn token_manager(db: &Db, credentials: &Checked, username: &str) -> Result<Owner, Error> {
    let Checked::Password { user_id, .. } = credentials else {
        return Err(Error::Unauthorized(
            "token management needs the user's password (HTTP Basic authentication), not a token"
                .into(),
        ));
    };
    let caller = db
        .read_sync(|conn| owners::by_id(conn, *user_id))?
        .ok_or_else(|| Error::Unauthorized("invalid user name or password".to_string()))?;
    if !caller.is_admin && !caller.name.eq_ignore_ascii_case(username) {
        return Err(Error::Forbidden(format!(
            "only {username:?} and administrators may manage these tokens"
        )));
    }
    // 404 for a user that does not exist, also for admins.
    db.read_sync(|conn| user_named(conn, username))
}

/// The caller of an admin-only request, who must be a site administrator.
pub fn admin(db: &Db, credentials: &Checked) -> Result<(), Error> {
    let principal = db.read_sync(|conn| auth::authenticate(conn, credentials))?;
    match principal.user() {
        Some(user) if user.is_admin => Ok(()),
        Some(user) => Err(Error::Forbidden(format!(
            "{:?} is not an administrator",
            user.name
        ))),
        None => Err(Error::Unauthorized("authentication required".into())),
    }
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

pub fn create_token(
    db: &Db,
    user: &str,
    name: &str,
    scope: Scope,
    expires_days: Option<u32>,
    names: TokenNames,
) -> Result<NewToken, Error> {
    if name.trim().is_empty() {
        return Err(Error::bad_request("a token needs a name"));
    }
    let secret = secrets::new_token();
    let expires = expires_days.map(|d| db::now() + i64::from(d) * 86_400);
    let last_eight = &secret[secret.len() - 8..];
    let info = db.write_sync(|tx| {
        let owner = user_named(tx, user)?;
        if names == TokenNames::Unique
            && tokens::list(tx, Some(owner.id))?
                .iter()
                .any(|t| t.name == name)
        {
            return Err(Error::bad_request(format!(
                "the access token name {name:?} has been used already"
            )));
        }
        let hash = secrets::token_hash(&secret);
        let id = tokens::insert_with_tail(tx, owner.id, name, &hash, last_eight, scope, expires)?;
        tokens::list(tx, Some(owner.id))?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::Internal("a token vanished in its own transaction".into()))
    })?;
    Ok(NewToken { info, secret })
}

/// Tokens of one user (404 if there is no such user), or of everyone.
pub fn list_tokens(db: &Db, user: Option<&str>) -> Result<Vec<TokenInfo>, Error> {
    db.read_sync(|conn| {
        let user_id = user.map(|u| user_named(conn, u)).transpose()?.map(|u| u.id);
        tokens::list(conn, user_id)
    })
}

/// Which token to revoke: by id, or (the API, as Gitea allows) by name.
#[derive(Debug, Clone)]
pub enum TokenRef {
    Id(i64),
    Name(String),
}

impl TokenRef {
    /// A path segment: a number is an id, anything else a name.
    pub fn parse(segment: &str) -> Self {
        segment
            .parse()
            .map(Self::Id)
            .unwrap_or_else(|_| Self::Name(segment.to_string()))
    }
}

/// Revokes a token, of `user` only when one is named. It stops working at the next
/// request, and so do registry tokens issued for it.
pub fn revoke_token(db: &Db, token: &TokenRef, user: Option<&str>) -> Result<(), Error> {
    db.write_sync(|tx| {
        let user_id = user.map(|u| user_named(tx, u)).transpose()?.map(|u| u.id);
        let id = match token {
            TokenRef::Id(id) => *id,
            TokenRef::Name(name) => {
                let matching: Vec<i64> = tokens::list(tx, user_id)?
                    .into_iter()
                    .filter(|t| &t.name == name)
                    .map(|t| t.id)
                    .collect();
                match matching[..] {
                    [id] => id,
                    [] => return Err(Error::not_found(format!("no token named {name:?}"))),
                    _ => {
                        return Err(Error::bad_request(format!(
                            "several tokens are named {name:?}; revoke one by its id"
                        )));
                    }
                }
            }
        };
        if !tokens::delete(tx, id, user_id)? {
            return Err(Error::not_found(format!("no token with id {id}")));
        }
        Ok(())
    })
}

/// When tokens were last used, kept in memory and written in batches, at most once a
/// minute per token: a token is used on most requests, and a write per request would
/// queue on SQLite's single writer.
#[derive(Default)]
pub struct TokenUse {
    tokens: Mutex<HashMap<i64, Use>>,
}

#[derive(Default)]
struct Use {
    /// When the last use was written (or queued to be).
    written: i64,
    pending: Option<i64>,
}

/// How often one token's last use is written, in seconds.
pub const TOKEN_USE_RESOLUTION: i64 = 60;

impl TokenUse {
    /// Records a use of the stored token a caller signed in with, if any.
    pub fn record_caller(&self, principal: &crate::auth::Principal) {
        if let Some(id) = principal.user().and_then(|u| u.token_id()) {
            self.record(id, db::now());
        }
    }

    pub fn record(&self, token_id: i64, now: i64) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let used = tokens.entry(token_id).or_default();
        if now - used.written >= TOKEN_USE_RESOLUTION {
            used.written = now;
            used.pending = Some(now);
        }
    }

    fn take(&self) -> Vec<(i64, i64)> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .iter_mut()
            .filter_map(|(id, used)| used.pending.take().map(|at| (*id, at)))
            .collect()
    }

    /// Writes the queued uses (the server calls this with the download counts).
    pub async fn flush(&self, db: &Db) {
        let batch = self.take();
        if batch.is_empty() {
            return;
        }
        if let Err(e) = db.write(move |tx| tokens::set_last_used(tx, &batch)).await {
            // Statistics: a lost batch is the lesser harm than a retry loop.
            tracing::warn!(error = %e, "could not record when tokens were last used");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn token_use_is_written_at_most_once_a_minute() {
        let uses = TokenUse::default();
        uses.record(1, 1000);
        uses.record(1, 1030);
        uses.record(2, 1030);
        let mut batch = uses.take();
        batch.sort();
        assert_eq!(batch, vec![(1, 1000), (2, 1030)]);
        uses.record(1, 1059);
        assert!(uses.take().is_empty(), "within the minute");
        uses.record(1, 1060);
        assert_eq!(uses.take(), vec![(1, 1060)]);
    }

    #[test]
    fn users_tokens_and_their_lifecycle() {
        let (_dir, db) = db();
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

    #[test]
    fn orgs_and_visibility() {
        let (_dir, db) = db();
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
