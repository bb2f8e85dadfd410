//! Finding what a serve operation's selector names: a stored file of a version, the
//! newest file of a name in a package or across the owner's packages, a file by tag, a
//! blob of a package by digest; and digests of what was found.

use rusqlite::Connection;

use super::{Registry, digests, publish};
use crate::db::packages;
pub use crate::db::packages::FileRow;
use crate::error::Error;
use crate::plugins::api::{self, Selector};

/// The package a selector names, if it names one (an owner-wide file name does not).
fn package(selector: &Selector) -> Option<&str> {
    match selector {
        Selector::File(f) => Some(&f.version.pkg.name),
        Selector::PackageFile(f) => Some(&f.pkg.name),
        Selector::Blob(b) => Some(&b.pkg.name),
        Selector::Tagged(t) => Some(&t.tag.pkg.name),
        Selector::OwnerFile(_) => None,
    }
}

fn missing(selector: &Selector) -> &'static str {
    match selector {
        Selector::File(_) | Selector::PackageFile(_) | Selector::OwnerFile(_) => "file not found",
        Selector::Blob(_) => "blob not found",
        Selector::Tagged(_) => "tag not found",
    }
}

fn find_in(
    conn: &Connection,
    selector: &Selector,
    package_id: i64,
) -> Result<Option<FileRow>, Error> {
    match selector {
        Selector::File(f) => match packages::version(conn, package_id, &f.version.version)? {
            Some(v) => packages::file(conn, v.id, &f.name),
            None => Ok(None),
        },
        Selector::PackageFile(f) => packages::newest_file_named(conn, package_id, &f.name),
        Selector::Blob(b) => package_blob(conn, package_id, &b.digest),
        Selector::Tagged(t) => packages::tagged_file(conn, package_id, &t.tag.tag, &t.name),
        Selector::OwnerFile(_) => Ok(None),
    }
}

/// The stored file `selector` names in this format's packages of `owner_id`, or 404.
/// Reads on the calling task: these are indexed lookups on the hot download path.
pub fn file(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    selector: &Selector,
) -> Result<FileRow, Error> {
    let found = registry
        .db
        .read_now(|conn| match (selector, package(selector)) {
            (Selector::OwnerFile(f), _) => {
                packages::newest_owner_file(conn, owner_id, format, &f.name)
            }
            (_, Some(name)) => match packages::find(conn, owner_id, format, name)? {
                Some(p) => find_in(conn, selector, p.id),
                None => Ok(None),
            },
            (_, None) => Ok(None),
        })?;
    found.ok_or_else(|| Error::not_found(missing(selector)))
}

/// The hex digest of a found file in `algorithm`: remembered, or computed once by
/// reading the blob (on the blocking pool) and remembered.
pub async fn file_digest(
    registry: &Registry,
    file: FileRow,
    algorithm: api::HashAlgorithm,
) -> Result<String, Error> {
    let services = crate::plugins::Services {
        db: registry.db.clone(),
        blobs: registry.blobs.clone(),
    };
    let algorithm = publish::algorithm(algorithm);
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
