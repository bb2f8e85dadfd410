//! Reading the settings a plugin declares in its descriptor.
//!
//! In WebAssembly the host answers (`host.setting`). Natively, under `cargo test`, there
//! is no host: values come from [`crate::testing::with_settings`], else the declaration
//! the test names through `defaults`.

use crate::SettingValue;

/// The setting's value, or `None` when the descriptor does not declare it.
pub fn get(name: &str) -> Option<SettingValue> {
    #[cfg(target_arch = "wasm32")]
    return crate::host::setting(name);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::setting(name);
}

/// An integer setting; `default` if it is undeclared or of another kind (a plugin bug
/// the host's startup check rules out for declared settings).
pub fn integer(name: &str, default: i64) -> i64 {
    match get(name) {
        Some(SettingValue::Integer(v)) => v,
        _ => default,
    }
}

/// A boolean setting, as for [`integer`].
pub fn boolean(name: &str, default: bool) -> bool {
    match get(name) {
        Some(SettingValue::Boolean(v)) => v,
        _ => default,
    }
}

/// A text or choice setting, as for [`integer`].
pub fn text(name: &str, default: &str) -> String {
    match get(name) {
        Some(SettingValue::Text(v)) => v,
        _ => default.to_string(),
    }
}
