//! `wharf migrate`: copies an embedded registry (SQLite, and the configured blob store)
//! into PostgreSQL and an object store, so an instance grows into several nodes without
//! anything being published again (issue 22).
//!
//! Order and resumability: the blobs go first, each checked against its digest before
//! it is sent, and skipped when the target already holds an object of the right size
//! (objects are named by their sha256 and appear whole or not at all, so a size match
//! is the same bytes); then every row goes in one PostgreSQL transaction. A migration
//! killed during the blobs leaves an empty target database and continues where it
//! stopped when run again; one killed during the rows committed none of them. A target
//! that already holds exactly the source's rows is left as it is (a rerun is a no-op);
//! one holding anything else is refused unless `force`, which replaces it.
//!
//! The source's write lock (SQLite's single writer) is held from the first read to the
//! commit: a server still running on the source can write nothing meanwhile (its
//! writes wait and then fail), so the copy is of one moment and loses nothing. Stop the
//! server first.

mod blobs;

use anyhow::{Context, bail};

use super::open_existing_db;
use crate::config::Config;
use crate::db::{Db, copy};
use crate::store::{BlobStore, Remote};

/// Where the registry goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// `postgres://…` (a password of `env:VAR` is read from that variable).
    pub database: String,
    /// `s3://bucket/prefix` (or `fs`, the data dir's blobs, where they are already).
    pub blobs: String,
    /// The object store's URL; unset keeps the configuration's `storage.s3_endpoint`.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// Replace what a non-empty target database holds.
    pub force: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Blobs sent to the target, and their bytes.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Blobs the target held already (an earlier run's).
    pub present: usize,
    /// Rows written; 0 when the target held them already.
    pub rows: usize,
    pub tables: usize,
    /// The target database held exactly the source's rows before this run.
    pub already_migrated: bool,
}

/// Copies the registry of `config` into `target`.
pub fn migrate(config: &Config, target: &Target) -> anyhow::Result<Report> {
    if !(target.database.starts_with("postgres://") || target.database.starts_with("postgresql://"))
    {
        bail!("--to-database: expected a postgres:// URL");
    }
    let source_db = open_existing_db(config)?;
    if source_db.is_postgres() {
        bail!(
            "the registry is on PostgreSQL already; wharf migrate copies an embedded (SQLite) one"
        );
    }
    let mut target_config = config.clone();
    let storage = &mut target_config.storage;
    storage.database = target.database.clone();
    storage.blobs = target.blobs.clone();
    if target.s3_endpoint.is_some() {
        storage.s3_endpoint = target.s3_endpoint.clone();
    }
    if target.s3_region.is_some() {
        storage.s3_region = target.s3_region.clone();
    }
    let target_db = Db::connect(&target.database, 2, &config.storage.data_dir.join("unused"))
        .context("cannot open the target database")?;
    let data_dir = &config.storage.data_dir;
    let source_store = BlobStore::attach(data_dir, config.storage.min_free)?
        .with_remote(Remote::connect(&config.storage)?);
    let target_store = BlobStore::attach(data_dir, config.storage.min_free)?
        .with_remote(Remote::connect(&target_config.storage)?);

    let mut outcome = None;
    // The source's write lock, held to the end (see the module's comment).
    source_db.write_sync(|source| {
        outcome = Some(copy_all(
            source,
            &target_db,
            &source_store,
            &target_store,
            target.force,
        ));
        Ok(())
    })?;
    outcome.expect("the copy ran")
}

fn copy_all(
    source: &crate::db::Tx<'_>,
    target_db: &Db,
    source_store: &BlobStore,
    target_store: &BlobStore,
    force: bool,
) -> anyhow::Result<Report> {
    let tables = target_db.read_sync(copy::tables)?;
    let rows = copy::read(source, &tables).context("cannot read the source database")?;
    let held = target_db.read_sync(|conn| copy::read(conn, &tables))?;
    let mut report = Report {
        tables: tables.len(),
        already_migrated: held == rows,
        ..Report::default()
    };
    if !report.already_migrated && !copy::is_empty(&held) && !force {
        bail!(
            "the target database is not empty (it holds another registry, or this one \
             changed since it was copied); give --force to replace what it holds"
        );
    }
    blobs::copy(source, source_store, target_store, &mut report)?;
    if !report.already_migrated {
        report.rows = target_db
            .write_sync(|tx| copy::replace(tx, &tables, &rows))
            .context("cannot write the target database")?;
    }
    Ok(report)
}
