//! HEAD on a proxy's artifact: what a client asks before it downloads (OCI clients
//! check whether a blob exists; a 1 GiB layer must not be fetched to say so). A stored
//! artifact is answered as a hosted file; one being downloaded, from its download;
//! anything else from a HEAD to the upstream, and nothing is stored.

use reqwest::Method;

use super::artifacts::{ArtifactBody, ask, follow};
use super::plugin::ProxyPlugin;
use super::{Engine, ProxyError, ProxyOwner};
use crate::db::packages::FileRow;
use crate::plugins::api::{Operation, Request};
use crate::store::Algorithm;

/// What [`Engine::artifact_head`] answers.
#[derive(Debug)]
pub enum ArtifactHead {
    /// Stored: answer as a hosted HEAD would.
    Stored(FileRow),
    /// Not stored: what the upstream (or the download under way) says of it.
    Upstream(UpstreamHead),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamHead {
    /// The upstream's content type (`application/octet-stream` when it sent none).
    pub content_type: String,
    /// The upstream's `Content-Length`, if it sent one.
    pub length: Option<u64>,
    /// (algorithm, lower-case hex) the plan says the bytes have: the digests a GET
    /// would verify, so a HEAD states nothing a GET could not deliver.
    pub digests: Vec<(Algorithm, String)>,
}

impl UpstreamHead {
    /// The sha256 the artifact must have, when its plan states one.
    pub fn sha256(&self) -> Option<&str> {
        self.digest(Algorithm::Sha256)
    }

    pub fn digest(&self, algorithm: Algorithm) -> Option<&str> {
        let (_, hex) = self.digests.iter().find(|(a, _)| *a == algorithm)?;
        Some(hex)
    }
}

impl Engine {
    /// HEAD of the artifact a `serve` operation on a proxy owner names, after the hosted
    /// lookup missed. Offline, what is not stored is a 404; otherwise an upstream 404 or
    /// 410 is a 404 and any other answer but 200 a 502.
    pub async fn artifact_head<P: ProxyPlugin>(
        &self,
        proxy: &ProxyOwner,
        plugin: &P,
        operation: &Operation,
        request: &Request,
    ) -> Result<ArtifactHead, ProxyError> {
        let target = self.target(proxy, plugin, operation, request).await?;
        let digests = target.digests.clone();
        if let Some(progress) = self.artifacts.joined(&target.key()) {
            return Ok(match follow(progress).await? {
                ArtifactBody::Stored(row) => ArtifactHead::Stored(row),
                ArtifactBody::Streaming(download) => ArtifactHead::Upstream(UpstreamHead {
                    content_type: download.content_type().to_string(),
                    length: download.length(),
                    digests,
                }),
            });
        }
        if let Some(row) = self.stored(&target)? {
            return Ok(ArtifactHead::Stored(row));
        }
        if proxy.config.offline {
            return Err(ProxyError::NotFound(
                "not cached, and the proxy is offline".into(),
            ));
        }
        let answer = ask(&self.upstreams, &proxy.config, Method::HEAD, &target).await?;
        // The header, not the body's size: a HEAD response has no body.
        let length = answer
            .header("content-length")
            .and_then(|l| l.trim().parse().ok());
        Ok(ArtifactHead::Upstream(UpstreamHead {
            content_type: answer.content_type(),
            length,
            digests,
        }))
    }
}
