//! Deleting files, versions, packages and tags. Rows go at once; blob files stay until
//! garbage collection finds them unreferenced, so a delete never races a download.

use rusqlite::Transaction;

use super::{Registry, digests};
use crate::audit::{self, Deleted, Via};
use crate::db::blobs;
use crate::db::packages::{self, PackageRow};
use crate::error::Error;
pub use crate::plugins::api::DeleteTarget as Removal;
use crate::plugins::api::{BlobRef, FileRef, PackageRef, TagRef, VersionRef};

/// Removes `what` from this format's packages of `owner_id`, in one transaction.
pub async fn run(
    registry: &Registry,
    owner_id: i64,
    format: &str,
    what: Removal,
) -> Result<(), Error> {
    let format = format.to_string();
    // On a full disk SQLite needs room for its log to commit a delete.
    registry.blobs.space().make_room();
    registry
        .db
        .write(move |tx| match &what {
            Removal::File(f) => file(tx, owner_id, &format, f),
            Removal::Version(v) => version(tx, owner_id, &format, v),
            Removal::Package(p) => package_all(tx, owner_id, &format, p),
            Removal::Tag(t) => tag(tx, owner_id, &format, t),
            Removal::BlobLink(b) => blob_link(tx, owner_id, &format, b),
        })
        .await
}

fn package(
    tx: &Transaction<'_>,
    owner_id: i64,
    format: &str,
    pkg: &PackageRef,
) -> Result<PackageRow, Error> {
    packages::find(tx, owner_id, format, &pkg.name)?
        .ok_or_else(|| Error::not_found(format!("package {:?} not found", pkg.name)))
}

fn version_id(tx: &Transaction<'_>, package_id: i64, v: &VersionRef) -> Result<i64, Error> {
    packages::version(tx, package_id, &v.version)?
        .map(|v| v.id)
        .ok_or_else(|| Error::not_found(format!("version {:?} not found", v.version)))
}

/// Deletes one file; the version goes with its last file, the package with its last version.
pub fn file(tx: &Transaction<'_>, owner_id: i64, format: &str, f: &FileRef) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &f.version.pkg)?;
    let version_id = version_id(tx, pkg.id, &f.version)?;
    let row = packages::file(tx, version_id, &f.name)?
        .ok_or_else(|| Error::not_found(format!("file {:?} not found", f.name)))?;
    packages::delete_file(tx, row.id)?;
    if packages::file_count(tx, version_id)? == 0 {
        packages::delete_version(tx, version_id)?;
    }
    finish(tx, pkg.id)?;
    let (version, file) = (f.version.version.as_str(), f.name.as_str());
    audited(format, &f.version.pkg, Deleted::File { version, file });
    Ok(())
}

/// Every delete here comes from an HTTP request (a format's or the management API's).
fn audited(format: &str, pkg: &PackageRef, what: Deleted<'_>) {
    audit::deleted(&pkg.owner, format, &pkg.name, what, Via::Http);
}

pub fn version(
    tx: &Transaction<'_>,
    owner_id: i64,
    format: &str,
    v: &VersionRef,
) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &v.pkg)?;
    let version_id = version_id(tx, pkg.id, v)?;
    packages::delete_version(tx, version_id)?;
    finish(tx, pkg.id)?;
    audited(format, &v.pkg, Deleted::Version(&v.version));
    Ok(())
}

pub fn package_all(
    tx: &Transaction<'_>,
    owner_id: i64,
    format: &str,
    p: &PackageRef,
) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, p)?;
    packages::delete_package(tx, pkg.id)?;
    audited(format, p, Deleted::Package);
    Ok(())
}

pub fn tag(tx: &Transaction<'_>, owner_id: i64, format: &str, t: &TagRef) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &t.pkg)?;
    if !packages::remove_tag(tx, pkg.id, &t.tag)? {
        return Err(Error::not_found(format!("tag {:?} not found", t.tag)));
    }
    packages::touch(tx, pkg.id)?;
    audited(format, &t.pkg, Deleted::Tag(&t.tag));
    Ok(())
}

/// Removes a package's own link to a blob; versions referencing it keep the bytes.
pub fn blob_link(
    tx: &Transaction<'_>,
    owner_id: i64,
    format: &str,
    b: &BlobRef,
) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &b.pkg)?;
    let unlinked = match digests::resolve(tx, &b.digest)? {
        Some(sha256) => blobs::unlink_from_package(tx, pkg.id, &sha256)?,
        None => false,
    };
    if !unlinked {
        return Err(Error::not_found("blob not found"));
    }
    finish(tx, pkg.id)?;
    audited(format, &b.pkg, Deleted::BlobLink);
    Ok(())
}

/// Drops the package if it is now empty, else marks it changed.
fn finish(tx: &Transaction<'_>, package_id: i64) -> Result<(), Error> {
    if !packages::delete_if_empty(tx, package_id)? {
        packages::touch(tx, package_id)?;
    }
    Ok(())
}
