//! Components of either contract behind one face: plugins built for contract 0.2 keep
//! loading beside current ones.
//!
//! A 0.2 component links against a second set of bindings (`wit/v0.2/format.wit`,
//! [`bindings`]) whose host imports answer through the current ones ([`host`]). Its four
//! exports are called through [`Instance`], which converts the current types down before
//! the call and the 0.2 answer up after it ([`convert`]); the rest of the host only ever
//! sees current types.

mod bindings;
mod convert;
mod host;

use wasmtime::Store;
use wasmtime::component::{InstancePre, Resource};

use super::api;
use super::bindings::exports::wharf::format::{group, pages, proxy};
use super::bindings::{Format, FormatPre};
use super::contract::Track;
use super::host_impl::{State, UploadReader};
use convert::Convert;

/// What a call returns: the plugin's answer or refusal, or a trap.
type Answer<T> = wasmtime::Result<Result<T, api::PluginError>>;

/// A component linked for the contract it implements, ready to instantiate per call.
#[derive(Clone)]
pub enum Linked {
    Current(FormatPre<State>),
    V02(bindings::FormatPre<State>),
}

impl Linked {
    /// Binds a linked component to the exports of `track`.
    pub fn new(track: Track, pre: InstancePre<State>) -> wasmtime::Result<Self> {
        Ok(match track {
            Track::Current => Self::Current(FormatPre::new(pre)?),
            Track::V02 => Self::V02(bindings::FormatPre::new(pre)?),
        })
    }

    /// An instance for one call on a blocking thread.
    pub fn instantiate(&self, store: &mut Store<State>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Self::Current(pre) => Instance::Current(pre.instantiate(store)?),
            Self::V02(pre) => Instance::V02(pre.instantiate(store)?),
        })
    }

    /// An instance for one call polled on the async executor.
    pub async fn instantiate_async(&self, store: &mut Store<State>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Self::Current(pre) => Instance::Current(pre.instantiate_async(store).await?),
            Self::V02(pre) => Instance::V02(pre.instantiate_async(store).await?),
        })
    }
}

/// One instance of a plugin, of either contract; its calls take and give current types.
pub enum Instance {
    Current(Format),
    V02(bindings::Format),
}

impl Instance {
    pub fn describe(&self, store: &mut Store<State>) -> wasmtime::Result<api::Descriptor> {
        match self {
            Self::Current(f) => f.wharf_format_plugin().call_describe(store),
            Self::V02(f) => Ok(convert::descriptor(
                f.wharf_format_plugin().call_describe(store)?,
            )),
        }
    }

    pub async fn match_route(
        &self,
        store: &mut Store<State>,
        request: &api::Request,
    ) -> Answer<api::Route> {
        match self {
            Self::Current(f) => {
                f.wharf_format_plugin()
                    .call_match_route(store, request)
                    .await
            }
            Self::V02(f) => {
                let old = request.clone().convert();
                let answer = f
                    .wharf_format_plugin()
                    .call_match_route(store, &old)
                    .await?;
                Ok(answer
                    .map(|route| convert::route(route, request))
                    .map_err(Convert::convert))
            }
        }
    }

    pub fn parse_upload(
        &self,
        store: &mut Store<State>,
        request: &api::Request,
        spec: &api::UploadSpec,
        body: Resource<UploadReader>,
    ) -> Answer<api::PublishPlan> {
        match self {
            Self::Current(f) => f
                .wharf_format_plugin()
                .call_parse_upload(store, request, spec, body),
            Self::V02(f) => {
                let (request, spec) = (request.clone().convert(), convert::upload_spec(spec));
                let answer = f
                    .wharf_format_plugin()
                    .call_parse_upload(store, &request, &spec, body)?;
                Ok(convert::result(answer))
            }
        }
    }

    pub fn render_index(
        &self,
        store: &mut Store<State>,
        input: &api::IndexInput,
    ) -> Answer<api::Response> {
        match self {
            Self::Current(f) => f.wharf_format_plugin().call_render_index(store, input),
            Self::V02(f) => {
                let input = convert::index_input(input);
                let answer = f.wharf_format_plugin().call_render_index(store, &input)?;
                Ok(convert::result(answer))
            }
        }
    }
}

impl Instance {
    /// The optional `proxy` export (contract 0.3.1); a 0.2 plugin has none.
    pub fn proxy(&self, store: &mut Store<State>) -> wasmtime::Result<Option<proxy::Guest>> {
        match self {
            Self::Current(f) => f.wharf_format_proxy(store),
            Self::V02(_) => Ok(None),
        }
    }

    /// The optional `group` export (contract 0.3.1); a 0.2 plugin has none.
    pub fn group(&self, store: &mut Store<State>) -> wasmtime::Result<Option<group::Guest>> {
        match self {
            Self::Current(f) => f.wharf_format_group(store),
            Self::V02(_) => Ok(None),
        }
    }

    /// The optional `pages` export (contract 0.3.2); a 0.2 plugin has none.
    pub fn pages(&self, store: &mut Store<State>) -> wasmtime::Result<Option<pages::Guest>> {
        match self {
            Self::Current(f) => f.wharf_format_pages(store),
            Self::V02(_) => Ok(None),
        }
    }
}

/// Both contracts' host imports, so a linker serves components of either.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<State>) -> wasmtime::Result<()> {
    use wasmtime::component::HasSelf;
    super::bindings::FormatFull::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    bindings::Format::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}
