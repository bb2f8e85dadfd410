//! PostgreSQL for test servers: a scratch database per server on the PostgreSQL server
//! `WHARF_TEST_POSTGRES` names (`.ci/postgres.sh` starts one), created with byte-order
//! collation and dropped (its connections forced closed) when the server's
//! `TestServer` drops. Without the variable a test skips outside CI, printing why, and
//! fails under `CI=true`, as a missing client does.
//!
//! Which servers get one: those built with `Builder::postgres()`, every test server
//! under `WHARF_TEST_DATABASE=postgres`, and every test below [`ON_PG_MODULE`]
//! (`tests/on_pg.rs`, `tests/on_pg_clients.rs`), whose servers keep their blobs in S3
//! too, so the same tests run on the scale-out backends as on the embedded ones.

/// The module whose tests run on PostgreSQL + S3: `tests/on_pg.rs` (protocol binary)
/// and `tests/on_pg_clients.rs` (clients binary) include test files a second time below
/// it. libtest names each test's thread after its path, which is how a server built in
/// such a test knows.
pub const ON_PG_MODULE: &str = "on_pg::";

/// A database of its own for one test server (or for several nodes that share it).
pub struct ScratchDb {
    /// `postgres://…/wharf_test_<random>`, the `storage.database` of its servers.
    pub url: String,
    _database: wharf::db::ScratchDatabase,
}

impl ScratchDb {
    /// A new empty database, or `None` (the reason printed) when `WHARF_TEST_POSTGRES`
    /// is not set outside CI; under `CI=true` a missing server fails the test.
    pub fn create() -> Option<Self> {
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let database = wharf::db::ScratchDatabase::create(&test)?;
        Some(Self {
            url: database.url.clone(),
            _database: database,
        })
    }
}

/// Whether the running test is below [`ON_PG_MODULE`].
pub fn in_pg_module() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with(ON_PG_MODULE))
}

/// Whether every test server of this run should be on PostgreSQL: below
/// [`ON_PG_MODULE`], or with `WHARF_TEST_DATABASE=postgres` (so any test file runs
/// against PostgreSQL:
/// `WHARF_TEST_DATABASE=postgres cargo test -p wharf-tests --test protocol npm_protocol::`).
pub fn wanted_by_default() -> bool {
    in_pg_module() || std::env::var("WHARF_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}
