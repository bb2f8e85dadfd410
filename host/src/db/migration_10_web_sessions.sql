-- Migration 10: the web UI's sign-in sessions (issue 23). The cookie carries a random
-- secret; only its sha256 is stored, like a token's, so a copy of the database signs
-- nobody in. `password_tag` is the tag of the password hash the user signed in with:
-- a changed password ends the session. `csrf` is the session's form token.
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    password_tag TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created      INTEGER NOT NULL,
    expires      INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions(expires);
CREATE INDEX web_sessions_by_user ON web_sessions(user_id);
