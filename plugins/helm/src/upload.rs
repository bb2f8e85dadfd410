//! `POST /api/charts`: one new version of the chart its `Chart.yaml` names, holding the
//! chart and, from a cm-push form, its provenance file. Both stay ranges of the stored
//! upload: the host copies them, the plugin reads only `Chart.yaml`.

use serde_json::Value;
use wharf_plugin_sdk::multipart::{self, Form};
use wharf_plugin_sdk::{
    ByteRange, FileSource, PackageRef, PlanFile, PlanVersion, PluginError, PublishPlan, Request,
    Response, UploadBody, UploadSpec, VersionMode, params,
};

use crate::chart::{self, Chart};

/// The upload param `match-route` sets from `?force=true`.
pub const FORCE: &str = "force";

pub fn plan<B: UploadBody + ?Sized>(
    request: &Request,
    spec: &UploadSpec,
    body: &B,
) -> Result<PublishPlan, PluginError> {
    let (chart, prov) = form_parts(request, body)?;
    let whole = ByteRange {
        offset: 0,
        length: body.size(),
    };
    let Chart {
        name,
        version,
        fields,
    } = chart::read(body, chart.unwrap_or(whole))?;
    let file = chart::file_name(&name, &version);
    // A raw body is the chart as it is; a form's parts are slices of it.
    let source = |range: Option<ByteRange>| range.map_or(FileSource::Whole, FileSource::Slice);
    let mut files = vec![PlanFile::new(&file, source(chart), "application/gzip").lead()];
    files.extend(prov.map(|prov| {
        PlanFile::new(
            format!("{file}.prov"),
            source(Some(prov)),
            "application/pgp-signature",
        )
    }));
    let mode = match params::flag(&spec.params, FORCE) {
        true => VersionMode::CreateOrReplace,
        false => VersionMode::Create,
    };
    let metadata = Value::Object(fields).to_string();
    Ok(PublishPlan {
        pkg: PackageRef::new(&spec.pkg.owner, name),
        versions: vec![PlanVersion::new(version, mode, metadata, files)],
        // ChartMuseum's answer, which cm-push expects.
        reply: Response::new(201, "application/json", br#"{"saved":true}"#.to_vec()),
    })
}

/// The ranges of a multipart form's `chart` and `prov` files; none for a raw body.
fn form_parts<B: UploadBody + ?Sized>(
    request: &Request,
    body: &B,
) -> Result<(Option<ByteRange>, Option<ByteRange>), PluginError> {
    let content_type = request.header("content-type").unwrap_or_default();
    if multipart::boundary(content_type)?.is_none() {
        return Ok((None, None));
    }
    let form = Form::read(body, content_type, multipart::Limits::default())?;
    let chart = form
        .file("chart")
        .ok_or_else(|| PluginError::bad_request("the form has no file field named \"chart\""))?;
    Ok((Some(chart.range), form.file("prov").map(|p| p.range)))
}
