-- Migration 9: when each artifact a proxy cached was last used (issue 21, `max_size`).
-- The collector evicts a proxy's least recently used artifacts past its `max_size`, by
-- this time rather than by `fetched_at`. It is written at most once an hour per
-- artifact (`proxy::usage`), so it is only as fine as that; a fetch sets it too.
ALTER TABLE proxy_fetches ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;
UPDATE proxy_fetches SET used_at = fetched_at;
-- Eviction walks a proxy's artifacts oldest use first and stops once enough are chosen.
CREATE INDEX proxy_fetches_by_use ON proxy_fetches(used_at, file_id);
