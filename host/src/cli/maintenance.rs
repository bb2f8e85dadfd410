//! `wharf gc`, `wharf cache purge`, `wharf backup`, `wharf restore` and `wharf plugin
//! check`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};

use super::Io;
use crate::config::Config;
use crate::registry::{Registry, backup, gc};
use crate::store::Transfer;

#[derive(Debug, Args)]
pub(super) struct GcArgs {
    /// Seconds to use for both grace periods instead of the configured ones (0 reclaims
    /// everything unreferenced right away, including layers of pushes still under way).
    #[arg(long)]
    grace_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub(super) enum CacheCommand {
    /// Drop what a proxy cached: one package (its versions, files and metadata
    /// documents) or, without NAME, everything. The next request fetches it again
    /// upstream; the bytes go at the next gc. Safe while the server runs.
    Purge {
        /// The proxy (its `[proxies.NAME]`, or one whose table was removed).
        owner: String,
        /// The package, in the format's own spelling.
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum PluginCommand {
    /// Load a component as the server would (same engine, limits and checks) and print
    /// its name, contract version, error style, challenge, digests and limits. Exits
    /// non-zero, saying why, if the server would refuse it.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(super) struct BackupArgs {
    /// A new (or empty) directory for the backup.
    dest: PathBuf,
    /// Copy blob files even where a hard link would do (DEST on the data dir's
    /// filesystem shares the immutable blob files by default).
    #[arg(long)]
    copy: bool,
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// A directory `wharf backup` made.
    src: PathBuf,
    /// Copy blob files even where a hard link would do.
    #[arg(long)]
    copy: bool,
}

fn transfer(copy: bool) -> Transfer {
    if copy {
        Transfer::Copy
    } else {
        Transfer::LinkOrCopy
    }
}

pub(super) fn cache(
    db: &crate::db::Db,
    command: CacheCommand,
    io: &mut Io<'_>,
) -> anyhow::Result<()> {
    let CacheCommand::Purge { owner, name } = command;
    let purged = crate::registry::cache::purge(db, &owner, name.as_deref())?;
    writeln!(
        io.out,
        "purged {} cached packages and {} metadata documents of {owner}; `wharf gc` frees their bytes",
        purged.packages, purged.documents
    )?;
    Ok(())
}

pub(super) fn gc(config: Config, args: GcArgs, io: &mut Io<'_>) -> anyhow::Result<()> {
    let mut policy = gc::Policy::from(&config.gc);
    if let Some(secs) = args.grace_secs {
        policy.upload_grace = Duration::from_secs(secs);
        policy.orphan_grace = policy.upload_grace;
    }
    let registry = Registry::attach(config)?;
    let report = gc::collect(&registry, policy, SystemTime::now())?;
    writeln!(
        io.out,
        "evicted {} cached artifacts ({} bytes) from proxies past their max_size; deleted {} blobs ({} bytes) and {} upload sessions; dropped {} unused repository links; {} blobs newly unreferenced wait out the grace period",
        report.evicted,
        report.evicted_bytes,
        report.blobs,
        report.bytes,
        report.sessions,
        report.unused_links,
        report.newly_orphaned
    )?;
    Ok(())
}

pub(super) fn backup(config: &Config, args: BackupArgs, io: &mut Io<'_>) -> anyhow::Result<()> {
    let report = backup::backup(config, &args.dest, transfer(args.copy))?;
    writeln!(
        io.out,
        "backed up the database and {} blobs ({} bytes; {} linked, {} copied) into {}",
        report.blobs,
        report.bytes,
        report.linked,
        report.copied,
        args.dest.display()
    )?;
    Ok(())
}

pub(super) fn restore(config: &Config, args: RestoreArgs, io: &mut Io<'_>) -> anyhow::Result<()> {
    let report = backup::restore(config, &args.src, transfer(args.copy))?;
    writeln!(
        io.out,
        "restored the database and {} blobs ({} bytes) into {}",
        report.blobs,
        report.bytes,
        config.storage.data_dir.display()
    )?;
    Ok(())
}
