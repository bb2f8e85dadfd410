//! Rendering through a real plugin (npm's views) against a seeded registry: what is
//! cached, under which revision, and what a digest of a document is taken of.

use super::*;
use crate::db::packages::fixture::{self, Pkg};
use crate::plugins::Plugin;
use crate::registry::testing::TestRegistry;

const BASE: &str = "http://wharf.test/api/packages/alice/npm";

/// A registry where alice has npm packages `a`, `b` and `c` (1.0.0 each) and a
/// generic package; npm's plugin.
struct Npm {
    t: TestRegistry,
    alice: Owner,
    plugin: Arc<Plugin>,
}

impl Npm {
    fn new() -> Self {
        let t = TestRegistry::open();
        let alice = fixture::seed(&t.registry.db, |conn, alice, _| {
            for name in ["a", "b", "c"] {
                Pkg::new(alice, "npm", name).put(conn, "1.0.0", "t.tgz", name.as_bytes());
            }
            Pkg::new(alice, "generic", "g").put(conn, "1", "f", b"g");
            alice
        });
        let alice = fixture::account(&t.registry.db, alice);
        let plugin = t.registry.format("npm").unwrap().plugin.clone();
        Self { t, alice, plugin }
    }

    async fn render(&self, spec: api::IndexSpec) -> Arc<Rendered> {
        self.try_render(spec).await.unwrap()
    }

    /// Renders `spec` as a request does: with the listing revision stage 1 reads
    /// along with the owner.
    async fn try_render(&self, spec: api::IndexSpec) -> Result<Arc<Rendered>, Error> {
        let (registry, plugin) = (&self.t.registry, &self.plugin);
        let (owner, revision) = registry
            .db
            .read_now(|conn| owners::by_name_with_listing(conn, "alice", "npm"))
            .unwrap()
            .unwrap();
        let listing = Listing {
            owner_id: owner.id,
            revision,
        };
        render(
            registry,
            "npm",
            plugin,
            BASE.into(),
            &owner,
            spec,
            Some(listing),
        )
        .await
    }

    fn publish(&self, format: &'static str, name: &'static str, version: &str) {
        let alice = self.alice.id;
        self.t
            .registry
            .db
            .write_sync(|tx| {
                Pkg::new(alice, format, name).put(tx, version, "t.tgz", version.as_bytes());
                Ok(())
            })
            .unwrap();
    }

    fn renders(&self) -> u64 {
        self.t.registry.index_cache.renders_made()
    }
}

fn package(name: &str, view: &str, digest_of: Option<HashAlgorithm>) -> api::IndexSpec {
    api::IndexSpec {
        pkg: Some(fixture::pkg_ref("alice", name)),
        view: view.into(),
        params: Vec::new(),
        digest_of,
        listing: None,
    }
}

fn search(after: &str) -> api::IndexSpec {
    api::IndexSpec {
        pkg: None,
        view: "search".into(),
        params: vec![("text".into(), String::new())],
        digest_of: None,
        listing: Some(api::ListingSpec {
            after: after.into(),
            ..every_package()
        }),
    }
}

fn text(rendered: &Rendered) -> &str {
    std::str::from_utf8(&rendered.body).unwrap()
}

// Guards revision keying end to end: a package's document is served from the cache
// while its revision holds, and rendered anew after a publish to it.
#[tokio::test]
async fn a_package_document_is_reused_until_the_package_changes() {
    let npm = Npm::new();
    let first = npm.render(package("a", "dist-tags", None)).await;
    assert_eq!(text(&first), r#"{"latest":"1.0.0"}"#);
    let again = npm.render(package("a", "dist-tags", None)).await;
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(npm.renders(), 1);

    npm.publish("npm", "b", "2.0.0");
    let untouched = npm.render(package("a", "dist-tags", None)).await;
    assert!(Arc::ptr_eq(&first, &untouched), "another package's change");
    npm.publish("npm", "a", "2.0.0");
    let changed = npm.render(package("a", "dist-tags", None)).await;
    assert_eq!(text(&changed), r#"{"latest":"2.0.0"}"#);
    assert_eq!(npm.renders(), 2);
}

// Guards Maven's `.sha1` of an index: the digest is of the cached document itself
// (no second rendering), served as text.
#[tokio::test]
async fn a_digest_is_of_the_cached_document() {
    let npm = Npm::new();
    let document = npm.render(package("a", "packument", None)).await;
    let sha1 = npm
        .render(package("a", "packument", Some(HashAlgorithm::Sha1)))
        .await;
    assert_eq!(
        text(&sha1),
        digest::of_bytes(digest::Algorithm::Sha1, &document.body)
    );
    assert_eq!(
        (sha1.status, sha1.content_type.as_str()),
        (200, "text/plain")
    );
    assert_eq!(npm.renders(), 1);
}

// Guards a missing package: the plugin's 404 is the answer (to a digest of the
// document too) and nothing is cached.
#[tokio::test]
async fn a_missing_package_is_the_plugins_404_and_is_not_cached() {
    let npm = Npm::new();
    for digest_of in [None, Some(HashAlgorithm::Sha1)] {
        let missing = npm
            .try_render(package("nope", "packument", digest_of))
            .await;
        assert!(
            matches!(
                missing,
                Err(Error::Plugin(crate::plugins::PluginFailure::Rejected {
                    status: 404,
                    ..
                }))
            ),
            "{missing:?}"
        );
    }
    assert_eq!(npm.renders(), 0);
}

// Guards the package rows kept per listing revision: a package absent at one revision
// is found once it is published (which moves the revision), and so is a change to it,
// as another node's publish would be.
#[tokio::test]
async fn a_package_published_after_a_miss_is_found() {
    let npm = Npm::new();
    assert!(
        npm.try_render(package("d", "dist-tags", None))
            .await
            .is_err()
    );
    npm.publish("npm", "d", "1.0.0");
    let found = npm.render(package("d", "dist-tags", None)).await;
    assert_eq!(text(&found), r#"{"latest":"1.0.0"}"#);
    npm.publish("npm", "d", "1.1.0");
    let changed = npm.render(package("d", "dist-tags", None)).await;
    assert_eq!(text(&changed), r#"{"latest":"1.1.0"}"#);
}

// Guards a caller without a listing revision (a group's member): the package is
// looked up as before.
#[tokio::test]
async fn without_a_listing_revision_the_package_is_looked_up() {
    let npm = Npm::new();
    let (registry, plugin) = (&npm.t.registry, &npm.plugin);
    let spec = package("a", "dist-tags", None);
    let rendered = render(registry, "npm", plugin, BASE.into(), &npm.alice, spec, None)
        .await
        .unwrap();
    assert_eq!(text(&rendered), r#"{"latest":"1.0.0"}"#);
}

// Guards owner-wide listings: cached per listing revision, which any change to the
// owner's packages of this format moves and another format's does not; another page
// (`after`) is another entry.
#[tokio::test]
async fn a_listing_is_reused_until_a_package_of_the_format_changes() {
    let npm = Npm::new();
    let first = npm.render(search("")).await;
    assert_eq!(
        text(&first).matches("\"name\":").count(),
        3,
        "{}",
        text(&first)
    );
    assert!(Arc::ptr_eq(&first, &npm.render(search("")).await));
    npm.render(search("a")).await;
    assert_eq!(npm.renders(), 2);

    npm.publish("generic", "g", "2");
    assert!(Arc::ptr_eq(&first, &npm.render(search("")).await));
    npm.publish("npm", "c", "2.0.0");
    assert!(!Arc::ptr_eq(&first, &npm.render(search("")).await));
    assert_eq!(npm.renders(), 3);
}

// Guards `listing-spec.after` on an owner's listing: only packages whose name sorts
// after it (in lower case) are listed, as the contract says.
#[tokio::test]
async fn an_owner_listing_starts_after_the_name_given() {
    let npm = Npm::new();
    let spec = search("B").listing.unwrap();
    let (_, listed) = listing(&npm.t.registry, "npm", npm.alice.id, spec)
        .await
        .unwrap();
    let names: Vec<_> = listed.iter().map(|p| p.pkg.name.as_str()).collect();
    assert_eq!(names, ["c"]);
}

// Guards the ETag and default status of a rendering: 0 means 200, and the tag is a
// quoted prefix of the body's sha256, so equal bodies share it.
#[test]
fn finish_defaults_the_status_and_tags_the_body() {
    let rendered = finish(api::Response {
        status: 0,
        content_type: "application/json".into(),
        headers: Vec::new(),
        body: b"{}".to_vec(),
    });
    let sha256 = digest::of_bytes(digest::Algorithm::Sha256, b"{}");
    assert_eq!(rendered.status, 200);
    assert_eq!(rendered.etag, format!("\"{}\"", &sha256[..32]));
}

// Guards OCI's `_catalog` on a mount without an owner: the repositories of every owner
// the caller may read (a private owner's only for its members), packages holding only
// blobs left out, paged by `after`, and never cached since it depends on the caller.
#[tokio::test]
async fn a_listing_across_owners_shows_what_the_caller_may_read() {
    let t = TestRegistry::open();
    let bob = fixture::seed(&t.registry.db, |conn, alice, bob| {
        Pkg::new(alice, "oci", "a").put(conn, "v1", "manifest", b"a");
        Pkg::new(bob, "oci", "b").put(conn, "v1", "manifest", b"b");
        owners::set_private(conn, bob, true).unwrap();
        let blobs_only = Pkg::new(alice, "oci", "layers").id(conn);
        crate::db::blobs::link_to_package(conn, blobs_only, &fixture::sha256(b"a")).unwrap();
        bob
    });
    let plugin = t.registry.format("oci").unwrap().plugin.clone();
    let catalog = |principal: Principal, after: &str| {
        let spec = api::IndexSpec {
            pkg: None,
            view: "catalog".into(),
            params: Vec::new(),
            digest_of: None,
            listing: Some(api::ListingSpec {
                after: after.into(),
                ..every_package()
            }),
        };
        let (registry, plugin) = (&t.registry, &plugin);
        async move {
            let base = "http://wharf.test/v2".to_string();
            let rendered = render_across_owners(registry, "oci", plugin, base, &principal, spec)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
            body["repositories"].clone()
        }
    };
    let bob = Principal::User(auth::User {
        id: bob,
        name: "bob".into(),
        is_admin: false,
        scope: crate::db::tokens::Scope::Read,
        grant: None,
        source: auth::registry_token::Minted::Token { id: 0 },
    });
    let anonymous = catalog(Principal::Anonymous, "").await;
    assert_eq!(anonymous, serde_json::json!(["alice/a"]));
    let member = catalog(bob.clone(), "").await;
    assert_eq!(member, serde_json::json!(["alice/a", "bob/b"]));
    assert_eq!(catalog(bob, "ALICE/a").await, serde_json::json!(["bob/b"]));
    assert_eq!(t.registry.index_cache.renders_made(), 0);
}
