//! The document cache: upstream metadata documents (packuments, indexes, manifests by
//! tag) kept raw in the blob store with their validators, and served through the
//! plugin's `rewrite`, whose result is kept in memory per raw document and base URL.
//!
//! Fresh (checked within `metadata_ttl`) → served from the cache. Stale or missing →
//! one refresh per document at a time: a conditional GET (or a HEAD comparing the
//! plan's validator header); 304 → confirmed; 200 → stored, rewritten, its declared
//! artifacts replacing the package's earlier ones; 404/410 → remembered for
//! `negative_ttl`. When no upstream answers, a cached document is served stale (log
//! line and metric) and transport errors are never remembered.

use std::io::Read;
use std::sync::Arc;

use reqwest::Method;

use super::plugin::{DeclaredArtifact, FetchPlan, ProxyPlugin, RewriteInput, UpstreamRequest};
use super::single::SingleFlight;
use super::upstream::{Answer, Validators};
use super::{Engine, ProxyError, ProxyOwner, declarations, key};
use crate::db::proxy::{self as rows, Declaration, DocumentRow};
use crate::plugins::PluginFailure;
use crate::plugins::api::{Operation, Request, Response};

/// Larger upstream documents are refused (the largest npm packuments are ~100 MiB).
const MAX_DOCUMENT: usize = 512 << 20;
/// Rewritten documents kept in memory, in body bytes.
const REWRITTEN_BYTES: u64 = 256 << 20;

/// A rewritten document, ready to serve (with its ETag, and its gzip form made once):
/// the type the hosted index cache serves.
pub type ProxyDocument = crate::registry::index::Rendered;

/// What [`Engine::document`] answers.
#[derive(Debug, Clone)]
pub struct CachedDocument {
    pub document: Arc<ProxyDocument>,
    /// No upstream could confirm it: served past its `metadata_ttl`.
    pub stale: bool,
}

/// Where a rewriting is kept: the proxy owner and document key (a rewriting depends on
/// the operation, and one raw body may serve several views), the raw body's sha256, and
/// the base URL it was rewritten for.
type Slot = (i64, String, String, String);

/// How a refresh ended, shared by everyone who waited for it.
#[derive(Debug, Clone)]
enum Refresh {
    /// The document as it is now (fetched or confirmed).
    Current(DocumentRow),
    /// No upstream answered usably.
    Failed(String),
}

pub(super) struct Documents {
    rewritten: moka::sync::Cache<Slot, Arc<ProxyDocument>>,
    refreshes: SingleFlight<(i64, String), Result<Refresh, ProxyError>>,
}

impl Default for Documents {
    fn default() -> Self {
        Self {
            rewritten: moka::sync::Cache::builder()
                .max_capacity(REWRITTEN_BYTES)
                .weigher(|_, doc: &Arc<ProxyDocument>| {
                    u32::try_from(doc.body.len()).unwrap_or(u32::MAX)
                })
                .build(),
            refreshes: SingleFlight::default(),
        }
    }
}

fn gone(status: u16) -> bool {
    matches!(status, 404 | 410)
}

fn not_found() -> ProxyError {
    ProxyError::NotFound("not found upstream".into())
}

impl Engine {
    /// The rewritten document a `render-index` operation on a proxy owner asks for.
    pub async fn document<P: ProxyPlugin>(
        &self,
        proxy: &ProxyOwner,
        plugin: &P,
        operation: &Operation,
        request: &Request,
    ) -> Result<CachedDocument, ProxyError> {
        self.document_with(proxy, plugin, operation, request, false)
            .await
    }

    /// As [`Engine::document`]; `force` revalidates even a fresh document (an
    /// artifact it does not declare may be newer than it).
    pub(super) async fn document_with<P: ProxyPlugin>(
        &self,
        proxy: &ProxyOwner,
        plugin: &P,
        operation: &Operation,
        request: &Request,
        force: bool,
    ) -> Result<CachedDocument, ProxyError> {
        let Some(key) = key::operation_key(operation) else {
            return Err(broken(
                proxy,
                "a document for an operation other than render-index or a tagged serve",
            ));
        };
        let cached = self
            .db
            .read_now(|conn| rows::document(conn, proxy.id, &key))?;
        let config = &proxy.config;
        let call = Call {
            proxy,
            plugin,
            operation,
            request,
            key: &key,
        };
        match &cached {
            Some(row) if config.offline || (!force && self.fresh(row, proxy)) => {
                return self.serve(&call, row, false).await;
            }
            None if config.offline => {
                return Err(ProxyError::NotFound(
                    "not cached, and the proxy is offline".into(),
                ));
            }
            _ => {}
        }
        let refreshed = self
            .documents
            .refreshes
            .run((proxy.id, key.clone()), || {
                self.refresh(&call, cached.clone())
            })
            .await?;
        match (refreshed, cached) {
            (Refresh::Current(row), _) => self.serve(&call, &row, false).await,
            (Refresh::Failed(error), Some(row)) => {
                tracing::warn!(owner = %proxy.name, key = %key, error = %error, "proxy serving stale");
                crate::metrics::proxy_stale();
                self.serve(&call, &row, true).await
            }
            (Refresh::Failed(error), None) => Err(ProxyError::Upstream(error)),
        }
    }

    fn fresh(&self, row: &DocumentRow, proxy: &ProxyOwner) -> bool {
        let ttl = if row.status == 200 {
            proxy.config.metadata_ttl
        } else {
            proxy.config.negative_ttl
        };
        row.checked_at.saturating_add(ttl.as_secs() as i64) > self.now()
    }

    /// A cached row as the client gets it: a remembered 404, or the rewritten document.
    async fn serve<P: ProxyPlugin>(
        &self,
        call: &Call<'_, P>,
        row: &DocumentRow,
        stale: bool,
    ) -> Result<CachedDocument, ProxyError> {
        let Some(sha256) = row.blob.clone().filter(|_| row.status == 200) else {
            return Err(not_found());
        };
        if let Some(document) = self.documents.rewritten.get(&call.slot(&sha256)) {
            return Ok(CachedDocument { document, stale });
        }
        let (blobs, blob) = (self.blobs.clone(), sha256.clone());
        let body = tokio::task::spawn_blocking(move || {
            let mut body = Vec::new();
            blobs.reader(&blob)?.read_to_end(&mut body)?;
            Ok::<_, std::io::Error>(body)
        })
        .await
        .map_err(|e| ProxyError::from(crate::error::Error::Internal(e.to_string())))??;
        let headers = serde_json::from_str(&row.headers).unwrap_or_default();
        let upstream = Response {
            status: row.status,
            content_type: row.content_type.clone(),
            headers,
            body,
        };
        let (document, _) = self.rewrite(call, &row.upstream, upstream, &sha256).await?;
        Ok(CachedDocument { document, stale })
    }

    /// Calls the plugin's `rewrite` on the raw document `sha256` from `url`, and keeps
    /// the result.
    async fn rewrite<P: ProxyPlugin>(
        &self,
        call: &Call<'_, P>,
        url: &str,
        upstream: Response,
        sha256: &str,
    ) -> Result<(Arc<ProxyDocument>, Vec<DeclaredArtifact>), ProxyError> {
        let input = RewriteInput {
            base_url: call.request.base_url.clone(),
            owner: call.proxy.name.clone(),
            operation: call.operation.clone(),
            url: url.to_string(),
            upstream,
        };
        let rewritten = call
            .plugin
            .rewrite(input)
            .await
            .map_err(ProxyError::Plugin)?;
        let document = Arc::new(ProxyDocument::from(rewritten.response));
        self.documents
            .rewritten
            .insert(call.slot(sha256), document.clone());
        Ok((document, rewritten.declares))
    }

    /// Asks the upstream about a document that is missing or stale. Ends in the current
    /// row, a remembered 404 (`Err(NotFound)`), or a failure to report.
    async fn refresh<P: ProxyPlugin>(
        &self,
        call: &Call<'_, P>,
        cached: Option<DocumentRow>,
    ) -> Result<Refresh, ProxyError> {
        let (proxy, key) = (call.proxy, call.key);
        let plan = call
            .plugin
            .plan(call.operation, call.request)
            .await
            .map_err(ProxyError::Plugin)?;
        let wanted = match plan {
            FetchPlan::Document(wanted) => wanted,
            FetchPlan::NotFound => return Err(not_found()),
            FetchPlan::Artifact(_) => {
                return Err(broken(proxy, "an artifact plan for render-index"));
            }
        };
        let config = &proxy.config;
        let usable = cached.filter(|row| row.status == 200 && row.blob.is_some());
        if let (Some(header), Some(row)) = (&wanted.head_validator, &usable)
            && row.validator.is_some()
        {
            let head = self
                .upstreams
                .send(config, Method::HEAD, &wanted, &Validators::default())
                .await;
            match head {
                Err(e) => return Ok(Refresh::Failed(e.to_string())),
                Ok(a) if a.status == 200 && a.header(header) == row.validator.as_deref() => {
                    return self.confirmed(proxy, key, row.clone()).await;
                }
                Ok(a) if gone(a.status) => return self.gone(call, &a).await,
                // Changed (or the HEAD told nothing): fetch it.
                Ok(_) => {}
            }
        }
        let validators = match (&usable, &wanted.head_validator) {
            (Some(row), None) => Validators {
                etag: row.etag.clone(),
                last_modified: row.last_modified.clone(),
            },
            _ => Validators::default(),
        };
        let answer = match self
            .upstreams
            .send(config, Method::GET, &wanted, &validators)
            .await
        {
            Ok(answer) => answer,
            Err(e) => return Ok(Refresh::Failed(e.to_string())),
        };
        match (answer.status, usable) {
            (304, Some(row)) => self.confirmed(proxy, key, row).await,
            (200, usable) => {
                let previous = usable.and_then(|row| row.blob);
                self.fetched(call, answer, &wanted, previous).await
            }
            (status, _) if gone(status) => self.gone(call, &answer).await,
            (status, _) => Ok(Refresh::Failed(format!("{} answered {status}", answer.url))),
        }
    }

    async fn confirmed(
        &self,
        proxy: &ProxyOwner,
        key: &str,
        mut row: DocumentRow,
    ) -> Result<Refresh, ProxyError> {
        row.checked_at = self.now();
        let (owner, key, now) = (proxy.id, key.to_string(), row.checked_at);
        self.db
            .write(move |tx| rows::touch_document(tx, owner, &key, now))
            .await?;
        Ok(Refresh::Current(row))
    }

    async fn gone<P>(&self, call: &Call<'_, P>, answer: &Answer) -> Result<Refresh, ProxyError> {
        let now = self.now();
        let row = DocumentRow {
            status: 404,
            upstream: answer.url.clone(),
            etag: None,
            last_modified: None,
            validator: None,
            blob: None,
            content_type: String::new(),
            headers: "[]".into(),
            fetched_at: now,
            checked_at: now,
        };
        let (owner, key, package) = (call.proxy.id, call.key.to_string(), call.package());
        self.db
            .write(move |tx| {
                let at = rows::DocumentKey {
                    owner_id: owner,
                    key: &key,
                    package: &package,
                };
                rows::put_document(tx, &at, &row)
            })
            .await?;
        Err(not_found())
    }

    /// Stores a new document (200): its body in the blob store, the row, and, when it
    /// changed, the package's declarations.
    /// `previous` is the raw body's sha256 before this fetch.
    async fn fetched<P: ProxyPlugin>(
        &self,
        call: &Call<'_, P>,
        mut answer: Answer,
        wanted: &UpstreamRequest,
        previous: Option<String>,
    ) -> Result<Refresh, ProxyError> {
        let mut body = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_DOCUMENT => {
                    return Err(ProxyError::Upstream(format!(
                        "{}: document larger than {MAX_DOCUMENT} bytes",
                        answer.url
                    )));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Ok(Refresh::Failed(format!("{}: {e}", answer.url))),
            }
        }
        let content_type = answer
            .header("content-type")
            .unwrap_or_default()
            .to_string();
        let headers = answer.kept_headers();
        let blobs = self.blobs.clone();
        let (body, mut staged) = tokio::task::spawn_blocking(move || {
            let mut writer = blobs.writer(&[])?;
            writer.write(&body)?;
            Ok::<_, std::io::Error>((body, writer.finish()?))
        })
        .await
        .map_err(|e| ProxyError::from(crate::error::Error::Internal(e.to_string())))??;
        let sha256 = staged.sha256.clone();
        let upstream = Response {
            status: 200,
            content_type: content_type.clone(),
            headers: headers.clone(),
            body,
        };
        let (_, declared) = self.rewrite(call, &answer.url, upstream, &sha256).await?;
        let now = self.now();
        let row = DocumentRow {
            status: 200,
            upstream: answer.url.clone(),
            etag: answer.header("etag").map(str::to_string),
            last_modified: answer.header("last-modified").map(str::to_string),
            validator: (wanted.head_validator.as_deref())
                .and_then(|h| answer.header(h))
                .map(str::to_string),
            blob: Some(sha256.clone()),
            content_type,
            headers: serde_json::to_string(&headers).unwrap_or_else(|_| "[]".into()),
            fetched_at: now,
            checked_at: now,
        };
        let changed = previous.as_deref() != Some(sha256.as_str());
        let package = call.package();
        let base = (answer.base.clone()).unwrap_or_else(|| declarations::origin(&answer.url));
        let declared: Vec<Declaration> = declared
            .into_iter()
            .map(|d| declarations::to_row(d, &base))
            .collect();
        let (owner, key, stored) = (call.proxy.id, call.key.to_string(), row.clone());
        let size = staged.size;
        self.db
            .write(move |tx| {
                crate::db::gc::hold_off_collector(tx)?;
                crate::db::blobs::insert(tx, &stored.blob.clone().unwrap_or_default(), size)?;
                let at = rows::DocumentKey {
                    owner_id: owner,
                    key: &key,
                    package: &package,
                };
                rows::put_document(tx, &at, &stored)?;
                if changed {
                    rows::replace_declarations(tx, owner, &key, &declared)?;
                }
                staged.publish()?;
                Ok(())
            })
            .await?;
        Ok(Refresh::Current(row))
    }
}

/// One `document` call: what every step of it needs.
struct Call<'a, P> {
    proxy: &'a ProxyOwner,
    plugin: &'a P,
    operation: &'a Operation,
    request: &'a Request,
    key: &'a str,
}

impl<P> Call<'_, P> {
    /// The package the document is about; empty for listings.
    fn package(&self) -> String {
        match self.operation {
            Operation::RenderIndex(spec) => spec.pkg.as_ref().map(|p| p.name.clone()),
            Operation::Serve(spec) => match &spec.selector {
                crate::plugins::api::Selector::Tagged(t) => Some(t.tag.pkg.name.clone()),
                _ => None,
            },
            _ => None,
        }
        .unwrap_or_default()
    }

    fn slot(&self, sha256: &str) -> Slot {
        (
            self.proxy.id,
            self.key.to_string(),
            sha256.to_string(),
            self.request.base_url.clone(),
        )
    }
}

/// A plugin answer the contract does not allow, as a plugin failure.
pub(super) fn broken(proxy: &ProxyOwner, what: &str) -> ProxyError {
    ProxyError::Plugin(PluginFailure::Crashed {
        plugin: proxy.config.format.clone(),
        reason: format!("proxy.plan answered {what}"),
    })
}
