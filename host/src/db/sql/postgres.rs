//! The [`Conn`](super::Conn) calls on PostgreSQL (tokio-postgres through a
//! deadpool-postgres connection), made from a blocking thread: each statement is one
//! `block_on` on the engine's own runtime, which drives the connections.
//!
//! The shared SQL text is translated once per distinct statement (`?N` placeholders to
//! `$N`, SQLite's `INDEXED BY` planner hints dropped) and kept; the connection keeps the
//! prepared statement.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::value::{Column, Param, Value};
use super::{DbError, Row, RowInner};
use crate::error::Error;

/// A pooled connection and the runtime its I/O runs on.
pub struct Session {
    pub(in crate::db) client: deadpool_postgres::Object,
    pub(in crate::db) handle: tokio::runtime::Handle,
}

impl Session {
    fn block_on<T>(
        &self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Error> {
        self.handle.block_on(f).map_err(Error::from)
    }

    /// Runs statements without parameters (transaction control, migrations).
    pub(in crate::db) fn batch(&self, sql: &str) -> Result<(), Error> {
        self.block_on(self.client.batch_execute(sql))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => Value::Int(i64::from(b)).to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    // Each kind checks the column type itself in `to_sql`, with a clear message.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Statement texts already translated, by their shared text.
static TRANSLATED: LazyLock<RwLock<HashMap<String, Arc<str>>>> = LazyLock::new(Default::default);

fn translated(sql: &str) -> Arc<str> {
    if let Some(done) = TRANSLATED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(sql)
    {
        return done.clone();
    }
    let done: Arc<str> = translate(sql).into();
    TRANSLATED
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sql.to_string(), done.clone());
    done
}

/// `?N` → `$N` outside string literals; `INDEXED BY name` (a SQLite planner hint) goes.
fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '?' if !in_literal => out.push('$'),
            'I' if !in_literal && sql[at..].starts_with("INDEXED BY ") => {
                // Skip the hint and the index name after it.
                let rest = &sql[at + "INDEXED BY ".len()..];
                let name = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let space = usize::from(rest[name..].starts_with(char::is_whitespace));
                let skip = "INDEXED BY ".len() + name + space;
                while chars.peek().is_some_and(|(i, _)| *i < at + skip) {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn values<'p>(params: &'p [&'p dyn Param]) -> Vec<Value<'p>> {
    params.iter().map(|p| p.value()).collect()
}

fn run(
    session: &Session,
    sql: &str,
    params: &[&dyn Param],
) -> Result<Vec<tokio_postgres::Row>, Error> {
    let values = values(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    session.block_on(async {
        let statement = session.client.prepare_cached(&translated(sql)).await?;
        session.client.query(&statement, &refs).await
    })
}

/// The first row of a statement, read by `f`, on a connection the caller awaits from
/// its own task (`Db::query_opt_now`) instead of blocking a thread on it.
pub(in crate::db) async fn first_awaited<T>(
    client: &deadpool_postgres::Object,
    sql: &str,
    params: &[&dyn Param],
    f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let values = values(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    let statement = client.prepare_cached(&translated(sql)).await?;
    let rows = client.query(&statement, &refs).await?;
    rows.first()
        .map(|row| {
            f(&Row {
                inner: RowInner::Postgres(row),
            })
        })
        .transpose()
}

pub(super) fn execute(session: &Session, sql: &str, params: &[&dyn Param]) -> Result<usize, Error> {
    let values = values(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    let changed = session.block_on(async {
        let statement = session.client.prepare_cached(&translated(sql)).await?;
        session.client.execute(&statement, &refs).await
    })?;
    Ok(changed as usize)
}

pub(super) fn first<T>(
    session: &Session,
    sql: &str,
    params: &[&dyn Param],
    f: impl FnOnce(&Row<'_>) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let rows = run(session, sql, params)?;
    rows.first()
        .map(|row| {
            f(&Row {
                inner: RowInner::Postgres(row),
            })
        })
        .transpose()
}

pub(super) fn each(
    session: &Session,
    sql: &str,
    params: &[&dyn Param],
    mut f: impl FnMut(&Row<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    for row in &run(session, sql, params)? {
        f(&Row {
            inner: RowInner::Postgres(row),
        })?;
    }
    Ok(())
}

pub(super) fn column(row: &tokio_postgres::Row, index: usize) -> Result<Column<'_>, Error> {
    let Some(column) = row.columns().get(index) else {
        return Err(Error::Db(DbError::Column {
            index,
            message: format!("the row has {} columns", row.len()),
        }));
    };
    let value = match *column.type_() {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Column::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|i| Column::Int(i.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|i| Column::Int(i.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(Column::Bool),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Column::Real),
        Type::BYTEA => row.try_get::<_, Option<&[u8]>>(index)?.map(Column::Bytes),
        // Text of any kind; anything else fails here, naming the type.
        _ => row.try_get::<_, Option<&str>>(index)?.map(Column::Text),
    };
    Ok(value.unwrap_or(Column::Null))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_become_numbered_and_planner_hints_go() {
        assert_eq!(
            translate("SELECT a FROM t INDEXED BY t_by_a WHERE a = ?1 AND b = '?' AND c > ?12"),
            "SELECT a FROM t WHERE a = $1 AND b = '?' AND c > $12"
        );
        assert_eq!(
            translate("SELECT 'it''s ?' WHERE x LIKE ?3 ESCAPE '\\'"),
            "SELECT 'it''s ?' WHERE x LIKE $3 ESCAPE '\\'"
        );
    }
}
