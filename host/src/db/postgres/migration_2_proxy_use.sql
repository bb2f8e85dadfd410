-- PostgreSQL migration 2: SQLite's migration 9 (when each artifact a proxy cached was
-- last used, for `max_size` eviction).
ALTER TABLE proxy_fetches ADD COLUMN used_at BIGINT NOT NULL DEFAULT 0;
UPDATE proxy_fetches SET used_at = fetched_at;
CREATE INDEX proxy_fetches_by_use ON proxy_fetches(used_at, file_id);
