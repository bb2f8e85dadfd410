//! Download counts, batched in memory and written once a second.
//!
//! A GET of a lead file used to write its count in a transaction of its own. Under load
//! those writes queued on SQLite's single writer and cost a blocking-pool hop each,
//! which dominated the time of serving a small tarball. Counts are statistics: losing
//! the last second of them in a crash is acceptable, delaying downloads is not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::db::{Db, packages};

/// How long a count may wait in memory before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct DownloadCounter {
    /// Version id → downloads not yet written.
    pending: Mutex<HashMap<i64, i64>>,
}

impl DownloadCounter {
    pub fn record(&self, version_id: i64) {
        *self.lock().entry(version_id).or_default() += 1;
    }

    /// Writes the pending counts. Readers of counts (the management API) call this first,
    /// so what they show includes every download served so far.
    pub async fn flush(&self, db: &Db) {
        let batch: Vec<(i64, i64)> = self.lock().drain().collect();
        if batch.is_empty() {
            return;
        }
        let result = db
            .write(move |tx| {
                for (version_id, count) in batch {
                    packages::add_downloads(tx, version_id, count)?;
                }
                Ok(())
            })
            .await;
        // Retrying could double-count if the commit went through; a lost batch of
        // statistics is the lesser harm.
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not write download counts");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, i64>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};

    /// A database where alice's generic `app` has versions 1 and 2 (their ids).
    fn two_versions() -> (tempfile::TempDir, Db, Pkg<'static>, i64, i64) {
        let (dir, db) = fixture::db();
        let (app, v1, v2) = fixture::seed(&db, |conn, alice, _| {
            let app = Pkg::new(alice, "generic", "app");
            (app, app.version(conn, "1"), app.version(conn, "2"))
        });
        (dir, db, app, v1, v2)
    }

    fn downloads(db: &Db, app: Pkg<'_>, version: &str) -> i64 {
        db.read_now(|conn| {
            let id = app.id_if_any(conn).expect("the package exists");
            Ok(packages::version(conn, id, version)?.map_or(-1, |v| v.downloads))
        })
        .unwrap()
    }

    // Guards batching: counts add up in memory and are written once per flush, and a
    // flush with nothing pending writes nothing twice.
    #[tokio::test]
    async fn recorded_downloads_are_written_once_by_a_flush() {
        let (_dir, db, app, v1, v2) = two_versions();
        let counter = DownloadCounter::default();
        for id in [v1, v1, v2, v1] {
            counter.record(id);
        }
        assert_eq!(
            downloads(&db, app, "1"),
            0,
            "nothing written before a flush"
        );
        counter.flush(&db).await;
        counter.flush(&db).await;
        assert_eq!((downloads(&db, app, "1"), downloads(&db, app, "2")), (3, 1));
    }

    // Guards that a version deleted between download and flush costs no other count.
    #[tokio::test]
    async fn a_deleted_version_does_not_lose_the_others_counts() {
        let (_dir, db, app, kept, gone) = two_versions();
        let counter = DownloadCounter::default();
        counter.record(gone);
        counter.record(kept);
        db.write_sync(|tx| packages::delete_version(tx, gone))
            .unwrap();
        counter.flush(&db).await;
        assert_eq!(downloads(&db, app, "1"), 1);
    }
}
