//! The NuGet format: a v3 feed (service index, registrations, flat container, search,
//! push, delete, symbol packages) plus the v2 OData subset Gitea serves, on Gitea's
//! paths (`/api/packages/{owner}/nuget/…`), for NuGet.exe, `dotnet nuget` and Visual
//! Studio.
//!
//! A package is a NuGet id (case-insensitive), a version its normalized version. The
//! `.nupkg` is the lead file; the nuspec is extracted from it on push, by ranged reads
//! of the stored upload, and kept beside it, as is the README it names (for the
//! package's page, `pages.rs`). Every feed document is rendered from the
//! database, so it always lists exactly the stored versions.
//!
//! Proxies of another v3 feed are [`proxy`]'s, groups [`group`]'s (issue 21).

mod group;
mod metadata;
mod nupkg;
mod nuspec;
mod odata;
mod pages;
mod proxy;
mod registration;
mod render;
mod routes;
mod search;
mod service;
#[cfg(test)]
mod snapshots;
mod upload;
mod version;

use wharf_plugin_sdk::{
    Descriptor, ErrorStyle, HashAlgorithm, IndexInput, PluginError, PublishPlan, Request, Response,
    Route, Upload, UploadSpec,
};

struct NuGet;

impl wharf_plugin_sdk::Plugin for NuGet {
    fn describe() -> Descriptor {
        Descriptor {
            response_headers: Vec::new(),
            error_style: ErrorStyle::JsonField("Message".into()),
            // Registrations and search carry `packageHash`, the nupkg's sha512.
            digests: vec![HashAlgorithm::Sha512],
            // The API key NuGet clients send for pushes and deletes.
            credential_headers: vec!["x-nuget-apikey".into()],
            settings: proxy::settings(),
            ..Descriptor::basic("nuget")
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
        upload::parse(&request, &spec, body)
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        render::render(&input)
    }
}

wharf_plugin_sdk::impl_proxy!(
    NuGet,
    |operation, _request| Ok(proxy::plan(&operation)),
    proxy::rewrite
);

wharf_plugin_sdk::impl_group!(NuGet, group::merge);

wharf_plugin_sdk::impl_pages!(NuGet, pages::describe);

wharf_plugin_sdk::export!(NuGet with Proxy, Group, Pages);

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::Plugin;

    #[test]
    fn the_api_key_header_is_declared_a_credential() {
        // The host authenticates with it and keeps it from the plugin.
        assert_eq!(
            super::NuGet::describe().credential_headers,
            ["x-nuget-apikey"]
        );
    }
}
