//! The Cargo format: a sparse registry index and the web API of `cargo publish`,
//! `yank`, `owner` and `search`, on Gitea's paths (`/api/packages/{owner}/cargo`, index
//! URL `sparse+{that}/`).
//!
//! A crate version is stored with its `.crate` as the only (lead) file, the index entry
//! and descriptive fields as metadata, and its yank state as the `yanked` property.
//! Index files are rendered from the database and cached by the host until the crate
//! changes. Tokens are Wharf tokens, which cargo sends as they are.

mod body;
mod metadata;
mod names;
mod publish;
mod render;
mod routes;

use wharf_plugin_sdk::{
    Descriptor, ErrorStyle, IndexInput, PluginError, PublishPlan, Request, Response, Route, Upload,
    UploadSpec,
};

struct Cargo;

impl wharf_plugin_sdk::Plugin for Cargo {
    fn describe() -> Descriptor {
        Descriptor {
            response_headers: Vec::new(),
            // cargo reads `{"errors":[{"detail": …}]}`, the envelope the host writes for
            // this style.
            error_style: ErrorStyle::Oci,
            ..Descriptor::basic("cargo")
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
        match spec.context.split_once(':') {
            None if spec.context == routes::PUBLISH => {
                publish::publish(&request, spec.pkg.owner, body)
            }
            Some((routes::YANK, version)) => publish::set_yanked(spec.pkg, version, true),
            Some((routes::UNYANK, version)) => publish::set_yanked(spec.pkg, version, false),
            _ => Err(PluginError::new(
                500,
                format!("unknown upload context {:?}", spec.context),
            )),
        }
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        render::render(input)
    }
}

wharf_plugin_sdk::export!(Cargo);
