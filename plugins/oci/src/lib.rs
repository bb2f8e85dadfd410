//! The OCI format: the distribution API v1.1 below `/v2`, for docker, podman, skopeo,
//! oras and helm.
//!
//! The mount has no owner: the first path segment is the owner and the rest of the
//! repository name is the package (`/v2/alice/team/app` → owner `alice`, package
//! `team/app`). Each manifest is a version named by its sha256 digest, with one lead
//! file `manifest`; tags point at versions; layers and configs are blobs linked to the
//! package, referenced by the manifests that name them. The host runs upload sessions,
//! the blob store, tokens and GC; this plugin owns paths, grammar, manifests and listings.
//!
//! Proxy owners read an upstream registry (`proxy`) and group owners read their members
//! (`group`); both serve listings under their own names (`listing`).

mod group;
mod listing;
mod manifest;
mod names;
mod pages;
mod proxy;
mod render;
mod routes;
#[cfg(test)]
mod snapshots;

use wharf_plugin_sdk::{
    BearerChallenge, Challenge, DISTRIBUTION_ERROR_CODES, Descriptor, IndexInput, PluginError,
    PublishPlan, Request, Response, Route, Upload, UploadSpec,
};

/// The code of a 502: an upstream (or a group member) that failed or sent what no
/// registry sends. The spec fixes no code for it; `UNAVAILABLE` is the one Docker's and
/// containerd's error registries know for a registry that cannot serve for now.
const UPSTREAM_CODE: &str = "UNAVAILABLE";

struct Oci;

impl wharf_plugin_sdk::Plugin for Oci {
    fn describe() -> Descriptor {
        Descriptor {
            settings: vec![manifest::max_references_setting()],
            challenge: Challenge::Bearer(BearerChallenge {
                token_path: "/v2/token".into(),
                service: "wharf".into(),
            }),
            // Docker clients check this header to know they talk to a v2 registry.
            response_headers: vec![(
                "docker-distribution-api-version".into(),
                "registry/2.0".into(),
            )],
            // Repository names are lower case by grammar; tags are case-sensitive.
            case_insensitive_names: false,
            // sha512 is computed by the host only when a client names one.
            digests: Vec::new(),
            ..Descriptor::basic("oci").error_envelope(&error_codes())
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
        manifest::parse_upload(&request, spec, body, &manifest::HostBlobs)
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        render::render(input)
    }
}

/// The distribution spec's codes, and [`UPSTREAM_CODE`] for the 502 the host answers
/// when every upstream of a proxy failed.
fn error_codes() -> Vec<(u16, &'static str)> {
    let mut codes = DISTRIBUTION_ERROR_CODES.to_vec();
    let at = codes.partition_point(|(status, _)| *status < 502);
    codes.insert(at, (502, UPSTREAM_CODE));
    codes
}

wharf_plugin_sdk::impl_proxy!(
    Oci,
    |operation, request| Ok(proxy::plan(&operation, &request)),
    |input| proxy::rewrite(&input)
);

wharf_plugin_sdk::impl_group!(Oci, |input| group::merge(&input));

wharf_plugin_sdk::impl_pages!(Oci, pages::describe);

wharf_plugin_sdk::export!(Oci with Proxy, Group, Pages);

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::{ErrorStyle, Plugin};

    use super::*;

    #[test]
    fn the_descriptor_speaks_oci() {
        let d = Oci::describe();
        assert_eq!(d.name, "oci");
        assert!(matches!(d.error_style, ErrorStyle::ErrorEnvelope));
        let Challenge::Bearer(bearer) = d.challenge else {
            panic!("OCI clients need a bearer challenge");
        };
        assert_eq!(
            (bearer.token_path.as_str(), bearer.service.as_str()),
            ("/v2/token", "wharf")
        );
        assert_eq!(
            d.response_headers,
            [(
                "docker-distribution-api-version".to_string(),
                "registry/2.0".to_string()
            )]
        );
        assert!(!d.case_insensitive_names);
        assert!(d.digests.is_empty());
        assert_eq!(d.contract, wharf_plugin_sdk::CONTRACT_VERSION);
        assert!(d.credential_headers.is_empty(), "tokens come as Bearer");
        let settings: Vec<&str> = d.settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(settings, ["max-references"]);
    }

    /// The host starts OCI proxies and merges OCI groups only when the plugin says so.
    #[test]
    fn proxies_and_groups_are_supported() {
        use wharf_plugin_sdk::{Group, Proxy};
        assert!(<Oci as Proxy>::supports_proxy());
        assert!(<Oci as Group>::supports_groups());
    }

    /// The codes the host used to give OCI clients for its own failures, now declared,
    /// and the one for its proxies' failed upstreams.
    #[test]
    fn host_failures_keep_their_distribution_codes() {
        let codes: Vec<String> = Oci::describe()
            .error_codes
            .iter()
            .map(|(status, code)| format!("{status} {code}"))
            .collect();
        assert_eq!(
            codes.join(", "),
            "401 UNAUTHORIZED, 403 DENIED, 404 NAME_UNKNOWN, 405 UNSUPPORTED, \
             413 SIZE_INVALID, 416 BLOB_UPLOAD_INVALID, 429 TOOMANYREQUESTS, \
             502 UNAVAILABLE, 503 UNAVAILABLE, 507 UNAVAILABLE",
            "any other status takes the envelope's UNSUPPORTED; 502 is a failed upstream"
        );
    }
}
