//! `wharf cache purge`: dropping what a proxy cached, so that the next request fetches
//! it again from the upstream (a package republished upstream under the same version,
//! SNAPSHOT files kept as first fetched, or disk to win back).

use crate::db::Db;
use crate::db::owners;
use crate::db::virtual_owners::{self, VirtualKind};
use crate::error::Error;

/// What a purge dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub packages: usize,
    pub documents: usize,
}

/// Drops the proxy `owner`'s cached `package` (any case; everything when `None`). Also
/// for a proxy whose table was removed from the configuration: its cache stays until
/// purged. Safe while the server runs: a request that finds nothing fetches anew.
pub fn purge(db: &Db, owner: &str, package: Option<&str>) -> Result<Purged, Error> {
    db.write_sync(|tx| {
        let found = owners::by_name(tx, owner)?
            .ok_or_else(|| Error::not_found(format!("no owner named {owner:?}")))?;
        if virtual_owners::kind_of(tx, found.id)? != Some(VirtualKind::Proxy) {
            return Err(Error::BadRequest(format!(
                "{} is not a proxy: only what a proxy cached can be purged",
                found.name
            )));
        }
        let (packages, documents) = crate::db::proxy::purge_cached(tx, found.id, package)?;
        Ok(Purged {
            packages,
            documents,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::owners::OwnerKind;
    use crate::db::packages::fixture::Pkg;

    #[test]
    fn only_proxies_are_purged() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        let proxy = db
            .write_sync(|tx| {
                owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                let proxy = owners::create(tx, "npm-public", OwnerKind::Org, None, false, false)?;
                virtual_owners::set(tx, proxy, VirtualKind::Proxy)?;
                Ok(proxy)
            })
            .unwrap();
        db.write_sync(|tx| {
            Pkg::new(proxy, "npm", "lodash").put(tx, "4.17.21", "lodash-4.17.21.tgz", b"x");
            Ok(())
        })
        .unwrap();
        let refused = purge(&db, "alice", None).unwrap_err();
        assert!(
            refused.to_string().contains("alice is not a proxy"),
            "{refused}"
        );
        assert!(matches!(
            purge(&db, "nobody", None),
            Err(Error::NotFound(_))
        ));
        let purged = purge(&db, "NPM-PUBLIC", Some("lodash")).unwrap();
        assert_eq!(purged.packages, 1);
        assert_eq!(purge(&db, "npm-public", None).unwrap().packages, 0);
    }
}
