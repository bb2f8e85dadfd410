//! The request pipeline below a format's mount, one stage per module:
//!
//! 1. [`identify`]: credentials → a principal, and the mount's owner with the caller's
//!    access to it and its listing revision of the format (one database trip);
//! 2. routing: the plugin's `match-route` turns the request into an operation and the
//!    access it needs (here, [`prepare`]);
//! 3. [`authorize`]: the owner the operation touches (a write on a group with
//!    `write_to` touches that member, [`write_to`]), registry-token scopes, and the
//!    live permission check;
//! 4. execution: `http::execute` hands the operation to its executor under
//!    `registry/` (lookups, publish, delete, sessions, mounts, tokens, indexes);
//! 5. rendering: `http::render` and `http::errors` write the response.
//!
//! Stages 1–3 know nothing of HTTP: the adapter (`http::format`) gives them the
//! credentials, the mount's owner segment and the request as the plugin will see it.

pub mod authorize;
pub mod identify;
pub mod write_to;

use std::net::IpAddr;

use crate::auth::{Credentials, Principal};
use crate::db::owners::Owner;
use crate::error::Error;
use crate::plugins::api::{self, Challenge};
use crate::registry::index::Listing;
use crate::registry::{FormatEntry, Registry};

pub use authorize::ScopeHint;

/// A request as the HTTP adapter hands it over.
pub struct Inbound {
    pub credentials: Credentials,
    /// The client's address, which failed sign-ins are counted by.
    pub peer: Option<IpAddr>,
    /// The mount's `{owner}` segment, decoded; none on mounts without one.
    pub mount_owner: Option<String>,
    /// Method, path below the mount, query and headers (credentials removed); the
    /// pipeline fills in owner, base URL and user once it knows them.
    pub request: api::Request,
}

/// What the challenge of a refusal should say, learnt along the stages.
#[derive(Debug, Default, Clone)]
pub struct Hints {
    /// The request's token was refused (unknown, expired, badly signed).
    pub invalid_token: bool,
    pub scope: ScopeHint,
    /// The signed-in user, once authenticated (also when a later stage refuses).
    pub user: Option<String>,
}

/// A request that passed authentication, routing and authorization.
pub struct Prepared {
    pub principal: Principal,
    /// The owner the operation touches (none for owner-less routes: the `/v2/` ping,
    /// a catalog across owners); for a write through a group, its `write_to` member.
    pub owner: Option<Owner>,
    /// The plugin's route; its operation names [`Self::owner`].
    pub route: api::Route,
    /// The request as the plugin saw it; executors hand it on (indexes, uploads).
    pub request: api::Request,
    /// The mount owner's listing revision of the format, read in stage 1: a package
    /// index of that owner reuses the package rows read at it.
    pub listing: Option<Listing>,
}

/// Runs stages 1–3. `hints` collects what a refusal's challenge should say.
pub async fn prepare(
    registry: &Registry,
    entry: &FormatEntry,
    inbound: Inbound,
    hints: &mut Hints,
) -> Result<Prepared, Error> {
    // Registry tokens are good only where their grants are enforced: below a format
    // that sends clients to the token endpoint.
    let registry_tokens = matches!(entry.plugin.descriptor.challenge, Challenge::Bearer(_))
        .then(|| registry.token_key.clone());
    let credentials = (registry.passwords)
        .check(&registry.db, inbound.credentials, inbound.peer)
        .await?;
    let caller = identify::identify(
        &registry.db,
        credentials,
        registry_tokens,
        inbound.mount_owner,
        &entry.name,
    )
    .await
    .map_err(|refused| {
        hints.invalid_token = refused.token_refused;
        refused.error
    })?;
    registry.token_use.record_caller(&caller.principal);
    let listing = caller
        .mount
        .as_ref()
        .zip(caller.listing_revision)
        .map(|(mount, revision)| Listing {
            owner_id: mount.owner.id,
            revision,
        });
    hints.user = caller.principal.user().map(|u| u.name.clone());

    let mut request = inbound.request;
    let mount_name = caller.mount.as_ref().map(|g| g.owner.name.as_str());
    request.owner = mount_name.map(str::to_string);
    request.base_url = entry.mount.url(&registry.public_url, mount_name);
    request.user = caller.principal.user().map(|u| u.name.clone());
    let mut route = entry.plugin.match_route(request.clone()).await?;

    write_to::refuse_read_only(registry, &entry.name, caller.mount.as_ref(), &route)?;
    let written_to = write_to::member(registry, &entry.name, caller.mount.as_ref(), &route);
    let owner = authorize::authorize(
        &registry.db,
        &caller.principal,
        caller.mount.as_ref(),
        &route.operation,
        route.access,
        written_to.as_deref(),
        &mut hints.scope,
    )
    .await
    .map_err(|e| match e {
        Error::Internal(why) => Error::Internal(format!("plugin {}: {why}", entry.name)),
        other => other,
    })?;
    if let (Some(_), Some(member)) = (&written_to, &owner) {
        authorize::retarget(&mut route.operation, &member.name);
    }
    Ok(Prepared {
        principal: caller.principal,
        owner,
        route,
        request,
        listing,
    })
}

#[cfg(test)]
mod tests {
    //! Stages 1–3 as `prepare` chains them, with the bundled plugins routing: each test
    //! names the link it guards.

    use super::*;
    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    fn inbound(
        credentials: Credentials,
        owner: Option<&str>,
        method: api::Method,
        path: &str,
    ) -> Inbound {
        Inbound {
            credentials,
            peer: None,
            mount_owner: owner.map(str::to_string),
            request: api::Request {
                method,
                path: path.to_string(),
                query: Vec::new(),
                headers: Vec::new(),
                owner: None,
                base_url: String::new(),
                user: None,
            },
        }
    }

    fn basic(user: &str, secret: &str) -> Credentials {
        Credentials::Basic {
            user: user.to_string(),
            secret: secret.to_string(),
        }
    }

    async fn prepared(
        t: &TestRegistry,
        format: &str,
        inbound: Inbound,
    ) -> (Result<Prepared, Error>, Hints) {
        let entry = t.registry.format(format).expect("a bundled format");
        let mut hints = Hints::default();
        let prepared = prepare(&t.registry, entry, inbound, &mut hints).await;
        (prepared, hints)
    }

    const FILE: &str = "/tool/1.0/tool.txt";

    /// Guards stage 1's first step: a Basic password is verified by `auth::Passwords`
    /// (failed sign-ins counted, then refused with 429 unhashed) before identification,
    /// which only ever sees checked credentials.
    #[tokio::test]
    async fn passwords_are_verified_and_rate_limited_before_identification() {
        let t = TestRegistry::with(|c| c.server.login_failures_per_user = 2);
        t.user("alice", Scope::Write);
        t.user("bob", Scope::Write);
        let get = |credentials| inbound(credentials, Some("alice"), api::Method::Get, FILE);

        let (signed_in, hints) =
            prepared(&t, "generic", get(basic("alice", "alice-password"))).await;
        let signed_in = signed_in.expect("the right password signs in");
        assert_eq!(signed_in.principal.user().unwrap().name, "alice");
        assert_eq!(hints.user.as_deref(), Some("alice"));

        for _ in 0..2 {
            let (wrong, hints) = prepared(&t, "generic", get(basic("bob", "wrong"))).await;
            assert!(
                matches!(wrong, Err(Error::Unauthorized(_))),
                "never anonymous"
            );
            assert!(hints.user.is_none());
        }
        let (limited, _) = prepared(&t, "generic", get(basic("bob", "bob-password"))).await;
        assert!(
            matches!(limited, Err(Error::TooManyRequests { .. })),
            "bob used up his failed sign-ins"
        );
    }

    /// Guards stage 2's input: the plugin routes a request whose owner is the stored
    /// owner's name (not the URL's spelling), whose base URL is the mount's public URL,
    /// and whose user is the signed-in caller.
    #[tokio::test]
    async fn the_plugin_routes_with_owner_base_url_and_user_filled_in() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Read);
        let request = inbound(
            Credentials::Token(token),
            Some("ALICE"),
            api::Method::Get,
            FILE,
        );
        let (prepared_, _) = prepared(&t, "generic", request).await;
        let prepared_ = prepared_.expect("alice reads her own packages");
        assert_eq!(prepared_.request.owner.as_deref(), Some("alice"));
        assert_eq!(
            prepared_.request.base_url,
            "http://wharf.test/api/packages/alice/generic"
        );
        assert_eq!(prepared_.request.user.as_deref(), Some("alice"));
        assert_eq!(prepared_.owner.map(|o| o.name).as_deref(), Some("alice"));
        assert!(matches!(prepared_.route.access, api::Access::Read));
        let api::Operation::Serve(spec) = prepared_.route.operation else {
            panic!("generic serves a file on GET");
        };
        let api::Selector::File(file) = spec.selector else {
            panic!("a file selector");
        };
        assert_eq!(
            (file.version.version.as_str(), file.name.as_str()),
            ("1.0", "tool.txt")
        );

        let anonymous = inbound(Credentials::None, Some("alice"), api::Method::Get, FILE);
        let (anonymous, hints) = prepared(&t, "generic", anonymous).await;
        assert!(anonymous.expect("alice is public").request.user.is_none());
        assert!(hints.user.is_none());
    }

    /// Guards the order of stages 1 and 2: a mount owner that does not exist is a 404
    /// before the plugin routes (a POST generic would refuse with 405).
    #[tokio::test]
    async fn an_unknown_mount_owner_is_404_before_routing() {
        let t = TestRegistry::open();
        let post = inbound(Credentials::None, Some("nobody"), api::Method::Post, FILE);
        let (refused, _) = prepared(&t, "generic", post).await;
        assert!(matches!(refused, Err(Error::NotFound(_))));
    }

    /// Guards routes without an owner (the `/v2/` ping): no owner is loaded, the base
    /// URL is the bare mount, and the route's `authenticated` access still applies.
    #[tokio::test]
    async fn an_owner_less_route_prepares_without_an_owner() {
        let t = TestRegistry::open();
        let token = t.user("alice", Scope::Read);
        let ping = |credentials| inbound(credentials, None, api::Method::Get, "/");
        let (signed_in, _) = prepared(&t, "oci", ping(Credentials::Token(token))).await;
        let signed_in = signed_in.expect("a signed-in ping");
        assert!(signed_in.owner.is_none());
        assert!(signed_in.request.owner.is_none());
        assert_eq!(signed_in.request.base_url, "http://wharf.test/v2");
        let (anonymous, _) = prepared(&t, "oci", ping(Credentials::None)).await;
        assert!(matches!(anonymous, Err(Error::Unauthorized(_))));
    }

    /// Guards the hints a refusal's challenge is built from: a refused token says so
    /// (and is never taken for anonymous), the signed-in user is known even when
    /// authorization refuses, and a Bearer format learns the scope the route needs.
    #[tokio::test]
    async fn refusals_leave_hints_for_the_challenge() {
        let t = TestRegistry::open();
        let read = t.user("alice", Scope::Read);

        let bogus = Credentials::Token("wharf_not-a-token".to_string());
        let (refused, hints) = prepared(
            &t,
            "generic",
            inbound(bogus, Some("alice"), api::Method::Get, FILE),
        )
        .await;
        assert!(matches!(refused, Err(Error::Unauthorized(_))));
        assert!(hints.invalid_token);

        let put = inbound(
            Credentials::Token(read),
            Some("alice"),
            api::Method::Put,
            FILE,
        );
        let (refused, hints) = prepared(&t, "generic", put).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "a read token");
        assert_eq!(hints.user.as_deref(), Some("alice"));
        assert!(!hints.invalid_token);

        let push = inbound(
            Credentials::None,
            None,
            api::Method::Put,
            "/alice/img/manifests/latest",
        );
        let (refused, hints) = prepared(&t, "oci", push).await;
        assert!(matches!(refused, Err(Error::Unauthorized(_))));
        assert_eq!(
            hints.scope.scope.as_deref(),
            Some("repository:alice/img:pull,push")
        );
    }

    /// Guards where registry tokens count: below a format with a Bearer challenge, which
    /// enforces their grants; anywhere else the same token is refused as invalid.
    #[tokio::test]
    async fn registry_tokens_count_only_below_bearer_formats() {
        let t = TestRegistry::open();
        t.user("alice", Scope::Write);
        let issue = http::Request::get("/v2/token?service=wharf&scope=repository:alice/img:pull")
            .header("authorization", TestRegistry::basic("alice"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = t.send(issue).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value =
            serde_json::from_str(&TestRegistry::text(response).await).unwrap();
        let token = body["token"]
            .as_str()
            .expect("a registry token")
            .to_string();

        let pull = inbound(
            Credentials::Token(token.clone()),
            None,
            api::Method::Get,
            "/alice/img/manifests/latest",
        );
        let (accepted, hints) = prepared(&t, "oci", pull).await;
        assert!(accepted.is_ok(), "its grant covers the pull");
        assert_eq!(hints.user.as_deref(), Some("alice"));

        let elsewhere = inbound(
            Credentials::Token(token),
            Some("alice"),
            api::Method::Get,
            FILE,
        );
        let (refused, hints) = prepared(&t, "generic", elsewhere).await;
        assert!(matches!(refused, Err(Error::Unauthorized(_))));
        assert!(hints.invalid_token);
    }
}
