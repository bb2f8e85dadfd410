-- Migration 1: the whole metadata model. Owners are users or organizations (one
-- namespace, as in Gitea); everything below a package cascades on delete, but blobs
-- are only ever removed by garbage collection, never by a cascade.

CREATE TABLE owners (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    lower_name    TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    private       INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id  INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE tokens (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    scope     TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created   INTEGER NOT NULL,
    expires   INTEGER,
    last_used INTEGER
);

CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    created INTEGER NOT NULL
);

-- Secondary digests, computed only when a format needs them, then kept.
CREATE TABLE blob_digests (
    sha256    TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    hex       TEXT NOT NULL,
    PRIMARY KEY (sha256, algorithm)
);
CREATE INDEX blob_digests_by_hex ON blob_digests(algorithm, hex);

CREATE TABLE packages (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    format     TEXT NOT NULL,
    name       TEXT NOT NULL,
    lower_name TEXT NOT NULL,
    created    INTEGER NOT NULL,
    modified   INTEGER NOT NULL,
    -- Bumped by every change below the package; keys the rendered-index cache.
    revision   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (owner_id, format, lower_name)
);

CREATE TABLE versions (
    id            INTEGER PRIMARY KEY,
    package_id    INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    lower_version TEXT NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created       INTEGER NOT NULL,
    downloads     INTEGER NOT NULL DEFAULT 0,
    creator_id    INTEGER REFERENCES owners(id) ON DELETE SET NULL,
    UNIQUE (package_id, lower_version)
);

CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    version_id   INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    lower_name   TEXT NOT NULL,
    blob         TEXT NOT NULL REFERENCES blobs(sha256),
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    lead         INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    UNIQUE (version_id, lower_name)
);
CREATE INDEX files_by_blob ON files(blob);

CREATE TABLE properties (
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (version_id, name)
);
CREATE INDEX properties_by_value ON properties(name, value);

CREATE TABLE tags (
    package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, tag)
);

-- Blobs that belong to a package without being a file of a version (OCI layers
-- pushed before their manifest, cross-repository mounts).
CREATE TABLE package_blobs (
    package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    blob       TEXT NOT NULL REFERENCES blobs(sha256),
    created    INTEGER NOT NULL,
    PRIMARY KEY (package_id, blob)
);

-- Resumable uploads; the bytes live in tmp/sessions/<id>.
CREATE TABLE upload_sessions (
    id       TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    format   TEXT NOT NULL,
    package  TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);
