//! Calls of the optional interface `pages` (contract 0.3.2): the format-specific parts
//! of a package's web page (client setup, install snippets, fields, the README).
//!
//! A plugin built against 0.3.0, 0.3.1 or 0.2 does not export it, and one may export
//! it answering `supports-pages` false (the SDK's `NoPages`): either way its pages
//! have no format-specific part, which is an answer (`None`), not a failure.

use std::sync::Arc;

use super::host_impl::CallScope;
use super::{Plugin, PluginFailure, api};

impl Plugin {
    /// `pages.describe` for one version, or `None` when the format does not describe
    /// its packages. Host imports see the package's owner only, as in `render-index`.
    ///
    /// `supports-pages` is asked in the same instance rather than once at load: a page
    /// view is rare next to protocol requests, and the extra call costs microseconds.
    pub async fn describe_page(
        self: &Arc<Self>,
        input: api::PageInput,
    ) -> Result<Option<api::PackagePage>, PluginFailure> {
        let scope = CallScope::Owner(input.pkg.owner.clone());
        self.call(scope, move |instance, store| {
            let Some(pages) = instance.pages(store)? else {
                return Ok(Ok(None));
            };
            if !pages.call_supports_pages(&mut *store)? {
                return Ok(Ok(None));
            }
            Ok(pages.call_describe(&mut *store, &input)?.map(Some))
        })
        .await?
        .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::api::{PackageRef, PageInput, VersionDetail};
    use crate::config::PluginSource;
    use crate::registry::testing::TestRegistry;

    fn input() -> PageInput {
        PageInput {
            registry_url: "http://wharf.test".into(),
            base_url: "http://wharf.test/api/packages/alice/generic".into(),
            pkg: PackageRef {
                owner: "alice".into(),
                name: "tool".into(),
            },
            version: VersionDetail {
                version: "1.0".into(),
                metadata: "{}".into(),
                created: 0,
                downloads: 0,
                files: Vec::new(),
                properties: Vec::new(),
            },
            tags: Vec::new(),
        }
    }

    /// A 0.3.0 component has no `pages` export: it loads, and its pages have no
    /// format-specific part (no failure, no trap).
    #[tokio::test]
    async fn a_plugin_without_the_export_describes_nothing() {
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/contract-0.3.0/generic.wasm");
        let t = TestRegistry::with(|config| {
            config.formats.get_mut("generic").unwrap().plugin = PluginSource::Path(fixture);
        });
        let plugin = t.registry.format("generic").unwrap().plugin.clone();
        let page = plugin.describe_page(input()).await.unwrap();
        assert!(page.is_none(), "{page:?}");
    }

    /// The bundled generic plugin describes its packages through the SDK.
    #[tokio::test]
    async fn an_sdk_plugin_describes_its_packages() {
        let t = TestRegistry::open();
        let plugin = t.registry.format("generic").unwrap().plugin.clone();
        let page = plugin
            .describe_page(input())
            .await
            .unwrap()
            .expect("a page");
        assert!(
            page.setup.iter().any(|s| s
                .code
                .contains("http://wharf.test/api/packages/alice/generic/tool/1.0")),
            "{page:?}"
        );
    }
}
