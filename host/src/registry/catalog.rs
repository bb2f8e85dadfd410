//! What the management API shows: an owner's packages, a package's versions, one
//! version with its files, a page at a time, with the accounts that own and published
//! them (Gitea's shapes name both).

use rusqlite::Connection;

use super::Registry;
use crate::db::owners::{self, Owner};
pub use crate::db::packages::{FileRow, PackageRow, VersionRow};
use crate::db::{blobs, packages};
use crate::error::Error;

/// Rows to skip and to show.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// An owner or a publisher, with when the account was made.
#[derive(Debug, Clone)]
pub struct Account {
    pub owner: Owner,
    pub created: i64,
}

/// A version and who published it (`None` once that account is deleted).
pub struct VersionEntry {
    pub row: VersionRow,
    pub creator: Option<Account>,
}

/// A package in a listing, with what a list shows of its versions.
pub struct PackageSummary {
    pub package: PackageRow,
    pub latest: Option<VersionEntry>,
    pub version_count: i64,
}

/// A file with the secondary digests already known for its blob (none are computed
/// for a listing), as (algorithm, hex) pairs.
pub struct FileEntry {
    pub row: FileRow,
    pub digests: Vec<(String, String)>,
}

/// One version and its files.
pub struct VersionDetail {
    pub owner: Account,
    pub package: PackageRow,
    pub version: VersionEntry,
    pub files: Vec<FileEntry>,
}

/// A page of versions of one package.
pub struct VersionPage {
    pub owner: Account,
    pub package: PackageRow,
    pub total: i64,
    pub versions: Vec<VersionEntry>,
}

/// A page of an owner's packages.
pub struct PackagePage {
    pub owner: Account,
    pub total: i64,
    pub packages: Vec<PackageSummary>,
}

/// The owner's packages (of `format`, matching `q`), with the total before paging.
pub async fn packages(
    registry: &Registry,
    owner: &Owner,
    format: Option<String>,
    q: Option<String>,
    page: Page,
) -> Result<PackagePage, Error> {
    let owner_id = owner.id;
    let owner = owner.clone();
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
                    let latest = packages::newest_version(conn, package.id)?;
                    Ok(PackageSummary {
                        latest: latest.map(|row| entry(conn, row)).transpose()?,
                        version_count: packages::version_count(conn, package.id)?,
                        package,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(PackagePage {
                owner: account_of(conn, owner)?,
                total,
                packages: items,
            })
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
) -> Result<VersionPage, Error> {
    read_package(
        registry,
        owner,
        format,
        name,
        move |conn, owner, package| {
            let total = packages::version_count(conn, package.id)?;
            let versions = packages::versions(conn, package.id, page.limit, page.offset)?
                .into_iter()
                .map(|row| entry(conn, row))
                .collect::<Result<_, _>>()?;
            Ok(VersionPage {
                owner: account_of(conn, owner)?,
                package,
                total,
                versions,
            })
        },
    )
    .await
}

/// Runs `f` on a reader with the owner and its package `name` of `format` (404
/// without it), after counting in the downloads served so far.
async fn read_package<R: Send + 'static>(
    registry: &Registry,
    owner: &Owner,
    format: String,
    name: String,
    f: impl FnOnce(&rusqlite::Connection, Owner, PackageRow) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    registry.downloads.flush(&registry.db).await;
    let owner = owner.clone();
    registry
        .db
        .read(move |conn| {
            let package = find(conn, owner.id, &format, &name)?;
            f(conn, owner, package)
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
    read_package(
        registry,
        owner,
        format,
        name,
        move |conn, owner, package| {
            let version = packages::version(conn, package.id, &version)?
                .ok_or_else(|| Error::not_found(format!("version {version:?} not found")))?;
            let files = packages::files_of(conn, version.id)?
                .into_iter()
                .map(|row| {
                    Ok(FileEntry {
                        digests: blobs::digests(conn, &row.blob)?,
                        row,
                    })
                })
                .collect::<Result<_, Error>>()?;
            Ok(VersionDetail {
                owner: account_of(conn, owner)?,
                package,
                version: entry(conn, version)?,
                files,
            })
        },
    )
    .await
}

fn account_of(conn: &Connection, owner: Owner) -> Result<Account, Error> {
    Ok(Account {
        created: owners::created(conn, owner.id)?,
        owner,
    })
}

fn entry(conn: &Connection, row: VersionRow) -> Result<VersionEntry, Error> {
    let creator = match row.creator_id {
        Some(id) => owners::by_id(conn, id)?
            .map(|o| account_of(conn, o))
            .transpose()?,
        None => None,
    };
    Ok(VersionEntry { row, creator })
}

fn find(conn: &Connection, owner_id: i64, format: &str, name: &str) -> Result<PackageRow, Error> {
    packages::find(conn, owner_id, format, name)?
        .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))
}
