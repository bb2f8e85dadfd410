//! Execution on a proxy owner (issue 21). Reads go to the proxy engine (`crate::proxy`):
//! artifacts it stored are the owner's ordinary files, so a warm `serve` is a hosted
//! serve; a miss streams from the one upstream download while it is stored. Documents
//! (`render-index`, and a tagged serve: a mutable reference) are the engine's cached,
//! rewritten upstream documents, served like rendered indexes (ETag, 304, gzip).
//! A HEAD of an artifact not stored is answered from the upstream's HEAD, so asking
//! whether a layer exists does not download it. Writes are refused: a proxy is
//! read-only.

use axum::body::Body;
use axum::response::IntoResponse;
use http::{HeaderValue, Method, StatusCode, header};

use super::{Context, Done, ReplyBy};
use crate::error::Error;
use crate::pipeline::identify::Owner;
use crate::plugins::api::{self, HashAlgorithm, Operation, Selector};
use crate::proxy::{ArtifactBody, ArtifactHead, Download, ProxyOwner, UpstreamHead, glue::Loaded};
use crate::registry::{index, lookup, publish};

use super::super::render::rendered;
use super::super::reply;

impl Context<'_> {
    /// Runs `op` for `owner`, a proxy.
    pub(super) async fn proxied(
        &self,
        proxy: ProxyOwner,
        op: Operation,
        owner: Owner,
        request: api::Request,
        body: Body,
    ) -> Result<Done, Error> {
        match op {
            Operation::Serve(spec) if matches!(spec.selector, Selector::Tagged(_)) => {
                let digest_of = spec.digest_of;
                self.proxy_document(&proxy, &Operation::Serve(spec), &request, digest_of)
                    .await
            }
            Operation::Serve(spec) => self.proxy_serve(&proxy, &owner, spec, &request).await,
            Operation::RenderIndex(mut spec) => {
                let digest_of = spec.digest_of.take();
                let op = Operation::RenderIndex(spec);
                self.proxy_document(&proxy, &op, &request, digest_of).await
            }
            op if super::writes(&op) => Err(super::read_only("proxy", &proxy.name)),
            other => self.execute(other, owner, request, body).await,
        }
    }

    async fn proxy_document(
        &self,
        proxy: &ProxyOwner,
        op: &Operation,
        request: &api::Request,
        digest_of: Option<HashAlgorithm>,
    ) -> Result<Done, Error> {
        let plugin = Loaded(&self.entry.plugin);
        let cached = self
            .registry
            .proxies
            .document(proxy, &plugin, op, request)
            .await?;
        let document = index::digested(cached.document, digest_of);
        Ok(Done::own(rendered(&document, self.headers)))
    }

    async fn proxy_serve(
        &self,
        proxy: &ProxyOwner,
        owner: &Owner,
        spec: api::ServeSpec,
        request: &api::Request,
    ) -> Result<Done, Error> {
        let format = self.entry.name.as_str();
        match lookup::file(
            self.registry,
            format,
            owner.id,
            &spec.selector,
            self.listing,
        ) {
            Ok(file) => {
                // What eviction by `max_size` keeps goes by the last use (batched, no
                // write here). A fetch is a use of its own, recorded as it is stored.
                self.registry.proxies.used(&file);
                return self.serve_file(file, spec.digest_of).await;
            }
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let plugin = Loaded(&self.entry.plugin);
        let op = Operation::Serve(spec.clone());
        // A HEAD asks the upstream's HEAD rather than download what it only asks about.
        if *self.method == Method::HEAD && spec.digest_of.is_none() {
            let head = self
                .registry
                .proxies
                .artifact_head(proxy, &plugin, &op, request)
                .await?;
            return match head {
                ArtifactHead::Stored(file) => self.serve_file(file, None).await,
                ArtifactHead::Upstream(head) => Ok(upstream_head(&head)),
            };
        }
        let fetched = self
            .registry
            .proxies
            .artifact(proxy, &plugin, &op, request)
            .await?;
        let file = match fetched {
            ArtifactBody::Stored(file) => file,
            // Only a plain GET streams while the download runs: Range and digests (a
            // HEAD reaches here only for a digest) are answered from the stored file.
            ArtifactBody::Streaming(download)
                if spec.digest_of.is_none()
                    && *self.method == Method::GET
                    && !self.headers.contains_key(header::RANGE) =>
            {
                return Ok(streaming(download, &spec.selector));
            }
            ArtifactBody::Streaming(download) => download.finished().await?,
        };
        self.serve_file(file, spec.digest_of).await
    }
}

/// The first client's response while the artifact is still arriving. Its sha256 is
/// known only when the request named it (a blob by digest), which is what a route's
/// reply template may show.
fn streaming(download: Download, selector: &Selector) -> Done {
    let named = match selector {
        Selector::Blob(blob) => Some(&blob.digest),
        _ => None,
    };
    let outcome = reply::Outcome {
        size: download.length(),
        sha256: named
            .filter(|d| d.algorithm == HashAlgorithm::Sha256)
            .map(|d| d.hex.clone()),
        digest: named.map(|d| format!("{}:{}", publish::algorithm(d.algorithm).as_str(), d.hex)),
        ..reply::Outcome::default()
    };
    let (content_type, length) = (download.content_type().to_string(), download.length());
    let body = Body::from_stream(download.into_stream());
    described(body, &content_type, length, outcome)
}

/// A HEAD answered from the upstream's: its type and length, and the digests the
/// artifact must have for the reply template (the first one the plan states, as the
/// client's `{digest}`).
fn upstream_head(head: &UpstreamHead) -> Done {
    let outcome = reply::Outcome {
        size: head.length,
        sha256: head.sha256().map(str::to_string),
        digest: head
            .digests
            .first()
            .map(|(algorithm, hex)| format!("{}:{hex}", algorithm.as_str())),
        ..reply::Outcome::default()
    };
    described(Body::empty(), &head.content_type, head.length, outcome)
}

/// A 200 with `body` of `content_type` and `length` (when known), its reply template
/// applied as to a streamed file.
fn described(body: Body, content_type: &str, length: Option<u64>, outcome: reply::Outcome) -> Done {
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    *response.status_mut() = StatusCode::OK;
    Done {
        response,
        outcome,
        reply: ReplyBy::Host { streamed: true },
    }
}
