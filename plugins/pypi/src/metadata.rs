//! What Wharf keeps about a release and its files, and how it is stored.
//!
//! - The version's metadata is the core metadata twine sends with each file (summary,
//!   author, classifiers, `requires_dist`, …) as a JSON object; the last upload of a
//!   version that carries some wins, as on PyPI, where files of one release share it.
//! - What belongs to one file (its `Requires-Python`, file type, Python tag) is a
//!   version property named `file:{filename}`, so two uploads of one version never
//!   overwrite each other's file facts.
//! - A yank (PEP 592) is the pair of properties `yanked` (`true`/`false`) and
//!   `yanked-reason`, changed by the yank API without touching files.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wharf_plugin_sdk::multipart::Form;

/// Core metadata fields kept with a single value, as twine names them in its form.
const SINGLE: &[&str] = &[
    "metadata_version",
    "name",
    "version",
    "summary",
    "description",
    "description_content_type",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "keywords",
    "home_page",
    "download_url",
    "requires_python",
];

/// Core metadata fields that may repeat, kept as lists.
const MULTIPLE: &[&str] = &[
    "classifiers",
    "platform",
    "supported_platform",
    "project_urls",
    "requires_dist",
    "provides_extra",
    "provides_dist",
    "obsoletes_dist",
    "requires_external",
    "dynamic",
    "license_file",
];

/// The version metadata JSON: every known field the form carries, empty ones left out.
pub fn release_json(form: &Form) -> String {
    let mut object = Map::new();
    for field in SINGLE {
        if let Some(value) = form.field(field).filter(|v| !v.is_empty()) {
            object.insert(field.to_string(), Value::from(value));
        }
    }
    for field in MULTIPLE {
        let values: Vec<Value> = form
            .all(field)
            .filter(|v| !v.is_empty())
            .map(Value::from)
            .collect();
        if !values.is_empty() {
            object.insert(field.to_string(), Value::Array(values));
        }
    }
    Value::Object(object).to_string()
}

/// The property holding a file's facts.
pub fn file_property(filename: &str) -> String {
    format!("file:{filename}")
}

/// What the index shows about one file beyond its name, size and hashes.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requires_python: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filetype: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub python_version: String,
}

impl FileFacts {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The facts stored in a property value; a damaged value reads as none.
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }
}

/// Yank properties (PEP 592).
pub const YANKED: &str = "yanked";
pub const YANKED_REASON: &str = "yanked-reason";

/// A version's yank state from its properties: `Some(reason)` when yanked (the reason
/// may be empty).
pub fn yanked(properties: &[(String, String)]) -> Option<String> {
    let get = |name: &str| {
        properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    (get(YANKED) == Some("true")).then(|| get(YANKED_REASON).unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Form {
        Form {
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            files: Vec::new(),
        }
    }

    #[test]
    fn release_metadata_keeps_known_fields_and_lists() {
        let json = release_json(&form(&[
            (":action", "file_upload"),
            ("name", "Wharf_Base"),
            ("version", "1.0"),
            ("summary", "A base"),
            ("author", ""),
            ("classifiers", "A :: B"),
            ("classifiers", "C :: D"),
            ("requires_dist", "idna>=3"),
            ("sha256_digest", "ab"),
        ]));
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "name": "Wharf_Base",
                "version": "1.0",
                "summary": "A base",
                "classifiers": ["A :: B", "C :: D"],
                "requires_dist": ["idna>=3"],
            })
        );
    }

    #[test]
    fn file_facts_round_trip_and_tolerate_damage() {
        let facts = FileFacts {
            requires_python: ">=3.8".into(),
            filetype: "sdist".into(),
            python_version: String::new(),
        };
        assert_eq!(
            facts.to_json(),
            r#"{"requires_python":">=3.8","filetype":"sdist"}"#
        );
        assert_eq!(FileFacts::from_json(&facts.to_json()), facts);
        assert_eq!(FileFacts::from_json("not json"), FileFacts::default());
    }

    #[test]
    fn yank_state_reads_both_properties() {
        let props = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(yanked(&props(&[])), None);
        assert_eq!(
            yanked(&props(&[(YANKED, "false"), (YANKED_REASON, "x")])),
            None
        );
        assert_eq!(yanked(&props(&[(YANKED, "true")])).as_deref(), Some(""));
        assert_eq!(
            yanked(&props(&[(YANKED_REASON, "broken"), (YANKED, "true")])).as_deref(),
            Some("broken")
        );
    }
}
