//! What the management API shows: an owner's packages, a package's versions, one
//! version with its files, a page at a time, with the accounts that own and published
//! them (Gitea's shapes name both).

use crate::db::Conn;

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
    /// For a file a proxy fetched: the upstream URL and when (seconds since the epoch).
    pub fetched: Option<(String, i64)>,
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
                "",
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
    f: impl FnOnce(&Conn<'_>, Owner, PackageRow) -> Result<R, Error> + Send + 'static,
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
                        fetched: crate::db::proxy::fetch_of(conn, row.id)?,
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

fn account_of(conn: &Conn<'_>, owner: Owner) -> Result<Account, Error> {
    Ok(Account {
        created: owners::created(conn, owner.id)?,
        owner,
    })
}

fn entry(conn: &Conn<'_>, row: VersionRow) -> Result<VersionEntry, Error> {
    let creator = match row.creator_id {
        Some(id) => owners::by_id(conn, id)?
            .map(|o| account_of(conn, o))
            .transpose()?,
        None => None,
    };
    Ok(VersionEntry { row, creator })
}

fn find(conn: &Conn<'_>, owner_id: i64, format: &str, name: &str) -> Result<PackageRow, Error> {
    packages::find(conn, owner_id, format, name)?
        .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::registry::testing::TestRegistry;

    /// alice's generic `app` 1.0 (published by bob, two files, one with a known sha1)
    /// and 2.0, plus `lib`, `tool` and an npm package; alice's account.
    fn setup() -> (TestRegistry, Owner) {
        let t = TestRegistry::open();
        let alice = fixture::seed(&t.registry.db, |conn, alice, bob| {
            let app = Pkg::new(alice, "generic", "app");
            packages::insert_version(conn, app.id(conn), "1.0", "{}", Some(bob)).unwrap();
            let a = app.put(conn, "1.0", "a", b"a");
            blobs::set_digest(conn, &a.blob, "sha1", "abc").unwrap();
            app.put(conn, "1.0", "b", b"b");
            app.put(conn, "2.0", "c", b"c");
            app.created(conn, "1.0", 1_000);
            Pkg::new(alice, "generic", "lib").put(conn, "1", "l", b"l");
            Pkg::new(alice, "generic", "tool").id(conn);
            Pkg::new(alice, "npm", "app").put(conn, "1", "t", b"t");
            alice
        });
        let owner = fixture::account(&t.registry.db, alice);
        (t, owner)
    }

    fn page(limit: i64, offset: i64) -> Page {
        Page { limit, offset }
    }

    // Guards the package list: the total before paging, the format filter, and each
    // package's newest version and version count (none for an empty package).
    #[tokio::test]
    async fn packages_are_paged_with_their_latest_version() {
        let (t, alice) = setup();
        let generic = Some("generic".to_string());
        let all = packages(&t.registry, &alice, generic.clone(), None, page(50, 0))
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        let summary: Vec<_> = all
            .packages
            .iter()
            .map(|p| {
                let latest = p.latest.as_ref().map(|v| v.row.version.as_str());
                (p.package.name.as_str(), latest, p.version_count)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("app", Some("2.0"), 2),
                ("lib", Some("1"), 1),
                ("tool", None, 0)
            ]
        );
        let second = packages(&t.registry, &alice, generic, None, page(1, 1))
            .await
            .unwrap();
        assert_eq!((second.total, second.packages.len()), (3, 1));
        assert_eq!(second.packages[0].package.name, "lib");
        let everything = packages(&t.registry, &alice, None, None, page(50, 0));
        assert_eq!(everything.await.unwrap().total, 4, "every format");
    }

    // Guards the version list: oldest first, publishers named until their account is
    // gone, downloads not yet flushed counted in, and a 404 for an unknown package.
    #[tokio::test]
    async fn versions_show_their_publisher_and_unflushed_downloads() {
        let (t, alice) = setup();
        let list = |name: &str| {
            versions(
                &t.registry,
                &alice,
                "generic".into(),
                name.into(),
                page(50, 0),
            )
        };
        let v1 = list("app").await.unwrap().versions[0].row.id;
        t.registry.downloads.record(v1);
        let listed = list("app").await.unwrap();
        assert_eq!(listed.total, 2);
        let first = &listed.versions[0];
        assert_eq!(
            (first.row.version.as_str(), first.row.downloads),
            ("1.0", 1)
        );
        let creator = first.creator.as_ref().map(|c| c.owner.name.as_str());
        assert_eq!(creator, Some("bob"));

        t.registry
            .db
            .write_sync(|tx| {
                let bob = owners::by_name(tx, "bob")?.expect("bob exists");
                owners::delete(tx, bob.id)
            })
            .unwrap();
        assert!(list("app").await.unwrap().versions[0].creator.is_none());
        assert!(matches!(list("nope").await, Err(Error::NotFound(_))));
    }

    // Guards the version view: its files with the digests already known, and 404s for
    // an unknown version or a package of another format.
    #[tokio::test]
    async fn a_version_shows_its_files_and_known_digests() {
        let (t, alice) = setup();
        let show = |format: &str, version: &str| {
            super::version(
                &t.registry,
                &alice,
                format.into(),
                "app".into(),
                version.into(),
            )
        };
        let detail = show("generic", "1.0").await.unwrap();
        let files: Vec<_> = detail
            .files
            .iter()
            .map(|f| (f.row.name.as_str(), f.digests.clone()))
            .collect();
        assert_eq!(
            files,
            [
                ("a", vec![("sha1".to_string(), "abc".to_string())]),
                ("b", vec![])
            ]
        );
        assert!(matches!(
            show("generic", "9").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(show("npm", "1.0").await, Err(Error::NotFound(_))));
    }
}
