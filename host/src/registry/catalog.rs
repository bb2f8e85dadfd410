//! What the management API shows: an owner's packages, a package's versions, one
//! version with its files, a page at a time.

use super::Registry;
use crate::db::owners::Owner;
use crate::db::packages;
pub use crate::db::packages::{FileRow, PackageRow, VersionRow};
use crate::error::Error;

/// Rows to skip and to show.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// A package in a listing, with what a list shows of its versions.
pub struct PackageSummary {
    pub package: PackageRow,
    pub latest_version: Option<String>,
    pub version_count: i64,
}

/// One version and its files.
pub struct VersionDetail {
    pub package: PackageRow,
    pub version: VersionRow,
    pub files: Vec<FileRow>,
}

/// The owner's packages (of `format`, matching `q`), with the total before paging.
pub async fn packages(
    registry: &Registry,
    owner: &Owner,
    format: Option<String>,
    q: Option<String>,
    page: Page,
) -> Result<(i64, Vec<PackageSummary>), Error> {
    let owner_id = owner.id;
    registry
        .db
        .read(move |conn| {
            let (total, rows) = packages::list(
                conn,
                owner_id,
                format.as_deref(),
                q.as_deref(),
                page.limit,
                page.offset,
            )?;
            let items = rows
                .into_iter()
                .map(|package| {
                    Ok(PackageSummary {
                        latest_version: packages::newest_version(conn, package.id)?
                            .map(|v| v.version),
                        version_count: packages::version_count(conn, package.id)?,
                        package,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok((total, items))
        })
        .await
}

/// A package's versions, with their total before paging; 404 without the package.
/// Downloads served so far are counted in, not only the flushed ones.
pub async fn versions(
    registry: &Registry,
    owner: &Owner,
    format: String,
    name: String,
    page: Page,
) -> Result<(i64, PackageRow, Vec<VersionRow>), Error> {
    registry.downloads.flush(&registry.db).await;
    let owner_id = owner.id;
    registry
        .db
        .read(move |conn| {
            let package = find(conn, owner_id, &format, &name)?;
            let total = packages::version_count(conn, package.id)?;
            let versions = packages::versions(conn, package.id, page.limit, page.offset)?;
            Ok((total, package, versions))
        })
        .await
}

/// One version with its files; 404 without the package or the version.
pub async fn version(
    registry: &Registry,
    owner: &Owner,
    format: String,
    name: String,
    version: String,
) -> Result<VersionDetail, Error> {
    registry.downloads.flush(&registry.db).await;
    let owner_id = owner.id;
    registry
        .db
        .read(move |conn| {
            let package = find(conn, owner_id, &format, &name)?;
            let version = packages::version(conn, package.id, &version)?
                .ok_or_else(|| Error::not_found(format!("version {version:?} not found")))?;
            let files = packages::files_of(conn, version.id)?;
            Ok(VersionDetail {
                package,
                version,
                files,
            })
        })
        .await
}

fn find(
    conn: &rusqlite::Connection,
    owner_id: i64,
    format: &str,
    name: &str,
) -> Result<PackageRow, Error> {
    packages::find(conn, owner_id, format, name)?
        .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))
}
