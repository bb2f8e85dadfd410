//! Format plugins: WebAssembly components run in a sandbox.
//!
//! One wasmtime `Engine` per process, one `InstancePre` per plugin, and a fresh
//! `Store` for every call, with a memory cap and an epoch deadline. A plugin that traps,
//! runs too long or allocates past its cap fails that one call with a
//! [`PluginFailure`]; the instance is dropped and the next call gets a new one.
//! [`contract`] decides which components are accepted at all; [`check`] reports on one
//! without starting a server (`wharf plugin check`).

mod bindings;
mod blob_sizes;
pub mod check;
// Contract 0.2 plugins beside current ones: `Plugin` calls either through `compat`.
mod compat;
pub mod contract;
mod host_impl;
mod pages;
mod repositories;
mod runtime;
pub mod settings;
mod slots;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;

use crate::db::Db;
use crate::store::BlobStore;
use host_impl::{CallScope, State};
pub use host_impl::{UploadReader, blob_digest};
pub use repositories::Repositories;
pub use runtime::{Prepared, Runtime, RuntimeLimits};

/// The contract's types, as the host uses them.
pub mod api {
    pub use super::bindings::exports::wharf::format::group::{MemberDocument, MergeInput};
    pub use super::bindings::exports::wharf::format::pages::{
        Field, FieldValue, Markup, PackagePage, PageInput, ReadmeFile, ReadmeSource, ReadmeText,
        Snippet,
    };
    pub use super::bindings::exports::wharf::format::plugin::{
        BearerChallenge, BlobRef, BlobReference, ByteRange, Challenge, DeleteTarget, Descriptor,
        ErrorStyle, FileInfo, FileSource, IndexInput, IndexSpec, IntegerRange, ListingSpec,
        MountRequest, Operation, OwnerFile, PackageDetail, PackageFile, PlanFile, PlanVersion,
        PublishPlan, ReplyPart, ReplyTemplate, Route, Selector, ServeSpec, SessionOp,
        SessionRequest, SettingDecl, SettingKind, TagChange, TagRef, TaggedFile, TokenRequest,
        UploadSpec, VersionDetail, VersionMode,
    };
    pub use super::bindings::exports::wharf::format::proxy::{
        ArtifactPlan, ArtifactSource, DeclaredArtifact, FetchPlan, RewriteInput, Rewritten,
        UpstreamFetch, UpstreamRequest,
    };
    pub use super::bindings::wharf::format::types::{
        Access, Digest, FileRef, HashAlgorithm, Method, PackageRef, PluginError, Request, Response,
        SettingValue, VersionRef,
    };
}

impl api::Challenge {
    /// The `WWW-Authenticate` value sent with a 401 of this format.
    pub fn header_value(&self, public_url: &str) -> String {
        self.header_value_for(public_url, None, None)
    }

    /// The challenge for one refused request. A Bearer challenge names the `scope` the
    /// request needs (Docker token grammar, what clients then ask the token endpoint
    /// for) and why the caller's token was refused, if it was (RFC 6750 `error`:
    /// `invalid_token`, `insufficient_scope`). Basic challenges have neither.
    pub fn header_value_for(
        &self,
        public_url: &str,
        scope: Option<&str>,
        error: Option<&str>,
    ) -> String {
        match self {
            Self::Basic(realm) => format!("Basic realm=\"{realm}\""),
            Self::Bearer(b) => {
                let mut value = format!(
                    "Bearer realm=\"{public_url}{}\",service=\"{}\"",
                    b.token_path, b.service
                );
                if let Some(scope) = scope {
                    value.push_str(&format!(",scope=\"{scope}\""));
                }
                if let Some(error) = error {
                    value.push_str(&format!(",error=\"{error}\""));
                }
                value
            }
        }
    }
}

/// Why a plugin call did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginFailure {
    /// The plugin refused the request with its own status and message.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// The plugin trapped, ran out of time or memory, or broke the contract.
    #[error("plugin {plugin} failed: {reason}")]
    Crashed { plugin: String, reason: String },
    /// Every slot of the format's share is taken: the call did not run.
    #[error("the {plugin} format is busy; retry in {} s", retry_after.as_secs())]
    Busy {
        plugin: String,
        retry_after: std::time::Duration,
    },
}

impl From<api::PluginError> for PluginFailure {
    fn from(e: api::PluginError) -> Self {
        Self::Rejected {
            status: e.status,
            code: e.code,
            message: e.message,
        }
    }
}

/// A loaded plugin, ready to be called from any thread.
pub struct Plugin {
    pub format: String,
    pub descriptor: api::Descriptor,
    /// The contract the component implements (see `compat`).
    pub track: contract::Track,
    /// What the format supports beyond hosted owners (contract 0.3.1), asked at load.
    pub repositories: Repositories,
    pre: compat::Linked,
    /// The same component linked for `match-route` on the async executor.
    route_pre: compat::Linked,
    runtime: Arc<Runtime>,
    services: Services,
    /// The format's settings, checked against the descriptor at load.
    settings: Arc<settings::Settings>,
    /// The format's share of the instance pool; every call holds one slot.
    slots: slots::Slots,
}

/// What host imports need to answer a plugin.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub blobs: BlobStore,
}

impl Plugin {
    /// Routes a request. Host imports see nothing here: routing runs before
    /// authorization, so it must not depend on stored data.
    ///
    /// Every request routes, and routing never waits on the host, so it runs right here
    /// on the async task rather than behind a blocking-pool hop (two thread switches,
    /// which cost more than the call). Its store yields at every epoch tick.
    ///
    /// Epoch ticks only interrupt running wasm; a plugin waiting inside a WASI call (a
    /// clock subscription it blocks on) never reaches them. The whole call is therefore
    /// also bounded by a timer, and dropping it frees its instance.
    pub async fn match_route(&self, request: api::Request) -> Result<api::Route, PluginFailure> {
        let _slot = self.slot().await?;
        let started = Instant::now();
        let call = async {
            let state = self.state(CallScope::None);
            let mut store = self.runtime.new_async_store(state);
            let result = match self.route_pre.instantiate_async(&mut store).await {
                Ok(instance) => instance.match_route(&mut store, &request).await,
                Err(e) => Err(e),
            };
            self.finish(started, result, &store)
        };
        match tokio::time::timeout(self.runtime.wall_clock_limit(), call).await {
            Ok(result) => result?.map_err(Into::into),
            Err(_) => {
                let reason = "exceeded its time limit (waiting, not running)".to_string();
                let timeout = crate::metrics::PluginOutcome::Timeout;
                crate::metrics::plugin_call(&self.format, timeout, started.elapsed());
                tracing::error!(plugin = %self.format, %reason, "plugin call failed");
                Err(self.crashed(reason))
            }
        }
    }

    /// Turns a stored upload into a publish plan; imports see `owner`'s packages only.
    pub async fn parse_upload(
        self: &Arc<Self>,
        request: api::Request,
        spec: api::UploadSpec,
        upload: UploadReader,
    ) -> Result<api::PublishPlan, PluginFailure> {
        let scope = CallScope::Owner(spec.pkg.owner.clone());
        self.call(scope, move |instance, store| {
            let handle = store.data_mut().table.push(upload)?;
            let borrowed = wasmtime::component::Resource::new_borrow(handle.rep());
            let result = instance.parse_upload(&mut *store, &request, &spec, borrowed);
            store.data_mut().table.delete(handle)?;
            result
        })
        .await?
        .map_err(Into::into)
    }

    pub async fn render_index(
        self: &Arc<Self>,
        owner: Option<String>,
        input: api::IndexInput,
    ) -> Result<api::Response, PluginFailure> {
        let scope = owner.map(CallScope::Owner).unwrap_or(CallScope::None);
        self.call(scope, move |instance, store| {
            instance.render_index(store, &input)
        })
        .await?
        .map_err(Into::into)
    }

    /// Runs one call in a fresh store on a blocking thread.
    async fn call<R: Send + 'static>(
        self: &Arc<Self>,
        scope: CallScope,
        f: impl FnOnce(&compat::Instance, &mut Store<State>) -> wasmtime::Result<R> + Send + 'static,
    ) -> Result<R, PluginFailure> {
        let slot = self.slot().await?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = this.call_sync(scope, f);
            drop(slot);
            result
        })
        .await
        .map_err(|e| self.crashed(format!("call did not complete: {e}")))?
    }

    fn call_sync<R>(
        &self,
        scope: CallScope,
        f: impl FnOnce(&compat::Instance, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginFailure> {
        let started = Instant::now();
        let mut store = self.runtime.new_store(self.state(scope));
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&instance, &mut store));
        self.finish(started, result, &store)
    }

    /// A slot of the format's share for one call, or `Busy` when none frees up soon.
    async fn slot(&self) -> Result<slots::Slot, PluginFailure> {
        self.slots.acquire().await.ok_or_else(|| {
            tracing::warn!(plugin = %self.format, "every slot of the format's share is busy");
            PluginFailure::Busy {
                plugin: self.format.clone(),
                retry_after: self.slots.retry_after(),
            }
        })
    }

    fn state(&self, scope: CallScope) -> State {
        State::new(
            &self.format,
            scope,
            Some(self.services.clone()),
            self.settings.clone(),
            self.runtime.limits.memory,
        )
    }

    /// Passes on what the plugin printed, counts the call (`started` when), and names
    /// the reason a call failed.
    fn finish<R>(
        &self,
        started: Instant,
        result: wasmtime::Result<R>,
        store: &Store<State>,
    ) -> Result<R, PluginFailure> {
        store.data().flush_output();
        let outcome = runtime::outcome(result.as_ref().err(), store.data());
        crate::metrics::plugin_call(&self.format, outcome, started.elapsed());
        result.map_err(|e| {
            let reason = runtime::classify(&e, store.data());
            tracing::error!(plugin = %self.format, %reason, "plugin call failed");
            self.crashed(reason)
        })
    }

    fn crashed(&self, reason: String) -> PluginFailure {
        PluginFailure::Crashed {
            plugin: self.format.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::{StatusCode, header};

    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    /// An image manifest naming two blobs (config and one layer) that were never pushed.
    fn manifest() -> String {
        let descriptor = |media_type: &str, fill: char| {
            serde_json::json!({
                "mediaType": media_type,
                "digest": format!("sha256:{}", fill.to_string().repeat(64)),
                "size": 2,
            })
        };
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", 'a'),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", 'b')],
        })
        .to_string()
    }

    /// Pushes [`manifest`] as alice and returns the refusal's status and body.
    async fn push_refused(t: &TestRegistry) -> (StatusCode, String) {
        let token = t.user("alice", Scope::Write);
        let push = TestRegistry::request("PUT", "/v2/alice/img/manifests/latest", None)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(
                header::CONTENT_TYPE,
                "application/vnd.oci.image.manifest.v1+json",
            )
            .body(Body::from(manifest()))
            .unwrap();
        let response = t.send(push).await;
        (response.status(), TestRegistry::text(response).await)
    }

    /// Guards per-format settings: `[formats.oci.settings] max-references` reaches the
    /// plugin's calls. The same manifest is refused for its unknown blobs by default,
    /// and for naming too many blobs when the setting allows one.
    #[tokio::test]
    async fn a_formats_settings_reach_its_plugin() {
        let (status, by_default) = push_refused(&TestRegistry::open()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{by_default}");
        assert!(by_default.contains("MANIFEST_BLOB_UNKNOWN"), "{by_default}");
        let limited = TestRegistry::with(|config| {
            let settings = &mut config.formats.get_mut("oci").unwrap().settings;
            settings.insert("max-references".into(), toml::Value::Integer(1));
        });
        let (status, refused) = push_refused(&limited).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused.contains("MANIFEST_INVALID"), "{refused}");
        assert!(refused.contains("at most 1 blobs"), "{refused}");
    }

    /// An npm publish of `name@1.0.0` with a readme of `readme` bytes.
    fn npm_publish(name: &str, readme: usize) -> String {
        use base64::Engine;
        use sha1::Digest;
        let tarball = b"tarball";
        serde_json::json!({
            "name": name,
            "readme": "r".repeat(readme),
            "versions": { "1.0.0": {
                "name": name,
                "version": "1.0.0",
                "dist": { "shasum": hex::encode(sha1::Sha1::digest(tarball)) },
            }},
            "_attachments": { format!("{name}-1.0.0.tgz"): {
                "data": base64::engine::general_purpose::STANDARD.encode(tarball),
                "length": tarball.len(),
            }},
        })
        .to_string()
    }

    /// Guards the sandbox's promise: a call that runs out of its memory fails alone; the
    /// next call of the same format gets a fresh instance and succeeds. The big publish
    /// fits the default limit, so only the lowered limit makes it fail.
    #[tokio::test]
    async fn a_call_past_its_memory_fails_that_call_only() {
        let publish = |name: &str, readme: usize, token: &str| {
            let path = format!("/api/packages/alice/npm/{name}");
            TestRegistry::request("PUT", &path, Some(token))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(npm_publish(name, readme)))
                .unwrap()
        };
        let roomy = TestRegistry::open();
        let token = roomy.user("alice", Scope::Write);
        let fits = roomy.send(publish("big", 4 << 20, &token)).await;
        assert_eq!(fits.status(), StatusCode::CREATED);

        let t = TestRegistry::with(|config| config.limits.plugin_memory.0 = 8 << 20);
        let token = t.user("alice", Scope::Write);
        let crashed = t.send(publish("big", 4 << 20, &token)).await;
        assert_eq!(crashed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let small = t.send(publish("small", 16, &token)).await;
        assert_eq!(small.status(), StatusCode::CREATED);
        let big = TestRegistry::request("GET", "/api/packages/alice/npm/big", None);
        let big = t.send(big.body(Body::empty()).unwrap()).await;
        assert_eq!(
            big.status(),
            StatusCode::NOT_FOUND,
            "nothing of the failed call stayed"
        );
    }
}
