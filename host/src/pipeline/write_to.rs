//! Writes through a group (issue 21): a group whose `[groups.NAME]` table names a hosted
//! member in `write_to` runs every write addressed to it as the same write on that
//! member. The caller is authorized against the member (its write rules and token
//! scopes, as if the client had used the member's URL) and the package is stored under
//! it, so the group's reads find it like any of the member's.
//!
//! Only the operation changes owner; the request the plugin sees stays the one the
//! client sent (owner and base URL the group's), so the URLs a plugin or a route's
//! reply template builds from it (an upload session's `Location`) send the client back
//! to the group, where the next request is redirected the same way.

use crate::plugins::api::{self, Operation};
use crate::registry::Registry;
use crate::registry::virtual_owners::VirtualOwner;

use super::authorize::target_owner;
use super::identify::Granted;

/// Whether `op` stores, changes or removes something (what a read-only proxy or group
/// refuses).
pub fn writes(op: &Operation) -> bool {
    matches!(
        op,
        Operation::AcceptUpload(_)
            | Operation::Delete(_)
            | Operation::MountBlob(_)
            | Operation::UploadSession(_)
    )
}

/// The member that receives `route`, routed by the plugin of `format`, when it writes
/// on a group of that format with `write_to`. The group is the mount's owner or, on
/// mounts without one (OCI's `/v2/<group>/<repo>`), the owner the operation names. A
/// route that needs write access counts as a write even when the plugin answers it
/// itself (Maven's `maven-metadata.xml` upload), so that it is authorized as the
/// member's too. Anything else stays the group's (reads, and the 405 of a write on a
/// read-only group, or on a group of another format).
pub fn member(
    registry: &Registry,
    format: &str,
    mount: Option<&Granted>,
    route: &api::Route,
) -> Option<String> {
    if !writes(&route.operation) && !matches!(route.access, api::Access::Write) {
        return None;
    }
    let owner = match mount {
        Some(granted) => granted.owner.name.as_str(),
        None => target_owner(&route.operation)?,
    };
    of_group(registry, format, owner)
}

/// The `write_to` member of `owner`, when it is a group of `format` that has one.
pub fn of_group(registry: &Registry, format: &str, owner: &str) -> Option<String> {
    match registry.virtual_kind(owner)? {
        VirtualOwner::Group(group) if group.format == format => group.write_to.clone(),
        VirtualOwner::Group(_) | VirtualOwner::Proxy(_) => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::Credentials;
    use crate::config::GroupConfig;
    use crate::db::owners::{self, OwnerKind, Role};
    use crate::db::tokens::{self, Scope};
    use crate::error::Error;
    use crate::pipeline::{Hints, Inbound, Prepared, prepare};
    use crate::plugins::api::{DeleteTarget, PackageRef, TagRef};
    use crate::registry::testing::TestRegistry;

    /// A registry whose organization acme alice writes and carol reads, with bob (no
    /// member) and an admin; the groups below; and a write token of each (`alice_read`:
    /// alice's read token).
    pub(crate) struct Fixture {
        pub t: TestRegistry,
        pub alice: String,
        pub alice_read: String,
        pub bob: String,
        pub carol: String,
        pub admin: String,
    }

    fn group(format: &str, members: &[&str], write_to: Option<&str>) -> GroupConfig {
        GroupConfig {
            format: format.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            write_to: write_to.map(str::to_string),
            confusion_guard: true,
            private: false,
            readers: Vec::new(),
        }
    }

    /// Groups `all` (generic: acme, then the organization shared; writes go to acme),
    /// `frozen` (generic: acme, read-only), `images` (OCI: acme; writes go to acme).
    pub(crate) fn fixture() -> Fixture {
        let t = TestRegistry::with(|config| {
            let groups = &mut config.groups;
            groups.insert(
                "all".into(),
                group("generic", &["acme", "shared"], Some("acme")),
            );
            groups.insert("frozen".into(), group("generic", &["acme"], None));
            groups.insert("images".into(), group("oci", &["acme"], Some("acme")));
        });
        let (alice, bob, carol) = (
            t.user("alice", Scope::Write),
            t.user("bob", Scope::Write),
            t.user("carol", Scope::Write),
        );
        let (alice_read, admin) = (
            crate::auth::secrets::new_token(),
            crate::auth::secrets::new_token(),
        );
        let hashes = (
            crate::auth::secrets::token_hash(&alice_read),
            crate::auth::secrets::token_hash(&admin),
        );
        t.registry
            .db
            .write_sync(move |tx| {
                let id = |name| Ok::<_, Error>(owners::by_name(tx, name)?.unwrap().id);
                let acme = owners::create(tx, "acme", OwnerKind::Org, None, false, false)?;
                owners::create(tx, "shared", OwnerKind::Org, None, false, false)?;
                owners::set_member(tx, acme, id("alice")?, Role::Write)?;
                owners::set_member(tx, acme, id("carol")?, Role::Read)?;
                tokens::insert(tx, id("alice")?, "read", &hashes.0, Scope::Read, None)?;
                let root = owners::create(tx, "root", OwnerKind::User, None, true, false)?;
                tokens::insert(tx, root, "admin", &hashes.1, Scope::Write, None).map(|_| ())
            })
            .unwrap();
        Fixture {
            t,
            alice,
            alice_read,
            bob,
            carol,
            admin,
        }
    }

    fn route(operation: Operation, access: api::Access) -> api::Route {
        api::Route {
            operation,
            access,
            reply: None,
            error_codes: Vec::new(),
        }
    }

    fn untag(owner: &str) -> Operation {
        Operation::Delete(DeleteTarget::Tag(TagRef {
            pkg: PackageRef {
                owner: owner.into(),
                name: "img".into(),
            },
            tag: "latest".into(),
        }))
    }

    #[test]
    fn writes_on_a_group_of_the_format_with_write_to_go_to_its_member() {
        let f = fixture();
        let registry = &f.t.registry;
        let write = api::Access::Write;
        // Named by the operation (no mount owner), in any case.
        let member = |format, op, access| member(registry, format, None, &route(op, access));
        assert_eq!(
            member("oci", untag("IMAGES"), write).as_deref(),
            Some("acme")
        );
        assert_eq!(member("oci", untag("acme"), write), None, "no group");
        assert_eq!(member("generic", untag("frozen"), write), None, "read-only");
        assert_eq!(
            member("generic", untag("images"), write),
            None,
            "an OCI group"
        );
        // A plugin's own answer to a write route counts; a read does not.
        let respond = Operation::Respond(api::Response {
            status: 200,
            content_type: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        });
        let all = f.t.registry.db.read_sync(|c| owners::by_name(c, "all"));
        let mount = Granted {
            owner: all.unwrap().expect("the group's owner row"),
            access: crate::auth::Access::Read,
        };
        let on_mount =
            |op, access| super::member(registry, "generic", Some(&mount), &route(op, access));
        assert_eq!(on_mount(respond.clone(), write).as_deref(), Some("acme"));
        assert_eq!(on_mount(respond, api::Access::Read), None);
    }

    async fn prepared(f: &Fixture, format: &str, inbound: Inbound) -> Result<Prepared, Error> {
        let entry = f.t.registry.format(format).expect("a bundled format");
        prepare(&f.t.registry, entry, inbound, &mut Hints::default()).await
    }

    fn put(token: Option<&str>, group: &str) -> Inbound {
        Inbound {
            credentials: token.map_or(Credentials::None, |t| Credentials::Token(t.into())),
            peer: None,
            mount_owner: Some(group.into()),
            request: api::Request {
                method: api::Method::Put,
                path: "/tool/1.0/tool.txt".into(),
                query: Vec::new(),
                headers: Vec::new(),
                owner: None,
                base_url: String::new(),
                user: None,
            },
        }
    }

    /// The operation becomes acme's and the caller is checked against acme, while the
    /// plugin's request stays the group's.
    #[tokio::test]
    async fn a_write_on_the_group_is_prepared_as_the_members() {
        let f = fixture();
        let prepared = prepared(&f, "generic", put(Some(&f.alice), "all")).await;
        let prepared = prepared.expect("alice writes acme");
        assert_eq!(prepared.owner.unwrap().name, "acme");
        let Operation::AcceptUpload(upload) = &prepared.route.operation else {
            panic!("a generic PUT uploads");
        };
        assert_eq!(upload.pkg.owner, "acme");
        assert_eq!(prepared.request.owner.as_deref(), Some("all"));
        assert_eq!(
            prepared.request.base_url,
            "http://wharf.test/api/packages/all/generic"
        );

        // A read stays the group's.
        let mut get = put(None, "all");
        get.request.method = api::Method::Get;
        let read = prepared_owner(&f, get).await;
        assert_eq!(read.as_deref(), Some("all"));
        // So does a write on a read-only group (the executor answers it 405).
        let frozen = prepared_owner(&f, put(Some(&f.admin), "frozen")).await;
        assert_eq!(frozen.as_deref(), Some("frozen"));
    }

    async fn prepared_owner(f: &Fixture, inbound: Inbound) -> Option<String> {
        let prepared = prepared(f, "generic", inbound).await.unwrap();
        prepared.owner.map(|o| o.name)
    }

    /// Who may not write acme is refused as on acme's own URL: 401 without credentials,
    /// 403 for a reader of acme, a user who is no member, a read token.
    #[tokio::test]
    async fn callers_who_may_not_write_the_member_are_refused() {
        let f = fixture();
        let refusal =
            async |token: Option<&str>| match prepared(&f, "generic", put(token, "all")).await {
                Ok(_) => panic!("{token:?} wrote through the group"),
                Err(e) => e,
            };
        assert!(matches!(refusal(None).await, Error::Unauthorized(_)));
        for (token, why) in [
            (
                &f.carol,
                "user \"carol\" may not write packages of \"acme\"",
            ),
            (&f.bob, "user \"bob\" may not write packages of \"acme\""),
            (&f.alice_read, "this token has read scope only"),
        ] {
            let refused = refusal(Some(token)).await;
            assert!(
                matches!(&refused, Error::Forbidden(m) if m == why),
                "{refused:?}"
            );
        }
    }
}
