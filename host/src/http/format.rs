//! Requests below a format's mount: authenticate, ask the plugin for a route, check
//! access on the owner the route touches, and execute the operation.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;

use super::download::{self, Download, Served};
use super::errors::Envelope;
use super::{query, reply, sessions, token, upload};
use crate::auth::registry_token::{Action, Grant};
use crate::auth::{self, Access, Credentials, Principal, credentials::CREDENTIAL_HEADERS, secrets};
use crate::db::owners::{self, Owner};
use crate::db::{packages, tokens};
use crate::error::Error;
use crate::plugins::api::{self, Operation};
use crate::registry::{FormatEntry, Registry, delete, digests, index, publish};
use crate::store::Algorithm;

/// The fallback handler: every path not owned by the host's own API.
pub async fn dispatch(State(registry): State<Arc<Registry>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some((entry, owner, rest)) = registry.route(&path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut envelope = Envelope {
        style: entry.plugin.descriptor.error_style.clone(),
        challenge: entry.plugin.descriptor.challenge.clone(),
        public_url: registry.public_url.clone(),
        scope: None,
        insufficient_scope: false,
        invalid_token: false,
    };
    let owner = owner.map(|o| percent_decode_str(o).decode_utf8_lossy().into_owned());
    let rest = rest.to_string();
    let sends_body = sends_body(request.headers());
    let mut response = match handle(&registry, entry, &mut envelope, owner, rest, request).await {
        Ok(response) => response,
        Err(refusal) => envelope.render_coded(refusal.error, &refusal.codes),
    };
    for (name, v) in &entry.plugin.descriptor.response_headers {
        if let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) {
            response.headers_mut().insert(name, value(v));
        }
    }
    // A refused upload may leave its body unread (with `Expect: 100-continue`, never
    // sent). hyper then closes the connection; saying so lets the client open a new one
    // for its next request instead of writing into a dead socket (Maven's HttpClient
    // did, and lost the checksum upload that followed).
    if sends_body && !response.status().is_success() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Whether the request announces a body.
fn sends_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Bodies a plugin answers without storing (Maven's own `maven-metadata.xml`) are read
/// and dropped up to this size, so the connection stays usable.
const DRAINED_BODY: usize = 1 << 20;

/// A failed request: the error, and the protocol codes its route named for failures.
struct Refusal {
    error: Error,
    codes: Vec<(u16, String)>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self {
            error,
            codes: Vec::new(),
        }
    }
}

impl From<crate::plugins::PluginFailure> for Refusal {
    fn from(failure: crate::plugins::PluginFailure) -> Self {
        Error::from(failure).into()
    }
}

/// `envelope` learns the token scope the request needs once the route is known, so a
/// refusal's challenge can name it.
async fn handle(
    registry: &Arc<Registry>,
    entry: &FormatEntry,
    envelope: &mut Envelope,
    mount_owner: Option<String>,
    rest: String,
    request: Request,
) -> Result<Response, Refusal> {
    let (parts, body) = request.into_parts();
    let credentials = Credentials::from_headers(&parts.headers).map_err(Error::Unauthorized)?;
    let token_presented = matches!(credentials, Credentials::Token(_));
    let credentials = (registry.passwords)
        .check(&registry.db, credentials, super::peer(&parts.extensions))
        .await?;
    // Registry tokens are good only where their grants are enforced: here, below a
    // format that sends clients to the token endpoint.
    let registry_tokens = matches!(entry.plugin.descriptor.challenge, api::Challenge::Bearer(_))
        .then(|| registry.token_key.clone());
    // Who is calling, the mount's owner (which must exist before anything else happens,
    // as in Gitea: 404) and the caller's access to it, in one trip to the database: most
    // requests need nothing else from it before the plugin routes them.
    let caller = move |conn: &rusqlite::Connection| {
        let principal = auth::authenticate_at_mount(
            conn,
            &credentials,
            registry_tokens.as_ref(),
            crate::db::now(),
        )?;
        let Some(name) = mount_owner else {
            return Ok((principal, None));
        };
        let owner = owners::by_name(conn, &name)?
            .ok_or_else(|| Error::not_found(format!("owner {name:?} not found")))?;
        let granted = auth::granted_access(conn, &principal, &owner)?;
        Ok((
            principal,
            Some(Granted {
                owner,
                access: granted,
            }),
        ))
    };
    let authenticated = registry.db.read_now(caller);
    if token_presented && matches!(authenticated, Err(Error::Unauthorized(_))) {
        envelope.invalid_token = true;
    }
    let (principal, mount_owner) = authenticated?;
    let mount_grant = mount_owner.as_ref().map(|g| g.access);
    let mount_owner = mount_owner.map(|g| g.owner);

    let plugin_request = api::Request {
        method: method(&parts.method),
        path: if rest.is_empty() {
            "/".to_string()
        } else {
            rest
        },
        query: query::parse(parts.uri.query()),
        headers: plugin_headers(&parts.headers),
        owner: mount_owner.as_ref().map(|o| o.name.clone()),
        base_url: entry.mount.url(
            &registry.public_url,
            mount_owner.as_ref().map(|o| o.name.as_str()),
        ),
        user: principal.user().map(|u| u.name.clone()),
    };
    let route = entry.plugin.match_route(plugin_request.clone()).await?;

    // The owner the operation touches: the one it names, which must be the mount's.
    let owner = match (target_owner(&route.operation), &mount_owner) {
        (Some(named), Some(mount)) if !named.eq_ignore_ascii_case(&mount.name) => {
            return Err(Error::Internal(format!(
                "plugin {} routed a request for owner {:?} to owner {named:?}",
                entry.name, mount.name
            ))
            .into());
        }
        (_, Some(mount)) => Some(mount.clone()),
        (Some(named), None) => Some(find_owner(registry, named).await?),
        (None, None) => None,
    };
    let needed = NeededScope::of(&route.operation, route.access);
    envelope.scope = needed.as_ref().map(NeededScope::challenge);
    if let (Some(grant), Some(needed)) = (principal.grant(), &needed)
        && !needed.granted_by(grant)
    {
        let refusal = format!("the registry token does not grant {}", needed.challenge());
        // A guest has no identity to be refused: it should come back with credentials.
        if matches!(principal, Principal::Guest(_)) {
            return Err(Error::Unauthorized(refusal).into());
        }
        envelope.insufficient_scope = true;
        return Err(Error::Forbidden(refusal).into());
    }
    // The grant computed above holds for the mount's owner; any other owner, or a refusal
    // (whose message depends on why), goes through the full check.
    let known = match (&owner, &mount_owner, mount_grant) {
        (Some(o), Some(m), Some(granted)) if o.id == m.id => Some(granted),
        _ => None,
    };
    if !known.is_some_and(|granted| covers(granted, &principal, route.access)) {
        check_access(registry, &principal, owner.as_ref(), route.access).await?;
    }

    let ctx = Context {
        registry,
        entry,
        principal: &principal,
        method: &parts.method,
        headers: &parts.headers,
        peer: super::peer(&parts.extensions),
    };
    let refused = |error| Refusal {
        error,
        codes: route.error_codes.clone(),
    };
    let done = match (route.operation, owner) {
        (Operation::Respond(response), _) => {
            let mut reply = plugin_response(response);
            if axum::body::to_bytes(body, DRAINED_BODY).await.is_err() {
                reply
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Done::own(reply)
        }
        (Operation::NotFound, _) => return Err(Error::not_found("not found").into()),
        (Operation::IssueToken(request), _) => {
            ctx.issue_token(request, &plugin_request.query, body)
                .await?
        }
        (Operation::RenderIndex(spec), None) if spec.pkg.is_none() => {
            let rendered = index::render_across_owners(
                registry,
                &entry.name,
                &entry.plugin,
                plugin_request,
                &principal,
                spec,
            )
            .await?;
            Done::own(ctx.rendered(&rendered))
        }
        (op, Some(owner)) => ctx
            .execute(op, owner, plugin_request, body)
            .await
            .map_err(|e| refused(reply::error_headers(e, route.reply.as_ref())))?,
        (_, None) => {
            return Err(Error::Internal(format!(
                "plugin {} returned an operation without an owner",
                entry.name
            ))
            .into());
        }
    };
    Ok(match done.reply {
        ReplyBy::Plugin => done.response,
        ReplyBy::Host { streamed } => {
            reply::apply(done.response, route.reply.as_ref(), &done.outcome, streamed)
        }
    })
}

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

    fn host(response: Response) -> Self {
        Self {
            response,
            outcome: reply::Outcome::default(),
            reply: ReplyBy::Host { streamed: false },
        }
    }
}

struct Context<'a> {
    registry: &'a Arc<Registry>,
    entry: &'a FormatEntry,
    principal: &'a Principal,
    method: &'a Method,
    headers: &'a HeaderMap,
    peer: Option<std::net::IpAddr>,
}

impl Context<'_> {
    async fn execute(
        &self,
        op: Operation,
        owner: Owner,
        request: api::Request,
        body: Body,
    ) -> Result<Done, Error> {
        let format = self.entry.name.clone();
        let owner_id = owner.id;
        match op {
            Operation::ServeFile(f) => {
                let file = self.stored_file(owner_id, f).await?;
                self.serve(file).await
            }
            Operation::ServeFileByName(f) => {
                let file = self
                    .lookup(owner_id, f.pkg.name.clone(), move |conn, id| {
                        packages::newest_file_named(conn, id, &f.name)
                    })
                    .await?;
                self.serve(file.ok_or_else(|| Error::not_found("file not found"))?)
                    .await
            }
            Operation::ServeBlob(b) => {
                let file = self
                    .lookup(owner_id, b.pkg.name.clone(), move |conn, id| {
                        package_blob(conn, id, &b.digest)
                    })
                    .await?;
                self.serve(file.ok_or_else(|| Error::not_found("blob not found"))?)
                    .await
            }
            Operation::ServeTag(t) => {
                let file = self
                    .lookup(owner_id, t.tag.pkg.name.clone(), move |conn, id| {
                        packages::tagged_file(conn, id, &t.tag.tag, &t.name)
                    })
                    .await?;
                self.serve(file.ok_or_else(|| Error::not_found("tag not found"))?)
                    .await
            }
            Operation::ServeFileDigest(d) => {
                let file = self.stored_file(owner_id, d.file).await?;
                let services = crate::plugins::Services {
                    db: self.registry.db.clone(),
                    blobs: self.registry.blobs.clone(),
                };
                let algorithm = publish::algorithm(d.algorithm);
                let hex = tokio::task::spawn_blocking(move || {
                    crate::plugins::blob_digest(&services, &file.blob, algorithm)
                })
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
                Ok(Done::host(
                    ([(header::CONTENT_TYPE, "text/plain")], hex).into_response(),
                ))
            }
            Operation::AcceptUpload(spec) => Ok(Done::own(
                self.accept_upload(owner, request, spec, body).await?,
            )),
            Operation::RenderIndex(spec) => {
                let rendered = index::render(
                    self.registry,
                    &format,
                    &self.entry.plugin,
                    request,
                    &owner,
                    spec,
                )
                .await?;
                Ok(Done::own(self.rendered(&rendered)))
            }
            Operation::DeleteFile(f) => {
                self.delete(move |tx| delete::file(tx, owner_id, &format, &f))
                    .await
            }
            Operation::DeleteVersion(v) => {
                self.delete(move |tx| delete::version(tx, owner_id, &format, &v))
                    .await
            }
            Operation::DeletePackage(p) => {
                self.delete(move |tx| delete::package_all(tx, owner_id, &format, &p))
                    .await
            }
            Operation::RemoveTag(t) => {
                self.delete(move |tx| delete::tag(tx, owner_id, &format, &t))
                    .await
            }
            Operation::UnlinkBlob(b) => {
                self.delete(move |tx| delete::blob_link(tx, owner_id, &format, &b))
                    .await
            }
            Operation::MountBlob(m) => {
                let (fallback, pkg) = (m.fallback.clone(), m.pkg.clone());
                match self.mount_blob(owner, m).await {
                    // The client uploads instead: OCI answers 202 with a new session.
                    Err(Error::NotFound(_) | Error::Forbidden(_)) if fallback.is_some() => {
                        let start = api::SessionRequest {
                            pkg,
                            id: String::new(),
                            op: api::SessionOp::Start,
                        };
                        let (response, outcome) = sessions::execute(
                            self.registry,
                            self.entry,
                            owner_id,
                            self.headers,
                            start,
                            body,
                        )
                        .await?;
                        let response = reply::apply(response, fallback.as_ref(), &outcome, false);
                        Ok(Done::own(response))
                    }
                    mounted => Ok(Done::host(mounted?)),
                }
            }
            Operation::UploadSession(s) => {
                let (response, outcome) =
                    sessions::execute(self.registry, self.entry, owner_id, self.headers, s, body)
                        .await?;
                Ok(Done {
                    response,
                    outcome,
                    reply: ReplyBy::Host { streamed: false },
                })
            }
            Operation::IssueToken(token) => self.issue_token(token, &request.query, body).await,
            Operation::Respond(response) => Ok(Done::own(plugin_response(response))),
            Operation::NotFound => Err(Error::not_found("not found")),
        }
    }

    /// A rendered index as a response: 304 when the client has it, gzip when it takes it.
    fn rendered(&self, rendered: &index::Rendered) -> Response {
        let (body, etag, gzipped) = rendered.variant(accepts_gzip(self.headers));
        let etag_matches = self
            .headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
        let mut response = if etag_matches {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let response = api::Response {
                status: rendered.status,
                content_type: rendered.content_type.clone(),
                headers: rendered.headers.clone(),
                body: Vec::new(),
            };
            let mut response = plugin_response(response);
            // Also for HEAD: hyper sends no body then, but its Content-Length.
            *response.body_mut() = Body::from(body);
            if gzipped {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, value(&etag));
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        response
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
            let issued = token::issue(
                token::TokenCall {
                    registry: self.registry,
                    service: &challenge.service,
                    principal: self.principal,
                    method: self.method,
                    headers: self.headers,
                    peer: self.peer,
                    expected_user: request.user.as_deref(),
                },
                query,
                body,
            )
            .await?;
            return Ok(Done {
                response: issued.response,
                outcome: reply::Outcome {
                    token: Some(issued.token),
                    ..reply::Outcome::default()
                },
                reply: ReplyBy::Host { streamed: false },
            });
        }
        let Some(user) = self.principal.user().cloned() else {
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
        let token = secrets::new_token();
        let (hash, name) = (secrets::token_hash(&token), request.name.clone());
        self.registry
            .db
            .write(move |tx| tokens::insert(tx, user.id, &name, &hash, user.scope, None))
            .await?;
        let body = serde_json::json!({ "token": token }).to_string();
        let response = (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        Ok(Done {
            response,
            outcome: reply::Outcome {
                token: Some(token),
                ..reply::Outcome::default()
            },
            reply: ReplyBy::Host { streamed: false },
        })
    }

    /// Runs `f` with the id of the named package of this format, or returns None.
    async fn lookup<R: Send + 'static>(
        &self,
        owner_id: i64,
        name: String,
        f: impl FnOnce(&rusqlite::Connection, i64) -> Result<Option<R>, Error> + Send + 'static,
    ) -> Result<Option<R>, Error> {
        let format = self.entry.name.clone();
        self.registry.db.read_now(move |conn| {
            match packages::find(conn, owner_id, &format, &name)? {
                Some(p) => f(conn, p.id),
                None => Ok(None),
            }
        })
    }

    /// The stored file a `file-ref` names, or 404.
    async fn stored_file(
        &self,
        owner_id: i64,
        f: api::FileRef,
    ) -> Result<packages::FileRow, Error> {
        self.lookup(
            owner_id,
            f.version.pkg.name.clone(),
            move |conn, package_id| {
                let Some(v) = packages::version(conn, package_id, &f.version.version)? else {
                    return Ok(None);
                };
                packages::file(conn, v.id, &f.name)
            },
        )
        .await?
        .ok_or_else(|| Error::not_found("file not found"))
    }

    async fn serve(&self, file: packages::FileRow) -> Result<Done, Error> {
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
        let digests: Vec<Algorithm> = self
            .entry
            .plugin
            .descriptor
            .digests
            .iter()
            .map(|a| publish::algorithm(*a))
            .collect();
        let staged =
            upload::receive(&self.registry.blobs, self.headers, body, limit, &digests).await?;
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

    async fn delete(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), Error> + Send + 'static,
    ) -> Result<Done, Error> {
        self.registry.db.write(f).await?;
        Ok(Done::host(StatusCode::NO_CONTENT.into_response()))
    }

    async fn mount_blob(&self, owner: Owner, m: api::MountRequest) -> Result<Response, Error> {
        let digest = m.digest.clone();
        // The source must be readable by the caller; without a source, any package of
        // this owner that has the blob will do.
        let source_owner = match &m.source {
            Some(source) => find_owner(self.registry, &source.owner).await?,
            None => owner.clone(),
        };
        check_access(
            self.registry,
            self.principal,
            Some(&source_owner),
            api::Access::Read,
        )
        .await?;
        if let (Some(grant), Some(source)) = (self.principal.grant(), &m.source)
            && !grant.allows(&repository(source), Action::Pull)
        {
            return Err(Error::not_found("blob not found in the source"));
        }
        let (format, target) = (self.entry.name.clone(), m.pkg.name.clone());
        let source = m.source.map(|s| s.name);
        let (owner_id, source_owner_id) = (owner.id, source_owner.id);
        // Without a source, a registry token still limits which repositories it may be.
        let grant = self.principal.grant().cloned();
        let pullable = move |name: &str| {
            let repository = format!("{}/{name}", source_owner.name).to_ascii_lowercase();
            grant
                .as_ref()
                .is_none_or(|g| g.allows(&repository, Action::Pull))
        };
        self.registry
            .db
            .write(move |tx| {
                let Some(sha256) = digests::resolve(tx, &digest)? else {
                    return Err(Error::not_found("blob not found"));
                };
                let available = match &source {
                    Some(name) => match packages::find(tx, source_owner_id, &format, name)? {
                        Some(p) => crate::db::blobs::package_has(tx, p.id, &sha256)?,
                        None => false,
                    },
                    None => {
                        let (_, all) =
                            packages::list(tx, source_owner_id, Some(&format), None, i64::MAX, 0)?;
                        all.iter().filter(|p| pullable(&p.name)).any(|p| {
                            crate::db::blobs::package_has(tx, p.id, &sha256).unwrap_or(false)
                        })
                    }
                };
                if !available {
                    return Err(Error::not_found("blob not found in the source"));
                }
                let package_id = packages::ensure(tx, owner_id, &format, &target)?;
                crate::db::blobs::link_to_package(tx, package_id, &sha256)?;
                packages::touch(tx, package_id)
            })
            .await?;
        Ok(StatusCode::CREATED.into_response())
    }
}

async fn find_owner(registry: &Registry, name: &str) -> Result<Owner, Error> {
    let lookup = name.to_string();
    registry
        .db
        .read(move |conn| owners::by_name(conn, &lookup))
        .await?
        .ok_or_else(|| Error::not_found(format!("owner {name:?} not found")))
}

/// An owner and what the caller may do with its packages.
struct Granted {
    owner: Owner,
    access: Access,
}

/// Whether `granted` suffices for what a route needs (a refusal is left to `check_access`).
fn covers(granted: Access, principal: &Principal, needed: api::Access) -> bool {
    match needed {
        api::Access::None => true,
        // A guest token counts: clients ping `/v2/` with it before pulling.
        api::Access::Authenticated => !matches!(principal, Principal::Anonymous),
        api::Access::Read => granted >= Access::Read,
        api::Access::Write => granted >= Access::Write,
    }
}

async fn check_access(
    registry: &Registry,
    principal: &Principal,
    owner: Option<&Owner>,
    access: api::Access,
) -> Result<(), Error> {
    let needed = match access {
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
    registry
        .db
        .read(move |conn| auth::authorize(conn, &principal, &owner, needed))
        .await
}

/// The owner an operation names, if any.
fn target_owner(op: &Operation) -> Option<&str> {
    target_pkg(op).map(|pkg| pkg.owner.as_str())
}

/// The package an operation names, if any.
fn target_pkg(op: &Operation) -> Option<&api::PackageRef> {
    let pkg = match op {
        Operation::ServeFile(f) | Operation::DeleteFile(f) => &f.version.pkg,
        Operation::ServeFileByName(f) => &f.pkg,
        Operation::ServeBlob(b) | Operation::UnlinkBlob(b) => &b.pkg,
        Operation::ServeTag(t) => &t.tag.pkg,
        Operation::ServeFileDigest(d) => &d.file.version.pkg,
        Operation::AcceptUpload(u) => &u.pkg,
        Operation::RenderIndex(i) => return i.pkg.as_ref(),
        Operation::DeleteVersion(v) => &v.pkg,
        Operation::DeletePackage(p) => p,
        Operation::RemoveTag(t) => &t.pkg,
        Operation::MountBlob(m) => &m.pkg,
        Operation::UploadSession(s) => &s.pkg,
        Operation::IssueToken(_) | Operation::Respond(_) | Operation::NotFound => return None,
    };
    Some(pkg)
}

/// A package as a registry-token repository name: `owner/name`.
fn repository(pkg: &api::PackageRef) -> String {
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
                Operation::DeleteFile(_)
                    | Operation::DeleteVersion(_)
                    | Operation::DeletePackage(_)
                    | Operation::RemoveTag(_)
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

fn not_available(what: &str) -> Error {
    Error::Plugin(crate::plugins::PluginFailure::Rejected {
        status: 501,
        code: "UNSUPPORTED".to_string(),
        message: format!("{what} are not available in this version of the host"),
    })
}

/// A blob of the package by digest, as a file to serve: a file of one of its versions
/// (with that file's content type: OCI manifests by digest), else a blob linked to it.
fn package_blob(
    conn: &rusqlite::Connection,
    package_id: i64,
    digest: &api::Digest,
) -> Result<Option<packages::FileRow>, Error> {
    let Some(sha256) = digests::resolve(conn, digest)? else {
        return Ok(None);
    };
    if let Some(file) = packages::file_with_blob(conn, package_id, &sha256)? {
        return Ok(Some(file));
    }
    let Some((size, created)) = crate::db::blobs::package_blob(conn, package_id, &sha256)? else {
        return Ok(None);
    };
    Ok(Some(packages::FileRow::linked_blob(sha256, size, created)))
}

fn method(m: &Method) -> api::Method {
    match *m {
        Method::GET => api::Method::Get,
        Method::HEAD => api::Method::Head,
        Method::PUT => api::Method::Put,
        Method::POST => api::Method::Post,
        Method::PATCH => api::Method::Patch,
        Method::DELETE => api::Method::Delete,
        ref other => api::Method::Other(other.as_str().to_string()),
    }
}

/// Request headers for the plugin: lower-case names, credentials removed.
fn plugin_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Whether `Accept-Encoding` allows gzip (listed, and not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A plugin-computed response. Headers that would break HTTP framing are dropped.
fn plugin_response(r: api::Response) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut response = (status, r.body).into_response();
    let headers = response.headers_mut();
    if !r.content_type.is_empty() {
        headers.insert(header::CONTENT_TYPE, value(&r.content_type));
    }
    for (name, v) in &r.headers {
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if reply::is_framing(&name) {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.append(name, v);
        }
    }
    response
}
