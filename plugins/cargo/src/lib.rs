//! The Cargo format: a sparse registry index and the web API of `cargo publish`,
//! `yank`, `owner` and `search`, on Gitea's paths (`/api/packages/{owner}/cargo`, index
//! URL `sparse+{that}/`).
//!
//! A crate version is stored with its `.crate` as the lead file (and the README cargo
//! sent, for its page, as a file `README` beside it), the index entry and descriptive
//! fields as metadata, and its yank state as the `yanked` property.
//! Index files are rendered from the database and cached by the host until the crate
//! changes. Tokens are Wharf tokens, which cargo sends as they are.
//!
//! Proxies of another sparse registry ([`proxy`]) and groups ([`group`]) are
//! supported (issue 21).

mod body;
mod group;
mod metadata;
mod names;
mod pages;
mod proxy;
mod publish;
mod render;
mod routes;
#[cfg(test)]
mod snapshots;

use wharf_plugin_sdk::{
    DISTRIBUTION_ERROR_CODES, Descriptor, IndexInput, PluginError, PublishPlan, Request, Response,
    Route, Upload, UploadSpec, params,
};

struct Cargo;

impl wharf_plugin_sdk::Plugin for Cargo {
    fn describe() -> Descriptor {
        // cargo reads `{"errors":[{"detail": …}]}`: the envelope, whose codes (the
        // distribution spec's, as the 0.2 host wrote them) cargo does not print.
        Descriptor {
            settings: vec![proxy::dl_setting()],
            ..Descriptor::basic("cargo").error_envelope(DISTRIBUTION_ERROR_CODES)
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
        let version = params::text(&spec.params, routes::VERSION);
        match params::text(&spec.params, routes::ACTION) {
            routes::PUBLISH => publish::publish(&request, spec.pkg.owner, body),
            routes::YANK => publish::set_yanked(spec.pkg, version, true),
            routes::UNYANK => publish::set_yanked(spec.pkg, version, false),
            other => Err(PluginError::internal(format!(
                "unknown upload action {other:?}"
            ))),
        }
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        render::render(input)
    }
}

wharf_plugin_sdk::impl_proxy!(
    Cargo,
    |operation, _request| Ok(proxy::plan(&operation)),
    proxy::rewrite
);

wharf_plugin_sdk::impl_group!(Cargo, group::merge);

wharf_plugin_sdk::impl_pages!(Cargo, pages::describe);

wharf_plugin_sdk::export!(Cargo with Proxy, Group, Pages);

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::{ErrorStyle, Plugin};

    #[test]
    fn the_descriptor_names_the_envelope_codes_the_host_used_to_imply() {
        let d = Cargo::describe();
        assert!(matches!(d.error_style, ErrorStyle::ErrorEnvelope));
        let code = |status| {
            d.error_codes
                .iter()
                .find(|(s, _)| *s == status)
                .map(|(_, c)| c.as_str())
        };
        assert_eq!(code(401), Some("UNAUTHORIZED"));
        assert_eq!(code(404), Some("NAME_UNKNOWN"));
        assert_eq!(code(507), Some("UNAVAILABLE"));
        assert_eq!(code(409), None, "the host's UNSUPPORTED fallback");
        let settings: Vec<_> = d.settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(settings, [proxy::DL_SETTING]);
    }
}
