//! Helm chart repositories, on Gitea's paths and ChartMuseum's upload API (what
//! `helm cm-push` speaks).
//!
//! Routes (below `/api/packages/{owner}/helm`):
//! - `GET|HEAD /index.yaml`: the owner's charts (`index.rs`), what `helm repo add` and
//!   `helm repo update` fetch;
//! - `GET|HEAD /charts/{file}`: a chart (`{name}-{version}.tgz`) or its provenance file
//!   (`….tgz.prov`), looked up by file name among the owner's charts, so names with
//!   dots and versions of any SemVer shape need no splitting;
//! - `POST /api/charts`: an upload (`upload.rs`), the `.tgz` as the body or as the
//!   multipart field `chart` (with an optional `prov` field); `?force=true` replaces an
//!   existing version, as ChartMuseum's does;
//! - `DELETE /api/charts/{name}/{version}`.
//!
//! Pages (`pages.rs`): `helm repo add`, `helm install` and the Chart.yaml fields.

mod chart;
mod index;
mod pages;
mod upload;

use wharf_plugin_sdk::{
    DeleteTarget, Descriptor, ErrorStyle, IndexInput, ListingSpec, Method, Operation, OwnerFile,
    PackageRef, Plugin, PluginError, PublishPlan, Request, Response, Route, Selector, Upload,
    UploadSpec, VersionRef,
};

struct Helm;

impl Plugin for Helm {
    fn describe() -> Descriptor {
        // ChartMuseum's error body, which cm-push prints: `{"error": "…"}`.
        Descriptor {
            error_style: ErrorStyle::JsonField("error".to_string()),
            ..Descriptor::basic("helm")
        }
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        let owner = request.mount_owner()?;
        let segments = request
            .segments()
            .ok_or_else(|| PluginError::bad_request("invalid percent-encoding in path"))?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let reading = matches!(request.method, Method::Get | Method::Head);
        Ok(match (&request.method, &segments[..]) {
            // Helm's index lists every version of every chart.
            (_, ["index.yaml"]) if reading => Route::read(Operation::render_listing(
                "index",
                ListingSpec {
                    all_versions: true,
                    ..ListingSpec::every_package()
                },
            )),
            (_, ["charts", file]) if reading && !file.is_empty() => {
                Route::read(Operation::serve(Selector::OwnerFile(OwnerFile {
                    owner,
                    name: file.to_string(),
                })))
            }
            // Only the chart's Chart.yaml names it: the package name stays empty.
            (Method::Post, ["api", "charts"]) => {
                let force = request.query_param("force").is_some_and(|v| v != "false");
                let params = [(upload::FORCE, if force { "true" } else { "false" })];
                Route::write(Operation::accept_upload(
                    PackageRef::new(owner, ""),
                    &params,
                    0,
                ))
            }
            (Method::Delete, ["api", "charts", name, version]) => {
                if !chart::valid_name(name) || !chart::valid_version(version) {
                    return Err(PluginError::bad_request("invalid chart name or version"));
                }
                let version = VersionRef::new(PackageRef::new(owner, *name), *version);
                Route::write(Operation::Delete(DeleteTarget::Version(version)))
            }
            (_, ["index.yaml"] | ["charts", _] | ["api", "charts", ..]) => {
                return Err(PluginError::method_not_allowed());
            }
            _ => Route::not_found(),
        })
    }

    fn parse_upload(
        request: Request,
        spec: UploadSpec,
        body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        upload::plan(&request, &spec, body)
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        index::render(&input)
    }
}

wharf_plugin_sdk::impl_pages!(Helm, pages::describe);

wharf_plugin_sdk::export!(Helm with Pages);

#[cfg(test)]
mod tests;
