-- Migration 4: blobs that versions reference without holding them as files (an OCI
-- manifest's config, layers and child manifests). They keep those blobs alive for the
-- garbage collector, which finds a blob's users through the two indexes by blob.
CREATE TABLE version_refs (
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    blob       TEXT    NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (version_id, blob)
) WITHOUT ROWID;
CREATE INDEX version_refs_by_blob ON version_refs(blob);
CREATE INDEX package_blobs_by_blob ON package_blobs(blob);
-- When the collector first found the blob unreferenced (seconds since the epoch); NULL
-- while something references it.
ALTER TABLE blobs ADD COLUMN orphaned INTEGER;
