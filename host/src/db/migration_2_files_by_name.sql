-- Migration 2: files by name across versions. npm's version-less tarball URL asks for
-- "the newest file called X in this package"; without this index SQLite walked every
-- version of the package to answer it.
CREATE INDEX files_by_name ON files(lower_name);
