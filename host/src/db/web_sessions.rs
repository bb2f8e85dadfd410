//! The web UI's sign-in sessions: a row per signed-in browser, found by the sha256 of
//! the cookie's secret (the secret itself is never stored), until it expires or the
//! user signs out. Deleting the user deletes their sessions (cascade).

use super::Conn;
use crate::error::Error;

/// A live session: who is signed in, with which password, and the session's form token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user_id: i64,
    /// `registry_token::password_tag` of the hash the password matched at sign-in.
    pub password_tag: String,
    pub csrf: String,
    pub expires: i64,
}

pub fn insert(conn: &Conn<'_>, id_hash: &str, session: &WebSession, now: i64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO web_sessions (id_hash, user_id, password_tag, csrf, created, expires)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &id_hash,
            &session.user_id,
            &session.password_tag,
            &session.csrf,
            &now,
            &session.expires,
        ],
    )?;
    Ok(())
}

/// The session with this hash, unless it has expired by `now`.
pub fn find(conn: &Conn<'_>, id_hash: &str, now: i64) -> Result<Option<WebSession>, Error> {
    conn.query_opt(
        "SELECT user_id, password_tag, csrf, expires FROM web_sessions
         WHERE id_hash = ?1 AND expires > ?2",
        &[&id_hash, &now],
        |r| {
            Ok(WebSession {
                user_id: r.get(0)?,
                password_tag: r.get(1)?,
                csrf: r.get(2)?,
                expires: r.get(3)?,
            })
        },
    )
}

/// Ends a session; whether there was one.
pub fn delete(conn: &Conn<'_>, id_hash: &str) -> Result<bool, Error> {
    Ok(conn.execute("DELETE FROM web_sessions WHERE id_hash = ?1", &[&id_hash])? > 0)
}

/// Forgets sessions expired by `now`; how many.
pub fn delete_expired(conn: &Conn<'_>, now: i64) -> Result<usize, Error> {
    conn.execute("DELETE FROM web_sessions WHERE expires <= ?1", &[&now])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::owners::{self, OwnerKind};
    use crate::db::packages::fixture;

    fn session(user_id: i64, expires: i64) -> WebSession {
        WebSession {
            user_id,
            password_tag: "tag".into(),
            csrf: "form-token".into(),
            expires,
        }
    }

    // Guards the session lifecycle: found by its hash until it expires or is deleted,
    // swept once expired, and gone with its user.
    #[test]
    fn sessions_live_until_expiry_sign_out_or_their_user() {
        for engine in fixture::engines("web_sessions") {
            engine
                .db
                .write_sync(|tx| {
                    let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                    insert(tx, "a", &session(alice, 100), 10)?;
                    insert(tx, "b", &session(alice, 50), 10)?;
                    assert_eq!(find(tx, "a", 20)?, Some(session(alice, 100)));
                    assert_eq!(find(tx, "a", 100)?, None, "expired at its time");
                    assert_eq!(find(tx, "nope", 20)?, None);
                    assert_eq!(delete_expired(tx, 60)?, 1, "only b had expired");
                    assert!(delete(tx, "a")?);
                    assert!(!delete(tx, "a")?);
                    insert(tx, "c", &session(alice, 100), 10)?;
                    owners::delete(tx, alice)?;
                    assert_eq!(
                        find(tx, "c", 20)?,
                        None,
                        "the user's sessions went with them"
                    );
                    Ok(())
                })
                .unwrap();
        }
    }
}
