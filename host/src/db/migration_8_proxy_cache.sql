-- Migration 8: the proxy cache (issue 21). Artifacts a proxy fetched are ordinary
-- package/version/file rows of the proxy owner; these tables hold what is proxy-only:
-- upstream documents with their validators, the artifacts those documents declare, and
-- where each fetched file came from.

-- One upstream document per proxy owner and render-index key. `blob` is the raw body
-- in the blob store (NULL for a remembered 404); the collector keeps it while the row
-- names it.
CREATE TABLE proxy_documents (
    owner_id      INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    -- The document's package (lower case; empty for listings), for purges by name.
    package       TEXT NOT NULL DEFAULT '',
    status        INTEGER NOT NULL,
    upstream      TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    validator     TEXT,
    blob          TEXT REFERENCES blobs(sha256),
    content_type  TEXT NOT NULL DEFAULT '',
    headers       TEXT NOT NULL DEFAULT '[]',
    fetched_at    INTEGER NOT NULL,
    checked_at    INTEGER NOT NULL,
    PRIMARY KEY (owner_id, key)
);
CREATE INDEX proxy_documents_by_blob ON proxy_documents(blob);
CREATE INDEX proxy_documents_by_package ON proxy_documents(owner_id, package);

-- Artifacts the proxy's documents declare: where each file is upstream and the
-- digests its bytes must have, by the key of the document that declares it (one
-- package may have several documents, and each replaces only its own declarations).
-- File names are lower case (matched as files are).
CREATE TABLE proxy_declarations (
    owner_id INTEGER NOT NULL REFERENCES owners(id) ON DELETE CASCADE,
    document TEXT NOT NULL,
    file     TEXT NOT NULL,
    version  TEXT NOT NULL,
    url      TEXT NOT NULL,
    digests  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (owner_id, document, file)
);

-- When and from where a proxy fetched a file; goes with the file.
CREATE TABLE proxy_fetches (
    file_id    INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
