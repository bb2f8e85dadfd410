//! Stage 4, execution: each operation goes to its executor under `registry/`, and what
//! it produced becomes a response (the route's reply template applies to responses the
//! host wrote).

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};

use super::download::{self, Download, Served};
use super::render::{plugin_response, rendered};
use super::{reply, sessions, token, upload};
use crate::auth::Principal;
use crate::auth::registry_token::Action;
use crate::error::Error;
use crate::pipeline::authorize::{self, repository};
use crate::pipeline::identify::{Owner, owner_named};
use crate::pipeline::write_to::{read_only, writes};
use crate::plugins::api::{self, Operation};
use crate::proxy::ProxyOwner;
use crate::registry::delete;
use crate::registry::lookup::{self, FileRow};
use crate::registry::virtual_owners::VirtualOwner;
use crate::registry::{FormatEntry, Registry, index, mount, publish, tokens};
use crate::store::Algorithm;

/// Who wrote a response, which decides whether the route's reply template applies.
enum ReplyBy {
    /// The plugin (respond, render-index, a publish plan's reply): used as it is.
    Plugin,
    /// The host; `streamed` file bodies keep their status and body.
    Host { streamed: bool },
}

struct Done {
    response: Response,
    outcome: reply::Outcome,
    reply: ReplyBy,
}

impl Done {
    fn own(response: Response) -> Self {
        Self {
            response,
            outcome: reply::Outcome::default(),
            reply: ReplyBy::Plugin,
        }
    }

    fn host(response: Response, outcome: reply::Outcome) -> Self {
        Self {
            response,
            outcome,
            reply: ReplyBy::Host { streamed: false },
        }
    }
}

/// What every executor may need to know about the request.
pub struct Context<'a> {
    pub registry: &'a Arc<Registry>,
    pub entry: &'a FormatEntry,
    pub principal: &'a Principal,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The client's address, which failed sign-ins are counted by.
    pub peer: Option<std::net::IpAddr>,
    /// The mount owner's listing revision, read when the caller was identified.
    pub listing: Option<index::Listing>,
}

impl Context<'_> {
    /// Runs `op` for `owner` and renders its response; failures keep the route's reply
    /// headers (a session's `Location`, so clients learn where to resume).
    pub async fn run(
        &self,
        route: &api::Route,
        owner: Option<Owner>,
        request: api::Request,
        body: Body,
    ) -> Result<Response, Error> {
        let done = match (owner, route.operation.clone()) {
            (_, Operation::Respond(response)) => Done::own(respond(response, body).await),
            (_, Operation::NotFound) => return Err(Error::not_found("not found")),
            (_, Operation::IssueToken(t)) => self.issue_token(t, &request.query, body).await?,
            (None, Operation::RenderIndex(spec)) if spec.pkg.is_none() => {
                let index = index::render_across_owners(
                    self.registry,
                    &self.entry.name,
                    &self.entry.plugin,
                    request.base_url,
                    self.principal,
                    spec,
                )
                .await?;
                Done::own(rendered(&index, self.headers))
            }
            (Some(owner), op) => {
                let done = match self.registry.virtual_kind(&owner.name) {
                    // A proxy or group holds one format: at another format's mount it
                    // has nothing, rather than that format's view of its packages.
                    Some(kind) if kind.format() != self.entry.name => Err(Error::not_found(
                        format!("{} has no {} packages", owner.name, self.entry.name),
                    )),
                    Some(VirtualOwner::Proxy(config)) => {
                        let proxy = ProxyOwner {
                            id: owner.id,
                            name: owner.name.clone(),
                            config,
                        };
                        self.proxied(proxy, op, owner, request, body).await
                    }
                    Some(VirtualOwner::Group(group)) => {
                        self.grouped(group, op, owner, request, body).await
                    }
                    None => self.execute(op, owner, request, body).await,
                };
                done.map_err(|e| reply::error_headers(e, route.reply.as_ref()))?
            }
            (None, _) => {
                return Err(Error::Internal(format!(
                    "plugin {} returned an operation without an owner",
                    self.entry.name
                )));
            }
        };
        Ok(match done.reply {
            ReplyBy::Plugin => done.response,
            ReplyBy::Host { streamed } => {
                reply::apply(done.response, route.reply.as_ref(), &done.outcome, streamed)
            }
        })
    }

    async fn execute(
        &self,
        op: Operation,
        owner: Owner,
        request: api::Request,
        body: Body,
    ) -> Result<Done, Error> {
        let (registry, format, owner_id) = (self.registry, self.entry.name.as_str(), owner.id);
        match op {
            Operation::Serve(spec) => {
                let file = lookup::file(registry, format, owner_id, &spec.selector, self.listing)?;
                self.serve_file(file, spec.digest_of).await
            }
            Operation::AcceptUpload(spec) => Ok(Done::own(
                self.accept_upload(owner, request, spec, body).await?,
            )),
            Operation::RenderIndex(spec) => {
                let index = index::render(
                    registry,
                    format,
                    &self.entry.plugin,
                    request.base_url,
                    &owner,
                    spec,
                    self.listing,
                )
                .await?;
                Ok(Done::own(rendered(&index, self.headers)))
            }
            Operation::Delete(target) => {
                delete::run(registry, owner_id, format, target).await?;
                Ok(Done::host(
                    StatusCode::NO_CONTENT.into_response(),
                    reply::Outcome::default(),
                ))
            }
            Operation::MountBlob(m) => self.mount_blob(owner, m, body).await,
            Operation::UploadSession(s) => {
                let (response, outcome) =
                    sessions::execute(registry, self.entry, owner_id, self.headers, s, body)
                        .await?;
                Ok(Done::host(response, outcome))
            }
            Operation::IssueToken(token) => self.issue_token(token, &request.query, body).await,
            Operation::Respond(response) => Ok(Done::own(plugin_response(response))),
            Operation::NotFound => Err(Error::not_found("not found")),
        }
    }

    /// Streams a stored file, or serves a digest of it as text (Maven's `.sha1`).
    async fn serve_file(
        &self,
        file: FileRow,
        digest_of: Option<api::HashAlgorithm>,
    ) -> Result<Done, Error> {
        let Some(algorithm) = digest_of else {
            return self.serve(file).await;
        };
        let hex = lookup::file_digest(self.registry, file, algorithm).await?;
        let response = ([(header::CONTENT_TYPE, "text/plain")], hex).into_response();
        Ok(Done::host(response, reply::Outcome::default()))
    }

    async fn serve(&self, file: FileRow) -> Result<Done, Error> {
        let download = Download {
            sha256: &file.blob,
            size: file.size,
            content_type: &file.content_type,
            modified: file.created,
            filename: (!file.name.is_empty()).then_some(file.name.as_str()),
        };
        let (response, served) =
            download::serve(&self.registry.blobs, self.method, self.headers, download).await?;
        if served == Served::Full && file.lead {
            self.registry.downloads.record(file.version_id);
        }
        Ok(Done {
            response,
            outcome: reply::Outcome {
                size: Some(file.size),
                sha256: Some(file.blob),
                ..reply::Outcome::default()
            },
            reply: ReplyBy::Host { streamed: true },
        })
    }

    /// Streams the body into a staged blob, lets the plugin plan the publish from it,
    /// and commits the plan.
    async fn accept_upload(
        &self,
        owner: Owner,
        request: api::Request,
        spec: api::UploadSpec,
        body: Body,
    ) -> Result<Response, Error> {
        let limit = match spec.max_size {
            0 => self.entry.max_upload,
            n => n.min(self.entry.max_upload),
        };
        let descriptor = &self.entry.plugin.descriptor;
        let digests: Vec<Algorithm> = descriptor
            .digests
            .iter()
            .map(|a| publish::algorithm(*a))
            .collect();
        let staged = upload::receive(
            &self.registry.blobs,
            self.headers,
            upload::byte_stream(body),
            limit,
            &digests,
        )
        .await?;
        let reader =
            crate::plugins::UploadReader::new(staged.open()?, staged.size, staged.sha256.clone());
        let plan = self
            .entry
            .plugin
            .parse_upload(request, spec, reader)
            .await?;
        if !plan.pkg.owner.eq_ignore_ascii_case(&owner.name) {
            return Err(Error::Internal(format!(
                "plugin {} planned a publish for another owner",
                self.entry.name
            )));
        }
        let reply = plan.reply.clone();
        let creator = self.principal.user().map(|u| u.id);
        publish::commit(
            self.registry,
            &self.entry.name,
            owner.id,
            creator,
            staged,
            plan,
            digests,
        )
        .await?;
        if reply.status == 0 {
            return Ok(StatusCode::CREATED.into_response());
        }
        Ok(plugin_response(reply))
    }

    /// Links a blob the caller may read into the target package; where it cannot and
    /// the route has a fallback, an upload session opens instead (OCI answers 202).
    async fn mount_blob(
        &self,
        owner: Owner,
        m: api::MountRequest,
        body: Body,
    ) -> Result<Done, Error> {
        let (fallback, pkg) = (m.fallback.clone(), m.pkg.clone());
        match self.mount_from_source(owner.clone(), m).await {
            Err(Error::NotFound(_) | Error::Forbidden(_)) if fallback.is_some() => {
                let start = api::SessionRequest {
                    pkg,
                    id: String::new(),
                    op: api::SessionOp::Start,
                };
                let (response, outcome) = sessions::execute(
                    self.registry,
                    self.entry,
                    owner.id,
                    self.headers,
                    start,
                    body,
                )
                .await?;
                let response = reply::apply(response, fallback.as_ref(), &outcome, false);
                Ok(Done::own(response))
            }
            mounted => {
                mounted?;
                Ok(Done::host(
                    StatusCode::CREATED.into_response(),
                    reply::Outcome::default(),
                ))
            }
        }
    }

    /// The source must be readable by the caller (and, for a registry token, pullable);
    /// without a source, any package of this owner the caller may pull will do.
    async fn mount_from_source(&self, owner: Owner, m: api::MountRequest) -> Result<(), Error> {
        let db = &self.registry.db;
        let source_owner = match &m.source {
            Some(source) => owner_named(db, &source.owner).await?,
            None => owner.clone(),
        };
        authorize::check(db, self.principal, Some(&source_owner), api::Access::Read).await?;
        if let (Some(grant), Some(source)) = (self.principal.grant(), &m.source)
            && !grant.allows(&repository(source), Action::Pull)
        {
            return Err(Error::not_found("blob not found in the source"));
        }
        let grant = self.principal.grant().cloned();
        let prefix = source_owner.name.clone();
        let source = mount::Source {
            owner: source_owner,
            package: m.source.map(|s| s.name),
            pullable: Box::new(move |name: &str| {
                let repository = format!("{prefix}/{name}").to_ascii_lowercase();
                grant
                    .as_ref()
                    .is_none_or(|g| g.allows(&repository, Action::Pull))
            }),
        };
        mount::mount(
            self.registry,
            &self.entry.name,
            owner.id,
            &m.pkg.name,
            &m.digest,
            source,
        )
        .await
    }

    /// Hands the signed-in caller a new stored token with the caller's own scope, so a
    /// read token cannot be traded for a write token; or a short-lived registry token
    /// (`persistent: false`, see [`token`]). A registry token is never traded for
    /// another: its grant may be narrower than its user's rights.
    async fn issue_token(
        &self,
        request: api::TokenRequest,
        query: &[(String, String)],
        body: Body,
    ) -> Result<Done, Error> {
        if self.principal.grant().is_some() {
            return Err(Error::Unauthorized(
                "a registry token cannot be exchanged for another token; sign in".to_string(),
            ));
        }
        if !request.persistent {
            let api::Challenge::Bearer(challenge) = &self.entry.plugin.descriptor.challenge else {
                return Err(not_available(
                    "short-lived tokens for formats without a Bearer challenge",
                ));
            };
            let call = token::TokenCall {
                registry: self.registry,
                format: &self.entry.name,
                service: &challenge.service,
                principal: self.principal,
                method: self.method,
                headers: self.headers,
                peer: self.peer,
                expected_user: request.user.as_deref(),
            };
            let issued = token::issue(call, query, body).await?;
            return Ok(Done::host(issued.response, token_outcome(issued.token)));
        }
        let Some(user) = self.principal.user() else {
            return Err(Error::Unauthorized("sign in to get a token".to_string()));
        };
        if let Some(expected) = &request.user
            && !expected.eq_ignore_ascii_case(&user.name)
        {
            return Err(Error::Unauthorized(format!(
                "signed in as {:?}, not as {expected:?}",
                user.name
            )));
        }
        let token = tokens::create(self.registry, user.id, &request.name, user.scope).await?;
        let via = crate::audit::Via::Http;
        crate::audit::token_created(&user.name, &request.name, user.scope.as_str(), via);
        let body = serde_json::json!({ "token": token }).to_string();
        let response = (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        Ok(Done::host(response, token_outcome(token)))
    }
}

/// A plugin's own answer. A body it answers without storing (Maven's own
/// `maven-metadata.xml`) is read and dropped up to a bound, so the connection stays
/// usable; past that bound the connection is closed after the response.
async fn respond(response: api::Response, body: Body) -> Response {
    let mut reply = plugin_response(response);
    if !super::format::drain(body).await {
        reply
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    reply
}

fn token_outcome(token: String) -> reply::Outcome {
    reply::Outcome {
        token: Some(token),
        ..reply::Outcome::default()
    }
}

fn not_available(what: &str) -> Error {
    Error::Plugin(crate::plugins::PluginFailure::Rejected {
        status: 501,
        code: "UNSUPPORTED".to_string(),
        message: format!("{what} are not available in this version of the host"),
    })
}

#[path = "execute/grouped.rs"]
mod grouped;
#[path = "execute/proxied.rs"]
mod proxied;

#[cfg(test)]
#[path = "execute/tests.rs"]
mod tests;
