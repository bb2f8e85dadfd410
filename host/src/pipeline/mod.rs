//! The request pipeline below a format's mount, one stage per module:
//!
//! 1. [`identify`]: credentials → a principal, and the mount's owner with the caller's
//!    access to it (one database trip);
//! 2. routing: the plugin's `match-route` turns the request into an operation and the
//!    access it needs (here, [`prepare`]);
//! 3. [`authorize`]: the owner the operation touches, registry-token scopes, and the
//!    live permission check;
//! 4. execution: `http::execute` hands the operation to its executor under
//!    `registry/` (lookups, publish, delete, sessions, mounts, tokens, indexes);
//! 5. rendering: `http::render` and `http::errors` write the response.
//!
//! Stages 1–3 know nothing of HTTP: the adapter (`http::format`) gives them the
//! credentials, the mount's owner segment and the request as the plugin will see it.

pub mod authorize;
pub mod identify;

use std::net::IpAddr;

use crate::auth::{Credentials, Principal};
use crate::db::owners::Owner;
use crate::error::Error;
use crate::plugins::api::{self, Challenge};
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
    /// a catalog across owners).
    pub owner: Option<Owner>,
    pub route: api::Route,
    /// The request as the plugin saw it; executors hand it on (indexes, uploads).
    pub request: api::Request,
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
    )
    .map_err(|refused| {
        hints.invalid_token = refused.token_refused;
        refused.error
    })?;
    registry.token_use.record_caller(&caller.principal);
    hints.user = caller.principal.user().map(|u| u.name.clone());

    let mut request = inbound.request;
    let mount_name = caller.mount.as_ref().map(|g| g.owner.name.as_str());
    request.owner = mount_name.map(str::to_string);
    request.base_url = entry.mount.url(&registry.public_url, mount_name);
    request.user = caller.principal.user().map(|u| u.name.clone());
    let route = entry.plugin.match_route(request.clone()).await?;

    let owner = authorize::authorize(
        &registry.db,
        &caller.principal,
        caller.mount.as_ref(),
        &route.operation,
        route.access,
        &mut hints.scope,
    )
    .await
    .map_err(|e| match e {
        Error::Internal(why) => Error::Internal(format!("plugin {}: {why}", entry.name)),
        other => other,
    })?;
    Ok(Prepared {
        principal: caller.principal,
        owner,
        route,
        request,
    })
}
