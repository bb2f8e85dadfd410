//! What the web UI shows, read with the caller's rights: the owners a caller may read,
//! a search across them, and one package's page (a page of its versions, newest first,
//! its tags, and one version's files). An owner the caller may not read is "not
//! found", exactly like one that does not exist, so private owners are never revealed.
//! Listing one owner's packages and one version's files reuse `catalog`.

use super::Registry;
use super::catalog::Page;
use crate::auth::{self, Access, Principal};
use crate::db::Conn;
use crate::db::owners::{self, Owner, OwnerKind, Role};
use crate::db::packages::{self, FileRow, PackageRow, VersionRow};
use crate::error::Error;

/// A package found by a search, with its owner's name and newest version.
pub struct Found {
    pub owner: String,
    pub package: PackageRow,
    pub latest: Option<VersionRow>,
}

/// One package as its page shows it.
pub struct Overview {
    pub package: PackageRow,
    /// Versions in all, before paging.
    pub total: i64,
    /// This page of versions, newest first.
    pub versions: Vec<VersionRow>,
    /// (tag, version), as stored.
    pub tags: Vec<(String, String)>,
    /// The version the page is about (the newest, or the one asked for), with its files.
    pub shown: Option<(VersionRow, Vec<FileRow>)>,
}

fn hidden(name: &str) -> Error {
    Error::not_found(format!("owner {name:?} not found"))
}

/// The owner named `name` if `principal` may read its packages; not found otherwise.
pub async fn readable_owner(
    registry: &Registry,
    principal: &Principal,
    name: &str,
) -> Result<Owner, Error> {
    let (principal, name) = (principal.clone(), name.to_string());
    registry
        .db
        .read(move |conn| {
            let owner = owners::by_name(conn, &name)?.ok_or_else(|| hidden(&name))?;
            if auth::granted_access(conn, &principal, &owner)? < Access::Read {
                return Err(hidden(&name));
            }
            Ok(owner)
        })
        .await
}

/// Ids of every owner (user or organization) `principal` may read.
fn readable_ids(conn: &Conn<'_>, principal: &Principal) -> Result<Vec<i64>, Error> {
    let mut ids = Vec::new();
    for kind in [OwnerKind::User, OwnerKind::Org] {
        for owner in owners::list(conn, kind)? {
            if auth::granted_access(conn, principal, &owner)? >= Access::Read {
                ids.push(owner.id);
            }
        }
    }
    Ok(ids)
}

/// Packages of every owner `principal` may read whose name contains `query` (all of
/// them without one), most recently changed first; the total before paging.
pub async fn search(
    registry: &Registry,
    principal: &Principal,
    query: Option<String>,
    page: Page,
) -> Result<(i64, Vec<Found>), Error> {
    let principal = principal.clone();
    registry
        .db
        .read(move |conn| {
            let ids = readable_ids(conn, &principal)?;
            let (total, rows) =
                packages::across_owners(conn, &ids, query.as_deref(), page.limit, page.offset)?;
            let found = rows
                .into_iter()
                .map(|(owner, package)| {
                    Ok(Found {
                        latest: packages::newest_version(conn, package.id)?,
                        owner,
                        package,
                    })
                })
                .collect::<Result<_, Error>>()?;
            Ok((total, found))
        })
        .await
}

/// Where page `page` of `total` rows lies when the newest come first, in the
/// oldest-first order the database lists them: (limit, offset).
fn newest_first(total: i64, page: Page) -> (i64, i64) {
    let end = total.saturating_sub(page.offset);
    let start = end.saturating_sub(page.limit).max(0);
    ((end - start).max(0), start)
}

/// A readable owner's package `name` of `format` for its page: a page of versions,
/// its tags, and `version` (the newest without one) with its files. Not found without
/// the package or that version. Downloads served so far are counted in.
pub async fn package(
    registry: &Registry,
    owner: &Owner,
    format: String,
    name: String,
    version: Option<String>,
    page: Page,
) -> Result<Overview, Error> {
    registry.downloads.flush(&registry.db).await;
    let owner_id = owner.id;
    registry
        .db
        .read(move |conn| {
            let package = packages::find(conn, owner_id, &format, &name)?
                .ok_or_else(|| Error::not_found(format!("package {name:?} not found")))?;
            let total = packages::version_count(conn, package.id)?;
            let (limit, offset) = newest_first(total, page);
            let mut versions = packages::versions(conn, package.id, limit, offset)?;
            versions.reverse();
            let shown = match &version {
                Some(v) => Some(
                    packages::version(conn, package.id, v)?
                        .ok_or_else(|| Error::not_found(format!("version {v:?} not found")))?,
                ),
                None => packages::newest_version(conn, package.id)?,
            };
            let shown = shown
                .map(|v| Ok::<_, Error>((packages::files_of(conn, v.id)?, v)))
                .transpose()?
                .map(|(files, v)| (v, files));
            Ok(Overview {
                tags: packages::tags(conn, package.id)?,
                package,
                total,
                versions,
                shown,
            })
        })
        .await
}

/// An organization's members and their roles; not found for a user.
pub async fn members(registry: &Registry, owner: &Owner) -> Result<Vec<(String, Role)>, Error> {
    if owner.kind != OwnerKind::Org {
        return Err(Error::not_found(format!(
            "{:?} is a user, not an organization",
            owner.name
        )));
    }
    let id = owner.id;
    registry
        .db
        .read(move |conn| owners::members(conn, id))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Checked;
    use crate::db::packages::fixture::Pkg;
    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    #[test]
    fn newest_first_pages_count_back_from_the_end() {
        let page = |limit, offset| Page { limit, offset };
        assert_eq!(newest_first(10, page(3, 0)), (3, 7));
        assert_eq!(newest_first(10, page(3, 9)), (1, 0));
        assert_eq!(newest_first(10, page(3, 12)), (0, 0), "past the end");
        assert_eq!(newest_first(0, page(50, 0)), (0, 0));
    }

    // Guards the privacy rule: a private organization's packages are neither found
    // nor counted for a visitor, and its owner reads as absent; its member sees both.
    #[tokio::test]
    async fn private_owners_are_invisible_to_visitors() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Read);
        t.registry
            .db
            .write_sync(|tx| {
                let alice = owners::by_name(tx, "alice")?.unwrap().id;
                let secret = owners::create(tx, "secret", OwnerKind::Org, None, false, true)?;
                owners::set_member(tx, secret, alice, Role::Read)?;
                Pkg::new(secret, "generic", "hidden-app").put(tx, "1", "h", b"h");
                Pkg::new(alice, "generic", "open-app").put(tx, "1", "o", b"o");
                Ok(())
            })
            .unwrap();
        let all = Page {
            limit: 50,
            offset: 0,
        };
        let (total, found) = search(&t.registry, &Principal::Anonymous, Some("app".into()), all)
            .await
            .unwrap();
        assert_eq!(total, 1);
        assert_eq!(found[0].package.name, "open-app");
        let hidden = readable_owner(&t.registry, &Principal::Anonymous, "secret").await;
        assert!(matches!(hidden, Err(Error::NotFound(_))));

        let member = t
            .registry
            .db
            .read_sync(|conn| auth::authenticate(conn, &Checked::Token(token)))
            .unwrap();
        let (total, _) = search(&t.registry, &member, None, all).await.unwrap();
        assert_eq!(total, 2);
        let secret = readable_owner(&t.registry, &member, "secret")
            .await
            .unwrap();
        let members = members(&t.registry, &secret).await.unwrap();
        assert_eq!(members, [("alice".to_string(), Role::Read)]);
    }
}
