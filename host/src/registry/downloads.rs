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
