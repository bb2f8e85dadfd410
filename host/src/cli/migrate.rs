//! `wharf migrate`: an embedded registry into PostgreSQL and an object store
//! (`registry::migrate`).

use clap::Args;

use super::Io;
use crate::config::Config;
use crate::registry::migrate::{self, Target};

#[derive(Debug, Args)]
pub(super) struct MigrateArgs {
    /// The PostgreSQL database to copy into (`postgres://user[:env:VAR]@host/db`); its
    /// tables are created if needed.
    #[arg(long)]
    to_database: String,
    /// Where the blob bytes go: `s3://bucket/prefix` (the bucket must exist).
    #[arg(long)]
    to_blobs: String,
    /// The object store's URL (omit for AWS; default: `storage.s3_endpoint`).
    #[arg(long)]
    to_s3_endpoint: Option<String>,
    /// The object store's region (default: `storage.s3_region`).
    #[arg(long)]
    to_s3_region: Option<String>,
    /// Replace what a target database holds that is not this registry.
    #[arg(long)]
    force: bool,
}

pub(super) fn migrate(config: &Config, args: MigrateArgs, io: &mut Io<'_>) -> anyhow::Result<()> {
    let target = Target {
        database: args.to_database,
        blobs: args.to_blobs,
        s3_endpoint: args.to_s3_endpoint,
        s3_region: args.to_s3_region,
        force: args.force,
    };
    let report = migrate::migrate(config, &target)?;
    writeln!(
        io.out,
        "uploaded {} blobs ({} bytes), {} were there already; {}",
        report.uploaded,
        report.uploaded_bytes,
        report.present,
        if report.already_migrated {
            format!(
                "the database held this registry already ({} tables unchanged)",
                report.tables
            )
        } else {
            format!("copied {} rows of {} tables", report.rows, report.tables)
        }
    )?;
    Ok(())
}
