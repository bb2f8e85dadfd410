//! Finding what a serve operation names: a stored file of a version, the newest file of
//! a name, a file by tag, a blob of a package by digest; and digests of stored files.

use rusqlite::Connection;

use super::{FormatEntry, Registry, digests, publish};
use crate::db::packages;
pub use crate::db::packages::FileRow;
use crate::error::Error;
use crate::plugins::api;

/// What a serve operation selects.
pub enum Selector {
    /// A file of a version, by name.
    File(api::FileRef),
    /// The newest file of that name in any version of the package.
    Named(api::FileByName),
    /// A blob of the package by digest: a version's file or a linked blob.
    Blob(api::BlobRef),
    /// The file of that name in the version a tag points at.
    Tagged(api::TaggedFile),
}

impl Selector {
    fn package(&self) -> &str {
        match self {
            Self::File(f) => &f.version.pkg.name,
            Self::Named(f) => &f.pkg.name,
            Self::Blob(b) => &b.pkg.name,
            Self::Tagged(t) => &t.tag.pkg.name,
        }
    }

    fn missing(&self) -> &'static str {
        match self {
            Self::File(_) | Self::Named(_) => "file not found",
            Self::Blob(_) => "blob not found",
            Self::Tagged(_) => "tag not found",
        }
    }

    fn find(&self, conn: &Connection, package_id: i64) -> Result<Option<FileRow>, Error> {
        match self {
            Self::File(f) => match packages::version(conn, package_id, &f.version.version)? {
                Some(v) => packages::file(conn, v.id, &f.name),
                None => Ok(None),
            },
            Self::Named(f) => packages::newest_file_named(conn, package_id, &f.name),
            Self::Blob(b) => package_blob(conn, package_id, &b.digest),
            Self::Tagged(t) => packages::tagged_file(conn, package_id, &t.tag.tag, &t.name),
        }
    }
}

/// The stored file `selector` names in this format's packages of `owner_id`, or 404.
/// Reads on the calling task: these are indexed lookups on the hot download path.
pub fn file(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    selector: Selector,
) -> Result<FileRow, Error> {
    let found = registry.db.read_now(|conn| {
        match packages::find(conn, owner_id, format, selector.package())? {
            Some(p) => selector.find(conn, p.id),
            None => Ok(None),
        }
    })?;
    found.ok_or_else(|| Error::not_found(selector.missing()))
}

/// The hex digest of a stored file in `algorithm`: remembered, or computed once by
/// reading the blob (on the blocking pool) and remembered.
pub async fn file_digest(
    registry: &Registry,
    entry: &FormatEntry,
    owner_id: i64,
    digest: api::FileDigestRef,
) -> Result<String, Error> {
    let file = file(registry, &entry.name, owner_id, Selector::File(digest.file))?;
    let services = crate::plugins::Services {
        db: registry.db.clone(),
        blobs: registry.blobs.clone(),
    };
    let algorithm = publish::algorithm(digest.algorithm);
    tokio::task::spawn_blocking(move || {
        crate::plugins::blob_digest(&services, &file.blob, algorithm)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// A blob of the package by digest, as a file to serve: a file of one of its versions
/// (with that file's content type: OCI manifests by digest), else a blob linked to it.
fn package_blob(
    conn: &Connection,
    package_id: i64,
    digest: &api::Digest,
) -> Result<Option<FileRow>, Error> {
    let Some(sha256) = digests::resolve(conn, digest)? else {
        return Ok(None);
    };
    if let Some(file) = packages::file_with_blob(conn, package_id, &sha256)? {
        return Ok(Some(file));
    }
    let Some((size, created)) = crate::db::blobs::package_blob(conn, package_id, &sha256)? else {
        return Ok(None);
    };
    Ok(Some(FileRow::linked_blob(sha256, size, created)))
}
