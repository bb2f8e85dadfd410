-- PostgreSQL migration 1: the schema SQLite has after its migration 8, table for table,
-- with the same keys, unique constraints, cascades and indexes. Integers are BIGINT
-- (ids BIGSERIAL), flags BOOLEAN, bytes BYTEA. Comments on what each table means are in
-- the SQLite migrations (db/schema.sql, db/migration_*.sql).

CREATE TABLE owners (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    lower_name    TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    private       BOOLEAN NOT NULL DEFAULT false,
    created       BIGINT NOT NULL
);

CREATE TABLE org_members (
    org_id  BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE tokens (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    scope      TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created    BIGINT NOT NULL,
    expires    BIGINT,
    last_used  BIGINT,
    last_eight TEXT
);
CREATE INDEX tokens_by_user ON tokens(user_id);

CREATE TABLE blobs (
    sha256   TEXT PRIMARY KEY,
    size     BIGINT NOT NULL,
    created  BIGINT NOT NULL,
    orphaned BIGINT
);

CREATE TABLE blob_digests (
    sha256    TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    hex       TEXT NOT NULL,
    PRIMARY KEY (sha256, algorithm)
);
CREATE INDEX blob_digests_by_hex ON blob_digests(algorithm, hex);

CREATE TABLE packages (
    id         BIGSERIAL PRIMARY KEY,
    owner_id   BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    format     TEXT NOT NULL,
    name       TEXT NOT NULL,
    lower_name TEXT NOT NULL,
    created    BIGINT NOT NULL,
    modified   BIGINT NOT NULL,
    revision   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (owner_id, format, lower_name)
);

CREATE TABLE versions (
    id            BIGSERIAL PRIMARY KEY,
    package_id    BIGINT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    version       TEXT NOT NULL,
    lower_version TEXT NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created       BIGINT NOT NULL,
    downloads     BIGINT NOT NULL DEFAULT 0,
    creator_id    BIGINT REFERENCES owners(id) ON DELETE SET NULL,
    UNIQUE (package_id, lower_version)
);

CREATE TABLE files (
    id           BIGSERIAL PRIMARY KEY,
    version_id   BIGINT NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    lower_name   TEXT NOT NULL,
    blob         TEXT NOT NULL REFERENCES blobs(sha256),
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    lead         BOOLEAN NOT NULL,
    created      BIGINT NOT NULL,
    UNIQUE (version_id, lower_name)
);
CREATE INDEX files_by_blob ON files(blob);
CREATE INDEX files_by_name ON files(lower_name);

CREATE TABLE properties (
    version_id BIGINT NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (version_id, name)
);
CREATE INDEX properties_by_value ON properties(name, value);

CREATE TABLE tags (
    package_id BIGINT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, tag)
);

CREATE TABLE package_blobs (
    package_id BIGINT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    blob       TEXT NOT NULL REFERENCES blobs(sha256),
    created    BIGINT NOT NULL,
    PRIMARY KEY (package_id, blob)
);
CREATE INDEX package_blobs_by_blob ON package_blobs(blob);

CREATE TABLE version_refs (
    version_id BIGINT NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    blob       TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (version_id, blob)
);
CREATE INDEX version_refs_by_blob ON version_refs(blob);

CREATE TABLE upload_sessions (
    id       TEXT PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    format   TEXT NOT NULL,
    package  TEXT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL
);

-- The one global revision counter. Every writer that changes a package updates its
-- single row, and PostgreSQL holds that row lock until the writer commits: writers that
-- move revisions are serialized, as SQLite's single writer serialized them, so revisions
-- are handed out in commit order and never repeat.
CREATE TABLE revision_counter (
    id BIGINT PRIMARY KEY CHECK (id = 0),
    n  BIGINT NOT NULL
);
INSERT INTO revision_counter (id, n) VALUES (0, 0);

CREATE TABLE listing_revisions (
    owner_id BIGINT NOT NULL,
    format   TEXT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (owner_id, format)
);

-- SQLite's three triggers (migration 3) in one function: whatever adds, changes or
-- deletes a package moves its owner's listing of that format.
CREATE FUNCTION move_listing_revision() RETURNS trigger AS $$
DECLARE
    changed packages%ROWTYPE;
    next BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    UPDATE revision_counter SET n = n + 1 RETURNING n INTO next;
    INSERT INTO listing_revisions (owner_id, format, revision)
        VALUES (changed.owner_id, changed.format, next)
        ON CONFLICT (owner_id, format) DO UPDATE SET revision = excluded.revision;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER listing_revision AFTER INSERT OR UPDATE OR DELETE ON packages
    FOR EACH ROW EXECUTE FUNCTION move_listing_revision();

CREATE TABLE host_secrets (
    name    TEXT PRIMARY KEY,
    value   BYTEA NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE virtual_owners (
    owner_id BIGINT PRIMARY KEY REFERENCES owners(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('proxy', 'group'))
);

CREATE TABLE proxy_documents (
    owner_id      BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    package       TEXT NOT NULL DEFAULT '',
    status        BIGINT NOT NULL,
    upstream      TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    validator     TEXT,
    blob          TEXT REFERENCES blobs(sha256),
    content_type  TEXT NOT NULL DEFAULT '',
    headers       TEXT NOT NULL DEFAULT '[]',
    fetched_at    BIGINT NOT NULL,
    checked_at    BIGINT NOT NULL,
    PRIMARY KEY (owner_id, key)
);
CREATE INDEX proxy_documents_by_blob ON proxy_documents(blob);
CREATE INDEX proxy_documents_by_package ON proxy_documents(owner_id, package);

CREATE TABLE proxy_declarations (
    owner_id BIGINT NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    document TEXT NOT NULL,
    file     TEXT NOT NULL,
    version  TEXT NOT NULL,
    url      TEXT NOT NULL,
    digests  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (owner_id, document, file)
);

CREATE TABLE proxy_fetches (
    file_id    BIGINT PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
);
