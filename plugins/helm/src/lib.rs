//! Helm chart repositories, on Gitea's paths and ChartMuseum's upload API (what
//! `helm cm-push` speaks).
//!
//! Routes (below `/api/packages/{owner}/helm`):
//! - `GET|HEAD /index.yaml`: the owner's charts (`index.rs`), what `helm repo add` and
//!   `helm repo update` fetch;
//! - `GET|HEAD /charts/{file}`: a chart (`{name}-{version}.tgz`) or its provenance file
//!   (`….tgz.prov`), looked up by file name among the owner's charts, so names with
//!   dots and versions of any SemVer shape need no splitting;
//! - `POST /api/charts`: an upload, the `.tgz` as the body or as the multipart field
//!   `chart` (with an optional `prov` field); `?force=true` replaces an existing
//!   version, as ChartMuseum's does; the chart's name and version come from its
//!   `Chart.yaml` (`chart.rs`);
//! - `DELETE /api/charts/{name}/{version}`.
//!
//! Pages (`pages.rs`): `helm repo add`, `helm install` and the Chart.yaml fields.

mod chart;
mod index;
mod pages;

use chart::Chart;
use wharf_plugin_sdk::multipart::{self, Form};
use wharf_plugin_sdk::{
    ByteRange, DeleteTarget, Descriptor, ErrorStyle, FileSource, IndexInput, IndexSpec,
    ListingSpec, Method, Operation, OwnerFile, PackageRef, PlanFile, PlanVersion, Plugin,
    PluginError, PublishPlan, Request, Response, Route, Selector, Upload, UploadBody, UploadSpec,
    VersionMode, VersionRef, params,
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
        let Some(segments) = request.segments() else {
            return Err(PluginError::bad_request("invalid percent-encoding in path"));
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let reading = matches!(request.method, Method::Get | Method::Head);
        Ok(match (&request.method, &segments[..]) {
            (_, ["index.yaml"]) if reading => Route::read(index_operation()),
            (_, ["charts", file]) if reading && !file.is_empty() => {
                Route::read(Operation::serve(Selector::OwnerFile(OwnerFile {
                    owner,
                    name: file.to_string(),
                })))
            }
            (Method::Post, ["api", "charts"]) => {
                let force = request.query_param("force").is_some_and(|v| v != "false");
                let pkg = PackageRef {
                    owner,
                    name: String::new(),
                };
                Route::write(Operation::accept_upload(
                    pkg,
                    &[("force", &force.to_string())],
                    0,
                ))
            }
            (Method::Delete, ["api", "charts", name, version]) => {
                if !chart::valid_name(name) || !chart::valid_version(version) {
                    return Err(PluginError::bad_request("invalid chart name or version"));
                }
                let pkg = PackageRef {
                    owner,
                    name: name.to_string(),
                };
                let version = VersionRef {
                    pkg,
                    version: version.to_string(),
                };
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
        plan(&request, &spec, body)
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        index::render(&input)
    }
}

wharf_plugin_sdk::impl_pages!(Helm, pages::describe);

wharf_plugin_sdk::export!(Helm with Pages);

/// Every chart of the owner with every version: Helm's index lists them all.
fn index_operation() -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: None,
        view: "index".to_string(),
        params: Vec::new(),
        digest_of: None,
        listing: Some(ListingSpec {
            filter: String::new(),
            offset: 0,
            limit: 0,
            all_versions: true,
            after: String::new(),
        }),
    })
}

/// One new version holding the chart (and its provenance file, when the form has one).
fn plan<B: UploadBody + ?Sized>(
    request: &Request,
    spec: &UploadSpec,
    body: &B,
) -> Result<PublishPlan, PluginError> {
    let content_type = request.header("content-type").unwrap_or_default();
    let (chart, prov) = match multipart::boundary(content_type)? {
        None => (None, None),
        Some(_) => {
            let form = Form::read(body, content_type, multipart::Limits::default())?;
            let chart = form.file("chart").ok_or_else(|| {
                PluginError::bad_request("the form has no file field named \"chart\"")
            })?;
            (Some(chart.range), form.file("prov").map(|p| p.range))
        }
    };
    let whole = ByteRange {
        offset: 0,
        length: body.size(),
    };
    let Chart {
        name,
        version,
        fields,
    } = chart::read(body, chart.unwrap_or(whole))?;
    let file_name = chart::file_name(&name, &version);
    let file = |name: String, range: Option<ByteRange>, content_type: &str, lead| PlanFile {
        name,
        source: range.map_or(FileSource::Whole, FileSource::Slice),
        content_type: content_type.to_string(),
        lead,
        overwrite: false,
        expect: None,
    };
    let mut files = vec![file(file_name.clone(), chart, "application/gzip", true)];
    if let Some(prov) = prov {
        files.push(file(
            format!("{file_name}.prov"),
            Some(prov),
            "application/pgp-signature",
            false,
        ));
    }
    let force = params::text(&spec.params, "force") == "true";
    Ok(PublishPlan {
        pkg: PackageRef {
            owner: spec.pkg.owner.clone(),
            name,
        },
        versions: vec![PlanVersion {
            version,
            mode: if force {
                VersionMode::CreateOrReplace
            } else {
                VersionMode::Create
            },
            metadata: serde_json::Value::Object(fields).to_string(),
            files,
            tags: Vec::new(),
            properties: Vec::new(),
            references: Vec::new(),
        }],
        // ChartMuseum's answer, which cm-push expects.
        reply: Response::new(201, "application/json", br#"{"saved":true}"#.to_vec()),
    })
}

#[cfg(test)]
mod tests;
