//! The [`Conn`](super::Conn) calls on rusqlite: statements from the connection's cache,
//! parameters bound as borrowed values, columns read as borrowed values.

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::value::{Column, Param, Value};
use super::{DbError, Row, RowInner};
use crate::error::Error;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Bool(b) => ValueRef::Integer(i64::from(b)),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn bind<'p>(params: &'p [&'p dyn Param]) -> impl rusqlite::Params + 'p {
    rusqlite::params_from_iter(params.iter().map(|p| p.value()))
}

pub(super) fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn Param],
) -> Result<usize, Error> {
    Ok(conn.prepare_cached(sql)?.execute(bind(params))?)
}

pub(super) fn first<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn Param],
    f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(bind(params))?;
    match rows.next()? {
        Some(row) => f(&Row {
            inner: RowInner::Sqlite(row),
        })
        .map(Some),
        None => Ok(None),
    }
}

pub(super) fn each(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn Param],
    mut f: impl FnMut(&Row<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(bind(params))?;
    while let Some(row) = rows.next()? {
        f(&Row {
            inner: RowInner::Sqlite(row),
        })?;
    }
    Ok(())
}

pub(super) fn column<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<Column<'r>, Error> {
    Ok(match row.get_ref(index)? {
        ValueRef::Null => Column::Null,
        ValueRef::Integer(i) => Column::Int(i),
        ValueRef::Real(f) => Column::Real(f),
        ValueRef::Text(bytes) => Column::Text(std::str::from_utf8(bytes).map_err(|e| {
            Error::Db(DbError::Column {
                index,
                message: format!("text that is not UTF-8: {e}"),
            })
        })?),
        ValueRef::Blob(bytes) => Column::Bytes(bytes),
    })
}
