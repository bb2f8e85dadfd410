//! Access tokens: who may manage them, making, listing and revoking them, and
//! recording when they were last used.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::passwords::Checked;
use crate::auth::secrets;
use crate::db::owners::{self, Owner};
use crate::db::tokens;
use crate::db::{self, Db};
use crate::error::Error;

use super::{Scope, TokenInfo, user_named};

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
}
