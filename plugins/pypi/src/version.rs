//! Versions (PEP 440) in the normalized form Wharf stores: `1.0.0-RC1`, `v1.0.0rc1`
//! and `1.0.0.rc.1` are one version, `1.0.0rc1`, as pip compares them. Release
//! segments keep their length (`1.0` and `1.0.0` stay two versions, as in file names).

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

/// The normalized form of a PEP 440 version, or `None` when it is not one.
pub fn normalize(text: &str) -> Option<String> {
    parse(text).map(|v| v.to_string())
}

pub fn parse(text: &str) -> Option<Version> {
    // The parser forgives surrounding white space; an upload's version must not have any.
    if text.is_empty() || text.trim() != text {
        return None;
    }
    Version::from_str(text).ok()
}

/// Whether `text` is a valid `Requires-Python` specifier set (`>=3.8, <4`).
pub fn is_valid_specifier_set(text: &str) -> bool {
    VersionSpecifiers::from_str(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_normalized_as_pep_440_says() {
        for (text, expected) in [
            ("1.0", "1.0"),
            ("1.0.0", "1.0.0"),
            ("1.0.0-RC1", "1.0.0rc1"),
            ("v1.0.0.rc.1", "1.0.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0.dev0", "1.0.dev0"),
            ("1!2.0", "1!2.0"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
            ("2.0a", "2.0a0"),
        ] {
            assert_eq!(normalize(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn invalid_versions_are_refused() {
        for bad in ["", "abc", "1.0 ", " 1.0", "1..0", "1.0/2", "1.0-", "latest"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ordering_is_pep_440s() {
        let mut versions: Vec<Version> = ["1.0", "1.0.post1", "1.0rc1", "1.0.dev0", "0.9"]
            .iter()
            .map(|v| parse(v).unwrap())
            .collect();
        versions.sort();
        let sorted: Vec<String> = versions.iter().map(ToString::to_string).collect();
        assert_eq!(sorted, ["0.9", "1.0.dev0", "1.0rc1", "1.0", "1.0.post1"]);
    }

    #[test]
    fn requires_python_specifiers() {
        for ok in [">=3.8", ">=3.8, <4", "~=3.9", "==3.*", "!=3.0.*,>=2.7"] {
            assert!(is_valid_specifier_set(ok), "{ok}");
        }
        for bad in ["3.8", ">=", ">>3", "python>=3"] {
            assert!(!is_valid_specifier_set(bad), "{bad}");
        }
    }
}
