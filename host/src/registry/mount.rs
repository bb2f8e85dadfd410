//! Linking a blob the registry already holds into another package (OCI's cross-
//! repository mount), without the client sending the bytes again.

use super::{Registry, digests};
use crate::db::owners::Owner;
use crate::db::{blobs, packages};
use crate::error::Error;
use crate::plugins::api::Digest;

/// Where the blob must already be: a named package of `owner`, or any package of it
/// that `pullable` admits.
pub struct Source<'a> {
    pub owner: Owner,
    pub package: Option<String>,
    pub pullable: Box<dyn Fn(&str) -> bool + Send + 'a>,
}

/// Links the blob `digest` into `target` (created if new) of `owner_id` in `format`,
/// if `source` holds it; 404 otherwise. The check and the link are one transaction, so
/// the collector cannot drop the blob between them.
pub async fn mount(
    registry: &Registry,
    format: &str,
    owner_id: i64,
    target: &str,
    digest: &Digest,
    source: Source<'static>,
) -> Result<(), Error> {
    let (format, target, digest) = (format.to_string(), target.to_string(), digest.clone());
    registry
        .db
        .write(move |tx| {
            crate::db::gc::hold_off_collector(tx)?;
            let Some(sha256) = digests::resolve(tx, &digest)? else {
                return Err(Error::not_found("blob not found"));
            };
            let available = match &source.package {
                Some(name) => match packages::find(tx, source.owner.id, &format, name)? {
                    Some(p) => blobs::package_has(tx, p.id, &sha256)?,
                    None => false,
                },
                None => {
                    let (_, all) =
                        packages::list(tx, source.owner.id, Some(&format), None, "", i64::MAX, 0)?;
                    let mut has = false;
                    for p in all.iter().filter(|p| (source.pullable)(&p.name)) {
                        if blobs::package_has(tx, p.id, &sha256)? {
                            has = true;
                            break;
                        }
                    }
                    has
                }
            };
            if !available {
                return Err(Error::not_found("blob not found in the source"));
            }
            let package_id = packages::ensure(tx, owner_id, &format, &target)?;
            blobs::link_to_package(tx, package_id, &sha256)?;
            packages::touch(tx, package_id)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::plugins::api::HashAlgorithm;
    use crate::registry::testing::TestRegistry;

    /// alice has oci `src` holding the blob `layer` (a file) and npm `npm-src` holding
    /// `npm-only`; bob has nothing.
    fn setup() -> (TestRegistry, Owner, i64) {
        let t = TestRegistry::open();
        let (alice, bob) = fixture::seed(&t.registry.db, |conn, alice, bob| {
            Pkg::new(alice, "oci", "src").put(conn, "v1", "layer", b"layer");
            Pkg::new(alice, "npm", "npm-src").put(conn, "1", "t", b"npm-only");
            (alice, bob)
        });
        let alice = fixture::account(&t.registry.db, alice);
        (t, alice, bob)
    }

    fn sha256_of(bytes: &[u8]) -> Digest {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: fixture::sha256(bytes),
        }
    }

    fn from(owner: &Owner, package: Option<&str>, pullable: fn(&str) -> bool) -> Source<'static> {
        Source {
            owner: owner.clone(),
            package: package.map(str::to_string),
            pullable: Box::new(pullable),
        }
    }

    async fn mount_into_bob(
        t: &TestRegistry,
        bob: i64,
        digest: &Digest,
        source: Source<'static>,
    ) -> Result<(), Error> {
        mount(&t.registry, "oci", bob, "dst", digest, source).await
    }

    fn bob_has(t: &TestRegistry, bob: i64, digest: &Digest) -> bool {
        t.registry
            .db
            .read_now(|conn| {
                let Some(id) = Pkg::new(bob, "oci", "dst").id_if_any(conn) else {
                    return Ok(false);
                };
                blobs::package_has(conn, id, &digest.hex)
            })
            .unwrap()
    }

    // Guards the cross-repository mount: a blob of the named source package is linked
    // into the target, which is created for it.
    #[tokio::test]
    async fn a_blob_of_the_named_source_is_linked_into_a_new_target() {
        let (t, alice, bob) = setup();
        let layer = sha256_of(b"layer");
        mount_into_bob(&t, bob, &layer, from(&alice, Some("src"), |_| false))
            .await
            .unwrap();
        assert!(bob_has(&t, bob, &layer));
    }

    // Guards that a mount only takes what the source holds: another package's blob,
    // another format's, or an absent source is a 404, and no target is created.
    #[tokio::test]
    async fn blobs_the_source_lacks_are_404s_without_a_target() {
        let (t, alice, bob) = setup();
        let npm_only = sha256_of(b"npm-only");
        for (digest, package) in [
            (&npm_only, Some("src")),
            (&npm_only, Some("npm-src")),
            (&sha256_of(b"layer"), Some("absent")),
        ] {
            let result = mount_into_bob(&t, bob, digest, from(&alice, package, |_| true)).await;
            assert!(matches!(result, Err(Error::NotFound(_))), "{package:?}");
        }
        let exists = t
            .registry
            .db
            .read_now(|conn| Ok(Pkg::new(bob, "oci", "dst").exists(conn)))
            .unwrap();
        assert!(!exists);
    }

    // Guards mounts without a named source: only packages the caller may pull count.
    #[tokio::test]
    async fn without_a_named_source_only_pullable_packages_count() {
        let (t, alice, bob) = setup();
        let layer = sha256_of(b"layer");
        let hidden =
            mount_into_bob(&t, bob, &layer, from(&alice, None, |name| name != "src")).await;
        assert!(matches!(hidden, Err(Error::NotFound(_))));
        mount_into_bob(&t, bob, &layer, from(&alice, None, |name| name == "src"))
            .await
            .unwrap();
        assert!(bob_has(&t, bob, &layer));
    }

    // Guards digests as clients name them: sha512 through the recorded digest; an
    // unknown sha512 is a 404 and malformed hex a 400.
    #[tokio::test]
    async fn sha512_digests_resolve_and_malformed_ones_are_refused() {
        let (t, alice, bob) = setup();
        let hex = crate::store::digest::of_bytes(crate::store::digest::Algorithm::Sha512, b"x");
        let layer = fixture::sha256(b"layer");
        t.registry
            .db
            .write_sync(|tx| blobs::set_digest(tx, &layer, "sha512", &hex))
            .unwrap();
        let sha512 = |hex: String| Digest {
            algorithm: HashAlgorithm::Sha512,
            hex,
        };
        let unknown = sha512("0".repeat(128));
        let result = mount_into_bob(&t, bob, &unknown, from(&alice, Some("src"), |_| true)).await;
        assert!(matches!(result, Err(Error::NotFound(_))));
        let malformed = sha512("zz".into());
        let result = mount_into_bob(&t, bob, &malformed, from(&alice, Some("src"), |_| true)).await;
        assert!(matches!(result, Err(Error::BadRequest(_))));
        mount_into_bob(&t, bob, &sha512(hex), from(&alice, Some("src"), |_| true))
            .await
            .unwrap();
        assert!(bob_has(&t, bob, &sha256_of(b"layer")));
    }
}
