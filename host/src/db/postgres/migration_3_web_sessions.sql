-- PostgreSQL migration 3: SQLite's migration 10 (the web UI's sign-in sessions; only the
-- sha256 of the cookie's secret is stored, see there).
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    password_tag TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created      BIGINT NOT NULL,
    expires      BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions(expires);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
