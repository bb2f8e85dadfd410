//! PostgreSQL for metadata (`[storage] database = "postgres://…"`): a deadpool-postgres
//! pool whose connections run on a small runtime of their own, so the blocking threads
//! that run `Db::read`/`Db::write` closures (and the CLI, which has no server runtime)
//! can wait on each statement with `block_on`.
//!
//! Where SQLite's single writer was relied on:
//! - the revision counter: every writer that moves a revision updates its one row, and
//!   PostgreSQL holds that row lock until the commit, so those writers are serialized
//!   and revisions never repeat (schema.sql);
//! - concurrent publishes: the unique constraints decide (a loser's insert fails with a
//!   unique violation, answered as a conflict), and packages are created with
//!   `ON CONFLICT DO NOTHING` so two first publishes of one package both succeed;
//! - the collector: one at a time across nodes, by a transaction-scoped advisory lock
//!   (`db::gc::lock_collector`).
//!
//! Writes run at READ COMMITTED: each statement sees what committed before it, and the
//! row locks and constraints above give the guarantees SQLite's single writer gave.

mod scratch;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::sql::{Conn, Param, Row, Session, Tx, first_awaited};
use crate::error::Error;
pub use scratch::ScratchDatabase;

/// Migrations in order; the index + 1 is the version kept in `schema_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2_proxy_use.sql"),
    include_str!("migration_3_web_sessions.sql"),
    include_str!("migration_4_cluster_sessions.sql"),
];

/// The advisory lock key migrations hold, so that nodes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x7768_6172_665f_6d67; // "wharf_mg"

/// How long a request waits for a free connection before it is answered 503.
const CHECKOUT_WAIT: Duration = Duration::from_secs(5);

pub(super) struct Postgres {
    pool: Pool,
    /// Drives the pool's connections; shut down without waiting when the `Db` goes.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Postgres {
    /// Connects to `url` with up to `pool_size` connections and migrates the schema.
    /// A password of `env:VAR` in the URL is read from the environment variable `VAR`;
    /// without a password, `PGPASSWORD` is used when set.
    pub(super) fn connect(url: &str, pool_size: u32) -> Result<Self, Error> {
        let config = config(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wharf-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the database runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                // A closed connection is noticed without a round trip; see `session`.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1) as usize)
            .wait_timeout(Some(CHECKOUT_WAIT))
            .create_timeout(Some(CHECKOUT_WAIT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the database pool: {e}")))?;
        let db = Self {
            pool,
            runtime: Some(runtime),
        };
        db.migrate()?;
        Ok(db)
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the pool")
            .handle()
            .clone()
    }

    /// A connection from the pool. One the server closed meanwhile (a restart) is
    /// dropped and another taken, once.
    fn session(&self) -> Result<Session, Error> {
        let handle = self.handle();
        let mut client = handle.block_on(self.pool.get())?;
        if client.is_closed() {
            drop(deadpool_postgres::Object::take(client));
            client = handle.block_on(self.pool.get())?;
        }
        Ok(Session { client, handle })
    }

    /// The first row of one statement, awaited on the calling task (`Db::query_opt_now`).
    /// A closed connection is dropped and another taken, once, as in `session`.
    pub(super) async fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let mut client = self.checkout().await?;
        if client.is_closed() {
            drop(deadpool_postgres::Object::take(client));
            client = self.checkout().await?;
        }
        first_awaited(&client, sql, params, f).await
    }

    /// A pooled connection for a task of another runtime. The pool makes new
    /// connections inside this call, and a connection's I/O runs on the runtime it was
    /// made on: made on this engine's, every connection keeps working for the blocking
    /// threads that wait on it with `block_on` (a caller's runtime may be gone, or be
    /// a current-thread one blocked in such a wait).
    async fn checkout(&self) -> Result<deadpool_postgres::Object, Error> {
        let get = self.pool.get();
        Ok(OnRuntime {
            handle: self.handle(),
            inner: std::pin::pin!(get),
        }
        .await?)
    }

    /// Runs `f` in a transaction; commits if it returns Ok, rolls back otherwise.
    pub(super) fn write<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, Error>) -> Result<R, Error> {
        let waiting = std::time::Instant::now();
        let session = self.session()?;
        session.batch("BEGIN")?;
        crate::metrics::db_write_wait(waiting.elapsed());
        match f(&Tx::new(Conn::postgres(&session))) {
            Ok(result) => {
                session.batch("COMMIT")?;
                Ok(result)
            }
            Err(e) => {
                // A failed rollback leaves a broken connection the pool drops.
                let _ = session.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs `f` on a connection, each statement on its own (autocommit).
    pub(super) fn read<R>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let session = self.session()?;
        f(&Conn::postgres(&session))
    }

    fn migrate(&self) -> Result<(), Error> {
        self.write(|tx| {
            tx.query_row(
                "SELECT pg_advisory_xact_lock(?1)",
                &[&MIGRATION_LOCK],
                |_| Ok(()),
            )?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            )?;
            let current = tx
                .query_opt("SELECT version FROM schema_version", &[], |r| {
                    r.get::<i64>(0)
                })?
                .unwrap_or(0) as usize;
            if current > MIGRATIONS.len() {
                return Err(Error::Internal(format!(
                    "database schema version {current} is newer than this wharf ({})",
                    MIGRATIONS.len()
                )));
            }
            for sql in &MIGRATIONS[current..] {
                tx.execute_batch(sql)?;
            }
            let version = MIGRATIONS.len() as i64;
            tx.execute("DELETE FROM schema_version", &[])?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                &[&version],
            )?;
            Ok(())
        })
    }
}

/// A future polled inside `handle`'s runtime context, so what it spawns (the pool's new
/// connections) runs there, whichever runtime awaits it.
struct OnRuntime<F> {
    handle: tokio::runtime::Handle,
    inner: F,
}

impl<F: Future + Unpin> Future for OnRuntime<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let _inside = self.handle.enter();
        std::pin::Pin::new(&mut self.inner).poll(cx)
    }
}

/// The connection settings of `url`, with the password resolved.
fn config(url: &str) -> Result<tokio_postgres::Config, Error> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::Internal(format!("storage.database: not a PostgreSQL URL: {e}")))?;
    match config.get_password().map(|p| p.to_vec()) {
        Some(password) if password.starts_with(b"env:") => {
            let var = String::from_utf8_lossy(&password[4..]).into_owned();
            let value = std::env::var(&var).map_err(|_| {
                Error::Internal(format!(
                    "storage.database: the password comes from ${var}, which is not set"
                ))
            })?;
            config.password(value);
        }
        Some(_) => {}
        None => {
            if let Ok(value) = std::env::var("PGPASSWORD") {
                config.password(value);
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::config;

    #[test]
    fn the_password_comes_from_the_url_or_the_variable_it_names() {
        let plain = config("postgres://wharf:secret@db.internal:5433/wharf").unwrap();
        assert_eq!(plain.get_password(), Some(&b"secret"[..]));
        assert_eq!(plain.get_ports(), [5433]);
        let err = config("postgres://wharf:env:WHARF_TEST_NO_SUCH_VAR@db/wharf").unwrap_err();
        assert!(err.to_string().contains("WHARF_TEST_NO_SUCH_VAR"), "{err}");
        assert!(config("mysql://nope").is_err());
    }
}
