//! What the engine asks of a format's `proxy` interface, in plain host types.
//!
//! The records mirror `wharf:format/proxy` (wit/format.wit); the glue that calls a
//! loaded plugin converts the generated types into these, so the engine (and its
//! tests) never need a component. Records the `format` world already has (operation,
//! request, response, digest, file-ref) are used as they are.

use std::future::Future;

use crate::plugins::PluginFailure;
use crate::plugins::api::{Digest, FileRef, Operation, Request, Response};

/// What to fetch for an operation the cache could not answer (`proxy.plan`).
#[derive(Debug, Clone)]
pub enum FetchPlan {
    /// A metadata document; only for `render-index`.
    Document(UpstreamRequest),
    /// An immutable artifact; only for `serve`.
    Artifact(Box<ArtifactPlan>),
    /// Nothing upstream answers this: 404.
    NotFound,
}

/// A request to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Path and query relative to the upstream's URL, starting with `/`, or an absolute
    /// `http(s)` URL taken as it is.
    pub path: String,
    /// The `Accept` header to send.
    pub accept: Option<String>,
    /// Revalidate with a HEAD comparing this response header (lower case) instead of a
    /// conditional GET.
    pub head_validator: Option<String>,
}

impl UpstreamRequest {
    pub fn get(path: &str) -> Self {
        Self {
            path: path.to_string(),
            accept: None,
            head_validator: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ArtifactPlan {
    /// Where the artifact is recorded under the proxy owner; `version` may be empty
    /// when a declaration names it.
    pub file: FileRef,
    /// Whether it is its version's lead file.
    pub lead: bool,
    pub source: ArtifactSource,
}

#[derive(Debug, Clone)]
pub enum ArtifactSource {
    /// Fetch this, verifying these digests.
    Fetch(UpstreamFetch),
    /// The URL and digests come from the declarations of the document this
    /// `render-index` operation renders.
    DeclaredIn(Operation),
}

#[derive(Debug, Clone)]
pub struct UpstreamFetch {
    pub request: UpstreamRequest,
    pub digests: Vec<Digest>,
}

/// An upstream document for `proxy.rewrite`.
#[derive(Debug, Clone)]
pub struct RewriteInput {
    /// Absolute URL of the mount the client used.
    pub base_url: String,
    /// The proxy owner's name.
    pub owner: String,
    /// The `render-index` operation that asked for it.
    pub operation: Operation,
    /// The absolute upstream URL the document came from.
    pub url: String,
    /// Status, lower-case headers and body as the upstream sent them.
    pub upstream: Response,
}

/// What `proxy.rewrite` made of a document.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// What the client gets (status 0 means 200).
    pub response: Response,
    pub declares: Vec<DeclaredArtifact>,
}

#[derive(Debug, Clone)]
pub struct DeclaredArtifact {
    /// The file name an artifact plan names it by.
    pub name: String,
    pub version: String,
    /// Absolute, or relative to the upstream's URL (starting with `/`).
    pub url: String,
    pub digests: Vec<Digest>,
}

/// A format's proxy calls. Implemented by the glue over a loaded plugin, and by test
/// doubles.
pub trait ProxyPlugin: Send + Sync {
    fn plan(
        &self,
        operation: &Operation,
        request: &Request,
    ) -> impl Future<Output = Result<FetchPlan, PluginFailure>> + Send;

    fn rewrite(
        &self,
        input: RewriteInput,
    ) -> impl Future<Output = Result<Rewritten, PluginFailure>> + Send;
}
