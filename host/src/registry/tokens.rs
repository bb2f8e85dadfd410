//! Stored API tokens: made here, so the secret is generated and hashed in one place.

use crate::db::Conn;

use super::Registry;
use crate::auth::secrets;
use crate::db::tokens::{self, Scope};
use crate::error::Error;

/// Stores a new token for `user_id` and returns its secret, which is shown once and
/// never stored: the database keeps only its hash.
pub fn create_in(
    conn: &Conn<'_>,
    user_id: i64,
    name: &str,
    scope: Scope,
    expires: Option<i64>,
) -> Result<String, Error> {
    let token = secrets::new_token();
    tokens::insert(
        conn,
        user_id,
        name,
        &secrets::token_hash(&token),
        scope,
        expires,
    )?;
    Ok(token)
}

/// [`create_in`] in a write transaction of its own, for a signed-in caller.
pub async fn create(
    registry: &Registry,
    user_id: i64,
    name: &str,
    scope: Scope,
) -> Result<String, Error> {
    let name = name.to_string();
    registry
        .db
        .write(move |tx| create_in(tx, user_id, &name, scope, None))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::owners::{self, OwnerKind};

    #[test]
    fn a_created_token_is_found_by_its_hash_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        let (id, token) = db
            .write_sync(|tx| {
                let id = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                Ok((id, create_in(tx, id, "ci", Scope::Read, None)?))
            })
            .unwrap();
        assert!(token.starts_with(secrets::TOKEN_PREFIX));
        let found = db
            .read_sync(|conn| tokens::find(conn, &secrets::token_hash(&token)))
            .unwrap()
            .unwrap();
        assert_eq!((found.user_id, found.scope), (id, Scope::Read));
        let stored: String = db
            .read_sync(|conn| conn.query_row("SELECT hash FROM tokens", &[], |r| r.get(0)))
            .unwrap();
        assert_ne!(stored, token, "the secret itself is never stored");
    }
}
