//! Throwaway PostgreSQL databases for tests: `CREATE DATABASE wharf_test_<random>` on
//! the server `WHARF_TEST_POSTGRES` names (`.ci/run` starts one), dropped when the
//! guard goes. Under `CI=true` a missing server is an error; elsewhere tests of
//! PostgreSQL skip, saying why.

use tokio_postgres::NoTls;

/// A database of its own on the test server, dropped (with its connections) on drop.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl ScratchDatabase {
    /// A new database on the server of `WHARF_TEST_POSTGRES`; `None` (after saying why)
    /// when it is not set outside CI. Panics under `CI=true` without it.
    pub fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("WHARF_TEST_POSTGRES") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: WHARF_TEST_POSTGRES is not set (CI starts a PostgreSQL server for the tests)"
            );
            eprintln!("{test}: skipped on PostgreSQL: WHARF_TEST_POSTGRES is not set");
            return None;
        };
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("random bytes");
        let name = format!("wharf_test_{}", hex::encode(random));
        // Byte order, as SQLite compares text: listings page and sort the same on both.
        admin(
            &admin_url,
            &format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ),
        );
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) if server.contains("//") && server.len() > "postgres://".len() => {
                format!("{server}/{name}")
            }
            _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs `sql` on the server's own database, from a thread of its own (the caller may
/// be inside a runtime).
fn admin(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to WHARF_TEST_POSTGRES ({url}): {e}"));
            tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    })
    .join()
    .expect("the admin statement");
}
