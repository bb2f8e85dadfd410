//! Failed sign-in windows that every node sees (`auth::passwords`, when PostgreSQL
//! serves several nodes): one row per key (a user name or a client address, as the
//! limiter spells it), opened at its first failure.
//!
//! The table stays bounded: a failure also deletes a few rows whose window has closed,
//! so it holds little more than the keys that failed within one window, and failures
//! cost an argon2 check each, whose slots bound how fast anyone can add them.

use super::Conn;
use crate::error::Error;

/// Closed windows deleted per recorded failure: more than one, so the table shrinks
/// after a burst even while failures are rare; few, so a failure stays cheap.
const SWEEP: i64 = 16;

/// The failures counted against `key` in the window still open at `opened_after`
/// (a window that opened then or earlier has closed); 0 without one.
pub fn count(conn: &Conn<'_>, key: &str, opened_after: i64) -> Result<(i64, u32), Error> {
    let row = conn.query_opt(
        "SELECT opened, failures FROM login_failures WHERE key = ?1 AND opened > ?2",
        &[&key, &opened_after],
        |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
    )?;
    Ok(row.map_or((0, 0), |(opened, failures)| {
        (opened, failures.clamp(0, u32::MAX as i64) as u32)
    }))
}

/// Counts a failure against `key` at `now`: in its open window, or in a new one when
/// its last window opened at `opened_after` or earlier. One statement, so failures on
/// several nodes at once all count.
pub fn record(conn: &Conn<'_>, key: &str, now: i64, opened_after: i64) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO login_failures (key, opened, failures) VALUES (?1, ?2, 1)
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN login_failures.opened > ?3
                             THEN login_failures.failures + 1 ELSE 1 END,
             opened = CASE WHEN login_failures.opened > ?3
                           THEN login_failures.opened ELSE ?2 END",
        &[&key, &now, &opened_after],
    )?;
    conn.execute(
        "DELETE FROM login_failures WHERE key IN
             (SELECT key FROM login_failures WHERE opened <= ?1 ORDER BY opened LIMIT ?2)",
        &[&opened_after, &SWEEP],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture;

    #[test]
    fn failures_count_in_their_window_and_closed_windows_are_swept() {
        for engine in fixture::engines("login_failures") {
            engine
                .db
                .write_sync(|tx| {
                    let window = 60;
                    let at = |now: i64| (now, now - window);
                    for now in [100, 110, 120] {
                        let (now, after) = at(now);
                        record(tx, "user:alice", now, after)?;
                    }
                    assert_eq!(count(tx, "user:alice", 120 - window)?, (100, 3));
                    assert_eq!(count(tx, "user:bob", 120 - window)?, (0, 0));
                    // The window opened at 100 closes at 160: a new one begins.
                    assert_eq!(count(tx, "user:alice", 160 - window)?, (0, 0));
                    let (now, after) = at(165);
                    record(tx, "user:alice", now, after)?;
                    assert_eq!(count(tx, "user:alice", after)?, (165, 1));

                    // Invented names leave no rows behind once their windows closed.
                    for i in 0..40 {
                        record(tx, &format!("user:x{i}"), 200, 200 - window)?;
                    }
                    for _ in 0..3 {
                        record(tx, "user:alice", 400, 400 - window)?;
                    }
                    let left = tx.query_row("SELECT COUNT(*) FROM login_failures", &[], |r| {
                        r.get::<i64>(0)
                    })?;
                    assert_eq!(left, 1, "only alice's open window is left");
                    Ok(())
                })
                .unwrap();
        }
    }
}
