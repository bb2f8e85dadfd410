//! The PyPI format: twine's upload API and the simple repository API pip installs
//! from, on Gitea's paths (`/api/packages/{owner}/pypi/…`; see [`routes`]).
//!
//! A package is a project under its normalized name (PEP 503), a version its
//! normalized PEP 440 version. A version's files are its wheels and sdists (each a
//! lead file, uploaded one request at a time) and, beside each wheel, the core
//! metadata read out of it (`{wheel}.metadata`, PEP 658). Every simple page is rendered
//! from the database, in HTML or JSON as the client asks (PEP 691), so it always lists
//! exactly the stored files, with their sha256, `Requires-Python` and yank state.

mod accept;
mod filename;
mod group;
mod html;
mod metadata;
mod names;
mod pages;
mod proxy;
mod routes;
mod simple;
#[cfg(test)]
mod snapshots;
mod upload;
mod version;
mod wheel;
mod yank;

use wharf_plugin_sdk::{
    Descriptor, IndexInput, PluginError, PublishPlan, Request, Response, Route, Upload, UploadSpec,
};

struct PyPi;

impl wharf_plugin_sdk::Plugin for PyPi {
    fn describe() -> Descriptor {
        // Plain-text errors: twine prints the body of a refused upload as it is.
        Descriptor::basic("pypi")
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        routes::match_route(&request)
    }

    fn parse_upload(
        request: Request,
        spec: UploadSpec,
        body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        match yank::parse(&spec, body) {
            Some(plan) => plan,
            None => upload::parse(&request, &spec, body),
        }
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        simple::render(&input)
    }
}

// Proxies of an upstream simple repository (see `proxy.rs`).
wharf_plugin_sdk::impl_proxy!(
    PyPi,
    |operation, _request| proxy::plan(&operation),
    |input| proxy::rewrite(&input)
);

// Groups serve a project from one member, hosted members first under the
// dependency-confusion guard (see `group.rs`).
wharf_plugin_sdk::impl_group!(PyPi, |input| group::merge(&input));

wharf_plugin_sdk::impl_pages!(PyPi, pages::describe);

wharf_plugin_sdk::export!(PyPi with Proxy, Group, Pages);
