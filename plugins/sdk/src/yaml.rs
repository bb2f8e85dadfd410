//! YAML documents in and out (feature `yaml`, with the maintained `yaml_serde`): a
//! client's malformed document is a 400 naming what was wrong, and a rendered value is
//! a response in one call. The parser refuses documents whose aliases expand past its
//! repetition limit and nesting past 128 levels, so a hostile `Chart.yaml` cannot
//! exhaust the plugin's memory.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{PluginError, Response};

/// Parses a client's YAML document; `what` names it in the 400 (`"Chart.yaml"`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, PluginError> {
    yaml_serde::from_slice(bytes)
        .map_err(|e| PluginError::bad_request(format!("invalid {what}: {e}")))
}

/// `value` as a YAML document.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, PluginError> {
    yaml_serde::to_string(value)
        .map_err(|e| PluginError::internal(format!("cannot render YAML: {e}")))
}

/// `status` with `value` as an `application/yaml` body (RFC 9512).
pub fn response<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, PluginError> {
    Ok(Response::new(
        status,
        "application/yaml",
        to_string(value)?.into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn malformed_documents_are_a_400_naming_them() {
        let err = parse::<BTreeMap<String, String>>(b"a: [1, 2", "Chart.yaml").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.starts_with("invalid Chart.yaml: "),
            "{}",
            err.message
        );
        let ok: BTreeMap<String, Vec<u32>> = parse(b"a: [1, 2]\nb:\n  - 3\n", "list").unwrap();
        assert_eq!(ok["a"], [1, 2]);
        assert_eq!(ok["b"], [3]);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, prev) in ('b'..='j').zip('a'..) {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            doc.push_str(&format!("{i}: &{i} [{refs}]\n"));
        }
        let err = parse::<yaml_serde::Value>(doc.as_bytes(), "Chart.yaml").unwrap_err();
        assert_eq!(err.status, 400);
    }

    #[test]
    fn values_render_as_yaml_responses() {
        let value = BTreeMap::from([("apiVersion", "v1")]);
        let r = response(200, &value).unwrap();
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (200, "application/yaml")
        );
        assert_eq!(r.body, b"apiVersion: v1\n");
    }
}
