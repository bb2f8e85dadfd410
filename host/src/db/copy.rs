//! Copying every row of one database into another, for `wharf migrate` (SQLite into
//! PostgreSQL). The table list, columns, keys and identity columns come from the
//! target's catalog, so a table a later migration adds is copied without a change
//! here; the source (the same binary, so the same schema version) is read with the same
//! column names.
//!
//! Rows keep their ids: foreign keys, token ids inside registry tokens and the
//! revisions cached documents are keyed by stay valid. While the rows go in, the
//! target's own triggers (the listing-revision trigger) are disabled, since the
//! revisions they would hand out are copied as they were; afterwards every identity
//! sequence is moved past the largest id copied.

use std::collections::{BTreeMap, BTreeSet};

use super::{Column, Conn, FromColumn, Param, Tx, Value};
use crate::error::Error;

/// Tables that are not copied: each engine's own schema bookkeeping, and upload
/// sessions, whose bytes are temp files of the old node (a client whose upload was cut
/// by the move starts it again, as after a restore).
const NOT_COPIED: &[&str] = &["schema_version", "upload_sessions"];

/// Rows a fresh schema holds before anything is stored (the revision counter's one
/// row); a target holding only these is empty.
const SEEDED: &[&str] = &["revision_counter"];

/// How many rows one `INSERT` carries (PostgreSQL allows 65535 parameters).
const BATCH: usize = 500;

/// A table of the target, with what copying it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// The column filled from a sequence (`BIGSERIAL`), if any.
    identity: Option<String>,
}

/// One value of a row, owned. Booleans are integers, as SQLite stores them, so rows of
/// both engines compare equal when they hold the same.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl FromColumn for Cell {
    fn from_column(column: Column<'_>) -> Result<Self, String> {
        Ok(match column {
            Column::Null => Self::Null,
            Column::Int(i) => Self::Int(i),
            Column::Bool(b) => Self::Int(i64::from(b)),
            Column::Text(s) => Self::Text(s.to_owned()),
            Column::Bytes(b) => Self::Bytes(b.to_vec()),
            Column::Real(_) => return Err("no column of the schema holds a real number".into()),
        })
    }
}

impl Param for Cell {
    fn value(&self) -> Value<'_> {
        match self {
            Self::Null => Value::Null,
            Self::Int(i) => Value::Int(*i),
            Self::Text(s) => Value::Text(s),
            Self::Bytes(b) => Value::Bytes(b),
        }
    }
}

/// Every row of every copied table, sorted (a table's rows compare as a set).
pub type Rows = BTreeMap<String, Vec<Vec<Cell>>>;

/// The tables of a PostgreSQL database in an order where every table comes after the
/// tables its foreign keys name.
pub fn tables(target: &Conn<'_>) -> Result<Vec<Table>, Error> {
    if !target.is_postgres() {
        return Err(Error::Internal(
            "the target of a migration is a PostgreSQL database".into(),
        ));
    }
    let mut found: BTreeMap<String, Table> = BTreeMap::new();
    target.query_each(
        "SELECT c.table_name::text, c.column_name::text,
                COALESCE(c.column_default::text, '') LIKE 'nextval(%'
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          ORDER BY c.table_name, c.ordinal_position",
        &[],
        |r| {
            let (table, column): (String, String) = (r.get(0)?, r.get(1)?);
            let entry = found.entry(table.clone()).or_insert_with(|| Table {
                name: table,
                columns: Vec::new(),
                identity: None,
            });
            if r.get::<bool>(2)? {
                entry.identity = Some(column.clone());
            }
            entry.columns.push(column);
            Ok(())
        },
    )?;
    found.retain(|name, _| !NOT_COPIED.contains(&name.as_str()));
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    target.query_each(
        "SELECT child.relname::text, parent.relname::text
           FROM pg_constraint c
           JOIN pg_class child ON child.oid = c.conrelid
           JOIN pg_class parent ON parent.oid = c.confrelid
          WHERE c.contype = 'f' AND child.relnamespace = current_schema()::regnamespace",
        &[],
        |r| {
            let (child, parent): (String, String) = (r.get(0)?, r.get(1)?);
            if child != parent {
                needs.entry(child).or_default().insert(parent);
            }
            Ok(())
        },
    )?;
    Ok(dependency_order(found, &needs))
}

/// `tables` with each after those it needs (names as tie-breaker, so the order is
/// stable). A cycle cannot come from the schema; its tables go last in name order.
fn dependency_order(
    mut tables: BTreeMap<String, Table>,
    needs: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<Table> {
    let mut ordered = Vec::with_capacity(tables.len());
    let mut placed = BTreeSet::new();
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .keys()
            .filter(|name| {
                needs.get(*name).is_none_or(|parents| {
                    parents
                        .iter()
                        .all(|p| placed.contains(p) || !tables.contains_key(p))
                })
            })
            .cloned()
            .collect();
        let next = if ready.is_empty() {
            tables.keys().cloned().collect()
        } else {
            ready
        };
        for name in next {
            if let Some(table) = tables.remove(&name) {
                placed.insert(name);
                ordered.push(table);
            }
        }
    }
    ordered
}

/// Every row of `tables` in `conn` (either engine), each table's rows sorted.
pub fn read(conn: &Conn<'_>, tables: &[Table]) -> Result<Rows, Error> {
    let mut rows = Rows::new();
    for table in tables {
        let sql = format!(
            "SELECT {} FROM {}",
            quoted_list(&table.columns),
            quote(&table.name)
        );
        let width = table.columns.len();
        let mut all = conn.query_vec(&sql, &[], |r| {
            (0..width).map(|i| r.get::<Cell>(i)).collect()
        })?;
        all.sort();
        rows.insert(table.name.clone(), all);
    }
    Ok(rows)
}

/// Whether `rows` (a target's) hold nothing but what a fresh schema seeds.
pub fn is_empty(rows: &Rows) -> bool {
    rows.iter()
        .all(|(table, rows)| rows.is_empty() || SEEDED.contains(&table.as_str()))
}

/// Replaces everything the copied tables of the target hold with `rows`, in the
/// caller's transaction: all of it commits, or none.
pub fn replace(tx: &Tx<'_>, tables: &[Table], rows: &Rows) -> Result<usize, Error> {
    let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    // CASCADE: the tables not copied (upload sessions) refer to owners; they go too.
    tx.execute_batch(&format!(
        "TRUNCATE {} RESTART IDENTITY CASCADE",
        quoted_list(&names)
    ))?;
    for table in tables {
        tx.execute_batch(&format!(
            "ALTER TABLE {} DISABLE TRIGGER USER",
            quote(&table.name)
        ))?;
    }
    let mut copied = 0;
    for table in tables {
        let Some(table_rows) = rows.get(&table.name) else {
            continue;
        };
        for batch in table_rows.chunks(BATCH) {
            insert(tx, table, batch)?;
            copied += batch.len();
        }
    }
    for table in tables {
        tx.execute_batch(&format!(
            "ALTER TABLE {} ENABLE TRIGGER USER",
            quote(&table.name)
        ))?;
        if let Some(column) = &table.identity {
            // The next id a node hands out comes after the copied ones.
            tx.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence(?1, ?2), COALESCE(MAX({c}), 1), MAX({c}) IS NOT NULL) FROM {t}",
                    c = quote(column),
                    t = quote(&table.name)
                ),
                &[&table.name, column],
                |_| Ok(()),
            )?;
        }
    }
    Ok(copied)
}

fn insert(tx: &Tx<'_>, table: &Table, batch: &[Vec<Cell>]) -> Result<(), Error> {
    let width = table.columns.len();
    let placeholders: Vec<String> = (0..batch.len())
        .map(|row| {
            let cells: Vec<String> = (1..=width)
                .map(|c| format!("?{}", row * width + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote(&table.name),
        quoted_list(&table.columns),
        placeholders.join(", ")
    );
    let params: Vec<&dyn Param> = batch.iter().flatten().map(|c| c as &dyn Param).collect();
    tx.execute(&sql, &params)?;
    Ok(())
}

/// An identifier as SQL quotes it (names come from the catalog, not from users).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table {
            name: name.into(),
            columns: vec!["id".into()],
            identity: None,
        }
    }

    #[test]
    fn tables_come_after_those_their_foreign_keys_name() {
        let tables: BTreeMap<String, Table> = ["versions", "owners", "files", "packages", "blobs"]
            .into_iter()
            .map(|n| (n.to_string(), table(n)))
            .collect();
        let needs: BTreeMap<String, BTreeSet<String>> = [
            ("files", &["versions", "blobs"][..]),
            ("versions", &["packages", "owners"]),
            ("packages", &["owners"]),
        ]
        .into_iter()
        .map(|(c, ps)| (c.to_string(), ps.iter().map(|p| p.to_string()).collect()))
        .collect();
        let order: Vec<String> = dependency_order(tables, &needs)
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(order, ["blobs", "owners", "packages", "versions", "files"]);
    }

    #[test]
    fn booleans_read_as_integers_so_both_engines_compare_equal() {
        assert_eq!(Cell::from_column(Column::Bool(true)), Ok(Cell::Int(1)));
        assert_eq!(Cell::from_column(Column::Int(1)), Ok(Cell::Int(1)));
        assert!(Cell::from_column(Column::Real(1.0)).is_err());
        let mut rows = Rows::new();
        rows.insert(
            "revision_counter".into(),
            vec![vec![Cell::Int(0), Cell::Int(0)]],
        );
        rows.insert("owners".into(), vec![]);
        assert!(is_empty(&rows));
        rows.insert("owners".into(), vec![vec![Cell::Int(1)]]);
        assert!(!is_empty(&rows));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quoted_list(&["x".into(), "y".into()]), "\"x\", \"y\"");
    }
}
