//! npm package names, tags and tarball file names, and how they appear in paths.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use wharf_plugin_sdk::{PluginError, percent_decode, percent_decode_keeping_slashes};

/// npm's own limit on name length.
const MAX_NAME: usize = 214;

/// Checks a name against the rules npm applies to new packages: lower case, URL-safe
/// characters, not starting with `.` or `_`, optionally `@scope/`.
pub fn validate(name: &str) -> Result<(), PluginError> {
    let invalid = |why: &str| {
        Err(PluginError::bad_request(format!(
            "invalid package name {name:?}: {why}"
        )))
    };
    if name.is_empty() || name.len() > MAX_NAME {
        return invalid("must be 1 to 214 characters");
    }
    let (scope, bare) = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, bare)) => (Some(scope), bare),
            None => return invalid("a scoped name is @scope/name"),
        },
        None => (None, name),
    };
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
    };
    if scope.is_some_and(|s| !part_ok(s)) || !part_ok(bare) {
        return invalid("use lower-case letters, digits, '-', '.' and '_', not first '.' or '_'");
    }
    if ["node_modules", "favicon.ico"].contains(&bare) && scope.is_none() {
        return invalid("reserved name");
    }
    Ok(())
}

/// The name without its scope: `@a/b` → `b`.
pub fn bare(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The tarball file name npm uses for a version.
pub fn tarball(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", bare(name)).to_ascii_lowercase()
}

/// Where a version's tarball is served below the mount `base`: the URL every
/// packument this registry serves names, hosted or proxied, and which routes back to
/// the tarball's serve (`/{name}/-/{file}`, a scoped name with its `/`).
pub fn tarball_url(base: &str, name: &str, file: &str) -> String {
    format!("{base}/{name}/-/{file}")
}

/// What a URL path segment or query value keeps unescaped: RFC 3986's unreserved.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

/// A package name as the npm registry expects it in a path: one segment, a scoped
/// name's `/` escaped (`@scope%2fname`, as the npm client sends it). `None` for names
/// that would not stay one segment (empty, `.`, `..`).
pub fn upstream_segment(name: &str) -> Option<String> {
    if matches!(name, "" | "." | "..") {
        return None;
    }
    match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, bare)) => Some(format!("@{}%2f{}", encode(scope), encode(bare))),
        None => Some(encode(name)),
    }
}

/// The version a tarball file name stands for, if the name fits the package.
pub fn version_of_tarball<'a>(name: &str, file: &'a str) -> Option<&'a str> {
    let prefix_len = bare(name).len() + 1;
    let head = file.get(..prefix_len)?;
    if !head.eq_ignore_ascii_case(&format!("{}-", bare(name))) {
        return None;
    }
    file[prefix_len..]
        .strip_suffix(".tgz")
        .filter(|v| !v.is_empty())
}

/// A tag must be URL-safe and must not read as a version (`npm install pkg@1.0.0`
/// would become ambiguous).
pub fn validate_tag(tag: &str) -> Result<(), PluginError> {
    let url_safe = tag
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if tag.is_empty() || tag.len() > 128 || !url_safe {
        return Err(PluginError::bad_request(format!("invalid tag {tag:?}")));
    }
    if semver::Version::parse(tag.trim_start_matches(['v', '='])).is_ok()
        || semver::VersionReq::parse(tag)
            .is_ok_and(|_| tag.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(PluginError::bad_request(format!(
            "tag {tag:?} looks like a version or range; tags must not"
        )));
    }
    Ok(())
}

/// Splits a raw request path into the package name and the decoded segments after it.
/// Scoped names arrive as `@scope%2fname`, `@scope%2Fname` or `@scope/name`.
pub fn split_package(segments: &[&str]) -> Result<Option<(String, Vec<String>)>, PluginError> {
    let bad = || PluginError::bad_request("invalid percent-encoding in path");
    let Some(first) = segments.first() else {
        return Ok(None);
    };
    let first = percent_decode_keeping_slashes(first).ok_or_else(bad)?;
    let (name, rest) = if first.starts_with('@') && !first.contains('/') {
        let Some(second) = segments.get(1) else {
            return Ok(None);
        };
        let second = percent_decode(second).ok_or_else(bad)?;
        (format!("{first}/{second}"), &segments[2..])
    } else {
        (first, &segments[1..])
    };
    let rest = rest
        .iter()
        .map(|s| percent_decode(s).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((name, rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_npm_rules() {
        for ok in ["a", "left-pad", "@scope/name", "a.b_c-d", "@s-1/x.y"] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            ".a",
            "_a",
            "@scope",
            "@/a",
            "@s/",
            "a b",
            "a/b",
            "@s/.a",
            "node_modules",
            "a~b",
            "ünï",
            &"a".repeat(215),
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tarball_names_round_trip() {
        assert_eq!(tarball("@s/Pkg", "1.0.0-Beta"), "pkg-1.0.0-beta.tgz");
        assert_eq!(version_of_tarball("@s/pkg", "pkg-1.2.3.tgz"), Some("1.2.3"));
        assert_eq!(
            version_of_tarball("pkg", "pkg-a-1.0.0.tgz"),
            Some("a-1.0.0")
        );
        assert_eq!(version_of_tarball("pkg", "other-1.0.0.tgz"), None);
        assert_eq!(version_of_tarball("pkg", "pkg-.tgz"), None);
    }

    #[test]
    fn upstream_paths_keep_a_name_in_one_segment() {
        assert_eq!(upstream_segment("@types/node").unwrap(), "@types%2fnode");
        assert_eq!(upstream_segment("JSONStream").unwrap(), "JSONStream");
        assert_eq!(upstream_segment("a b/c?d").unwrap(), "a%20b%2Fc%3Fd");
        assert_eq!(upstream_segment("@s/a#b").unwrap(), "@s%2fa%23b");
        for bad in ["", ".", ".."] {
            assert!(upstream_segment(bad).is_none(), "{bad}");
        }
        assert_eq!(
            tarball_url("http://r/npm", "@s/a", "a-1.0.0.tgz"),
            "http://r/npm/@s/a/-/a-1.0.0.tgz"
        );
    }

    #[test]
    fn tags_must_not_look_like_versions() {
        assert!(validate_tag("beta").is_ok());
        assert!(validate_tag("next-2").is_ok());
        for bad in ["1.0.0", "v1.2.3", "1", "1.x", "", "a/b", "a b"] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scoped_names_parse_in_every_form() {
        for path in [
            vec!["@s%2fa", "-", "a-1.0.0.tgz"],
            vec!["@s%2Fa", "-", "a-1.0.0.tgz"],
            vec!["@s", "a", "-", "a-1.0.0.tgz"],
        ] {
            let (name, rest) = split_package(&path).unwrap().unwrap();
            assert_eq!(name, "@s/a");
            assert_eq!(rest, ["-", "a-1.0.0.tgz"]);
        }
        let (name, rest) = split_package(&["left-pad"]).unwrap().unwrap();
        assert_eq!((name.as_str(), rest.len()), ("left-pad", 0));
        assert!(split_package(&["@s"]).unwrap().is_none());
        assert!(split_package(&["a", "b%zz"]).is_err());
    }
}
