//! Deleting files, versions, packages and tags. Rows go at once; blob files stay until
//! garbage collection finds them unreferenced, so a delete never races a download.

use crate::db::Tx;

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
    tx: &Tx<'_>,
    owner_id: i64,
    format: &str,
    pkg: &PackageRef,
) -> Result<PackageRow, Error> {
    packages::find(tx, owner_id, format, &pkg.name)?
        .ok_or_else(|| Error::not_found(format!("package {:?} not found", pkg.name)))
}

fn version_id(tx: &Tx<'_>, package_id: i64, v: &VersionRef) -> Result<i64, Error> {
    packages::version(tx, package_id, &v.version)?
        .map(|v| v.id)
        .ok_or_else(|| Error::not_found(format!("version {:?} not found", v.version)))
}

/// Deletes one file; the version goes with its last file, the package with its last version.
pub fn file(tx: &Tx<'_>, owner_id: i64, format: &str, f: &FileRef) -> Result<(), Error> {
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

pub fn version(tx: &Tx<'_>, owner_id: i64, format: &str, v: &VersionRef) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &v.pkg)?;
    let version_id = version_id(tx, pkg.id, v)?;
    packages::delete_version(tx, version_id)?;
    finish(tx, pkg.id)?;
    audited(format, &v.pkg, Deleted::Version(&v.version));
    Ok(())
}

pub fn package_all(tx: &Tx<'_>, owner_id: i64, format: &str, p: &PackageRef) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, p)?;
    packages::delete_package(tx, pkg.id)?;
    audited(format, p, Deleted::Package);
    Ok(())
}

pub fn tag(tx: &Tx<'_>, owner_id: i64, format: &str, t: &TagRef) -> Result<(), Error> {
    let pkg = package(tx, owner_id, format, &t.pkg)?;
    if !packages::remove_tag(tx, pkg.id, &t.tag)? {
        return Err(Error::not_found(format!("tag {:?} not found", t.tag)));
    }
    packages::touch(tx, pkg.id)?;
    audited(format, &t.pkg, Deleted::Tag(&t.tag));
    Ok(())
}

/// Removes a package's own link to a blob; versions referencing it keep the bytes.
pub fn blob_link(tx: &Tx<'_>, owner_id: i64, format: &str, b: &BlobRef) -> Result<(), Error> {
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
fn finish(tx: &Tx<'_>, package_id: i64) -> Result<(), Error> {
    if !packages::delete_if_empty(tx, package_id)? {
        packages::touch(tx, package_id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Conn;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::plugins::api::{Digest, HashAlgorithm};
    use crate::registry::testing::TestRegistry;

    /// A registry where alice has generic `app` 1.0 (a, b) and 2.0 (c) with tag
    /// `stable` on 1.0, and look-alikes that no delete of `app` may touch: her npm
    /// `app` and bob's generic `app`.
    struct Setup {
        t: TestRegistry,
        alice: i64,
        bob: i64,
    }

    impl Setup {
        fn new() -> Self {
            let t = TestRegistry::open();
            let (alice, bob) = fixture::seed(&t.registry.db, |conn, alice, bob| {
                let app = Pkg::new(alice, "generic", "app");
                app.put(conn, "1.0", "a", b"a");
                app.put(conn, "1.0", "b", b"b");
                app.put(conn, "2.0", "c", b"c");
                app.tag(conn, "stable", "1.0");
                Pkg::new(alice, "npm", "app").put(conn, "1.0", "a", b"npm");
                Pkg::new(bob, "generic", "app").put(conn, "1.0", "a", b"bob");
                (alice, bob)
            });
            Self { t, alice, bob }
        }

        fn app(&self) -> Pkg<'static> {
            Pkg::new(self.alice, "generic", "app")
        }

        async fn delete(&self, what: Removal) -> Result<(), Error> {
            run(&self.t.registry, self.alice, "generic", what).await
        }

        fn read<R>(&self, f: impl FnOnce(&Conn<'_>) -> R) -> R {
            self.t.registry.db.read_now(|conn| Ok(f(conn))).unwrap()
        }

        /// The look-alikes are whole: same-named packages of another format and owner.
        fn others_untouched(&self) {
            self.read(|conn| {
                assert!(Pkg::new(self.alice, "npm", "app").has_version(conn, "1.0"));
                assert!(Pkg::new(self.bob, "generic", "app").has_version(conn, "1.0"));
            });
        }
    }

    fn version(v: &str) -> VersionRef {
        VersionRef {
            pkg: fixture::pkg_ref("alice", "app"),
            version: v.into(),
        }
    }

    fn file(v: &str, name: &str) -> FileRef {
        FileRef {
            version: version(v),
            name: name.into(),
        }
    }

    fn tag(name: &str) -> TagRef {
        TagRef {
            pkg: fixture::pkg_ref("alice", "app"),
            tag: name.into(),
        }
    }

    fn not_found(result: Result<(), Error>) -> String {
        match result {
            Err(Error::NotFound(what)) => what,
            other => panic!("expected a 404, got {other:?}"),
        }
    }

    // Guards "a version goes with its last file, a package with its last version", and
    // that each delete moves the package's revision (cached indexes must re-render).
    #[tokio::test]
    async fn files_take_their_version_and_package_with_the_last_one() {
        let s = Setup::new();
        let before = s.read(|conn| s.app().revision(conn));
        s.delete(Removal::File(file("1.0", "a"))).await.unwrap();
        let after_one = s.read(|conn| {
            assert!(s.app().has_version(conn, "1.0"), "b is left");
            s.app().revision(conn)
        });
        assert!(after_one > before);
        s.delete(Removal::File(file("1.0", "B"))).await.unwrap();
        s.read(|conn| {
            assert!(!s.app().has_version(conn, "1.0"));
            let tags = packages::tags(conn, s.app().id_if_any(conn).unwrap()).unwrap();
            assert!(tags.is_empty(), "the tag went with its version");
        });
        s.delete(Removal::File(file("2.0", "c"))).await.unwrap();
        assert!(!s.read(|conn| s.app().exists(conn)));
        s.others_untouched();
    }

    // Guards version deletes: the version, its files and the tags on it go; the rest
    // of the package stays, and the last version takes the package.
    #[tokio::test]
    async fn a_version_goes_with_its_files_and_tags() {
        let s = Setup::new();
        s.delete(Removal::Version(version("1.0"))).await.unwrap();
        s.read(|conn| {
            assert!(!s.app().has_version(conn, "1.0"));
            assert!(s.app().has_version(conn, "2.0"));
            let id = s.app().id_if_any(conn).unwrap();
            assert!(packages::tags(conn, id).unwrap().is_empty());
        });
        s.delete(Removal::Version(version("2.0"))).await.unwrap();
        assert!(!s.read(|conn| s.app().exists(conn)));
        s.others_untouched();
    }

    // Guards package deletes: every version goes, look-alikes stay.
    #[tokio::test]
    async fn a_package_goes_whole() {
        let s = Setup::new();
        let app = fixture::pkg_ref("alice", "APP");
        s.delete(Removal::Package(app)).await.unwrap();
        assert!(!s.read(|conn| s.app().exists(conn)));
        s.others_untouched();
    }

    // Guards tag removal: the tag goes, its version stays, the revision moves.
    #[tokio::test]
    async fn a_tag_goes_alone() {
        let s = Setup::new();
        let before = s.read(|conn| s.app().revision(conn));
        s.delete(Removal::Tag(tag("stable"))).await.unwrap();
        s.read(|conn| {
            assert!(s.app().has_version(conn, "1.0"));
            assert!(s.app().revision(conn) > before);
        });
        let again = s.delete(Removal::Tag(tag("stable"))).await;
        assert_eq!(not_found(again), "tag \"stable\" not found");
    }

    // Guards OCI `DELETE /blobs/{digest}`: the package's own link goes (and a package
    // that only held that link with it); a blob that is only a version's file has no
    // link to remove (404) and stays served.
    #[tokio::test]
    async fn blob_links_go_but_versions_keep_their_blobs() {
        let s = Setup::new();
        let layer = fixture::sha256(b"layer");
        let only = Pkg::new(s.alice, "generic", "layers-only");
        s.t.registry
            .db
            .write_sync(|tx| {
                crate::db::blobs::insert(tx, &layer, 5)?;
                blobs::link_to_package(tx, only.id(tx), &layer)
            })
            .unwrap();
        let link = |name: &str, hex: String| {
            Removal::BlobLink(BlobRef {
                pkg: fixture::pkg_ref("alice", name),
                digest: Digest {
                    algorithm: HashAlgorithm::Sha256,
                    hex,
                },
            })
        };
        s.delete(link("layers-only", layer.clone())).await.unwrap();
        assert!(!s.read(|conn| only.exists(conn)), "nothing else held it");

        let held = s.delete(link("app", fixture::sha256(b"a"))).await;
        assert_eq!(not_found(held), "blob not found");
        assert!(s.read(|conn| s.app().has_version(conn, "1.0")));
        let bad = s.delete(link("app", "xyz".into())).await;
        assert!(matches!(bad, Err(Error::BadRequest(_))));
    }

    // Guards the 404s: a missing package, version or file names what is missing, and
    // nothing is deleted.
    #[tokio::test]
    async fn missing_targets_are_404s_that_change_nothing() {
        let s = Setup::new();
        let before = s.read(|conn| s.app().revision(conn));
        let nope = fixture::pkg_ref("alice", "nope");
        for (what, expected) in [
            (Removal::Package(nope), "package \"nope\" not found"),
            (Removal::Version(version("9")), "version \"9\" not found"),
            (Removal::File(file("2.0", "z")), "file \"z\" not found"),
        ] {
            assert_eq!(not_found(s.delete(what).await), expected);
        }
        // A package of another format is not this format's.
        let npm_only = Pkg::new(s.alice, "npm", "npm-only");
        s.t.registry
            .db
            .write_sync(|tx| {
                npm_only.put(tx, "1", "f", b"f");
                Ok(())
            })
            .unwrap();
        let other = s
            .delete(Removal::Package(fixture::pkg_ref("alice", "npm-only")))
            .await;
        assert_eq!(not_found(other), "package \"npm-only\" not found");
        assert_eq!(s.read(|conn| s.app().revision(conn)), before);
        s.others_untouched();
    }
}
