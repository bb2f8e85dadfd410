//! API tokens. Only a sha256 of each token is stored: tokens are 160 random bits, so a
//! fast hash is enough (a slow KDF protects low-entropy passwords, not random keys).
//! Besides the hash, only the last eight characters are kept, for listings.

use super::{Conn, now};
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

    fn parse(s: &str) -> Self {
        if s == "write" {
            Self::Write
        } else {
            Self::Read
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub scope: Scope,
}

/// A token as listings show it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub name: String,
    pub scope: Scope,
    /// The token's last eight characters; empty for tokens made before they were kept.
    pub last_eight: String,
    pub created: i64,
    pub last_used: Option<i64>,
    pub expires: Option<i64>,
}

/// Stores a token by its hash; returns the new token's id.
pub fn insert(
    conn: &Conn<'_>,
    user_id: i64,
    name: &str,
    hash: &str,
    scope: Scope,
    expires: Option<i64>,
) -> Result<i64, Error> {
    insert_with_tail(conn, user_id, name, hash, "", scope, expires)
}

/// [`insert`] that also keeps the token's last eight characters for listings.
pub fn insert_with_tail(
    conn: &Conn<'_>,
    user_id: i64,
    name: &str,
    hash: &str,
    last_eight: &str,
    scope: Scope,
    expires: Option<i64>,
) -> Result<i64, Error> {
    conn.query_row(
        "INSERT INTO tokens (user_id, name, hash, scope, created, expires, last_eight)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, '')) RETURNING id",
        &[
            &user_id,
            &name,
            &hash,
            &scope.as_str(),
            &now(),
            &expires,
            &last_eight,
        ],
        |r| r.get(0),
    )
}

/// The live (unexpired) token with this hash.
pub fn find(conn: &Conn<'_>, hash: &str) -> Result<Option<TokenRow>, Error> {
    conn.query_opt(
        "SELECT id, user_id, scope FROM tokens WHERE hash = ?1 AND (expires IS NULL OR expires > ?2)",
        &[&hash, &now()],
        |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                user_id: r.get(1)?,
                scope: Scope::parse(&r.get::<String>(2)?),
            })
        },
    )
}

/// Whether the token with this id exists, is `user_id`'s and has not expired.
pub fn is_live(conn: &Conn<'_>, id: i64, user_id: i64) -> Result<bool, Error> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM tokens WHERE id = ?1 AND user_id = ?2 AND (expires IS NULL OR expires > ?3)",
            &[&id, &user_id, &now()],
            |_| Ok(()),
        )?
        .is_some())
}

/// Tokens, oldest first: of one user, or of everyone.
pub fn list(conn: &Conn<'_>, user_id: Option<i64>) -> Result<Vec<TokenInfo>, Error> {
    conn.query_vec(
        "SELECT t.id, o.name, t.name, t.scope, coalesce(t.last_eight, ''), t.created,
                t.last_used, t.expires
         FROM tokens t JOIN owners o ON o.id = t.user_id
         WHERE CAST(?1 AS BIGINT) IS NULL OR t.user_id = ?1 ORDER BY t.id",
        &[&user_id],
        |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                user: r.get(1)?,
                name: r.get(2)?,
                scope: Scope::parse(&r.get::<String>(3)?),
                last_eight: r.get(4)?,
                created: r.get(5)?,
                last_used: r.get(6)?,
                expires: r.get(7)?,
            })
        },
    )
}

/// Deletes a token; with `user_id`, only if it is theirs. False if there was none.
pub fn delete(conn: &Conn<'_>, id: i64, user_id: Option<i64>) -> Result<bool, Error> {
    let deleted = conn.execute(
        "DELETE FROM tokens WHERE id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR user_id = ?2)",
        &[&id, &user_id],
    )?;
    Ok(deleted > 0)
}

/// Records when tokens were last used (batched by `registry::accounts::TokenUse`); a
/// later time already recorded is kept.
pub fn set_last_used(conn: &Conn<'_>, uses: &[(i64, i64)]) -> Result<(), Error> {
    for (id, at) in uses {
        conn.execute(
            "UPDATE tokens SET last_used = ?2 WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)",
            &[id, at],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_db(f: impl Fn(&Conn<'_>)) {
        for engine in crate::db::packages::fixture::engines("tokens") {
            engine
                .db
                .write_sync(|conn| {
                    conn.execute_batch(
                        "INSERT INTO owners (id, name, lower_name, kind, created)
                         VALUES (1, 'a', 'a', 'user', 0), (2, 'b', 'b', 'user', 0)",
                    )?;
                    f(conn);
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn lists_revokes_and_records_use() {
        with_db(|conn| {
            let a = insert_with_tail(conn, 1, "ci", "h1", "abcd1234", Scope::Write, None).unwrap();
            let b = insert(conn, 2, "old", "h2", Scope::Read, Some(1)).unwrap();
            let all = list(conn, None).unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(
                (all[0].user.as_str(), all[0].last_eight.as_str()),
                ("a", "abcd1234")
            );
            assert_eq!(all[1].last_eight, "");
            assert_eq!(list(conn, Some(2)).unwrap()[0].id, b);
            assert_eq!(find(conn, "h1").unwrap().unwrap().id, a);
            assert!(find(conn, "h2").unwrap().is_none(), "expired");

            set_last_used(conn, &[(a, 50), (a, 40)]).unwrap();
            assert_eq!(list(conn, Some(1)).unwrap()[0].last_used, Some(50));

            assert!(!delete(conn, a, Some(2)).unwrap(), "not b's token");
            assert!(delete(conn, a, Some(1)).unwrap());
            assert!(find(conn, "h1").unwrap().is_none());
            assert!(!delete(conn, a, None).unwrap());
        });
    }
}
