//! Expiry of upload sessions nobody finished: their rows and bytes, and bytes without a
//! row (a crash between a finish's commit and the removal of its bytes). Session files
//! are judged by their mtime; parts in an object store by the row's `updated` (the last
//! chunk any node recorded) and, without a row, by their newest object.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::db;
use crate::error::Error;
use crate::registry::Registry;

/// What one expiry pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub sessions: usize,
    /// Session files, or sessions' parts in the object store, that had no row.
    pub orphan_files: usize,
}

/// Removes sessions last written more than `ttl` before `now` (by file mtime or the
/// row's `updated`, or the row's `created` when the file is missing), and session bytes
/// without a row that old. Blocking: run it off the async executor. Sessions busy on
/// this node are left alone.
pub fn expire(registry: &Registry, ttl: Duration, now: SystemTime) -> Result<Expired, Error> {
    let cutoff = now.checked_sub(ttl).unwrap_or(UNIX_EPOCH);
    let cutoff_secs = cutoff
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let sessions = &registry.sessions;
    let remote = registry.blobs.remote();
    let mut expired = Expired::default();

    let candidates = registry
        .db
        .read_sync(|conn| db::sessions::created_before(conn, cutoff_secs))?;
    for (id, created, updated) in candidates {
        let Ok(_held) = sessions.entry(&id).try_lock_owned() else {
            continue;
        };
        let last = match remote {
            Some(_) => system_time(updated),
            None => sessions
                .files
                .mtime(&id)?
                .unwrap_or_else(|| system_time(created)),
        };
        if last >= cutoff {
            continue;
        }
        let row_id = id.clone();
        registry
            .db
            .write_sync(move |tx| db::sessions::delete(tx, &row_id))?;
        match remote {
            Some(store) => drop(store.delete_session_parts_blocking(&id)?),
            None => sessions.files.remove(&id)?,
        }
        sessions.forget(&id);
        expired.sessions += 1;
    }

    let with_bytes = match remote {
        Some(store) => store.sessions_with_parts()?,
        None => {
            let mut found = Vec::new();
            for id in sessions.files.ids()? {
                if let Some(mtime) = sessions.files.mtime(&id)? {
                    found.push((id, mtime));
                }
            }
            found
        }
    };
    for (id, written) in with_bytes {
        if written >= cutoff {
            continue;
        }
        let lookup = id.clone();
        let has_row = registry
            .db
            .read_sync(move |conn| db::sessions::find(conn, &lookup))?
            .is_some();
        if !has_row {
            match remote {
                Some(store) => drop(store.delete_session_parts_blocking(&id)?),
                None => sessions.files.remove(&id)?,
            }
            sessions.forget(&id);
            expired.orphan_files += 1;
        }
    }
    Ok(expired)
}

fn system_time(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64)
}
