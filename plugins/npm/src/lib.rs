//! The npm format: the registry API of the npm, pnpm and yarn clients, on Gitea's
//! paths (`/api/packages/{owner}/npm/…`).
//!
//! Packages are stored one version per publish, with the tarball as the version's only
//! (lead) file and the version's manifest as its metadata. Packuments are rendered from
//! the database on demand and cached by the host until the package changes. Package
//! pages (`pages.rs`) show the `.npmrc` setup, the install command and the README.

mod group;
mod integrity;
mod names;
mod pages;
mod proxy;
mod publish;
mod render;
mod routes;
mod scan;
mod search;
#[cfg(test)]
mod snapshots;

use wharf_plugin_sdk::params;
use wharf_plugin_sdk::{
    Descriptor, ErrorStyle, HashAlgorithm, IndexInput, PluginError, PublishPlan, Request, Response,
    Route, Upload, UploadSpec,
};

struct Npm;

impl wharf_plugin_sdk::Plugin for Npm {
    fn describe() -> Descriptor {
        Descriptor {
            response_headers: Vec::new(),
            error_style: ErrorStyle::JsonField("error".into()),
            // `dist.shasum` and `dist.integrity` of every tarball.
            digests: vec![HashAlgorithm::Sha1, HashAlgorithm::Sha512],
            // npm names are lower case by rule; old mixed-case names stay distinct.
            case_insensitive_names: false,
            ..Descriptor::basic("npm")
        }
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        routes::match_route(&request)
    }

    fn parse_upload(
        request: Request,
        spec: UploadSpec,
        body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        match params::text(&spec.params, routes::KIND) {
            routes::DIST_TAG => {
                publish::dist_tag(spec.pkg, params::text(&spec.params, routes::TAG), body)
            }
            _ => publish::package_document(&request, spec.pkg, body),
        }
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        render::render(input)
    }
}

wharf_plugin_sdk::impl_proxy!(
    Npm,
    |operation, _request| Ok(proxy::plan(&operation)),
    |input| proxy::rewrite(&input)
);

wharf_plugin_sdk::impl_group!(Npm, group::merge);

wharf_plugin_sdk::impl_pages!(Npm, pages::describe);

wharf_plugin_sdk::export!(Npm with Proxy, Group, Pages);
