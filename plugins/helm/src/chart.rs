//! A chart's `Chart.yaml`, read out of the uploaded `.tgz` with a real YAML parser and
//! checked as Helm checks it (`chart.Metadata.Validate`). Helm's fields are kept as the
//! chart wrote them (apiVersion v1 and v2 alike: dependencies, maintainers, keywords,
//! icon, `deprecated`, annotations, …), stored as the version's metadata and printed
//! into `index.yaml` unchanged; keys Helm does not know are dropped, as Helm drops them.

use serde_json::{Map, Value};
use wharf_plugin_sdk::archive::{Limits, Wanted, read_tar_entry};
use wharf_plugin_sdk::{ByteRange, PluginError, UploadBody, UploadReader, yaml};

/// Helm's own loader refuses charts that inflate past 100 MiB; `Chart.yaml` is small.
const LIMITS: Limits = Limits {
    entry: 1 << 20,
    entries: 20_000,
    bytes_read: 100 << 20,
};

/// The fields of Helm's `chart.Metadata`, which its `index.yaml` entries repeat.
const FIELDS: &str = "name home sources version description keywords maintainers icon \
    apiVersion condition tags appVersion deprecated annotations kubeVersion dependencies type";

/// A field a chart must get right, Helm's test of its value, and what a value failing
/// the test is.
type Check = (&'static str, fn(&str) -> bool, &'static str);

const CHECKS: [Check; 4] = [
    (
        "apiVersion",
        |v| matches!(v, "v1" | "v2"),
        "is not v1 or v2",
    ),
    ("name", valid_name, "is invalid"),
    ("version", valid_version, "is not a valid SemVer"),
    (
        "type",
        |t| matches!(t, "" | "application" | "library"),
        "is not application or library",
    ),
];

/// A checked chart: its name and version, and Helm's fields of its `Chart.yaml`.
pub struct Chart {
    pub name: String,
    pub version: String,
    pub fields: Map<String, Value>,
}

/// The chart's file name in the repository, as `helm package` names it.
pub fn file_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tgz")
}

/// The chart archive in `range` of the upload, or a 400 saying what is wrong with it.
pub fn read<B: UploadBody + ?Sized>(body: &B, range: ByteRange) -> Result<Chart, PluginError> {
    let wanted = Wanted {
        archive: "chart",
        entry: "Chart.yaml in its top directory",
        // `{chart}/Chart.yaml`, not a subchart's `{chart}/charts/{sub}/Chart.yaml`.
        matches: &|name| {
            let parts: Vec<&[u8]> = name.split(|b| *b == b'/').collect();
            matches!(parts[..], [top, file] if !top.is_empty() && file == b"Chart.yaml")
        },
    };
    let reader = UploadReader::range(body, range.offset, range.length);
    let (_, bytes) = read_tar_entry(reader, &wanted, &LIMITS)?;
    checked(yaml::parse(&bytes, "Chart.yaml")?)
}

/// Keeps Helm's fields of a parsed `Chart.yaml` and checks them.
pub fn checked(mut yaml: Map<String, Value>) -> Result<Chart, PluginError> {
    let mut fields: Map<String, Value> = FIELDS
        .split_whitespace()
        .filter_map(|key| Some((key.to_string(), yaml.remove(key)?)))
        .collect();
    // `version: 1` and `appVersion: 1.0` are YAML numbers; Helm's fields are strings.
    for key in ["version", "appVersion"] {
        if let Some(Value::Number(n)) = fields.get(key) {
            fields.insert(key.into(), Value::String(n.to_string()));
        }
    }
    let text = |key| fields.get(key).and_then(Value::as_str).unwrap_or_default();
    for (key, valid, why) in CHECKS {
        if !valid(text(key)) {
            let message = format!("Chart.yaml: {key} {:?} {why}", text(key));
            return Err(PluginError::bad_request(message));
        }
    }
    Ok(Chart {
        name: text("name").to_string(),
        version: text("version").to_string(),
        fields,
    })
}

/// Helm: `^[a-zA-Z0-9._-]+$`; dot segments are refused too, so a name never reads as
/// a path step.
pub fn valid_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Masterminds/semver's loose form, which Helm takes: `v1`, `1.2`, `1.2.3-rc.1+build.5`.
pub fn valid_version(version: &str) -> bool {
    let identifiers = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    let version = version.strip_prefix('v').unwrap_or(version);
    let (rest, build) = version.split_once('+').unwrap_or((version, "0"));
    let (core, pre) = rest.split_once('-').unwrap_or((rest, "0"));
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() <= 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && identifiers(pre)
        && identifiers(build)
}
