//! Who is calling and what they may do.
//!
//! Credentials are read from the headers real clients send (token, Bearer, Basic with a
//! password or a token, `X-NuGet-ApiKey`); they never reach a plugin. Permissions come
//! only from the owner: public owners are readable by anyone; writing needs to be the
//! owner, an org member with write, or an admin, and a credential with write scope.

pub mod credentials;
pub mod registry_token;
pub mod secrets;

use std::sync::Arc;

use rusqlite::Connection;

use crate::db::owners::{self, Owner, OwnerKind, Role};
use crate::db::tokens::{self, Scope};
use crate::error::Error;
pub use credentials::Credentials;
use registry_token::{Grant, TokenKey};

/// An authenticated caller, or nobody.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User(User),
    /// An anonymous caller holding a registry token: public access, limited to its grant.
    Guest(Arc<Grant>),
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub is_admin: bool,
    /// `Write` for a password login or a write token, `Read` for a read token.
    pub scope: Scope,
    /// For a registry token: the repository actions it was granted.
    pub grant: Option<Arc<Grant>>,
    /// The stored token that authenticated this call (directly, or the one a registry
    /// token was issued for), for revocation and last-use tracking.
    pub token_id: Option<i64>,
}

impl Principal {
    pub fn user(&self) -> Option<&User> {
        match self {
            Self::Anonymous | Self::Guest(_) => None,
            Self::User(u) => Some(u),
        }
    }

    /// The grant of a registry token, which limits what this caller may touch.
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Anonymous => None,
            Self::Guest(grant) => Some(grant),
            Self::User(u) => u.grant.as_deref(),
        }
    }
}

/// What an operation needs on an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
}

fn invalid() -> Error {
    Error::Unauthorized("invalid credentials".to_string())
}

/// The user with this id as a principal; a user deleted since is invalid credentials.
fn user_of(
    conn: &Connection,
    id: i64,
    scope: Scope,
    grant: Option<Arc<Grant>>,
    token_id: Option<i64>,
) -> Result<Principal, Error> {
    let owner = owners::by_id(conn, id)?
        .filter(|o| o.kind == OwnerKind::User)
        .ok_or_else(invalid)?;
    Ok(Principal::User(User {
        id: owner.id,
        name: owner.name,
        is_admin: owner.is_admin,
        scope,
        grant,
        token_id,
    }))
}

/// Like [`authenticate`], and also accepts the registry tokens `registry_tokens`
/// signed, valid at `now`. Only where their grants are enforced: below the mount of a
/// format whose challenge points at the token endpoint.
pub fn authenticate_at_mount(
    conn: &Connection,
    credentials: &Credentials,
    registry_tokens: Option<&TokenKey>,
    now: i64,
) -> Result<Principal, Error> {
    let (Some(key), Credentials::Token(token)) = (registry_tokens, credentials) else {
        return authenticate(conn, credentials);
    };
    if !registry_token::looks_like(token) {
        return authenticate(conn, credentials);
    }
    let claims = registry_token::verify(key, token, now).map_err(|why| {
        Error::Unauthorized(
            match why {
                registry_token::Invalid::Expired => "the registry token has expired",
                _ => "invalid registry token",
            }
            .to_string(),
        )
    })?;
    let grant = Arc::new(Grant::from_access(&claims.access));
    // Checked live, like the user: revoking a token revokes what was issued for it.
    if let Some(tid) = claims.tid
        && !tokens::is_live(conn, tid)?
    {
        return Err(Error::Unauthorized(
            "the token this registry token was issued for has been revoked".to_string(),
        ));
    }
    match claims.uid {
        // Loaded live: a deleted user's tokens die at once, an admin flag change counts.
        Some(uid) => user_of(
            conn,
            uid,
            claims.credential_scope(),
            Some(grant),
            claims.tid,
        ),
        None => Ok(Principal::Guest(grant)),
    }
}

/// Resolves credentials to a principal. Credentials that do not check out are an
/// error, never a silent downgrade to anonymous. Registry tokens are not accepted
/// here (see [`authenticate_at_mount`]).
pub fn authenticate(conn: &Connection, credentials: &Credentials) -> Result<Principal, Error> {
    let principal_of =
        |id: i64, scope: Scope, token: Option<i64>| user_of(conn, id, scope, None, token);
    match credentials {
        Credentials::None => Ok(Principal::Anonymous),
        Credentials::Token(token) => {
            let row = tokens::find(conn, &secrets::token_hash(token))?.ok_or_else(invalid)?;
            principal_of(row.user_id, row.scope, Some(row.id))
        }
        Credentials::Basic { user, secret } => {
            // Clients put tokens in either half of Basic auth (Maven: user + token;
            // some CI tools: token + empty or `x-oauth-basic`).
            for candidate in [secret.as_str(), user.as_str()] {
                if candidate.starts_with(secrets::TOKEN_PREFIX)
                    && let Some(row) = tokens::find(conn, &secrets::token_hash(candidate))?
                {
                    return principal_of(row.user_id, row.scope, Some(row.id));
                }
            }
            let owner = owners::by_name(conn, user)?
                .filter(|o| o.kind == OwnerKind::User)
                .ok_or_else(invalid)?;
            let hash = owner.password_hash.as_deref().ok_or_else(invalid)?;
            if !secrets::verify_password(secret, hash) {
                return Err(invalid());
            }
            principal_of(owner.id, Scope::Write, None)
        }
    }
}

/// Checks that `principal` may act on `owner` with `access`. Anonymous callers who
/// need more get `Unauthorized` (so clients retry with credentials); signed-in callers
/// who lack the right get `Forbidden`.
pub fn authorize(
    conn: &Connection,
    principal: &Principal,
    owner: &Owner,
    access: Access,
) -> Result<(), Error> {
    let granted = granted_access(conn, principal, owner)?;
    if granted >= access {
        return Ok(());
    }
    match principal {
        // A guest token stands for no identity: clients answer 401 with credentials.
        Principal::Anonymous | Principal::Guest(_) => {
            Err(Error::Unauthorized("authentication required".to_string()))
        }
        Principal::User(user)
            if access == Access::Write
                && user.scope == Scope::Read
                && granted_role(conn, user, owner)? >= Access::Write =>
        {
            Err(Error::Forbidden(
                "this token has read scope only".to_string(),
            ))
        }
        Principal::User(user) => Err(Error::Forbidden(format!(
            "user {:?} may not {} packages of {:?}",
            user.name,
            if access == Access::Write {
                "write"
            } else {
                "read"
            },
            owner.name
        ))),
    }
}

/// The access the principal holds on an owner, with token scope applied.
pub fn granted_access(
    conn: &Connection,
    principal: &Principal,
    owner: &Owner,
) -> Result<Access, Error> {
    let public = if owner.private {
        Access::None
    } else {
        Access::Read
    };
    let Principal::User(user) = principal else {
        return Ok(public);
    };
    let by_role = granted_role(conn, user, owner)?;
    let scoped = match user.scope {
        Scope::Write => by_role,
        Scope::Read => by_role.min(Access::Read),
    };
    Ok(scoped.max(public))
}

/// What the user's identity and membership allow, before token scope.
fn granted_role(conn: &Connection, user: &User, owner: &Owner) -> Result<Access, Error> {
    if user.is_admin || user.id == owner.id {
        return Ok(Access::Write);
    }
    if owner.kind == OwnerKind::Org {
        return Ok(match owners::member_role(conn, owner.id, user.id)? {
            Some(Role::Write | Role::Admin) => Access::Write,
            Some(Role::Read) => Access::Read,
            None => Access::None,
        });
    }
    Ok(Access::None)
}
