-- Migration 7: proxy and group owners (issue 21). They are configured in registry.toml
-- and live in the owners namespace as organizations, so names stay unique and their
-- cached packages are ordinary rows; this table tells them from real organizations.
-- A row outlives its table in the config (the owner keeps its cached packages), but
-- only configured ones are served as proxies or groups.
CREATE TABLE virtual_owners (
    owner_id INTEGER PRIMARY KEY REFERENCES owners(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('proxy', 'group'))
);
