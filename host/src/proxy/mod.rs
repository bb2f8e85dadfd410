//! The proxy engine (issue 21): pull-through caching of upstream registries for proxy
//! owners. The host fetches, the plugin decides: the engine never parses a format's
//! documents; it asks the format's `proxy` interface ([`ProxyPlugin`]) what to fetch
//! (`plan`) and what a fetched document becomes (`rewrite`).
//!
//! It owns the upstream client (`upstream`, `token`), the document cache
//! (`documents`, `key`), artifact downloads streamed to every waiting client while
//! they are stored (`artifacts`, `download`), HEADs of artifacts not stored (`head`),
//! and when stored artifacts were last used (`usage`, which eviction by `max_size` goes
//! by). It does no routing, access checks or
//! response rendering: the executor calls it and renders what it returns.
//!
//! # API (for the executor)
//!
//! [`Engine`] is one per registry (`Engine::new(db, blobs)`); a proxy is a
//! [`ProxyOwner`] (its owner row's id and name, and its [`ProxyConfig`]).
//!
//! - `render-index` on a proxy owner: [`Engine::document`]`(proxy, plugin, operation,
//!   request)` → [`CachedDocument`] `{ document: Arc<ProxyDocument { status,
//!   content_type, headers, body: Bytes, etag }>, stale }`. Fresh documents cost a row
//!   read and a map lookup; the plugin's `plan` runs only on a miss or when a document
//!   is stale, `rewrite` only when the raw document, the view or the base URL is new to
//!   the process. `digest-of` is not part of the key: take it of the returned body.
//! - `serve` on a proxy owner, after the hosted lookup missed: [`Engine::artifact`]`(proxy,
//!   plugin, operation, request)` (it calls `plan` itself) → [`ArtifactBody`]:
//!   `Stored(FileRow)` (serve it as a hosted file) or `Streaming(Download)`:
//!   `content_type()`, `length()` (the upstream's `Content-Length`, if any),
//!   `into_stream()` (a `store::BlobStream` from byte 0 as the bytes arrive; it ends in
//!   an error if the download fails or its digest does not match, and its last byte
//!   waits for the verdict, so a client never gets a complete wrong file), and
//!   `finished()` (waits for the stored `FileRow`: for Range, HEAD and `digest-of`).
//! - `serve` with HEAD on a proxy owner, after the hosted lookup missed:
//!   [`Engine::artifact_head`]`(proxy, plugin, operation, request)` → [`ArtifactHead`]:
//!   `Stored(FileRow)`, or `Upstream(UpstreamHead { content_type, length, digests })`
//!   from the upstream's HEAD (or the download under way); nothing is downloaded.
//! - A stored artifact served to a client (by the executor, from its hosted lookup or
//!   the engine's `Stored`): [`Engine::used`]`(file)`, which the server writes with
//!   [`Engine::flush_uses`] every second; the collector evicts by it (`usage`).
//! - Errors are [`ProxyError`]; [`ProxyError::status`] is the status to answer (404,
//!   502, the plugin's, 507, 500), and `Error::from` keeps it (a 502 becomes a plugin
//!   rejection with status 502, so it renders in the format's error shape).
//!
//! When the plugin's artifact source is `declared-in(operation)`, the engine calls
//! `plan` with that `render-index` operation and the client's (artifact) request, so a
//! plugin plans documents from the operation's spec alone.
//!
//! `offline = true`: only cached documents and stored artifacts are served; anything
//! else is a 404 (what clients of every format treat as "not here" and move on from, or
//! report at once; a 5xx would make npm, pip and NuGet retry for a minute first).

mod artifacts;
mod config;
mod declarations;
mod documents;
mod download;
pub mod glue;
mod head;
mod key;
mod leader;
mod plugin;
mod single;
#[cfg(test)]
mod testing;
mod token;
mod upstream;
mod usage;

use std::sync::Arc;

pub use artifacts::ArtifactBody;
pub use config::{ProxyConfig, UpstreamCredentials};
pub use documents::{CachedDocument, ProxyDocument};
pub use download::Download;
pub use head::{ArtifactHead, UpstreamHead};
pub use key::document_key;
pub use plugin::{
    ArtifactPlan, ArtifactSource, DeclaredArtifact, FetchPlan, ProxyPlugin, RewriteInput,
    Rewritten, UpstreamFetch, UpstreamRequest,
};
pub use usage::USE_RESOLUTION;

use crate::db::Db;
use crate::error::Error;
use crate::plugins::PluginFailure;
use crate::store::BlobStore;

/// A proxy owner: its owner row and its `[proxies.NAME]` configuration.
#[derive(Debug, Clone)]
pub struct ProxyOwner {
    pub id: i64,
    pub name: String,
    pub config: Arc<ProxyConfig>,
}

/// Why the engine has no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    /// Nothing upstream (404/410, or the plugin's `not-found`), or not cached while
    /// offline: 404.
    #[error("{0}")]
    NotFound(String),
    /// No upstream answered usably and nothing is cached: 502.
    #[error("{0}")]
    Upstream(String),
    /// The upstream's bytes do not have the declared digest: 502, nothing stored.
    #[error("{0}")]
    Integrity(String),
    #[error(transparent)]
    Plugin(PluginFailure),
    /// The store or the database failed (a full disk stays a 507).
    #[error("{0}")]
    Storage(Arc<Error>),
}

impl ProxyError {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Upstream(_) | Self::Integrity(_) => 502,
            Self::Plugin(PluginFailure::Rejected { status, .. }) => *status,
            Self::Plugin(PluginFailure::Busy { .. }) => 503,
            Self::Plugin(PluginFailure::Crashed { .. }) => 500,
            Self::Storage(e) if matches!(**e, Error::InsufficientStorage { .. }) => 507,
            Self::Storage(_) => 500,
        }
    }
}

impl From<Error> for ProxyError {
    fn from(e: Error) -> Self {
        Self::Storage(Arc::new(e))
    }
}

impl From<std::io::Error> for ProxyError {
    fn from(e: std::io::Error) -> Self {
        Error::from(e).into()
    }
}

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::NotFound(what) => Error::NotFound(what),
            // A 502 in the format's error shape: plugin rejections carry their status.
            ProxyError::Upstream(message) | ProxyError::Integrity(message) => {
                Error::Plugin(PluginFailure::Rejected {
                    status: 502,
                    code: String::new(),
                    message,
                })
            }
            ProxyError::Plugin(failure) => Error::Plugin(failure),
            ProxyError::Storage(e) => Arc::try_unwrap(e).unwrap_or_else(|e| match &*e {
                Error::InsufficientStorage { detail } => Error::InsufficientStorage {
                    detail: detail.clone(),
                },
                other => Error::Internal(other.to_string()),
            }),
        }
    }
}

/// Seconds since the epoch; replaceable so tests can move time.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The proxy engine of a registry.
pub struct Engine {
    db: Db,
    blobs: BlobStore,
    upstreams: Arc<upstream::Upstreams>,
    documents: documents::Documents,
    artifacts: artifacts::Artifacts,
    uses: usage::Uses,
    clock: Clock,
}

impl Engine {
    pub fn new(db: Db, blobs: BlobStore) -> Self {
        Self {
            db,
            blobs,
            upstreams: Arc::new(upstream::Upstreams::new()),
            documents: documents::Documents::default(),
            artifacts: artifacts::Artifacts::default(),
            uses: usage::Uses::default(),
            clock: Arc::new(crate::clock::now),
        }
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }
}

#[cfg(test)]
mod artifact_tests;
#[cfg(test)]
mod document_tests;
