//! Failed-login windows kept in the database, for nodes that share a PostgreSQL
//! database (issue 22): a client spreading its guesses over the nodes behind a balancer
//! meets one count, not one per node. The keys and limits are the limiter's
//! ([`super::limiter`]); the rows are `db::login_failures`, which also keeps the table
//! bounded.
//!
//! Windows are counted in whole seconds (the database's clock is each node's
//! `db::now()`; nodes are expected to keep their clocks in step, as for every other
//! time the database records).
//!
//! On SQLite (one node) the in-memory limiter is kept: it costs no write per failure,
//! so a flood of wrong passwords never queues behind the single writer.

use std::net::IpAddr;
use std::time::Duration;

use super::limiter::{Limits, retry_after};
use crate::db::{Db, login_failures};
use crate::error::Error;

/// `Err(seconds)` until the caller may try again, if `user` or `peer` used up its
/// failures in the database's windows as of `now`.
pub(super) fn check(
    db: &Db,
    limits: Limits,
    user: &str,
    peer: Option<IpAddr>,
    now: i64,
) -> Result<Result<(), u64>, Error> {
    let keys: Vec<_> = limits.keys(user, peer).collect();
    if keys.is_empty() {
        return Ok(Ok(()));
    }
    let window = limits.window.as_secs().max(1) as i64;
    let wait = db.read_now(|conn| {
        let mut wait = None;
        for (key, max) in &keys {
            let (opened, failures) = login_failures::count(conn, &key.text(), now - window)?;
            if failures >= *max {
                let left = (opened + window - now).max(1) as u64;
                wait = wait.max(Some(retry_after(Duration::from_secs(left))));
            }
        }
        Ok(wait)
    })?;
    Ok(wait.map_or(Ok(()), Err))
}

/// Counts a failed attempt against `user` and `peer` at `now`.
pub(super) async fn fail(
    db: &Db,
    limits: Limits,
    user: &str,
    peer: Option<IpAddr>,
    now: i64,
) -> Result<(), Error> {
    let keys: Vec<String> = limits.keys(user, peer).map(|(key, _)| key.text()).collect();
    if keys.is_empty() {
        return Ok(());
    }
    let window = limits.window.as_secs().max(1) as i64;
    db.write(move |tx| {
        for key in &keys {
            login_failures::record(tx, key, now, now - window)?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    // Multi-threaded: PostgreSQL lookups on an async worker need `block_in_place`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_on_one_database_lock_the_name_and_the_address_for_every_node() {
        let limits = Limits {
            per_user: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        };
        for engine in fixture::engines("shared_login_limits") {
            let db = &engine.db;
            for i in 0..3 {
                assert_eq!(
                    check(db, limits, "Admin", ip("10.0.0.1"), 100 + i).unwrap(),
                    Ok(())
                );
                fail(db, limits, "Admin", ip("10.0.0.1"), 100 + i)
                    .await
                    .unwrap();
            }
            // Names compare without case; another address does not help.
            assert_eq!(
                check(db, limits, "admin", ip("10.0.0.9"), 110).unwrap(),
                Err(50)
            );
            assert_eq!(
                check(db, limits, "bob", ip("10.0.0.2"), 110).unwrap(),
                Ok(())
            );
            fail(db, limits, "bob", ip("10.0.0.1"), 111).await.unwrap();
            fail(db, limits, "carol", ip("10.0.0.1"), 112)
                .await
                .unwrap();
            assert_eq!(
                check(db, limits, "dave", ip("10.0.0.1"), 112).unwrap(),
                Err(48)
            );
            // The window closes 60 s after it opened.
            assert_eq!(check(db, limits, "admin", None, 160).unwrap(), Ok(()));
        }
    }
}
