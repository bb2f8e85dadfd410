//! Garbage collection: deletes the bytes of blobs nothing references any more, and
//! upload sessions nobody finished. It first evicts what proxies cached past their
//! `max_size` (`eviction`), so the blobs that frees are found in the same run.
//!
//! Safe against concurrent pushes because every step that decides a blob's fate runs in
//! a write transaction, and a publish moves its bytes into the store and records their
//! reference inside a write transaction too: SQLite serializes the two, also across
//! processes (`wharf gc` beside a running server). A blob is taken out of the store
//! into the trash in the same transaction that forgets its row, so a rolled-back
//! collection can put it back, and is purged only after the commit. Two grace periods
//! keep what a client may still be using: a layer pushed before its manifest stays
//! linked to its repository for `upload_grace`, and a blob that lost its last
//! reference keeps its bytes for `orphan_grace`.
//!
//! The store is also reconciled with the database: a publish renames its bytes into the
//! store before its transaction commits, so a crash (or a failed commit) in between
//! leaves a complete file no row records. Files older than `orphan_grace` without a row
//! go the same way as collected blobs; the deciding check runs in a write transaction,
//! which no publish can be inside of, so a file whose publish is still under way is
//! never taken. The walk streams directory entries and checks them in batches, on a
//! reader first so that a store of recorded files costs no write transaction.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Transaction;

use super::{Registry, sessions};
use crate::config::GcConfig;
use crate::db;
use crate::error::Error;

mod eviction;

/// Blobs forgotten (and cached artifacts evicted) per transaction, so a large sweep never holds the write lock long.
const BATCH: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub upload_grace: Duration,
    pub orphan_grace: Duration,
}

impl From<&GcConfig> for Policy {
    fn from(config: &GcConfig) -> Self {
        Self {
            upload_grace: Duration::from_secs(config.upload_grace_secs),
            orphan_grace: Duration::from_secs(config.orphan_grace_secs),
        }
    }
}

/// What one collection did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Repository links of blobs no version used, dropped after the upload grace.
    pub unused_links: usize,
    /// Blobs found unreferenced for the first time (their bytes wait out the grace).
    pub newly_orphaned: usize,
    /// Blobs deleted, and their bytes.
    pub blobs: usize,
    pub bytes: u64,
    /// Of those, files in the store that no row recorded (left by a crash).
    pub unrecorded: usize,
    /// Expired upload sessions (and stray session files).
    pub sessions: usize,
    /// Cached artifacts evicted from proxies past their `max_size`, and their sizes
    /// (their blobs' bytes go by the rules above, once nothing else uses them).
    pub evicted: usize,
    pub evicted_bytes: u64,
}

/// Runs one collection as of `now`. Blocking: call it off the async executor.
pub fn collect(registry: &Registry, policy: Policy, now: SystemTime) -> Result<Report, Error> {
    let now_secs = seconds(now);
    let mut report = Report::default();
    // On a full disk, the commits below need the reserve's blocks.
    registry.blobs.space().make_room();

    let expired = sessions::expire(registry, policy.upload_grace, now)?;
    report.sessions = expired.sessions + expired.orphan_files;
    let evicted = eviction::evict(registry)?;
    (report.evicted, report.evicted_bytes) = (evicted.artifacts, evicted.bytes);

    let links_before = now_secs.saturating_sub(policy.upload_grace.as_secs() as i64);
    (report.unused_links, report.newly_orphaned) = registry.db.write_sync(|tx| {
        let links = db::gc::drop_unused_links(tx, links_before)?;
        Ok((links, db::gc::mark_orphans(tx, now_secs)?))
    })?;

    let orphaned_before = now_secs.saturating_sub(policy.orphan_grace.as_secs() as i64);
    loop {
        let batch = sweep(registry, |tx| {
            db::gc::collectable(tx, orphaned_before, BATCH)
        })?;
        report.count(&batch);
        if batch.len() < BATCH {
            break;
        }
    }

    let stray_before = now.checked_sub(policy.orphan_grace).unwrap_or(UNIX_EPOCH);
    registry.blobs.walk_older(stray_before, BATCH, |found| {
        // Almost every file has its row: look on a reader, and take the write lock only
        // for a batch with candidates, checked again under it.
        let names: Vec<String> = found.iter().map(|(sha256, _)| sha256.clone()).collect();
        let candidates = registry
            .db
            .read_sync(|conn| db::gc::unrecorded(conn, &names))?;
        if candidates.is_empty() {
            return Ok(());
        }
        let swept = sweep(registry, |tx| {
            let unknown: HashSet<String> =
                db::gc::unrecorded(tx, &candidates)?.into_iter().collect();
            Ok(found
                .into_iter()
                .filter(|(sha256, _)| unknown.contains(sha256))
                .collect())
        })?;
        report.count(&swept);
        report.unrecorded += swept.len();
        Ok::<_, Error>(())
    })?;
    if report.blobs > 0 {
        // Uploads refused for lack of space may be accepted again at once.
        registry.blobs.space().measure_now();
    }
    crate::metrics::gc_run(report.blobs, report.bytes);
    Ok(report)
}

impl Report {
    fn count(&mut self, swept: &[(String, u64)]) {
        self.blobs += swept.len();
        self.bytes += swept.iter().map(|(_, size)| size).sum::<u64>();
    }
}

/// Takes the blobs `pick` chooses (inside the write transaction) out of the store into
/// the trash and forgets their rows; purges them after the commit, or puts them back
/// if the transaction fails. Returns what was picked.
fn sweep(
    registry: &Registry,
    pick: impl FnOnce(&Transaction<'_>) -> Result<Vec<(String, u64)>, Error>,
) -> Result<Vec<(String, u64)>, Error> {
    let mut trashed = Vec::new();
    let swept = registry.db.write_sync(|tx| {
        let batch = pick(tx)?;
        for (sha256, _) in &batch {
            if registry.blobs.trash(sha256)? {
                trashed.push(sha256.clone());
            }
            db::gc::forget(tx, sha256)?;
        }
        Ok(batch)
    });
    match swept {
        Ok(batch) => {
            for sha256 in &trashed {
                registry.blobs.purge(sha256)?;
            }
            Ok(batch)
        }
        Err(e) => {
            for sha256 in &trashed {
                registry.blobs.restore(sha256)?;
            }
            Err(e)
        }
    }
}

/// Settles blobs a collection cut short left in the trash: back into the store if the
/// database still knows them (the transaction never committed), else purged. Runs at
/// startup, before anything is served.
pub fn recover_trash(registry: &Registry) -> Result<usize, Error> {
    let trashed = registry.blobs.trashed()?;
    if trashed.is_empty() {
        return Ok(0);
    }
    registry.db.write_sync(|tx| {
        for sha256 in &trashed {
            if db::gc::known(tx, sha256)? {
                registry.blobs.restore(sha256)?;
            } else {
                registry.blobs.purge(sha256)?;
            }
        }
        Ok(trashed.len())
    })
}

/// Collects every `interval` until the task is dropped (the server aborts it on stop).
pub async fn every(registry: std::sync::Arc<Registry>, interval: Duration) {
    let policy = Policy::from(&registry.config.gc);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let registry = registry.clone();
        let run =
            tokio::task::spawn_blocking(move || collect(&registry, policy, SystemTime::now()));
        match run.await {
            Ok(Ok(report)) => tracing::info!(?report, "garbage collected"),
            Ok(Err(e)) => tracing::warn!(error = %e, "garbage collection failed"),
            Err(e) => tracing::warn!(error = %e, "garbage collection task failed"),
        }
    }
}

fn seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
