//! The generated `wharf:format` bindings, in one private place.
//!
//! The contract's records are the host's vocabulary for routes, plans and indexes, so
//! the rest of the host uses them through [`super::api`] rather than mirroring each one.
//!
//! The bindings are of the world `format-full` (every optional interface), but a
//! component is bound through [`FormatPre`], which needs only the `plugin` export:
//! `proxy` and `group` (since 0.3.1) and `pages` (since 0.3.2) are looked up when
//! present and left out when not, so components of the world `format`, of 0.3.0 and
//! of 0.3.1 keep loading.

use wasmtime::AsContextMut;
use wasmtime::component::{Instance, InstancePre};

use exports::wharf::format::{group, pages, plugin, proxy};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "format-full",
    imports: { default: trappable },
    // Routing runs on the async executor (see `Plugin::match_route`); the other calls
    // may wait on host imports and run on the blocking pool.
    exports: { "wharf:format/plugin.match-route": async },
    with: {
        "wharf:format/host.upload": super::host_impl::UploadReader,
    },
});

/// The full name an optional interface is exported under by a component of this
/// contract; wasmtime finds a `0.3.0` … `0.3.x` export by it as well (semver lookup).
fn export_name(interface: &str) -> String {
    format!("wharf:format/{interface}@{}", super::contract::CONTRACT)
}

/// A linked component with the indices of the exports it has, ready to instantiate.
pub struct FormatPre<T: 'static> {
    instance_pre: InstancePre<T>,
    plugin: plugin::GuestIndices,
    optional: Optional,
}

/// Where the optional interfaces are, when the component exports them.
#[derive(Clone)]
struct Optional {
    proxy: Option<proxy::GuestIndices>,
    group: Option<group::GuestIndices>,
    pages: Option<pages::GuestIndices>,
}

impl<T: 'static> Clone for FormatPre<T> {
    fn clone(&self) -> Self {
        Self {
            instance_pre: self.instance_pre.clone(),
            plugin: self.plugin.clone(),
            optional: self.optional.clone(),
        }
    }
}

impl<T: 'static> FormatPre<T> {
    /// Fails unless the component exports `plugin`, and when it exports an optional
    /// interface without all of its functions.
    pub fn new(instance_pre: InstancePre<T>) -> wasmtime::Result<Self> {
        let exports = |name: &str| {
            instance_pre
                .component()
                .get_export_index(None, export_name(name).as_str())
                .is_some()
        };
        let proxy = match exports("proxy") {
            true => Some(proxy::GuestIndices::new(&instance_pre)?),
            false => None,
        };
        let group = match exports("group") {
            true => Some(group::GuestIndices::new(&instance_pre)?),
            false => None,
        };
        let pages = match exports("pages") {
            true => Some(pages::GuestIndices::new(&instance_pre)?),
            false => None,
        };
        Ok(Self {
            plugin: plugin::GuestIndices::new(&instance_pre)?,
            optional: Optional {
                proxy,
                group,
                pages,
            },
            instance_pre,
        })
    }

    /// An instance for one call on a blocking thread.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> wasmtime::Result<Format> {
        let instance = self.instance_pre.instantiate(&mut store)?;
        self.bind(store, instance)
    }

    /// An instance for one call polled on the async executor.
    pub async fn instantiate_async(
        &self,
        mut store: impl AsContextMut<Data = T>,
    ) -> wasmtime::Result<Format>
    where
        T: Send,
    {
        let instance = self.instance_pre.instantiate_async(&mut store).await?;
        self.bind(store, instance)
    }

    fn bind(
        &self,
        store: impl AsContextMut<Data = T>,
        instance: Instance,
    ) -> wasmtime::Result<Format> {
        Ok(Format {
            plugin: self.plugin.load(store, &instance)?,
            instance,
            optional: self.optional.clone(),
        })
    }
}

/// One instance of a current-contract plugin.
///
/// Only `plugin`'s functions are type-checked when it is made (every request makes
/// one); an optional interface is bound by the call that uses it.
pub struct Format {
    instance: Instance,
    plugin: plugin::Guest,
    optional: Optional,
}

impl Format {
    pub fn wharf_format_plugin(&self) -> &plugin::Guest {
        &self.plugin
    }

    /// The `proxy` export, `None` when the component has none.
    pub fn wharf_format_proxy(
        &self,
        store: impl AsContextMut,
    ) -> wasmtime::Result<Option<proxy::Guest>> {
        let Some(indices) = &self.optional.proxy else {
            return Ok(None);
        };
        indices.load(store, &self.instance).map(Some)
    }

    /// The `group` export, `None` when the component has none.
    pub fn wharf_format_group(
        &self,
        store: impl AsContextMut,
    ) -> wasmtime::Result<Option<group::Guest>> {
        let Some(indices) = &self.optional.group else {
            return Ok(None);
        };
        indices.load(store, &self.instance).map(Some)
    }

    /// The `pages` export, `None` when the component has none.
    pub fn wharf_format_pages(
        &self,
        store: impl AsContextMut,
    ) -> wasmtime::Result<Option<pages::Guest>> {
        let Some(indices) = &self.optional.pages else {
            return Ok(None);
        };
        indices.load(store, &self.instance).map(Some)
    }
}
