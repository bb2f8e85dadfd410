//! Users, organizations and tokens: the operations behind `wharf user|org|token|owner`
//! and the token management API, each one transaction. Blocking (passwords are hashed
//! slowly on purpose); async callers go through [`blocking`].

mod orgs;
mod tokens;
mod users;

pub use orgs::{OrgInfo, create_org, list_orgs, remove_member, set_member, set_private};
pub use tokens::{
    NewToken, TOKEN_USE_RESOLUTION, TokenNames, TokenRef, TokenUse, create_token, list_tokens,
    revoke_token, token_manager,
};
pub use users::{Deleted, UserInfo, create_user, delete_user, list_users, set_password, sign_in};

use crate::auth;
use crate::auth::passwords::Checked;
use crate::db::owners;
/// Owners as the layers above the database see them.
pub use crate::db::owners::{Owner, OwnerKind, valid_name};
pub use crate::db::tokens::{Scope, TokenInfo};
use crate::db::{Conn, Db};
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

fn owner_named(conn: &Conn<'_>, name: &str, kind: Option<OwnerKind>) -> Result<Owner, Error> {
    let what = match kind {
        Some(OwnerKind::User) => "user",
        Some(OwnerKind::Org) => "organization",
        None => "owner",
    };
    owners::by_name(conn, name)?
        .filter(|o| kind.is_none_or(|k| o.kind == k))
        .ok_or_else(|| Error::not_found(format!("no {what} named {name:?}")))
}

pub fn user_named(conn: &Conn<'_>, name: &str) -> Result<Owner, Error> {
    owner_named(conn, name, Some(OwnerKind::User))
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

/// A fresh database in a temporary directory, for the submodules' tests.
#[cfg(test)]
fn test_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("wharf.db")).unwrap();
    (dir, db)
}
