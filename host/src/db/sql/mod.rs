//! The one SQL interface the table modules use, whatever engine runs it.
//!
//! Table functions take a [`Conn`] (any connection: reads) or a [`Tx`] (a write
//! transaction, which is also a `Conn`), run statements through its few calls
//! ([`Conn::execute`], [`Conn::query_row`], [`Conn::query_opt`], [`Conn::query_vec`],
//! [`Conn::query_each`], [`Conn::execute_batch`]) with parameters as `&[&dyn Param]`, and
//! read columns with [`Row::get`]. SQL is written once, with `?1`-style placeholders, in
//! the subset both engines share: `INSERT … ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`
//! for new ids, no PRAGMA, no engine-only functions; times come in as parameters
//! (`db::now()`). This module knows the engines; the table modules do not.
//!
//! Every statement goes through the engine's statement cache, so a point lookup costs
//! what the same rusqlite call did: binding borrows the parameters, reading a column
//! borrows the row.

mod postgres;
mod sqlite;
mod value;

pub use postgres::Session;
pub(in crate::db) use postgres::first_awaited;
pub use value::{Column, FromColumn, Param, Value};

use crate::error::Error;

/// A failure of the database engine, or of reading what it returned.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// PostgreSQL's own message and detail: the client error's text alone is only
    /// "db error".
    #[error("{}", postgres_message(.0))]
    Postgres(tokio_postgres::Error),
    /// `query_row` of a statement that returned nothing.
    #[error("the query returned no row")]
    NoRow,
    /// A column that does not hold what the caller reads it as (a schema mismatch).
    #[error("column {index}: {message}")]
    Column { index: usize, message: String },
}

fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => e.to_string(),
    }
}

/// A connection of either engine, inside whatever transaction its owner opened.
#[derive(Clone, Copy)]
pub struct Conn<'a> {
    engine: Engine<'a>,
}

#[derive(Clone, Copy)]
enum Engine<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a Session),
}

/// A write transaction: the connection `Db::write` hands out. Functions that must only
/// run where a write is in progress (the collector's, a secret's first creation) take a
/// `Tx`; everything else takes a [`Conn`], which a `Tx` derefs to.
pub struct Tx<'a> {
    conn: Conn<'a>,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Conn<'a>;

    fn deref(&self) -> &Conn<'a> {
        &self.conn
    }
}

impl<'a> Tx<'a> {
    /// The caller has begun a write transaction on `conn`.
    pub(in crate::db) fn new(conn: Conn<'a>) -> Self {
        Self { conn }
    }
}

/// One row of a result, valid while the callback that received it runs.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) read as `T`.
    pub fn get<T: FromColumn>(&self, index: usize) -> Result<T, Error> {
        let column = match self.inner {
            RowInner::Sqlite(row) => sqlite::column(row, index)?,
            RowInner::Postgres(row) => postgres::column(row, index)?,
        };
        T::from_column(column).map_err(|message| Error::Db(DbError::Column { index, message }))
    }
}

impl<'a> Conn<'a> {
    /// A connection of the embedded engine (its pool, backups and tests make these).
    pub(in crate::db) fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Self {
            engine: Engine::Sqlite(conn),
        }
    }

    /// A connection of PostgreSQL (its pool makes these).
    pub(in crate::db) fn postgres(session: &'a Session) -> Self {
        Self {
            engine: Engine::Postgres(session),
        }
    }

    /// The SQLite connection underneath, for what only SQLite has (online backups).
    pub(in crate::db) fn as_sqlite(&self) -> Option<&'a rusqlite::Connection> {
        match self.engine {
            Engine::Sqlite(conn) => Some(conn),
            Engine::Postgres(_) => None,
        }
    }

    /// Whether this is PostgreSQL: for the rare statement whose spelling differs (a
    /// list bound as one parameter, row locks SQLite's single writer makes needless).
    pub fn is_postgres(&self) -> bool {
        matches!(self.engine, Engine::Postgres(_))
    }

    /// A subquery of the elements of the JSON array bound as parameter `?N` (text), as
    /// `sql_type` (`bigint`, `text`): a list of any length then travels as one parameter
    /// and the statement text, which the engines cache, stays the same.
    pub fn json_elements(&self, param: usize, sql_type: &str) -> String {
        if self.is_postgres() {
            format!("SELECT value::{sql_type} FROM json_array_elements_text(?{param}::json)")
        } else {
            format!("SELECT value FROM json_each(?{param})")
        }
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, Error> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::execute(conn, sql, params),
            Engine::Postgres(session) => postgres::execute(session, sql, params),
        }
    }

    /// Runs statements separated by `;` without parameters (schemas, test seeds).
    pub fn execute_batch(&self, sql: &str) -> Result<(), Error> {
        match self.engine {
            Engine::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Engine::Postgres(session) => session.batch(sql),
        }
    }

    /// The first row of a query, read by `f`; `None` when there is none.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::first(conn, sql, params, f),
            Engine::Postgres(session) => postgres::first(session, sql, params, f),
        }
    }

    /// The first row of a query, read by `f`; an error when there is none (counts,
    /// rows the caller knows exist).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.query_opt(sql, params, f)?
            .ok_or(Error::Db(DbError::NoRow))
    }

    /// Every row of a query, each read by `f`, in order.
    pub fn query_vec<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        self.query_each(sql, params, |row| {
            all.push(f(row)?);
            Ok(())
        })?;
        Ok(all)
    }

    /// Calls `f` with every row of a query, in order (folding rows without collecting
    /// them first).
    pub fn query_each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self.engine {
            Engine::Sqlite(conn) => sqlite::each(conn, sql, params, f),
            Engine::Postgres(session) => postgres::each(session, sql, params, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in a write transaction of each engine, with a table `t` of every kind
    /// of column the schema uses.
    fn with_conn(test: &str, f: impl Fn(&Conn<'_>)) {
        for engine in crate::db::packages::fixture::engines(test) {
            engine
                .db
                .write_sync(|tx| {
                    let (id, bytes) = if tx.is_postgres() {
                        ("BIGSERIAL PRIMARY KEY", "BYTEA")
                    } else {
                        ("INTEGER PRIMARY KEY", "BLOB")
                    };
                    tx.execute_batch(&format!(
                        "CREATE TABLE t (id {id}, name TEXT NOT NULL, flag BOOLEAN NOT NULL,
                                         data {bytes}, note TEXT)"
                    ))?;
                    f(tx);
                    Ok(())
                })
                .unwrap();
        }
    }

    // Guards the calls every table module makes: parameters of each kind in, the same
    // values out, `RETURNING` ids, and the none/one/many shapes of a query.
    #[test]
    fn values_round_trip_and_queries_return_none_one_or_many() {
        with_conn("values_round_trip", |conn| {
            let insert = "INSERT INTO t (name, flag, data, note) VALUES (?1, ?2, ?3, ?4)
                          RETURNING id";
            let note: Option<&str> = None;
            let a: i64 = conn
                .query_row(insert, &[&"a", &true, &vec![0_u8, 255], &note], |r| {
                    r.get(0)
                })
                .unwrap();
            let b: i64 = conn
                .query_row(
                    insert,
                    &[&"b".to_string(), &false, &None::<Vec<u8>>, &"n"],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!((a, b), (1, 2));

            let row = conn
                .query_row(
                    "SELECT name, flag, data, note FROM t WHERE id = ?1",
                    &[&a],
                    |r| {
                        Ok((
                            r.get::<String>(0)?,
                            r.get::<bool>(1)?,
                            r.get::<Option<Vec<u8>>>(2)?,
                            r.get::<Option<String>>(3)?,
                        ))
                    },
                )
                .unwrap();
            assert_eq!(row, ("a".into(), true, Some(vec![0, 255]), None));

            let none = conn
                .query_opt("SELECT id FROM t WHERE name = ?1", &[&"zz"], |r| {
                    r.get::<i64>(0)
                })
                .unwrap();
            assert_eq!(none, None);
            assert!(matches!(
                conn.query_row("SELECT id FROM t WHERE name = ?1", &[&"zz"], |r| r
                    .get::<i64>(0)),
                Err(Error::Db(DbError::NoRow))
            ));

            let names = conn
                .query_vec("SELECT name FROM t ORDER BY id DESC", &[], |r| {
                    r.get::<String>(0)
                })
                .unwrap();
            assert_eq!(names, ["b", "a"]);
            assert_eq!(
                conn.execute("UPDATE t SET note = ?2 WHERE id = ?1", &[&b, &"m"])
                    .unwrap(),
                1
            );
        });
    }

    // Guards concurrent publishes on PostgreSQL: the writer that loses a unique key to
    // another (already committed) is told of a conflict, as SQLite's checks tell it.
    #[test]
    fn a_unique_key_taken_first_is_a_conflict_on_postgres() {
        with_conn("a_unique_key_taken_first", |conn| {
            if !conn.is_postgres() {
                return;
            }
            let insert = "INSERT INTO t (id, name, flag) VALUES (7, ?1, ?2)";
            conn.execute(insert, &[&"a", &true]).unwrap();
            let err = conn.execute(insert, &[&"b", &true]).unwrap_err();
            assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        });
    }

    // Measures what the layer adds to a point lookup on SQLite, against the same
    // rusqlite call on the same connection: `cargo test -p wharf --lib
    // point_lookup_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn point_lookup_cost() {
        let raw = rusqlite::Connection::open_in_memory().unwrap();
        raw.execute_batch(
            "CREATE TABLE owners (id INTEGER PRIMARY KEY, lower_name TEXT UNIQUE, name TEXT);
             INSERT INTO owners (lower_name, name) VALUES ('alice', 'Alice'), ('bob', 'Bob');",
        )
        .unwrap();
        let sql = "SELECT id, name FROM owners WHERE lower_name = ?1";
        let rounds = 200_000;
        let conn = Conn::sqlite(&raw);
        let time = |f: &dyn Fn() -> (i64, String)| {
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(f());
            }
            started.elapsed() / rounds
        };
        let layer = time(&|| {
            conn.query_opt(sql, &[&"bob"], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .unwrap()
        });
        let direct = time(&|| {
            raw.prepare_cached(sql)
                .unwrap()
                .query_row(["bob"], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
        });
        println!("point lookup: db::sql {layer:?}, rusqlite {direct:?}");
    }

    // Guards that a schema mismatch is an error naming the column, not a panic.
    #[test]
    fn a_column_of_another_kind_is_an_error_naming_it() {
        with_conn("a_column_of_another_kind", |conn| {
            conn.execute("INSERT INTO t (name, flag) VALUES ('x', ?1)", &[&false])
                .unwrap();
            let err = conn
                .query_row("SELECT id, name FROM t", &[], |r| r.get::<i64>(1))
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "database error: column 1: expected an integer, found text"
            );
        });
    }
}
