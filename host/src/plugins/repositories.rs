//! Calls of the optional interfaces `proxy` and `group` (contract 0.3.1), which make
//! proxy (pull-through cache) and group repositories of a format possible.
//!
//! A plugin built against 0.3.0 or 0.2 exports neither: it supports neither kind, and
//! its calls fail (the host never makes them, since startup refuses a proxy of a
//! format without `supports-proxy`).

use std::sync::Arc;

use wasmtime::Store;

use super::host_impl::{CallScope, State};
use super::{Plugin, PluginFailure, api, compat};

/// Which repository kinds a plugin's format supports, as it answered once at load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repositories {
    /// `proxy.supports-proxy`: proxies of this format may be configured.
    pub proxy: bool,
    /// `group.supports-groups`: groups' documents are merged by the plugin; without
    /// it a group serves each document from its first member that has one.
    pub groups: bool,
}

/// Asks a freshly made instance what it supports; an absent export supports nothing.
pub(super) fn ask(
    instance: &compat::Instance,
    store: &mut Store<State>,
) -> wasmtime::Result<Repositories> {
    let proxy = match instance.proxy(store)? {
        Some(proxy) => proxy.call_supports_proxy(&mut *store)?,
        None => false,
    };
    let groups = match instance.group(store)? {
        Some(group) => group.call_supports_groups(&mut *store)?,
        None => false,
    };
    Ok(Repositories { proxy, groups })
}

/// The trap a call of an interface the component does not export ends with.
fn not_exported(interface: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!(
        "it does not export wharf:format/{interface} (contract 0.3.1), so its format has no \
         {interface} repositories"
    ))
}

impl Plugin {
    /// Whether proxies of this format may be configured (`supports-proxy`).
    pub fn supports_proxy(&self) -> bool {
        self.repositories.proxy
    }

    /// Whether the plugin merges a group's documents (`supports-groups`).
    pub fn supports_groups(&self) -> bool {
        self.repositories.groups
    }

    /// `proxy.plan`: what to fetch upstream for a `serve` or `render-index` operation
    /// the cache could not answer. Host imports see no owner's data.
    pub async fn proxy_plan(
        self: &Arc<Self>,
        operation: api::Operation,
        request: api::Request,
    ) -> Result<api::FetchPlan, PluginFailure> {
        self.call_optional("proxy", compat::Instance::proxy, move |proxy, store| {
            proxy.call_plan(store, &operation, &request)
        })
        .await
    }

    /// `proxy.rewrite`: an upstream document as this registry serves it, and the
    /// artifacts it declares.
    pub async fn proxy_rewrite(
        self: &Arc<Self>,
        input: api::RewriteInput,
    ) -> Result<api::Rewritten, PluginFailure> {
        self.call_optional("proxy", compat::Instance::proxy, move |proxy, store| {
            proxy.call_rewrite(store, &input)
        })
        .await
    }

    /// `group.merge`: a group's document from its members' documents.
    pub async fn group_merge(
        self: &Arc<Self>,
        input: api::MergeInput,
    ) -> Result<api::Response, PluginFailure> {
        self.call_optional("group", compat::Instance::group, move |group, store| {
            group.call_merge(store, &input)
        })
        .await
    }

    /// One call of the optional `interface`, which `load` binds (a fresh instance, as
    /// for every call; no owner's data).
    async fn call_optional<G: 'static, R: Send + 'static>(
        self: &Arc<Self>,
        interface: &'static str,
        load: fn(&compat::Instance, &mut Store<State>) -> wasmtime::Result<Option<G>>,
        call: impl FnOnce(&G, &mut Store<State>) -> wasmtime::Result<Result<R, api::PluginError>>
        + Send
        + 'static,
    ) -> Result<R, PluginFailure> {
        self.call(CallScope::None, move |instance, store| {
            let export = load(instance, store)?.ok_or_else(|| not_exported(interface))?;
            call(&export, store)
        })
        .await?
        .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::api::{MergeInput, Method, Operation, Request};
    use crate::config::PluginSource;
    use crate::plugins::PluginFailure;
    use crate::registry::testing::TestRegistry;

    fn request() -> Request {
        Request {
            method: Method::Get,
            path: "/x/1.0/x.bin".into(),
            query: Vec::new(),
            headers: Vec::new(),
            owner: Some("cache".into()),
            base_url: "http://wharf.test/api/packages/cache/generic".into(),
            user: None,
        }
    }

    fn merge_input() -> MergeInput {
        MergeInput {
            base_url: "http://wharf.test/api/packages/all/generic".into(),
            owner: "all".into(),
            operation: Operation::NotFound,
            members: Vec::new(),
            confusion_guard: true,
        }
    }

    /// The bundled generic plugin exports both interfaces and implements `proxy` only:
    /// the host reads that from `supports-*`, and a call of what it does not implement
    /// reaches the SDK's "not supported" answer.
    #[tokio::test]
    async fn an_sdk_plugin_says_what_it_supports_and_its_calls_reach_it() {
        let t = TestRegistry::open();
        let plugin = t.registry.format("generic").unwrap().plugin.clone();
        assert!(plugin.supports_proxy() && !plugin.supports_groups());
        let refused = plugin.group_merge(merge_input()).await;
        assert!(
            matches!(refused, Err(PluginFailure::Rejected { status: 501, .. })),
            "{refused:?}"
        );
    }

    /// A 0.3.0 component has neither export: it loads, supports nothing, and a call
    /// fails with a reason naming the missing interface (no trap, no panic).
    #[tokio::test]
    async fn a_0_3_0_plugin_has_no_optional_exports() {
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/contract-0.3.0/generic.wasm");
        let t = TestRegistry::with(|config| {
            config.formats.get_mut("generic").unwrap().plugin = PluginSource::Path(fixture);
        });
        let plugin = t.registry.format("generic").unwrap().plugin.clone();
        assert_eq!(plugin.repositories, super::Repositories::default());
        let failed = plugin.proxy_plan(Operation::NotFound, request()).await;
        let Err(PluginFailure::Crashed { reason, .. }) = failed else {
            panic!("{failed:?}");
        };
        assert!(
            reason.contains("does not export wharf:format/proxy"),
            "{reason}"
        );
        let failed = plugin.group_merge(merge_input()).await.unwrap_err();
        assert!(
            failed.to_string().contains("wharf:format/group"),
            "{failed}"
        );
    }
}
