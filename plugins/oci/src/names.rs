//! The grammar of OCI paths: repository names, tags, digests, and which endpoint a path
//! below `/v2` names.
//!
//! The mount has no owner segment, so a repository `alice/team/app` is owner `alice` and
//! package `team/app`. Everything here is checked before any operation reaches the host:
//! no URL-derived string becomes a package, version or tag name unvalidated.

use wharf_plugin_sdk::{Digest, HashAlgorithm, PackageRef, PluginError};

/// Longest repository name (owner included), as the distribution spec allows.
const MAX_NAME: usize = 255;

/// Longest tag: one leading character plus 127.
const MAX_TAG: usize = 128;

/// What a path below `/v2/{name}` addresses. The name is everything before the last
/// `/blobs/`, `/manifests/`, `/tags/list` or `/referrers/`, so names may contain `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `/tags/list`
    Tags,
    /// `/manifests/{reference}`
    Manifest(&'a str),
    /// `/referrers/{digest}`
    Referrers(&'a str),
    /// `/blobs/{digest}`
    Blob(&'a str),
    /// `/blobs/uploads/` (slash optional), or `/blobs/uploads/{id}`.
    Uploads(Option<&'a str>),
}

/// A manifest reference: a tag, or anything with a `:` (parsed as a digest).
#[derive(Debug, Clone)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// Splits a repository path (without the leading `/`) into its name segments and the
/// endpoint; `None` when it names no endpoint at all (a plain 404).
pub fn split_path(path: &str) -> Option<(Vec<&str>, Endpoint<'_>)> {
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    let at = |i: usize| n.checked_sub(i).map(|k| segments[k]);
    let (taken, endpoint) = match (at(3), at(2), at(1)) {
        (_, Some("tags"), Some("list")) => (2, Endpoint::Tags),
        (Some("blobs"), Some("uploads"), Some("")) => (3, Endpoint::Uploads(None)),
        (Some("blobs"), Some("uploads"), Some(id)) => (3, Endpoint::Uploads(Some(id))),
        (_, Some("blobs"), Some("uploads")) => (2, Endpoint::Uploads(None)),
        (_, Some("manifests"), Some(reference)) => (2, Endpoint::Manifest(reference)),
        (_, Some("referrers"), Some(digest)) => (2, Endpoint::Referrers(digest)),
        (_, Some("blobs"), Some(digest)) => (2, Endpoint::Blob(digest)),
        _ => return None,
    };
    let name = &segments[..n - taken];
    (!name.is_empty()).then(|| (name.to_vec(), endpoint))
}

/// Validates a repository name given as its segments and splits off the owner.
pub fn repository(segments: &[&str]) -> Result<PackageRef, PluginError> {
    let full = segments.join("/");
    let invalid = |why: &str| {
        PluginError::with_code(
            400,
            "NAME_INVALID",
            format!("invalid repository name {full:?}: {why}"),
        )
    };
    if full.len() > MAX_NAME {
        return Err(invalid("longer than 255 characters"));
    }
    if segments.len() < 2 {
        return Err(invalid("it needs an owner and a name, as owner/name"));
    }
    if !segments.iter().all(|s| is_name_component(s)) {
        return Err(invalid(
            "components are lower-case letters and digits separated by '.', '_', '__' or dashes",
        ));
    }
    Ok(PackageRef {
        owner: segments[0].to_string(),
        name: segments[1..].join("/"),
    })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_name_component(component: &str) -> bool {
    let is_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut separator = String::new();
    let mut after_alnum = false;
    for c in component.chars() {
        if is_alnum(c) {
            if !separator.is_empty() && !is_separator(&separator) {
                return false;
            }
            separator.clear();
            after_alnum = true;
        } else if after_alnum || !separator.is_empty() {
            separator.push(c);
        } else {
            return false;
        }
    }
    after_alnum && separator.is_empty()
}

fn is_separator(s: &str) -> bool {
    matches!(s, "." | "_" | "__") || s.chars().all(|c| c == '-')
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    tag.len() <= MAX_TAG
        && (first.is_ascii_alphanumeric() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `sha256:` with 64 lower-case hex digits or `sha512:` with 128; anything else is
/// 400 DIGEST_INVALID.
pub fn digest(text: &str) -> Result<Digest, PluginError> {
    let parsed = text.split_once(':').and_then(|(algorithm, hex)| {
        let (algorithm, len) = match algorithm {
            "sha256" => (HashAlgorithm::Sha256, 64),
            "sha512" => (HashAlgorithm::Sha512, 128),
            _ => return None,
        };
        let is_hex = hex
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'a'..='f'));
        (hex.len() == len && is_hex).then(|| Digest {
            algorithm,
            hex: hex.to_string(),
        })
    });
    parsed.ok_or_else(|| {
        PluginError::with_code(
            400,
            "DIGEST_INVALID",
            format!("invalid digest {text:?}: expected sha256:<64 hex> or sha512:<128 hex>"),
        )
    })
}

/// A digest as clients write it, `alg:hex`.
pub fn digest_text(digest: &Digest) -> String {
    format!("{}:{}", digest.algorithm.name(), digest.hex)
}

/// A manifest reference: with a `:` it must be a digest (400 DIGEST_INVALID), else a
/// tag (400 MANIFEST_INVALID: the spec's code list has no TAG_INVALID).
pub fn reference(text: &str) -> Result<Reference, PluginError> {
    if text.contains(':') {
        return digest(text).map(Reference::Digest);
    }
    if is_tag(text) {
        Ok(Reference::Tag(text.to_string()))
    } else {
        Err(PluginError::with_code(
            400,
            "MANIFEST_INVALID",
            format!("invalid tag {text:?}: expected [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn repository_names_follow_the_spec_grammar() {
        for ok in [
            "alice/app",
            "alice/team/tool",
            "a1/b.c",
            "a/b_c",
            "a/b__c",
            "a/b---c",
        ] {
            let segments: Vec<&str> = ok.split('/').collect();
            assert!(repository(&segments).is_ok(), "{ok}");
        }
        for bad in [
            "alice",
            "Alice/App",
            "alice/-x",
            "alice/a___b",
            "alice/x-",
            "alice/a._b",
            "a//b",
            "alice/a%2fb",
        ] {
            let segments: Vec<&str> = bad.split('/').collect();
            let err = repository(&segments).unwrap_err();
            assert_eq!(
                (err.status, err.code.as_str()),
                (400, "NAME_INVALID"),
                "{bad}"
            );
        }
        let long = format!("alice/{}", "a".repeat(250));
        assert!(repository(&long.split('/').collect::<Vec<_>>()).is_err());
        let at_limit = format!("alice/{}", "a".repeat(249));
        assert!(repository(&at_limit.split('/').collect::<Vec<_>>()).is_ok());
    }

    #[test]
    fn the_owner_is_the_first_component() {
        let pkg = repository(&["alice", "team", "app"]).unwrap();
        assert_eq!(
            (pkg.owner.as_str(), pkg.name.as_str()),
            ("alice", "team/app")
        );
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        for ok in ["v1", "latest", "_x", "1.0-rc_2", &"a".repeat(128)] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a/b", "a b", &"a".repeat(129)] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn digests_are_sha256_or_sha512_in_lower_case_hex() {
        let d = digest(SHA256).unwrap();
        assert_eq!(d.algorithm, HashAlgorithm::Sha256);
        assert_eq!(digest_text(&d), SHA256);
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        assert_eq!(digest(&sha512).unwrap().algorithm, HashAlgorithm::Sha512);
        for bad in [
            "sha256:totallywrong",
            "sha256:",
            &SHA256.to_uppercase(),
            &format!("{SHA256}0"),
            &format!("md5:{}", "a".repeat(32)),
            "nocolon",
        ] {
            let err = digest(bad).unwrap_err();
            assert_eq!(
                (err.status, err.code.as_str()),
                (400, "DIGEST_INVALID"),
                "{bad}"
            );
        }
    }

    #[test]
    fn references_with_a_colon_are_digests() {
        assert!(matches!(reference("v1").unwrap(), Reference::Tag(t) if t == "v1"));
        assert!(matches!(reference(SHA256).unwrap(), Reference::Digest(_)));
        assert_eq!(
            reference("sha256:short").unwrap_err().code,
            "DIGEST_INVALID"
        );
        assert_eq!(reference("-x").unwrap_err().code, "MANIFEST_INVALID");
    }

    #[test]
    fn paths_split_on_the_last_endpoint_marker() {
        let split = |p| split_path(p).map(|(name, e)| (name.join("/"), e));
        assert_eq!(
            split("alice/app/tags/list"),
            Some(("alice/app".into(), Endpoint::Tags))
        );
        assert_eq!(
            split("alice/blobs/app/manifests/v1"),
            Some(("alice/blobs/app".into(), Endpoint::Manifest("v1")))
        );
        assert_eq!(
            split("alice/app/blobs/sha256:x"),
            Some(("alice/app".into(), Endpoint::Blob("sha256:x")))
        );
        assert_eq!(
            split("alice/app/referrers/sha256:x"),
            Some(("alice/app".into(), Endpoint::Referrers("sha256:x")))
        );
        for start in ["alice/app/blobs/uploads/", "alice/app/blobs/uploads"] {
            assert_eq!(
                split(start),
                Some(("alice/app".into(), Endpoint::Uploads(None))),
                "{start}"
            );
        }
        assert_eq!(
            split("alice/manifests/app/blobs/uploads/abc"),
            Some(("alice/manifests/app".into(), Endpoint::Uploads(Some("abc"))))
        );
        for none in [
            "",
            "alice",
            "alice/app",
            "tags/list",
            "alice/app/manifests/a/b",
        ] {
            assert_eq!(split(none), None, "{none}");
        }
    }
}
