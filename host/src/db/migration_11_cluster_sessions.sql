-- Migration 11: upload sessions and failed sign-ins that several nodes share (issue 22).
--
-- With blobs in an object store, a session's bytes are objects below
-- `prefix/sessions/<id>/`, one per chunk, and `upload_sessions.received` is the truth
-- for how much arrived: a chunk is appended by a conditional UPDATE of it, so two nodes
-- cannot both append at one offset. Each part names its object (a random suffix keeps
-- two racing chunks at the same offset apart); the parts go with their session.
CREATE TABLE upload_session_parts (
    session_id TEXT NOT NULL REFERENCES upload_sessions(id) ON DELETE CASCADE,
    start      INTEGER NOT NULL,
    length     INTEGER NOT NULL,
    object     TEXT NOT NULL,
    PRIMARY KEY (session_id, start)
);
-- Expiry looks for sessions begun before its cutoff.
CREATE INDEX upload_sessions_by_creation ON upload_sessions(created);

-- Failed sign-in windows per user name or client address, when PostgreSQL serves
-- several nodes (auth::passwords::limiter::Shared); rows older than the window are
-- deleted as new failures arrive.
CREATE TABLE login_failures (
    key      TEXT PRIMARY KEY,
    opened   INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX login_failures_by_opened ON login_failures(opened);
