-- Migration 3: revisions from one global counter, and a revision per owner and format.
--
-- Package revisions used to count per package from 0. A package id freed by a delete
-- can be reused (INTEGER PRIMARY KEY), so a new package could meet cached indexes of a
-- deleted one at the same (id, revision). Drawn from one counter that only grows, a
-- revision never repeats. Owner-wide listings (NuGet and npm search, catalogs) are
-- cached by the revision of their owner and format, moved by triggers whatever code path
-- adds, changes or deletes a package. No foreign key on purpose: a listing's revision
-- must outlive its owner, as an owner id can be reused too.
CREATE TABLE revision_counter (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    n  INTEGER NOT NULL
);
INSERT INTO revision_counter (id, n) SELECT 0, coalesce(max(revision), 0) FROM packages;

CREATE TABLE listing_revisions (
    owner_id INTEGER NOT NULL,
    format   TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (owner_id, format)
) WITHOUT ROWID;

CREATE TRIGGER listing_revision_on_insert AFTER INSERT ON packages BEGIN
    UPDATE revision_counter SET n = n + 1;
    INSERT INTO listing_revisions (owner_id, format, revision)
        SELECT NEW.owner_id, NEW.format, n FROM revision_counter WHERE true
        ON CONFLICT (owner_id, format) DO UPDATE SET revision = excluded.revision;
END;

CREATE TRIGGER listing_revision_on_update AFTER UPDATE ON packages BEGIN
    UPDATE revision_counter SET n = n + 1;
    INSERT INTO listing_revisions (owner_id, format, revision)
        SELECT NEW.owner_id, NEW.format, n FROM revision_counter WHERE true
        ON CONFLICT (owner_id, format) DO UPDATE SET revision = excluded.revision;
END;

CREATE TRIGGER listing_revision_on_delete AFTER DELETE ON packages BEGIN
    UPDATE revision_counter SET n = n + 1;
    INSERT INTO listing_revisions (owner_id, format, revision)
        SELECT OLD.owner_id, OLD.format, n FROM revision_counter WHERE true
        ON CONFLICT (owner_id, format) DO UPDATE SET revision = excluded.revision;
END;
