//! Crate names and versions: the rules crates.io applies to new crates, the sparse
//! index's path scheme, and the `.crate` file name Wharf stores.
//!
//! Names compare case-insensitively (the host matches package names that way, as
//! crates.io and cargo's lower-cased index paths do). `-` and `_` stay distinct: the
//! contract offers no lookup by a normalized name, so `foo-bar` and `foo_bar` are two
//! crates here, as they are in Gitea, while crates.io refuses the second.

use wharf_plugin_sdk::PluginError;

/// crates.io's limit on name length.
const MAX_NAME: usize = 64;

/// Longest version string accepted.
const MAX_VERSION: usize = 256;

/// Checks a crate name against crates.io's rules for new crates: 1 to 64 ASCII
/// letters, digits, `-` and `_`, starting with a letter.
pub fn validate(name: &str) -> Result<(), PluginError> {
    let why = if name.is_empty() || name.len() > MAX_NAME {
        "it must be 1 to 64 characters long"
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        "it must start with an ASCII letter"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        "only ASCII letters, digits, `-` and `_` are allowed"
    } else {
        return Ok(());
    };
    Err(PluginError::bad_request(format!(
        "invalid crate name `{name}`: {why}"
    )))
}

/// A version as the index lists it: valid semver, written the canonical way.
pub fn version(version: &str) -> Result<semver::Version, PluginError> {
    (version.len() <= MAX_VERSION)
        .then(|| semver::Version::parse(version).ok())
        .flatten()
        .ok_or_else(|| {
            PluginError::bad_request(format!("invalid version `{version}`: it must be semver"))
        })
}

/// Where the sparse index keeps a crate's file: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`,
/// all lower case.
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    format!("{}/{name}", prefix(&name))
}

/// The directories of a crate's index file, in the name's case (cargo's `{prefix}`
/// marker): `1`, `2`, `3/a`, `ab/cd`. Names are ASCII, so slicing bytes is safe.
pub fn prefix(name: &str) -> String {
    match name.len() {
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// The crate an index path names, if the path is the one [`index_path`] gives for a
/// valid name (cargo lower-cases the whole path).
pub fn from_index_path(segments: &[String]) -> Option<&str> {
    let name = segments.last()?;
    (validate(name).is_ok() && index_path(name) == segments.join("/")).then_some(name.as_str())
}

/// The stored file of a version, as cargo names downloads.
pub fn crate_file(name: &str, version: &str) -> String {
    format!("{name}-{version}.crate")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    #[test]
    fn names_follow_crates_io() {
        for good in ["a", "serde_json", "tokio-util", "X11", &"a".repeat(64)] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "_a", "-a", "a.b", "a b", "añ", &"a".repeat(65)] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_semver() {
        assert_eq!(version("1.0.0-rc.1+b").unwrap().to_string(), "1.0.0-rc.1+b");
        for bad in [
            "1.0",
            "v1.0.0",
            "01.0.0",
            "",
            &format!("1.0.0-{}", "a".repeat(300)),
        ] {
            assert!(version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn index_paths_by_length() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("Abc"), "3/a/abc");
        assert_eq!(index_path("Serde_JSON"), "se/rd/serde_json");
    }

    #[test]
    fn index_paths_round_trip_and_mismatches_are_refused() {
        for name in ["a", "ab", "abc", "abcd", "serde_json"] {
            assert_eq!(from_index_path(&segments(&index_path(name))), Some(name));
        }
        for bad in [
            "1/ab",
            "2/a",
            "3/b/abc",
            "ab/ce/abcd",
            "ab/cd/ef/abcd",
            "se/rd/Serde",
            "1/_",
            "api/v1/crates",
            "config.json",
        ] {
            assert_eq!(from_index_path(&segments(bad)), None, "{bad}");
        }
    }
}
