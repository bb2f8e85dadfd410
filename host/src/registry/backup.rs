//! `wharf backup DEST` and `wharf restore SRC`.
//!
//! A backup is a directory laid out like a data dir: `wharf.db` and
//! `blobs/sha256/<aa>/<hex>`. It is taken while the server runs. The database is copied
//! first, as one snapshot (SQLite's online backup); then every blob that snapshot knows
//! is hard-linked or copied. Blobs never change, and only the collector deletes them: a
//! blob gone by the time it is copied was deleted after the snapshot, so the snapshot
//! is stale. Then the database is copied again and the blobs the new snapshot names
//! are copied (most are there already), until one snapshot's blobs are all present.
//! Upload sessions in progress are not part of a backup.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};

use super::open_existing_db;
use crate::config::Config;
use crate::db::{self, Db};
use crate::store::{BlobStore, Exported, Remote, Transfer};

/// How often the database is copied again when the collector deleted a blob in
/// between, before the backup gives up (then the data dir lacks files it references).
const ROUNDS: usize = 5;

#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub blobs: usize,
    pub bytes: u64,
    pub linked: usize,
    pub copied: usize,
    /// Database snapshots taken (more than one when the collector raced the copy).
    pub snapshots: usize,
}

/// Backs up the registry of `config` into `dest`, which must not exist or be empty.
pub fn backup(config: &Config, dest: &Path, how: Transfer) -> anyhow::Result<Report> {
    let db = open_existing_db(config)?;
    let source = BlobStore::attach(&config.storage.data_dir, config.storage.min_free)?
        .with_remote(Remote::connect(&config.storage)?);
    take(&db, &source, dest, how, |_| {}).with_context(|| {
        format!(
            "backup of {} into {}",
            config.storage.data_dir.display(),
            dest.display()
        )
    })
}

/// [`backup`] with a hook run after each database snapshot (tests race the collector).
fn take(
    db: &Db,
    source: &BlobStore,
    dest: &Path,
    how: Transfer,
    mut after_snapshot: impl FnMut(usize),
) -> anyhow::Result<Report> {
    require_empty(dest)?;
    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let target = BlobStore::backup_at(dest);
    let partial = dest.join("wharf.db.partial");
    let mut report = Report::default();
    let blobs = loop {
        report.snapshots += 1;
        let _ = fs::remove_file(&partial);
        db::backup::snapshot(db, &partial).context("cannot copy the database")?;
        after_snapshot(report.snapshots);
        let blobs = db::backup::Copy::open(&partial)?.blobs()?;
        let missing = copy_blobs(source, &target, &blobs, how, &mut report)?;
        if missing.is_empty() {
            break blobs;
        }
        if report.snapshots == ROUNDS {
            bail!(
                "blobs the database references are missing from the data dir (not even in \
                 its trash): {}",
                missing.join(", ")
            );
        }
        tracing::info!(
            blobs = missing.len(),
            "blobs were collected after the database was copied; copying it again"
        );
    };
    // Files of an earlier, stale snapshot that this one does not name.
    let named: std::collections::HashSet<&str> = blobs.iter().map(|(s, _)| s.as_str()).collect();
    for sha256 in target.stored()? {
        if !named.contains(sha256.as_str()) {
            target.remove_exported(&sha256)?;
        }
    }
    db::backup::Copy::open(&partial)?.forget_upload_sessions()?;
    fs::File::open(&partial)?.sync_all()?;
    fs::rename(&partial, dest.join("wharf.db"))?;
    fs::File::open(dest)?.sync_all()?;
    report.blobs = blobs.len();
    report.bytes = blobs.iter().map(|(_, size)| size).sum();
    Ok(report)
}

/// Restores a backup from `source` into the data dir of `config`, which must not exist
/// or be empty. The server must not be running on it.
pub fn restore(config: &Config, source: &Path, how: Transfer) -> anyhow::Result<Report> {
    let backup_db = source.join("wharf.db");
    if !backup_db.is_file() {
        bail!("{} is not a backup: it has no wharf.db", source.display());
    }
    let data_dir = &config.storage.data_dir;
    require_empty(data_dir)?;
    let from = db::backup::Copy::open_read_only(&backup_db)?;
    let blobs = from.blobs()?;
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let target = BlobStore::attach(data_dir, config.storage.min_free)?
        .with_remote(Remote::connect(&config.storage)?);
    let mut report = Report::default();
    let missing = copy_blobs(
        &BlobStore::backup_at(source),
        &target,
        &blobs,
        how,
        &mut report,
    )?;
    if !missing.is_empty() {
        bail!(
            "the backup lacks blobs its database references: {}",
            missing.join(", ")
        );
    }
    // The database last: a restore cut short leaves no registry that looks complete.
    let partial = data_dir.join("wharf.db.partial");
    from.snapshot(&partial)?;
    fs::rename(&partial, data_dir.join("wharf.db"))?;
    fs::File::open(data_dir)?.sync_all()?;
    // Migrates a backup of an older version, as a server start would.
    Db::open(&data_dir.join("wharf.db"))?;
    report.snapshots = 1;
    report.blobs = blobs.len();
    report.bytes = blobs.iter().map(|(_, size)| size).sum();
    Ok(report)
}

/// Copies `blobs` and checks their sizes; returns the digests found nowhere.
fn copy_blobs(
    source: &BlobStore,
    target: &BlobStore,
    blobs: &[(String, u64)],
    how: Transfer,
    report: &mut Report,
) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for (sha256, size) in blobs {
        match source.export(sha256, target, how)? {
            Exported::Missing => {
                missing.push(sha256.clone());
                continue;
            }
            Exported::Linked => report.linked += 1,
            Exported::Copied => report.copied += 1,
            Exported::Present => {}
        }
        let stored = target.stored_size(sha256)?;
        if stored != Some(*size) {
            bail!("blob {sha256} has {stored:?} bytes where the database says {size}");
        }
    }
    Ok(missing)
}

/// Refuses a directory with anything in it: a backup or restore never mixes with
/// other files (or overwrites a registry).
fn require_empty(dir: &Path) -> anyhow::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; give a new or empty directory",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Algorithm;

    /// A blob the collector deletes between the snapshot and the copy: the backup
    /// copies the database again and ends with a snapshot whose blobs are all there.
    #[test]
    fn a_blob_collected_during_the_backup_takes_another_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = BlobStore::open(&data, Default::default()).unwrap();
        let db = Db::open(&data.join("wharf.db")).unwrap();
        let mut digests = Vec::new();
        for bytes in [&b"kept"[..], b"collected"] {
            let mut w = store.writer(&[Algorithm::Sha256]).unwrap();
            w.write(bytes).unwrap();
            let mut staged = w.finish().unwrap();
            staged.publish().unwrap();
            let (sha, size) = (staged.sha256.clone(), bytes.len() as i64);
            db.write_sync(|tx| {
                tx.execute(
                    "INSERT INTO blobs (sha256, size, created) VALUES (?1, ?2, 0)",
                    &[&sha, &size],
                )?;
                Ok(())
            })
            .unwrap();
            digests.push(staged.sha256.clone());
        }
        let dest = dir.path().join("backup");
        let report = take(&db, &store, &dest, Transfer::Copy, |round| {
            if round == 1 {
                // What the collector does: forget the row, trash the file, purge it.
                db.write_sync(|tx| {
                    tx.execute("DELETE FROM blobs WHERE sha256 = ?1", &[&digests[1]])?;
                    Ok(())
                })
                .unwrap();
                store.trash(&digests[1]).unwrap();
                store.purge(&digests[1]).unwrap();
            }
        })
        .unwrap();
        assert_eq!((report.snapshots, report.blobs), (2, 1));
        assert_eq!(
            BlobStore::backup_at(&dest).stored().unwrap(),
            vec![digests[0].clone()]
        );

        let restored = dir.path().join("restored");
        let mut config = Config::default();
        config.storage.data_dir = restored.clone();
        let report = restore(&config, &dest, Transfer::LinkOrCopy).unwrap();
        assert_eq!(report.blobs, 1);
        let copy = BlobStore::attach(&restored, Default::default()).unwrap();
        assert_eq!(copy.stored_size(&digests[0]).unwrap(), Some(4));
        assert!(
            restore(&config, &dest, Transfer::Copy).is_err(),
            "not into a registry"
        );
    }
}
