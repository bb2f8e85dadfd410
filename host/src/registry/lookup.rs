//! Finding what a serve operation's selector names: a stored file of a version, the
//! newest file of a name in a package or across the owner's packages, a file by tag, a
//! blob of a package by digest; and digests of what was found.

use crate::db::Conn;

use super::kept::{Footprint, Listing};
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
    conn: &Conn<'_>,
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
/// `listing` is the owner's listing revision if stage 1 read it: then a row (or its
/// absence) read by an earlier request at the same revision is served from memory,
/// which leaves stage 1's round trip the only database work of a download.
pub fn file(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    selector: &Selector,
    listing: Option<Listing>,
) -> Result<FileRow, Error> {
    let kept = listing
        .filter(|l| l.owner_id == owner_id)
        .zip(Wanted::of(format, selector));
    let found = match kept {
        Some((listing, wanted)) => match registry.files.get(listing, wanted.clone()) {
            Some(found) => found,
            None => {
                let found = read(registry, format, owner_id, selector)?;
                registry.files.keep(listing, wanted, found.clone());
                found
            }
        },
        None => read(registry, format, owner_id, selector)?,
    };
    found.ok_or_else(|| Error::not_found(missing(selector)))
}

fn read(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    selector: &Selector,
) -> Result<Option<FileRow>, Error> {
    registry
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
        })
}

/// What a selector names, as the key its file row is kept under (see `kept`). Every
/// change that could alter the answer touches the package, which moves the listing.
/// Blobs by digest are not kept: their answer also depends on digests recorded later
/// and on links the collector drops, neither of which moves the listing.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct Wanted {
    format: String,
    kind: u8,
    parts: [String; 3],
}

impl Footprint for Wanted {
    fn footprint(&self) -> usize {
        self.format.len() + self.parts.iter().map(String::len).sum::<usize>()
    }
}

impl Wanted {
    fn of(format: &str, selector: &Selector) -> Option<Self> {
        let (kind, parts) = match selector {
            Selector::File(f) => (0, [&*f.version.pkg.name, &f.version.version, &f.name]),
            Selector::PackageFile(f) => (1, [&*f.pkg.name, &f.name, ""]),
            Selector::Tagged(t) => (2, [&*t.tag.pkg.name, &t.tag.tag, &t.name]),
            Selector::OwnerFile(f) => (3, [&*f.name, "", ""]),
            Selector::Blob(_) => return None,
        };
        Some(Self {
            format: format.to_string(),
            kind,
            parts: parts.map(str::to_string),
        })
    }
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
    conn: &Conn<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::plugins::api::{
        BlobRef, Digest, FileRef, HashAlgorithm, OwnerFile, PackageFile, PackageRef, TagRef,
        TaggedFile, VersionRef,
    };
    use crate::registry::testing::TestRegistry;

    /// A registry with users alice and bob, seeded by `seed`; alice's id.
    fn seeded(seed: impl FnOnce(&Conn<'_>, i64, i64)) -> (TestRegistry, i64) {
        let t = TestRegistry::open();
        let alice = fixture::seed(&t.registry.db, |conn, alice, bob| {
            seed(conn, alice, bob);
            alice
        });
        (t, alice)
    }

    fn pkg(name: &str) -> PackageRef {
        fixture::pkg_ref("alice", name)
    }

    fn sha(hex: String) -> Digest {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            hex,
        }
    }

    fn blob(name: &str, digest: Digest) -> Selector {
        Selector::Blob(BlobRef {
            pkg: pkg(name),
            digest,
        })
    }

    /// The owner's listing revision of `format` now, as stage 1 would read it.
    fn listing(t: &TestRegistry, format: &str, owner_id: i64) -> Listing {
        let revision = t
            .registry
            .db
            .read_now(|conn| {
                conn.query_opt(
                    "SELECT revision FROM listing_revisions WHERE owner_id = ?1 AND format = ?2",
                    &[&owner_id, &format],
                    |r| r.get(0),
                )
            })
            .unwrap()
            .unwrap_or(0);
        Listing { owner_id, revision }
    }

    /// Looks up as a request does: at the listing revision of the moment, so rows are
    /// kept and reused as they are when serving.
    fn found(t: &TestRegistry, format: &str, owner: i64, selector: &Selector) -> FileRow {
        found_at(t, format, listing(t, format, owner), selector)
    }

    fn found_at(t: &TestRegistry, format: &str, at: Listing, selector: &Selector) -> FileRow {
        file(&t.registry, format, at.owner_id, selector, Some(at))
            .expect("the selector names a file")
    }

    fn missing_as(t: &TestRegistry, format: &str, owner: i64, selector: &Selector) -> String {
        missing_at(t, format, listing(t, format, owner), selector)
    }

    fn missing_at(t: &TestRegistry, format: &str, at: Listing, selector: &Selector) -> String {
        match file(&t.registry, format, at.owner_id, selector, Some(at)) {
            Err(Error::NotFound(what)) => what,
            other => panic!("expected a 404, got {other:?}"),
        }
    }

    fn file_of(version: &str, name: &str) -> Selector {
        Selector::File(FileRef {
            version: VersionRef {
                pkg: pkg("app"),
                version: version.into(),
            },
            name: name.into(),
        })
    }

    // Guards the file rows kept per listing revision: a request at the revision a
    // lookup was made at reuses its answer, found or absent (it never saw the later
    // publish), and a request after the publish sees the new file, as one arriving
    // through another node would (the revision is read from the shared database).
    #[test]
    fn a_kept_answer_holds_until_the_listing_moves() {
        let (t, alice) = seeded(|conn, alice, _| {
            Pkg::new(alice, "generic", "app").put(conn, "1.0", "a.bin", b"one");
        });
        let before = listing(&t, "generic", alice);
        assert_eq!(
            found_at(&t, "generic", before, &file_of("1.0", "a.bin")).blob,
            fixture::sha256(b"one")
        );
        let two = file_of("2.0", "a.bin");
        assert_eq!(missing_at(&t, "generic", before, &two), "file not found");

        t.registry
            .db
            .write_sync(|tx| Ok(Pkg::new(alice, "generic", "app").put(tx, "2.0", "a.bin", b"two")))
            .unwrap();
        assert_eq!(missing_at(&t, "generic", before, &two), "file not found");
        let after = listing(&t, "generic", alice);
        assert_ne!(after, before);
        assert_eq!(
            found_at(&t, "generic", after, &two).blob,
            fixture::sha256(b"two")
        );
        let other_owner = Listing {
            owner_id: alice + 1,
            ..after
        };
        assert!(file(&t.registry, "generic", alice, &two, Some(other_owner)).is_ok());
    }

    // Guards what is not kept: a blob by digest, whose link the collector drops without
    // moving the listing. The next lookup at the same revision reads again and finds
    // nothing, rather than a row naming a blob about to be deleted.
    #[test]
    fn blobs_by_digest_are_always_read() {
        let linked = fixture::sha256(b"layer");
        let (t, alice) = seeded(|conn, alice, _| {
            let img = Pkg::new(alice, "oci", "img");
            img.put(conn, "v1", "manifest", b"m");
            crate::db::blobs::insert(conn, &linked, 5).unwrap();
            crate::db::blobs::link_to_package(conn, img.id(conn), &linked).unwrap();
        });
        let at = listing(&t, "oci", alice);
        let selector = blob("img", sha(linked.clone()));
        assert_eq!(found_at(&t, "oci", at, &selector).blob, linked);
        let unlinked = t.registry.db.write_sync(|tx| {
            let img = Pkg::new(alice, "oci", "img").id(tx);
            crate::db::blobs::unlink_from_package(tx, img, &linked)
        });
        assert!(unlinked.unwrap());
        assert_eq!(missing_at(&t, "oci", at, &selector), "blob not found");
    }

    // Guards `file`: the named version's file, and a 404 for a missing version, file
    // or package (never another version's file).
    #[test]
    fn file_selector_names_one_version() {
        let (t, alice) = seeded(|conn, alice, _| {
            let app = Pkg::new(alice, "generic", "app");
            app.put(conn, "1.0", "a.bin", b"one");
            app.put(conn, "2.0", "a.bin", b"two");
        });
        let select = |name: &str, version: &str, file: &str| {
            Selector::File(FileRef {
                version: VersionRef {
                    pkg: pkg(name),
                    version: version.into(),
                },
                name: file.into(),
            })
        };
        let one = found(&t, "generic", alice, &select("app", "1.0", "a.bin"));
        assert_eq!(one.blob, fixture::sha256(b"one"));
        for absent in [
            select("app", "3.0", "a.bin"),
            select("app", "1.0", "b.bin"),
            select("nope", "1.0", "a.bin"),
        ] {
            assert_eq!(missing_as(&t, "generic", alice, &absent), "file not found");
        }
        let other_format = select("app", "1.0", "a.bin");
        assert_eq!(
            missing_as(&t, "npm", alice, &other_format),
            "file not found"
        );
    }

    // Guards npm's version-less tarball URL: the newest version's file of the name.
    #[test]
    fn package_file_selector_takes_the_newest_version() {
        let (t, alice) = seeded(|conn, alice, _| {
            let app = Pkg::new(alice, "npm", "app");
            app.put(conn, "2.0", "app.tgz", b"new");
            app.put(conn, "1.0", "app.tgz", b"old");
            app.created(conn, "2.0", 2_000);
            app.created(conn, "1.0", 1_000);
        });
        let selector = Selector::PackageFile(PackageFile {
            pkg: pkg("app"),
            name: "app.tgz".into(),
        });
        assert_eq!(
            found(&t, "npm", alice, &selector).blob,
            fixture::sha256(b"new")
        );
    }

    // Guards Helm's `/charts/{file}`: newest across the owner's packages of the format,
    // never another format's or another owner's file of that name.
    #[test]
    fn owner_file_selector_spans_the_owners_packages_of_the_format() {
        let (t, alice) = seeded(|conn, alice, bob| {
            Pkg::new(alice, "helm", "a").put(conn, "1", "c.tgz", b"alice-a");
            Pkg::new(alice, "helm", "b").put(conn, "1", "c.tgz", b"alice-b");
            Pkg::new(alice, "helm", "a").created(conn, "1", 3_000);
            Pkg::new(alice, "helm", "b").created(conn, "1", 2_000);
            Pkg::new(alice, "generic", "g").put(conn, "1", "only.tgz", b"generic");
            Pkg::new(bob, "helm", "x").put(conn, "1", "bob.tgz", b"bob");
        });
        let select = |name: &str| {
            Selector::OwnerFile(OwnerFile {
                owner: "alice".into(),
                name: name.into(),
            })
        };
        let newest = found(&t, "helm", alice, &select("c.tgz"));
        assert_eq!(newest.blob, fixture::sha256(b"alice-a"));
        assert_eq!(
            missing_as(&t, "helm", alice, &select("only.tgz")),
            "file not found"
        );
        assert_eq!(
            missing_as(&t, "helm", alice, &select("bob.tgz")),
            "file not found"
        );
    }

    // Guards OCI manifests by tag: the tagged version's file; "tag not found" otherwise.
    #[test]
    fn tagged_selector_follows_the_tag() {
        let (t, alice) = seeded(|conn, alice, _| {
            let img = Pkg::new(alice, "oci", "img");
            img.put(conn, "v1", "manifest", b"v1");
            img.put(conn, "v2", "manifest", b"v2");
            img.tag(conn, "latest", "v1");
        });
        let select = |tag: &str| {
            Selector::Tagged(TaggedFile {
                tag: TagRef {
                    pkg: pkg("img"),
                    tag: tag.into(),
                },
                name: "manifest".into(),
            })
        };
        let tagged = found(&t, "oci", alice, &select("latest"));
        assert_eq!(tagged.blob, fixture::sha256(b"v1"));
        assert_eq!(missing_as(&t, "oci", alice, &select("v9")), "tag not found");
    }

    // Guards OCI blobs by digest: a version's file comes with its row (content type,
    // name), a blob linked to the package as a nameless file; another package's blob
    // is a 404; sha512 names a blob through its recorded digest.
    #[test]
    fn blob_selector_finds_files_and_linked_blobs_by_sha256_or_sha512() {
        let linked = fixture::sha256(b"layer");
        let sha512 = crate::store::digest::of_bytes(crate::store::digest::Algorithm::Sha512, b"m");
        let (t, alice) = seeded(|conn, alice, _| {
            let img = Pkg::new(alice, "oci", "img");
            let manifest = img.put(conn, "v1", "manifest", b"m");
            crate::db::blobs::set_digest(conn, &manifest.blob, "sha512", &sha512).unwrap();
            crate::db::blobs::insert(conn, &linked, 5).unwrap();
            crate::db::blobs::link_to_package(conn, img.id(conn), &linked).unwrap();
            Pkg::new(alice, "oci", "other").put(conn, "v1", "manifest", b"elsewhere");
        });
        let manifest = found(&t, "oci", alice, &blob("img", sha(fixture::sha256(b"m"))));
        assert_eq!(
            (manifest.name.as_str(), manifest.content_type.as_str()),
            ("manifest", "application/octet-stream")
        );
        let layer = found(&t, "oci", alice, &blob("img", sha(linked.clone())));
        assert_eq!(
            (layer.name.as_str(), layer.size, layer.blob),
            ("", 5, linked)
        );
        let by_sha512 = Digest {
            algorithm: HashAlgorithm::Sha512,
            hex: sha512,
        };
        assert_eq!(
            found(&t, "oci", alice, &blob("img", by_sha512)).id,
            manifest.id
        );
        let elsewhere = blob("img", sha(fixture::sha256(b"elsewhere")));
        assert_eq!(missing_as(&t, "oci", alice, &elsewhere), "blob not found");
    }

    // Guards Maven's `.sha1` of a file: computed from the stored bytes once, then
    // remembered for the blob.
    #[tokio::test]
    async fn file_digest_is_computed_from_the_stored_bytes_and_remembered() {
        let bytes = b"jar bytes";
        let (t, alice) = seeded(|conn, alice, _| {
            Pkg::new(alice, "maven", "lib").put(conn, "1", "lib.jar", bytes);
        });
        let mut writer = t.registry.blobs.writer(&[]).unwrap();
        writer.write(bytes).unwrap();
        writer.finish().unwrap().publish().unwrap();

        let row = found(
            &t,
            "maven",
            alice,
            &blob("lib", sha(fixture::sha256(bytes))),
        );
        let sha1 = file_digest(&t.registry, row.clone(), HashAlgorithm::Sha1)
            .await
            .unwrap();
        let expected = crate::store::digest::of_bytes(crate::store::digest::Algorithm::Sha1, bytes);
        assert_eq!(sha1, expected);
        let remembered = t
            .registry
            .db
            .read_now(|conn| crate::db::blobs::digest(conn, &row.blob, "sha1"))
            .unwrap();
        assert_eq!(remembered, Some(expected));
    }
}
