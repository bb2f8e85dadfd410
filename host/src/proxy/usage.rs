//! When a proxy's stored artifacts were last used, for eviction by `max_size` (the
//! collector evicts the least recently used first).
//!
//! A use is a download through the proxy or a group it is a member of. Writing one per
//! download would put a database write on the hot path, queued on SQLite's single
//! writer; so uses are kept in memory, an artifact's at most once per
//! [`USE_RESOLUTION`], and the server writes them in one transaction with the download
//! counts (every second), as does a collection in the server's process before it
//! evicts. The last use on record is therefore up to an hour older than the real one,
//! which is what eviction can tell apart. A fetch records its own time as a use in
//! the transaction that stores the artifact.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Engine;
use crate::db::{self, packages::FileRow};
use crate::error::Error;

/// How often one artifact's last use is written, in seconds.
pub const USE_RESOLUTION: i64 = 3600;

/// Uses of stored artifacts not yet written, by file id.
#[derive(Default)]
pub(super) struct Uses {
    files: Mutex<HashMap<i64, Use>>,
}

#[derive(Default)]
struct Use {
    /// When the last use was written (or queued to be).
    written: i64,
    pending: Option<i64>,
}

impl Uses {
    /// Notes a use of `file_id` at `now`; queued only when the last one this process
    /// queued is [`USE_RESOLUTION`] old.
    fn record(&self, file_id: i64, now: i64) {
        let mut files = self.lock();
        let used = files.entry(file_id).or_default();
        if now - used.written >= USE_RESOLUTION {
            used.written = now;
            used.pending = Some(now);
        }
    }

    /// The queued uses, as `(file id, time)`. Files whose last write is a resolution
    /// old are forgotten: their next use is written anyway, so the map holds only the
    /// artifacts used within the last hour.
    fn take(&self, now: i64) -> Vec<(i64, i64)> {
        let mut files = self.lock();
        let batch = files
            .iter_mut()
            .filter_map(|(id, used)| used.pending.take().map(|at| (*id, at)))
            .collect();
        files.retain(|_, used| now - used.written < USE_RESOLUTION);
        batch
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Use>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine {
    /// Records that a client was served `file`, a stored artifact of a proxy (costs no
    /// database write; see [`Engine::flush_uses`]).
    pub fn used(&self, file: &FileRow) {
        self.uses.record(file.id, self.now());
    }

    /// Writes the recorded uses (the server calls this every second with the download
    /// counts, and when it stops).
    pub async fn flush_uses(&self) {
        let batch = self.uses.take(self.now());
        if !batch.is_empty() {
            let written = self
                .db
                .write(move |tx| db::proxy::set_used(tx, &batch))
                .await;
            warn_unwritten(written);
        }
    }

    /// [`Engine::flush_uses`] on the calling thread, for code already off the executor
    /// (a collection, before it evicts).
    pub fn flush_uses_now(&self) {
        let batch = self.uses.take(self.now());
        if !batch.is_empty() {
            warn_unwritten(self.db.write_sync(|tx| db::proxy::set_used(tx, &batch)));
        }
    }
}

/// A lost batch of uses makes eviction pick a little less well; a retry loop on a
/// failing database would be worse.
fn warn_unwritten(written: Result<(), Error>) {
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record when proxy artifacts were last used");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards the throttle: one write per artifact per hour at most, the first use a
    // process sees is written, and an artifact idle for an hour leaves the map.
    #[test]
    fn a_use_is_written_at_most_once_an_hour_per_artifact() {
        let uses = Uses::default();
        uses.record(1, 10_000);
        uses.record(1, 10_500);
        uses.record(2, 10_500);
        let mut batch = uses.take(10_500);
        batch.sort();
        assert_eq!(batch, [(1, 10_000), (2, 10_500)]);
        uses.record(1, 10_000 + USE_RESOLUTION - 1);
        assert!(
            uses.take(10_000 + USE_RESOLUTION).is_empty(),
            "within the hour"
        );
        assert_eq!(
            uses.lock().len(),
            1,
            "artifact 1 idle for an hour is forgotten"
        );
        uses.record(1, 10_000 + USE_RESOLUTION);
        assert_eq!(
            uses.take(10_000 + USE_RESOLUTION),
            [(1, 10_000 + USE_RESOLUTION)]
        );
        assert!(uses.take(20_000).is_empty(), "nothing twice");
        assert!(uses.lock().is_empty());
    }
}
