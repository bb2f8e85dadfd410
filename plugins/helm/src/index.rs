//! `index.yaml`: every chart version of the owner, newest first under its chart's
//! name, with the fields of its `Chart.yaml`, the URL it downloads from (back to this
//! mount), its sha256 and upload time, and `generated` from the host's render time.
//! Rendered from the owner-wide listing alone, so the host caches it until a chart of
//! the owner changes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::upstream::encode_segment;
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PluginError, Response, VersionDetail, time, yaml,
};

use crate::chart;

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    let mut entries: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    for package in &input.listing {
        // The listing has each package's versions oldest first; Helm lists newest first.
        for version in package.versions.iter().rev() {
            if let Some(entry) = entry(&input.base_url, &package.pkg.name, version) {
                entries
                    .entry(package.pkg.name.clone())
                    .or_default()
                    .push(entry);
            }
        }
    }
    let index = json!({
        "apiVersion": "v1",
        "entries": entries,
        "generated": time::iso8601(input.rendered_at),
    });
    yaml::response(200, &index)
}

/// Helm's `ChartVersion`: the chart's fields, then where it is and what it is. `None`
/// for a version without its chart file, which Helm could not download anyway.
fn entry(base_url: &str, name: &str, version: &VersionDetail) -> Option<Map<String, Value>> {
    let mut entry: Map<String, Value> = serde_json::from_str(&version.metadata).ok()?;
    let file = chart::file_name(name, &version.version);
    let chart = version.files.iter().find(|f| f.name == file)?;
    let url = format!("{base_url}/charts/{}", encode_segment(&chart.name));
    entry.insert("urls".into(), json!([url]));
    entry.insert("created".into(), json!(time::iso8601(version.created)));
    entry.insert("digest".into(), json!(chart.digest(HashAlgorithm::Sha256)?));
    Some(entry)
}
