//! Execution on a group owner (issue 21). A group has no packages of its own: a read
//! goes to its members in priority order, skipping those the caller may not read.
//!
//! - `render-index`: every readable member's document (hosted members rendered as
//!   usual at their own mount URL, proxies through the engine), merged by the plugin's
//!   `group.merge` when its format supports it, else the first member's 200.
//! - `serve`: the first member that has the bytes (a proxy member fetches them).
//! - writes: on a group with `write_to` they never get here (the pipeline made them
//!   the member's, `pipeline::write_to`); without it, 405: the group is read-only.

use std::sync::Arc;

use axum::body::Body;

use super::{Context, Done};
use crate::config::GroupConfig;
use crate::error::Error;
use crate::pipeline::authorize::retarget;
use crate::pipeline::identify::{Owner, owner_named};
use crate::plugins::PluginFailure;
use crate::plugins::api::{self, MemberDocument, MergeInput, Operation};
use crate::proxy::glue::Loaded;
use crate::registry::index::{self, Rendered};
use crate::registry::lookup;

use super::super::render::rendered;

/// A member the caller may read.
struct Member {
    owner: Owner,
    proxy: Option<crate::proxy::ProxyOwner>,
}

impl Context<'_> {
    /// Runs `op` for `owner`, a group.
    pub(super) async fn grouped(
        &self,
        group: Arc<GroupConfig>,
        op: Operation,
        owner: Owner,
        request: api::Request,
        body: Body,
    ) -> Result<Done, Error> {
        match op {
            Operation::RenderIndex(mut spec) => {
                let digest_of = spec.digest_of.take();
                let op = Operation::RenderIndex(spec);
                let document = self.group_document(&group, &owner, op, &request).await?;
                let document = index::digested(document, digest_of);
                Ok(Done::own(rendered(&document, self.headers)))
            }
            Operation::Serve(spec) => self.group_serve(&group, spec, &request).await,
            op if super::writes(&op) => Err(super::read_only("group", &owner.name)),
            other => self.execute(other, owner, request, body).await,
        }
    }

    /// The members the caller may read, in priority order.
    async fn members(&self, group: &GroupConfig) -> Result<Vec<Member>, Error> {
        let mut readable = Vec::new();
        for name in &group.members {
            let owner = match owner_named(&self.registry.db, name).await {
                Ok(owner) => owner,
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let check = crate::pipeline::authorize::check(
                &self.registry.db,
                self.principal,
                Some(&owner),
                api::Access::Read,
            );
            if check.await.is_err() {
                continue;
            }
            let proxy = self.registry.proxy_owner(&owner);
            readable.push(Member { owner, proxy });
        }
        Ok(readable)
    }

    async fn group_document(
        &self,
        group: &GroupConfig,
        owner: &Owner,
        op: Operation,
        request: &api::Request,
    ) -> Result<Arc<Rendered>, Error> {
        let mut documents = Vec::new();
        for member in self.members(group).await? {
            let document = self.member_document(&member, &op, request).await?;
            documents.push(MemberDocument {
                owner: member.owner.name.clone(),
                hosted: member.proxy.is_none(),
                document: document.map(|d| api::Response {
                    status: d.status,
                    content_type: d.content_type.clone(),
                    headers: d.headers.clone(),
                    body: d.body.to_vec(),
                }),
            });
        }
        let plugin = &self.entry.plugin;
        if !plugin.supports_groups() {
            let first = documents.into_iter().find_map(|m| m.document);
            return first
                .map(|d| Arc::new(Rendered::from(d)))
                .ok_or_else(|| Error::not_found("no member of the group has it"));
        }
        let input = MergeInput {
            base_url: request.base_url.clone(),
            owner: owner.name.clone(),
            operation: op,
            members: documents,
            confusion_guard: group.confusion_guard,
        };
        Ok(Arc::new(Rendered::from(plugin.group_merge(input).await?)))
    }

    /// A member's 200 document, or `None` when it has none. A proxy member whose
    /// upstreams fail is logged and left out: the group still answers from the others.
    async fn member_document(
        &self,
        member: &Member,
        op: &Operation,
        request: &api::Request,
    ) -> Result<Option<Arc<Rendered>>, Error> {
        let Operation::RenderIndex(spec) = for_member(op, &member.owner.name) else {
            return Ok(None);
        };
        let base_url = self
            .entry
            .mount
            .url(&self.registry.public_url, Some(&member.owner.name));
        let found = match &member.proxy {
            None => {
                let (registry, plugin) = (self.registry, &self.entry.plugin);
                let format = self.entry.name.as_str();
                index::render(
                    registry,
                    format,
                    plugin,
                    base_url,
                    &member.owner,
                    spec,
                    None,
                )
                .await
            }
            Some(proxy) => {
                let mut request = request.clone();
                request.owner = Some(member.owner.name.clone());
                request.base_url = base_url;
                let op = Operation::RenderIndex(spec);
                let plugin = Loaded(&self.entry.plugin);
                match self
                    .registry
                    .proxies
                    .document(proxy, &plugin, &op, &request)
                    .await
                {
                    Ok(cached) => Ok(cached.document),
                    Err(e) if e.status() == 404 => return Ok(None),
                    Err(e) => {
                        tracing::warn!(member = %proxy.name, error = %e, "group member left out");
                        return Ok(None);
                    }
                }
            }
        };
        match found {
            Ok(document) if document.status == 200 => Ok(Some(document)),
            Ok(_) | Err(Error::NotFound(_)) => Ok(None),
            Err(Error::Plugin(PluginFailure::Rejected { status: 404, .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn group_serve(
        &self,
        group: &GroupConfig,
        spec: api::ServeSpec,
        request: &api::Request,
    ) -> Result<Done, Error> {
        let format = self.entry.name.as_str();
        for member in self.members(group).await? {
            let Operation::Serve(spec) =
                for_member(&Operation::Serve(spec.clone()), &member.owner.name)
            else {
                continue;
            };
            let served = match &member.proxy {
                None => {
                    // Stage 1 read the group's listing revision, not the member's.
                    let owner_id = member.owner.id;
                    match lookup::file(self.registry, format, owner_id, &spec.selector, None) {
                        Ok(file) => self.serve_file(file, spec.digest_of).await,
                        Err(e) => Err(e),
                    }
                }
                Some(proxy) => {
                    let mut request = request.clone();
                    request.owner = Some(member.owner.name.clone());
                    let op = Operation::Serve(spec);
                    let (proxy, owner) = (proxy.clone(), member.owner.clone());
                    self.proxied(proxy, op, owner, request, Body::empty()).await
                }
            };
            match served {
                Err(Error::NotFound(_)) => continue,
                Err(Error::Plugin(PluginFailure::Rejected { status: 404, .. })) => continue,
                other => return other,
            }
        }
        Err(Error::not_found("no member of the group has it"))
    }
}

/// `op` as it reads on `member`: every package it names belongs to the member.
fn for_member(op: &Operation, member: &str) -> Operation {
    let mut op = op.clone();
    retarget(&mut op, member);
    op
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::api::{FileRef, IndexSpec, PackageRef, Selector, ServeSpec, VersionRef};

    #[test]
    fn a_members_operation_names_the_member() {
        let pkg = PackageRef {
            owner: "all".into(),
            name: "lodash".into(),
        };
        let index = Operation::RenderIndex(IndexSpec {
            pkg: Some(pkg.clone()),
            view: "packument".into(),
            params: Vec::new(),
            digest_of: None,
            listing: None,
        });
        let Operation::RenderIndex(spec) = for_member(&index, "acme") else {
            panic!("still an index");
        };
        assert_eq!(spec.pkg.unwrap().owner, "acme");
        let file = Operation::Serve(ServeSpec {
            selector: Selector::File(FileRef {
                version: VersionRef {
                    pkg,
                    version: "1.0.0".into(),
                },
                name: "lodash-1.0.0.tgz".into(),
            }),
            digest_of: None,
        });
        let Operation::Serve(spec) = for_member(&file, "npm-public") else {
            panic!("still a serve");
        };
        let Selector::File(f) = spec.selector else {
            panic!("still a file");
        };
        assert_eq!(f.version.pkg.owner, "npm-public");
        assert_eq!(f.version.pkg.name, "lodash");
    }
}
