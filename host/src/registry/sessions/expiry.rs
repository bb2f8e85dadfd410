//! Expiry of upload sessions nobody finished: their rows and files, and session files
//! without a row (a crash between a finish's commit and its file's removal).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::db;
use crate::error::Error;
use crate::registry::Registry;

/// What one expiry pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub sessions: usize,
    pub orphan_files: usize,
}

/// Removes sessions last written more than `ttl` before `now` (by file mtime, or the
/// row's `created` when the file is missing) and session files without a row that old.
/// Blocking: run it off the async executor. Busy sessions are left alone.
pub fn expire(registry: &Registry, ttl: Duration, now: SystemTime) -> Result<Expired, Error> {
    let cutoff = now.checked_sub(ttl).unwrap_or(UNIX_EPOCH);
    let cutoff_secs = cutoff
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let sessions = &registry.sessions;
    let mut expired = Expired::default();

    let candidates = registry
        .db
        .read_sync(|conn| db::sessions::created_before(conn, cutoff_secs))?;
    for (id, created) in candidates {
        let Ok(_held) = sessions.entry(&id).try_lock_owned() else {
            continue;
        };
        let last = sessions
            .files
            .mtime(&id)?
            .unwrap_or_else(|| system_time(created));
        if last >= cutoff {
            continue;
        }
        let row_id = id.clone();
        registry
            .db
            .write_sync(move |tx| db::sessions::delete(tx, &row_id))?;
        sessions.files.remove(&id)?;
        sessions.forget(&id);
        expired.sessions += 1;
    }

    for id in sessions.files.ids()? {
        let lookup = id.clone();
        let has_row = registry
            .db
            .read_sync(move |conn| db::sessions::find(conn, &lookup))?
            .is_some();
        let old = sessions.files.mtime(&id)?.is_some_and(|t| t < cutoff);
        if !has_row && old {
            sessions.files.remove(&id)?;
            sessions.forget(&id);
            expired.orphan_files += 1;
        }
    }
    Ok(expired)
}

fn system_time(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)
}
