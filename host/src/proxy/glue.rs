//! The engine's [`ProxyPlugin`] over a loaded plugin: the `wharf:format/proxy` calls,
//! their generated records converted to the engine's own.

use std::sync::Arc;

use super::plugin::{
    ArtifactPlan, ArtifactSource, DeclaredArtifact, FetchPlan, ProxyPlugin, RewriteInput,
    Rewritten, UpstreamFetch, UpstreamRequest,
};
use crate::plugins::api::{self, Operation, Request};
use crate::plugins::{Plugin, PluginFailure};

/// A loaded plugin, seen through its `proxy` export.
pub struct Loaded<'a>(pub &'a Arc<Plugin>);

impl ProxyPlugin for Loaded<'_> {
    async fn plan(
        &self,
        operation: &Operation,
        request: &Request,
    ) -> Result<FetchPlan, PluginFailure> {
        let plan = self
            .0
            .proxy_plan(operation.clone(), request.clone())
            .await?;
        Ok(fetch_plan(plan))
    }

    async fn rewrite(&self, input: RewriteInput) -> Result<Rewritten, PluginFailure> {
        let input = api::RewriteInput {
            base_url: input.base_url,
            owner: input.owner,
            operation: input.operation,
            url: input.url,
            upstream: input.upstream,
        };
        let rewritten = self.0.proxy_rewrite(input).await?;
        Ok(Rewritten {
            response: rewritten.response,
            declares: rewritten.declares.into_iter().map(declared).collect(),
        })
    }
}

fn fetch_plan(plan: api::FetchPlan) -> FetchPlan {
    match plan {
        api::FetchPlan::Document(request) => FetchPlan::Document(upstream_request(request)),
        api::FetchPlan::Artifact(plan) => FetchPlan::Artifact(Box::new(ArtifactPlan {
            file: plan.file,
            lead: plan.lead,
            source: match plan.source {
                api::ArtifactSource::Fetch(fetch) => ArtifactSource::Fetch(UpstreamFetch {
                    request: upstream_request(fetch.request),
                    digests: fetch.digests,
                }),
                api::ArtifactSource::DeclaredIn(operation) => ArtifactSource::DeclaredIn(operation),
            },
        })),
        api::FetchPlan::NotFound => FetchPlan::NotFound,
    }
}

fn upstream_request(request: api::UpstreamRequest) -> UpstreamRequest {
    UpstreamRequest {
        path: request.path,
        accept: request.accept,
        head_validator: request.head_validator,
    }
}

fn declared(d: api::DeclaredArtifact) -> DeclaredArtifact {
    DeclaredArtifact {
        name: d.name,
        version: d.version,
        url: d.url,
        digests: d.digests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::api::{Digest, FileRef, HashAlgorithm, PackageRef, VersionRef};

    #[test]
    fn plans_keep_every_field() {
        let digest = Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: "ab".repeat(32),
        };
        let file = FileRef {
            version: VersionRef {
                pkg: PackageRef {
                    owner: "cache".into(),
                    name: "a".into(),
                },
                version: "1.0.0".into(),
            },
            name: "a-1.0.0.tgz".into(),
        };
        let plan = fetch_plan(api::FetchPlan::Artifact(api::ArtifactPlan {
            file: file.clone(),
            lead: true,
            source: api::ArtifactSource::Fetch(api::UpstreamFetch {
                request: api::UpstreamRequest {
                    path: "/a/-/a-1.0.0.tgz".into(),
                    accept: Some("*/*".into()),
                    head_validator: None,
                },
                digests: vec![digest.clone()],
            }),
        }));
        let FetchPlan::Artifact(plan) = plan else {
            panic!("an artifact plan stays one");
        };
        assert_eq!(plan.file.name, file.name);
        assert_eq!(plan.file.version.version, "1.0.0");
        assert!(plan.lead);
        let ArtifactSource::Fetch(fetch) = plan.source else {
            panic!("a fetch stays a fetch");
        };
        assert_eq!(fetch.request.path, "/a/-/a-1.0.0.tgz");
        assert_eq!(fetch.request.accept.as_deref(), Some("*/*"));
        assert_eq!(fetch.digests.len(), 1);
        assert_eq!(fetch.digests[0].hex, digest.hex);

        let document = fetch_plan(api::FetchPlan::Document(api::UpstreamRequest {
            path: "/v2/x/manifests/1".into(),
            accept: None,
            head_validator: Some("docker-content-digest".into()),
        }));
        let FetchPlan::Document(request) = document else {
            panic!("a document plan stays one");
        };
        assert_eq!(
            request.head_validator.as_deref(),
            Some("docker-content-digest")
        );
        assert!(matches!(
            fetch_plan(api::FetchPlan::NotFound),
            FetchPlan::NotFound
        ));
    }
}
