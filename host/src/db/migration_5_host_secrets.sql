-- Migration 5: secrets the host generates for itself (the registry-token HMAC key).
CREATE TABLE host_secrets (
    name    TEXT PRIMARY KEY,
    value   BLOB NOT NULL,
    created INTEGER NOT NULL
);
