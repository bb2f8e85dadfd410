//! API tokens. Only a sha256 of each token is stored: tokens are 160 random bits, so a
//! fast hash is enough (a slow KDF protects low-entropy passwords, not random keys).

use rusqlite::{Connection, OptionalExtension, params};

use super::now;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub scope: Scope,
}

pub fn insert(
    conn: &Connection,
    user_id: i64,
    name: &str,
    hash: &str,
    scope: Scope,
    expires: Option<i64>,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO tokens (user_id, name, hash, scope, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user_id, name, hash, scope.as_str(), now(), expires],
    )?;
    Ok(())
}

/// The live (unexpired) token with this hash.
pub fn find(conn: &Connection, hash: &str) -> Result<Option<TokenRow>, Error> {
    let row = conn
        .prepare_cached("SELECT id, user_id, scope FROM tokens WHERE hash = ?1 AND (expires IS NULL OR expires > ?2)")?
        .query_row(params![hash, now()],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)),
        )
        .optional()?;
    Ok(row.map(|(id, user_id, scope)| TokenRow {
        id,
        user_id,
        scope: if scope == "write" {
            Scope::Write
        } else {
            Scope::Read
        },
    }))
}

/// Whether the token with this id still exists, unexpired, for this user.
pub fn is_live(conn: &Connection, id: i64, user_id: i64) -> Result<bool, Error> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tokens WHERE id = ?1 AND user_id = ?2 AND (expires IS NULL OR expires > ?3)")?
        .query_row(params![id, user_id, now()], |_| Ok(()))
        .optional()?
        .is_some())
}
