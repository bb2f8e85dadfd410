//! JSON documents in and out (feature `json`): a client's malformed document is a 400
//! naming what was wrong, and a rendered value is a response in one call.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{PluginError, Response};

/// Parses a client's JSON document; `what` names it in the 400 (`"package.json"`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, PluginError> {
    serde_json::from_slice(bytes)
        .map_err(|e| PluginError::bad_request(format!("invalid {what}: {e}")))
}

/// `status` with `value` as an `application/json` body.
pub fn response<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, PluginError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| PluginError::internal(format!("cannot render JSON: {e}")))?;
    Ok(Response::new(status, "application/json", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_documents_are_a_400_naming_them() {
        let err = parse::<serde_json::Value>(b"{\"a\":", "manifest").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.starts_with("invalid manifest: "),
            "{}",
            err.message
        );
        let ok: Vec<u32> = parse(b"[1,2]", "list").unwrap();
        assert_eq!(ok, [1, 2]);
    }

    #[test]
    fn values_render_as_json_responses() {
        let r = response(201, &serde_json::json!({"ok": true})).unwrap();
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (201, "application/json")
        );
        assert_eq!(r.body, br#"{"ok":true}"#);
    }
}
