//! Who is calling and what they may do.
//!
//! Credentials are read from the headers real clients send (token, Bearer, Basic with a
//! password or a token, or a header the format's plugin declares as a credential); they
//! never reach a plugin. Permissions come
//! only from the owner: public owners are readable by anyone; writing needs to be the
//! owner, an org member with write, or an admin, and a credential with write scope.

pub mod credentials;
pub mod passwords;
pub mod registry_token;
pub mod secrets;

use std::sync::Arc;

use crate::db::Conn;

use crate::db::owners::{self, Owner, OwnerKind, Role};
use crate::db::tokens::{self, Scope};
use crate::error::Error;
pub use credentials::Credentials;
pub use passwords::{Checked, Passwords};
use registry_token::{Grant, Minted, TokenKey};

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
    /// The credential presented, which a registry token minted from it names, so that
    /// the token dies with it.
    pub source: Minted,
}

impl User {
    /// The stored token that authenticated this call (directly, or the one a registry
    /// token was issued for), for last-use tracking.
    pub fn token_id(&self) -> Option<i64> {
        match self.source {
            Minted::Token { id } => Some(id),
            Minted::Password { .. } => None,
        }
    }
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

/// The user with this id; a user deleted since is invalid credentials.
fn user_row(conn: &Conn<'_>, id: i64) -> Result<Owner, Error> {
    owners::by_id(conn, id)?
        .filter(|o| o.kind == OwnerKind::User)
        .ok_or_else(invalid)
}

fn principal(owner: Owner, scope: Scope, grant: Option<Arc<Grant>>, source: Minted) -> Principal {
    Principal::User(User {
        id: owner.id,
        name: owner.name,
        is_admin: owner.is_admin,
        scope,
        grant,
        source,
    })
}

/// Like [`authenticate`], and also accepts the registry tokens `registry_tokens`
/// signed, valid at `now`. Only where their grants are enforced: below the mount of a
/// format whose challenge points at the token endpoint.
pub fn authenticate_at_mount(
    conn: &Conn<'_>,
    credentials: &Checked,
    registry_tokens: Option<&TokenKey>,
    now: i64,
) -> Result<Principal, Error> {
    let (Some(key), Checked::Token(token)) = (registry_tokens, credentials) else {
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
    let Some(uid) = claims.uid else {
        return Ok(Principal::Guest(grant));
    };
    // Loaded live: a deleted user's tokens die at once, an admin flag change counts,
    // and so does the revocation or expiry of the credential the token came from.
    let owner = user_row(conn, uid)?;
    let revoked = || {
        Error::Unauthorized(
            "the credential this registry token came from is no longer valid".to_string(),
        )
    };
    // Tokens from before sources were recorded name none: they count as revoked.
    let source = claims.src.clone().ok_or_else(revoked)?;
    let source_lives = match &source {
        Minted::Token { id } => tokens::is_live(conn, *id, uid)?,
        Minted::Password { hash } => owner
            .password_hash
            .as_deref()
            .is_some_and(|phc| registry_token::password_tag(phc) == *hash),
    };
    if !source_lives {
        return Err(revoked());
    }
    Ok(principal(
        owner,
        claims.credential_scope(),
        Some(grant),
        source,
    ))
}

/// Resolves checked credentials (see [`Passwords::check`]) to a principal.
/// Credentials that do not check out are an error, never a silent downgrade to
/// anonymous. Registry tokens are not accepted here (see [`authenticate_at_mount`]).
pub fn authenticate(conn: &Conn<'_>, credentials: &Checked) -> Result<Principal, Error> {
    match credentials {
        Checked::None => Ok(Principal::Anonymous),
        Checked::Token(token) => {
            let row = tokens::find(conn, &secrets::token_hash(token))?.ok_or_else(invalid)?;
            let owner = user_row(conn, row.user_id)?;
            Ok(principal(
                owner,
                row.scope,
                None,
                Minted::Token { id: row.id },
            ))
        }
        Checked::Password { user_id, phc } => {
            let hash = registry_token::password_tag(phc);
            let owner = user_row(conn, *user_id)?;
            Ok(principal(
                owner,
                Scope::Write,
                None,
                Minted::Password { hash },
            ))
        }
    }
}

/// Checks that `principal` may act on `owner` with `access`. Anonymous callers who
/// need more get `Unauthorized` (so clients retry with credentials); signed-in callers
/// who lack the right get `Forbidden`.
pub fn authorize(
    conn: &Conn<'_>,
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

/// What anyone, signed in or not, may do with an owner's packages.
pub fn public_access(owner: &Owner) -> Access {
    if owner.private {
        Access::None
    } else {
        Access::Read
    }
}

/// The access the principal holds on an owner, with token scope applied.
pub fn granted_access(
    conn: &Conn<'_>,
    principal: &Principal,
    owner: &Owner,
) -> Result<Access, Error> {
    let public = public_access(owner);
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
fn granted_role(conn: &Conn<'_>, user: &User, owner: &Owner) -> Result<Access, Error> {
    if user.is_admin || user.id == owner.id {
        return Ok(Access::Write);
    }
    if owner.kind == OwnerKind::Org {
        return Ok(match owners::member_role(conn, owner.id, user.id)? {
            Some(Role::Write | Role::Admin) => Access::Write,
            Some(Role::Read) => Access::Read,
            // A private proxy's or group's reader organizations lend read to their
            // members (only those owners have organizations as members).
            None if owner.private
                && crate::db::virtual_owners::reads_through_org(conn, owner.id, user.id)? =>
            {
                Access::Read
            }
            None => Access::None,
        });
    }
    Ok(Access::None)
}
