//! `index.yaml`: every chart version of the owner, newest first under its chart's
//! name, with the fields of its `Chart.yaml`, the URL it downloads from (back to this
//! mount), its sha256 and upload time. Rendered from the owner-wide listing alone, so
//! the host caches it until a chart of the owner changes; `generated` is when one last
//! changed, not when the host rendered it, so the same charts give the same bytes (and
//! ETag) on every node and after every restart.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use wharf_plugin_sdk::upstream::encode_segment;
use wharf_plugin_sdk::{
    HashAlgorithm, IndexInput, PluginError, Response, VersionDetail, time, yaml,
};

use crate::chart;

pub fn render(input: &IndexInput) -> Result<Response, PluginError> {
    let mut entries: BTreeMap<&str, Vec<Map<String, Value>>> = BTreeMap::new();
    for package in &input.listing {
        let name = package.pkg.name.as_str();
        // The listing has each package's versions oldest first; Helm lists newest first.
        let versions = package.versions.iter().rev();
        let listed: Vec<_> = versions
            .filter_map(|version| entry(&input.base_url, name, version))
            .collect();
        if !listed.is_empty() {
            entries.insert(name, listed);
        }
    }
    let index = json!({
        "apiVersion": "v1",
        "entries": entries,
        "generated": time::iso8601(input.changed_at()),
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
