//! Stage 1, authentication: who is calling, and the mount's owner with the caller's
//! access to it, in one trip to the database. Most requests need nothing else from the
//! database before the plugin routes them.

use crate::auth::passwords::Checked;
use crate::auth::registry_token::TokenKey;
use crate::auth::{self, Access, Principal};
use crate::db::owners;
pub use crate::db::owners::Owner;
use crate::db::{Conn, Db};
use crate::error::Error;

/// An owner and what the caller may do with its packages.
#[derive(Debug, Clone)]
pub struct Granted {
    pub owner: Owner,
    pub access: Access,
}

/// The authenticated caller, and the mount's owner when the mount names one.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    pub mount: Option<Granted>,
    /// The listing revision of the mount owner's packages of the mount's format, read
    /// with the owner: package rows read at this revision are still current
    /// (`registry::index::rows`).
    pub listing_revision: Option<i64>,
}

/// Why authentication failed, beyond the error: whether a token was refused, so the
/// challenge can tell clients to fetch a new one instead of asking for credentials.
#[derive(Debug)]
pub struct Refused {
    pub error: Error,
    pub token_refused: bool,
}

/// Authenticates `credentials` (a password was checked already, see
/// `auth::Passwords`) and loads the mount's owner, which must exist before anything
/// else happens (404, as in Gitea). `registry_tokens` is the key of the short-lived
/// registry tokens, given only below formats that enforce their grants. `format` is the
/// mount's.
pub async fn identify(
    db: &Db,
    credentials: Checked,
    registry_tokens: Option<TokenKey>,
    mount_owner: Option<String>,
    format: &str,
) -> Result<Caller, Refused> {
    if let (Checked::None, Some(name)) = (&credentials, &mount_owner) {
        // Anonymous reads (most installs) need the owner alone: one statement, awaited
        // on this task rather than on a blocked thread.
        let (owner, listing_revision) = owners::by_name_with_listing_now(db, name, format)
            .await
            .and_then(|found| found.ok_or_else(|| unknown_owner(name)))
            .map_err(|error| Refused {
                error,
                token_refused: false,
            })?;
        return Ok(Caller {
            principal: Principal::Anonymous,
            mount: Some(Granted {
                access: auth::public_access(&owner),
                owner,
            }),
            listing_revision: Some(listing_revision),
        });
    }
    let token_presented = matches!(credentials, Checked::Token(_));
    let lookup = move |conn: &Conn<'_>| {
        let principal = auth::authenticate_at_mount(
            conn,
            &credentials,
            registry_tokens.as_ref(),
            crate::db::now(),
        )?;
        let Some(name) = mount_owner else {
            return Ok(Caller {
                principal,
                mount: None,
                listing_revision: None,
            });
        };
        let (owner, listing_revision) = owners::by_name_with_listing(conn, &name, format)?
            .ok_or_else(|| unknown_owner(&name))?;
        let access = auth::granted_access(conn, &principal, &owner)?;
        Ok(Caller {
            principal,
            mount: Some(Granted { owner, access }),
            listing_revision: Some(listing_revision),
        })
    };
    db.read_now(lookup).map_err(|error| Refused {
        token_refused: token_presented && matches!(error, Error::Unauthorized(_)),
        error,
    })
}

fn unknown_owner(name: &str) -> Error {
    Error::not_found(format!("owner {name:?} not found"))
}

/// Authenticates `credentials` and checks they may act on the owner named `owner`
/// with `needed` (the management API's calls, which name their owner in the path).
pub async fn for_owner(
    db: &Db,
    credentials: Checked,
    owner: &str,
    needed: Access,
) -> Result<(Principal, Owner), Error> {
    let owner = owner.to_string();
    db.read(move |conn| {
        let principal = auth::authenticate(conn, &credentials)?;
        let owner = owners::by_name(conn, &owner)?.ok_or_else(|| unknown_owner(&owner))?;
        auth::authorize(conn, &principal, &owner, needed)?;
        Ok((principal, owner))
    })
    .await
}

/// The owner named `name`, or 404.
pub async fn owner_named(db: &Db, name: &str) -> Result<Owner, Error> {
    let lookup = name.to_string();
    db.read(move |conn| owners::by_name(conn, &lookup))
        .await?
        .ok_or_else(|| unknown_owner(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::owners::OwnerKind;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("wharf.db")).unwrap();
        db.write_sync(|tx| {
            owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
            owners::create(tx, "secret", OwnerKind::Org, None, false, true)?;
            Ok(())
        })
        .unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn anonymous_callers_read_public_owners_only() {
        let (_dir, db) = db();
        let public = identify(&db, Checked::None, None, Some("alice".into()), "generic")
            .await
            .unwrap();
        assert!(matches!(public.principal, Principal::Anonymous));
        assert_eq!(public.mount.unwrap().access, Access::Read);
        let private = identify(&db, Checked::None, None, Some("secret".into()), "generic")
            .await
            .unwrap();
        assert_eq!(private.mount.unwrap().access, Access::None);
    }

    // Guards the anonymous path (one statement awaited on the task) on each engine:
    // the owner with its listing revision of the mount's format, public or private, and
    // a connection it used still serving blocking reads once its runtime is gone.
    #[test]
    fn anonymous_callers_get_the_owner_and_its_listing_on_each_engine() {
        for engine in crate::db::packages::fixture::engines("anonymous_identify") {
            let db = engine.db.clone();
            db.write_sync(|tx| {
                let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                owners::create(tx, "secret", OwnerKind::Org, None, false, true)?;
                crate::db::packages::ensure(tx, alice, "npm", "left-pad")?;
                Ok(())
            })
            .unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let anonymous = |owner: &str, format: &str| {
                let owner = Some(owner.to_string());
                runtime.block_on(identify(&db, Checked::None, None, owner, format))
            };
            let alice = anonymous("Alice", "npm").unwrap();
            assert!(matches!(alice.principal, Principal::Anonymous));
            assert_eq!(alice.mount.unwrap().access, Access::Read);
            assert!(alice.listing_revision.unwrap() > 0);
            assert_eq!(
                anonymous("alice", "maven").unwrap().listing_revision,
                Some(0)
            );
            let secret = anonymous("secret", "npm").unwrap();
            assert_eq!(secret.mount.unwrap().access, Access::None);
            let nobody = anonymous("nobody", "npm").unwrap_err();
            assert!(matches!(nobody.error, Error::NotFound(_)));
            drop(runtime);
            let found = db.read_sync(|conn| owners::by_name(conn, "alice")).unwrap();
            assert_eq!(found.unwrap().name, "alice");
        }
    }

    #[tokio::test]
    async fn an_unknown_mount_owner_is_404() {
        let (_dir, db) = db();
        let refused = identify(&db, Checked::None, None, Some("nobody".into()), "generic")
            .await
            .unwrap_err();
        assert!(matches!(refused.error, Error::NotFound(_)));
        assert!(!refused.token_refused);
    }

    #[tokio::test]
    async fn a_refused_token_says_so_and_is_never_anonymous() {
        let (_dir, db) = db();
        let token = Checked::Token("wharf_not_a_real_token".into());
        let refused = identify(&db, token, None, Some("alice".into()), "generic")
            .await
            .unwrap_err();
        assert!(matches!(refused.error, Error::Unauthorized(_)));
        assert!(refused.token_refused);
    }

    #[tokio::test]
    async fn owners_are_found_by_name() {
        let (_dir, db) = db();
        assert_eq!(owner_named(&db, "alice").await.unwrap().name, "alice");
        assert!(matches!(
            owner_named(&db, "bob").await,
            Err(Error::NotFound(_))
        ));
    }
}
