//! Checking Basic passwords without letting them exhaust the server (issue 19).
//!
//! argon2 is slow and takes 19 MiB on purpose, so a flood of wrong passwords must not
//! run it without bound:
//! - at most `password_checks` verifications run at once, each in working memory kept
//!   for its slot; callers wait for a slot up to `password_wait_secs`, then get 503;
//! - failures are counted per user name and per client address ([`limiter`]; in the
//!   database when PostgreSQL serves several nodes, [`shared`]); a name or address that
//!   used up its window gets 429 with `Retry-After`, unhashed;
//! - an unknown user is checked against a dummy hash, so the answer takes as long as
//!   for a known one and does not tell which users exist;
//! - successes are remembered briefly ([`cache`]), so clients that send the password
//!   with every request pay argon2 once.
//!
//! Tokens in Basic credentials are recognised first and never hashed slowly.

mod cache;
mod limiter;
mod shared;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::Block;
use tokio::sync::Semaphore;

use super::{Credentials, secrets};
use crate::config::ServerConfig;
use crate::db::owners::{self, OwnerKind};
use crate::db::{Db, tokens};
use crate::error::Error;

/// Credentials whose password, if they carried one, is verified. Only these reach
/// [`super::authenticate`], so no request can make it hash a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    None,
    Token(String),
    Password {
        user_id: i64,
        /// The stored hash the password matched, which registry tokens remember.
        phc: String,
    },
}

/// Callers allowed to wait for a slot, per slot, before more are turned away at once.
const WAITING_PER_SLOT: usize = 32;

pub struct Passwords {
    slots: Arc<Semaphore>,
    /// argon2 working memory, one buffer per slot in use (allocated on first use).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
    limiter: limiter::Limiter,
    verified: cache::Verified,
}

impl Passwords {
    pub fn new(server: &ServerConfig) -> Self {
        let slots = server.password_checks();
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            memory: Arc::default(),
            waiting: AtomicUsize::new(0),
            max_waiting: slots * WAITING_PER_SLOT,
            wait: Duration::from_secs(server.password_wait_secs),
            limiter: limiter::Limiter::new(
                server.login_failures_per_user,
                server.login_failures_per_address,
                Duration::from_secs(server.login_window_secs),
            ),
            verified: cache::Verified::new(Duration::from_secs(server.password_cache_secs)),
        }
    }

    /// Verifies the password in `credentials`, if any, for a caller at `peer`.
    pub async fn check(
        &self,
        db: &Db,
        credentials: Credentials,
        peer: Option<IpAddr>,
    ) -> Result<Checked, Error> {
        let (user, secret) = match credentials {
            Credentials::None => return Ok(Checked::None),
            Credentials::Token(token) => return Ok(Checked::Token(token)),
            Credentials::Basic { user, secret } => (user, secret),
        };
        // Clients put tokens in either half of Basic auth (Maven: user + token; some CI
        // tools: token + empty or `x-oauth-basic`).
        for candidate in [&secret, &user] {
            if candidate.starts_with(secrets::TOKEN_PREFIX)
                && db
                    .read_now(|conn| tokens::find(conn, &secrets::token_hash(candidate)))?
                    .is_some()
            {
                return Ok(Checked::Token(candidate.clone()));
            }
        }
        let stored = db.read_now(|conn| {
            Ok(owners::by_name(conn, &user)?
                .filter(|o| o.kind == OwnerKind::User)
                .and_then(|o| Some((o.id, o.password_hash?))))
        })?;
        let key = self.verified.key(&user, &secret);
        if let Some((id, phc)) = &stored
            && self.verified.holds(&key, *id, phc)
        {
            return Ok(Checked::Password {
                user_id: *id,
                phc: phc.clone(),
            });
        }
        self.refuse_if_limited(db, &user, peer)?;
        let permit = self.slot().await?;
        // The window may have filled while this call waited.
        self.refuse_if_limited(db, &user, peer)?;
        let phc = stored.as_ref().map(|(_, phc)| phc.clone());
        let matched = self.verify(secret, phc).await?;
        drop(permit);
        match stored {
            Some((user_id, phc)) if matched => {
                self.verified.remember(key, user_id, &phc);
                Ok(Checked::Password { user_id, phc })
            }
            _ => {
                self.count_failure(db, &user, peer).await;
                Err(super::invalid())
            }
        }
    }

    fn refuse_if_limited(&self, db: &Db, user: &str, peer: Option<IpAddr>) -> Result<(), Error> {
        let mut limited = self.limiter.check(user, peer);
        if db.is_postgres() && limited.is_ok() {
            limited = shared::check(db, self.limiter.limits(), user, peer, crate::db::now())?;
        }
        limited.map_err(|retry_after| Error::TooManyRequests {
            message: "too many failed sign-ins; try again later".to_string(),
            retry_after,
        })
    }

    /// Counts a failed attempt where every node that may see the next one looks.
    async fn count_failure(&self, db: &Db, user: &str, peer: Option<IpAddr>) {
        if !db.is_postgres() {
            self.limiter.fail(user, peer);
            return;
        }
        let limits = self.limiter.limits();
        if let Err(e) = shared::fail(db, limits, user, peer, crate::db::now()).await {
            // The caller still gets its 401; the node's own window counts meanwhile.
            tracing::warn!(error = %e, "cannot record a failed sign-in in the database");
            self.limiter.fail(user, peer);
        }
    }

    /// A verification slot, waited for up to `wait`.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let busy = || Error::Unavailable {
            message: "too many sign-ins at once; try again shortly".to_string(),
            retry_after: self.wait.as_secs().max(1),
        };
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let acquired = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match acquired {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }

    /// Runs argon2 on the blocking pool against `phc`, or the dummy hash for none.
    async fn verify(&self, secret: String, phc: Option<String>) -> Result<bool, Error> {
        let pool = self.memory.clone();
        let mut memory = pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        tokio::task::spawn_blocking(move || {
            let hash = phc.as_deref().unwrap_or_else(|| dummy_hash());
            let matched = secrets::verify_password_in(&secret, hash, &mut memory);
            pool.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
            matched && phc.is_some()
        })
        .await
        .map_err(|e| Error::Internal(format!("password check failed: {e}")))
    }
}

/// A hash of a random password with the parameters real ones have, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| secrets::hash_password(&secrets::new_password()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tokens::Scope;

    fn setup(config: ServerConfig) -> (tempfile::TempDir, Db, Passwords) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let hash = secrets::hash_password("right");
        db.write_sync(|tx| {
            let id = owners::create(tx, "alice", OwnerKind::User, Some(&hash), false, false)?;
            tokens::insert(
                tx,
                id,
                "t",
                &secrets::token_hash("wharf_tok"),
                Scope::Read,
                None,
            )
        })
        .unwrap();
        (dir, db, Passwords::new(&config))
    }

    fn basic(user: &str, secret: &str) -> Credentials {
        Credentials::Basic {
            user: user.into(),
            secret: secret.into(),
        }
    }

    #[tokio::test]
    async fn passwords_and_tokens_in_basic_credentials() {
        let (_dir, db, passwords) = setup(ServerConfig::default());
        let checked = passwords.check(&db, basic("alice", "right"), None).await;
        assert!(
            matches!(checked, Ok(Checked::Password { .. })),
            "{checked:?}"
        );
        for (user, secret) in [("alice", "wharf_tok"), ("wharf_tok", "x-oauth-basic")] {
            let checked = passwords.check(&db, basic(user, secret), None).await;
            assert_eq!(checked.unwrap(), Checked::Token("wharf_tok".into()));
        }
        for (user, secret) in [
            ("alice", "wrong"),
            ("nobody", "right"),
            ("alice", "wharf_no"),
        ] {
            let checked = passwords.check(&db, basic(user, secret), None).await;
            assert!(
                matches!(checked, Err(Error::Unauthorized(_))),
                "{checked:?}"
            );
        }
    }

    #[tokio::test]
    async fn failures_are_limited_and_a_cached_success_still_passes() {
        let config = ServerConfig {
            login_failures_per_user: 2,
            ..ServerConfig::default()
        };
        let (_dir, db, passwords) = setup(config);
        let peer = Some(IpAddr::from([192, 0, 2, 1]));
        passwords
            .check(&db, basic("alice", "right"), peer)
            .await
            .unwrap();
        for _ in 0..2 {
            let failed = passwords.check(&db, basic("alice", "wrong"), peer).await;
            assert!(matches!(failed, Err(Error::Unauthorized(_))));
        }
        let limited = passwords.check(&db, basic("alice", "wrong"), peer).await;
        assert!(
            matches!(limited, Err(Error::TooManyRequests { retry_after, .. }) if retry_after > 0)
        );
        // The remembered success costs no hash, so the limit does not lock it out.
        passwords
            .check(&db, basic("alice", "right"), peer)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_changed_password_misses_the_cache() {
        let (_dir, db, passwords) = setup(ServerConfig::default());
        passwords
            .check(&db, basic("alice", "right"), None)
            .await
            .unwrap();
        let hash = secrets::hash_password("new");
        db.write_sync(|tx| {
            tx.execute(
                "UPDATE owners SET password_hash = ?1 WHERE name = 'alice'",
                &[&hash],
            )?;
            Ok(())
        })
        .unwrap();
        let old = passwords.check(&db, basic("alice", "right"), None).await;
        assert!(matches!(old, Err(Error::Unauthorized(_))), "{old:?}");
        passwords
            .check(&db, basic("alice", "new"), None)
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verifications_wait_for_a_slot_and_give_up_after_the_wait() {
        let config = ServerConfig {
            password_checks: 1,
            password_wait_secs: 0,
            login_failures_per_user: 0,
            login_failures_per_address: 0,
            ..ServerConfig::default()
        };
        let (_dir, db, passwords) = setup(config);
        let held = passwords.slots.clone().acquire_owned().await.unwrap();
        let busy = passwords.check(&db, basic("alice", "right"), None).await;
        assert!(matches!(busy, Err(Error::Unavailable { .. })), "{busy:?}");
        drop(held);
        passwords
            .check(&db, basic("alice", "right"), None)
            .await
            .unwrap();
        // One buffer per slot ever used, reused.
        assert_eq!(passwords.memory.lock().unwrap().len(), 1);
    }
}
