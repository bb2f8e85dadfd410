//! Stage 3, authorization: the owner a routed operation touches, the registry-token
//! scope it needs, and the caller's live permission on that owner.

use crate::auth::registry_token::{Action, Grant};
use crate::auth::{self, Access, Principal};
use crate::db::Db;
use crate::db::owners::Owner;
use crate::error::Error;
use crate::plugins::api::{self, DeleteTarget, Operation, Selector};

use super::identify::{Granted, owner_named};

/// Why authorization failed, beyond the error: the scope a registry token must grant,
/// for the challenge, and whether a token lacked it (403 `insufficient_scope`).
#[derive(Debug, Default, Clone)]
pub struct ScopeHint {
    pub scope: Option<String>,
    pub insufficient: bool,
}

/// Checks that `principal` may run `operation` and returns the owner it touches.
/// `mount` is the mount's owner with the access computed at authentication; the
/// operation must name that owner, or, on mounts without one, an existing owner.
/// `written_to` is the member a write on a group goes to (see [`super::write_to`]):
/// then that member is the owner checked and returned.
pub async fn authorize(
    db: &Db,
    principal: &Principal,
    mount: Option<&Granted>,
    operation: &Operation,
    needed: api::Access,
    written_to: Option<&str>,
    hint: &mut ScopeHint,
) -> Result<Option<Owner>, Error> {
    let owner = match (target_owner(operation), mount) {
        (Some(named), Some(m)) if !named.eq_ignore_ascii_case(&m.owner.name) => {
            return Err(Error::Internal(format!(
                "the plugin routed a request for owner {:?} to owner {named:?}",
                m.owner.name
            )));
        }
        (_, Some(m)) => Some(m.owner.clone()),
        (Some(named), None) => Some(owner_named(db, named).await?),
        (None, None) => None,
    };
    let scope = NeededScope::of(operation, needed);
    hint.scope = scope.as_ref().map(NeededScope::challenge);
    if let (Some(grant), Some(scope)) = (principal.grant(), &scope)
        && !scope.granted_by(grant)
    {
        let refusal = format!("the registry token does not grant {}", scope.challenge());
        // A guest has no identity to be refused: it should come back with credentials.
        if matches!(principal, Principal::Guest(_)) {
            return Err(Error::Unauthorized(refusal));
        }
        hint.insufficient = true;
        return Err(Error::Forbidden(refusal));
    }
    // A registry token names the repository as the client addressed it (the group's,
    // which its grant was asked for, above); the live permission is the member's.
    let owner = match written_to {
        Some(member) => Some(owner_named(db, member).await?),
        None => owner,
    };
    // The access computed at authentication holds for the mount's owner; any other
    // owner, or a refusal (whose message depends on why), goes through the full check.
    let known = match (&owner, mount) {
        (Some(o), Some(m)) if o.id == m.owner.id => Some(m.access),
        _ => None,
    };
    if !known.is_some_and(|granted| covers(granted, principal, needed)) {
        check(db, principal, owner.as_ref(), needed).await?;
    }
    Ok(owner)
}

/// Whether `granted` suffices for what a route needs (a refusal is left to [`check`]).
pub fn covers(granted: Access, principal: &Principal, needed: api::Access) -> bool {
    match needed {
        api::Access::None => true,
        // A guest token counts: clients ping `/v2/` with it before pulling.
        api::Access::Authenticated => !matches!(principal, Principal::Anonymous),
        api::Access::Read => granted >= Access::Read,
        api::Access::Write => granted >= Access::Write,
    }
}

/// The full permission check, with the refusal message that says why.
pub async fn check(
    db: &Db,
    principal: &Principal,
    owner: Option<&Owner>,
    needed: api::Access,
) -> Result<(), Error> {
    let needed = match needed {
        api::Access::None => return Ok(()),
        api::Access::Authenticated => {
            return match principal {
                Principal::Anonymous => {
                    Err(Error::Unauthorized("authentication required".to_string()))
                }
                Principal::User(_) | Principal::Guest(_) => Ok(()),
            };
        }
        api::Access::Read => Access::Read,
        api::Access::Write => Access::Write,
    };
    let Some(owner) = owner.cloned() else {
        return Err(Error::Internal(
            "an operation needing package access named no owner".to_string(),
        ));
    };
    let principal = principal.clone();
    db.read(move |conn| auth::authorize(conn, &principal, &owner, needed))
        .await
}

/// The owner an operation names, if any.
pub(super) fn target_owner(op: &Operation) -> Option<&str> {
    match op {
        Operation::Serve(api::ServeSpec {
            selector: Selector::OwnerFile(f),
            ..
        }) => Some(&f.owner),
        op => target_pkg(op).map(|pkg| pkg.owner.as_str()),
    }
}

/// The package an operation names, borrowed (`named_pkg!(op)`) or mutably
/// (`named_pkg!(op, mut)`): one list of the operations that name a package, for
/// reading the owner ([`target_pkg`]) and for renaming it ([`retarget`]).
macro_rules! named_pkg {
    ($op:expr $(, $m:ident)?) => {
        match $op {
            Operation::Serve(spec) => match & $($m)? spec.selector {
                Selector::File(f) => Some(& $($m)? f.version.pkg),
                Selector::PackageFile(f) => Some(& $($m)? f.pkg),
                Selector::Blob(b) => Some(& $($m)? b.pkg),
                Selector::Tagged(t) => Some(& $($m)? t.tag.pkg),
                Selector::OwnerFile(_) => None,
            },
            Operation::Delete(target) => Some(match target {
                DeleteTarget::File(f) => & $($m)? f.version.pkg,
                DeleteTarget::Version(v) => & $($m)? v.pkg,
                DeleteTarget::Package(p) => p,
                DeleteTarget::Tag(t) => & $($m)? t.pkg,
                DeleteTarget::BlobLink(b) => & $($m)? b.pkg,
            }),
            Operation::AcceptUpload(u) => Some(& $($m)? u.pkg),
            Operation::RenderIndex(i) => match & $($m)? i.pkg {
                Some(pkg) => Some(pkg),
                None => None,
            },
            Operation::MountBlob(m) => Some(& $($m)? m.pkg),
            Operation::UploadSession(s) => Some(& $($m)? s.pkg),
            Operation::IssueToken(_) | Operation::Respond(_) | Operation::NotFound => None,
        }
    };
}

/// The package an operation names, if any.
fn target_pkg(op: &Operation) -> Option<&api::PackageRef> {
    named_pkg!(op)
}

/// `op` as it runs on `owner`: the package (or owner-wide file) it names becomes
/// `owner`'s. A group's reads on a member and its writes on `write_to` are such.
pub fn retarget(op: &mut Operation, owner: &str) {
    if let Operation::Serve(api::ServeSpec {
        selector: Selector::OwnerFile(f),
        ..
    }) = op
    {
        f.owner = owner.to_string();
    } else if let Some(pkg) = named_pkg!(op, mut) {
        pkg.owner = owner.to_string();
    }
}

/// A package as a registry-token repository name: `owner/name`.
pub fn repository(pkg: &api::PackageRef) -> String {
    format!("{}/{}", pkg.owner, pkg.name).to_ascii_lowercase()
}

/// What a registry token must grant for an operation on a package.
struct NeededScope {
    repository: String,
    access: api::Access,
    /// The operation only removes things, which a `delete` grant allows too.
    deletes: bool,
}

impl NeededScope {
    /// Only reads and writes of a package need a grant; `authenticated` and public
    /// routes (the `/v2/` ping, the token endpoint, listings) do not.
    fn of(op: &Operation, access: api::Access) -> Option<Self> {
        let pkg = target_pkg(op)?;
        matches!(access, api::Access::Read | api::Access::Write).then(|| Self {
            repository: repository(pkg),
            access,
            deletes: matches!(
                op,
                Operation::Delete(
                    DeleteTarget::File(_)
                        | DeleteTarget::Version(_)
                        | DeleteTarget::Package(_)
                        | DeleteTarget::Tag(_)
                )
            ),
        })
    }

    /// The scope to ask the token endpoint for. Writes ask for `pull,push`, what
    /// Docker clients hold while pushing; `push` also covers deletes.
    fn challenge(&self) -> String {
        let actions = match self.access {
            api::Access::Write => "pull,push",
            _ => "pull",
        };
        format!("repository:{}:{actions}", self.repository)
    }

    /// Reads need `pull`, writes `push`; deletes `push` or `delete`.
    fn granted_by(&self, grant: &Grant) -> bool {
        let allows = |action| grant.allows(&self.repository, action);
        match self.access {
            api::Access::Write => allows(Action::Push) || (self.deletes && allows(Action::Delete)),
            _ => allows(Action::Pull),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::registry_token::AccessEntry;
    use crate::db::owners::{self, OwnerKind};
    use std::sync::Arc;

    fn pkg(owner: &str, name: &str) -> api::PackageRef {
        api::PackageRef {
            owner: owner.into(),
            name: name.into(),
        }
    }

    fn grant(actions: &[&str]) -> Arc<Grant> {
        let access = serde_json::json!([{
            "type": "repository", "name": "alice/img", "actions": actions
        }]);
        let access: Vec<AccessEntry> = serde_json::from_value(access).unwrap();
        Arc::new(Grant::from_access(&access))
    }

    #[test]
    fn scopes_name_the_repository_and_the_actions() {
        let read = NeededScope::of(
            &Operation::Delete(DeleteTarget::Package(pkg("Alice", "Img"))),
            api::Access::Read,
        )
        .unwrap();
        assert_eq!(read.challenge(), "repository:alice/img:pull");
        let write = NeededScope::of(
            &Operation::Delete(DeleteTarget::Package(pkg("alice", "img"))),
            api::Access::Write,
        )
        .unwrap();
        assert_eq!(write.challenge(), "repository:alice/img:pull,push");
        assert!(
            NeededScope::of(&Operation::NotFound, api::Access::Read).is_none(),
            "operations on no package need no grant"
        );
        assert!(
            NeededScope::of(
                &Operation::Delete(DeleteTarget::Package(pkg("a", "b"))),
                api::Access::Authenticated
            )
            .is_none()
        );
    }

    /// Every operation that names an owner names the new one after [`retarget`]; the
    /// others are left as they are.
    #[test]
    fn retargeting_renames_the_owner_of_every_operation_that_names_one() {
        let session = Operation::UploadSession(api::SessionRequest {
            pkg: pkg("all", "img"),
            id: String::new(),
            op: api::SessionOp::Start,
        });
        let owner_file = Operation::Serve(api::ServeSpec {
            selector: Selector::OwnerFile(api::OwnerFile {
                owner: "all".into(),
                name: "index".into(),
            }),
            digest_of: None,
        });
        let untag = Operation::Delete(DeleteTarget::Tag(api::TagRef {
            pkg: pkg("all", "img"),
            tag: "latest".into(),
        }));
        for mut op in [session, owner_file, untag] {
            retarget(&mut op, "acme");
            assert_eq!(target_owner(&op), Some("acme"));
        }
        let mut none = Operation::NotFound;
        retarget(&mut none, "acme");
        assert_eq!(target_owner(&none), None);
    }

    #[test]
    fn deletes_are_granted_by_push_or_delete_other_writes_by_push_only() {
        let delete = NeededScope::of(
            &Operation::Delete(DeleteTarget::Package(pkg("alice", "img"))),
            api::Access::Write,
        )
        .unwrap();
        assert!(delete.granted_by(&grant(&["delete"])));
        assert!(delete.granted_by(&grant(&["push"])));
        assert!(!delete.granted_by(&grant(&["pull"])));
        let upload = Operation::MountBlob(api::MountRequest {
            pkg: pkg("alice", "img"),
            digest: api::Digest {
                algorithm: api::HashAlgorithm::Sha256,
                hex: "00".repeat(32),
            },
            source: None,
            fallback: None,
        });
        let push = NeededScope::of(&upload, api::Access::Write).unwrap();
        assert!(!push.granted_by(&grant(&["delete"])));
        assert!(push.granted_by(&grant(&["pull", "push"])));
    }

    #[test]
    fn what_each_needed_access_is_covered_by() {
        let anonymous = Principal::Anonymous;
        let guest = Principal::Guest(grant(&["pull"]));
        assert!(covers(Access::None, &anonymous, api::Access::None));
        assert!(!covers(
            Access::Write,
            &anonymous,
            api::Access::Authenticated
        ));
        assert!(covers(Access::None, &guest, api::Access::Authenticated));
        assert!(covers(Access::Read, &anonymous, api::Access::Read));
        assert!(!covers(Access::Read, &anonymous, api::Access::Write));
    }

    #[tokio::test]
    async fn a_route_for_another_owner_than_the_mount_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        let (alice, bob) = db
            .write_sync(|tx| {
                let a = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                let b = owners::create(tx, "bob", OwnerKind::User, None, false, true)?;
                Ok((
                    owners::by_id(tx, a)?.unwrap(),
                    owners::by_id(tx, b)?.unwrap(),
                ))
            })
            .unwrap();
        let mount = Granted {
            owner: alice.clone(),
            access: Access::Read,
        };
        let mut hint = ScopeHint::default();
        let op = Operation::Delete(DeleteTarget::Package(pkg("bob", "x")));
        let routed = authorize(
            &db,
            &Principal::Anonymous,
            Some(&mount),
            &op,
            api::Access::Read,
            None,
            &mut hint,
        );
        assert!(matches!(routed.await, Err(Error::Internal(_))));

        // Without a mount owner, the named owner is loaded and checked in full.
        let routed = authorize(
            &db,
            &Principal::Anonymous,
            None,
            &op,
            api::Access::Read,
            None,
            &mut hint,
        );
        assert!(
            matches!(routed.await, Err(Error::Unauthorized(_))),
            "bob is private"
        );
        assert_eq!(hint.scope.as_deref(), Some("repository:bob/x:pull"));
        let own = Operation::Delete(DeleteTarget::Package(pkg("alice", "x")));
        let routed = authorize(
            &db,
            &Principal::Anonymous,
            None,
            &own,
            api::Access::Read,
            None,
            &mut hint,
        );
        assert_eq!(routed.await.unwrap().unwrap().id, alice.id);
        let _ = bob;
    }

    #[tokio::test]
    async fn a_token_without_the_scope_is_insufficient() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        let alice = db
            .write_sync(|tx| {
                let id = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                Ok(owners::by_id(tx, id)?.unwrap())
            })
            .unwrap();
        let user = Principal::User(crate::auth::User {
            id: alice.id,
            name: alice.name.clone(),
            is_admin: false,
            scope: crate::db::tokens::Scope::Write,
            grant: Some(grant(&["pull"])),
            source: crate::auth::registry_token::Minted::Token { id: 1 },
        });
        let mount = Granted {
            owner: alice,
            access: Access::Write,
        };
        let mut hint = ScopeHint::default();
        let op = Operation::Delete(DeleteTarget::Package(pkg("alice", "img")));
        let refused = authorize(
            &db,
            &user,
            Some(&mount),
            &op,
            api::Access::Write,
            None,
            &mut hint,
        )
        .await;
        assert!(matches!(refused, Err(Error::Forbidden(_))));
        assert!(hint.insufficient);
        let read = authorize(
            &db,
            &user,
            Some(&mount),
            &op,
            api::Access::Read,
            None,
            &mut hint,
        )
        .await;
        assert!(read.is_ok());
    }
}
