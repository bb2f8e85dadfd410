//! URLs in upstream documents, for formats with proxy repositories: where the upstream
//! a document came from is rooted, and moving URLs from the upstream to this registry.
//!
//! The host hands `rewrite` the absolute URL it fetched; a plan's paths are relative to
//! the proxy's configured upstream URL, so that URL is the document's minus the path
//! the plan asked for ([`base_of`]). Only what formats need: no dot segments, no
//! percent-decoding, http(s) URLs only. [`snapshot`] shows a `rewrite` result in
//! snapshot tests.

use crate::{HashAlgorithm, Rewritten};

/// The upstream URL `url` was fetched below, when it ends with `path` (the path and
/// query a plan asked for, starting with `/`): `https://up/feed` for
/// `https://up/feed/registration/x/index.json` and `/registration/x/index.json`.
pub fn base_of<'u>(url: &'u str, path: &str) -> Option<&'u str> {
    let base = url.strip_suffix(path)?;
    origin(base).map(|_| base)
}

/// `scheme://authority` of an absolute http(s) URL.
pub fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (authority > 0).then(|| &url[..url.len() - rest.len() + authority])
}

/// The host of an absolute http(s) URL, in lower case, without port or credentials.
pub fn host(url: &str) -> Option<String> {
    let origin = origin(url)?;
    let authority = &origin[origin.find("://")? + 3..];
    let host = authority.rsplit('@').next()?;
    let host = match host.rsplit_once(':') {
        // An IPv6 literal's colons are inside its brackets.
        Some((name, port)) if !port.contains(']') => name,
        _ => host,
    };
    Some(host.to_ascii_lowercase())
}

/// `url` moved from below `from` to below `to`, when it is `from` or below it (what
/// follows `from` starts a path segment, a query or a fragment); `None` otherwise.
/// Neither prefix should end with `/`.
pub fn rebase(url: &str, from: &str, to: &str) -> Option<String> {
    let rest = url.strip_prefix(from)?;
    (rest.is_empty() || rest.starts_with(['/', '?', '#'])).then(|| format!("{to}{rest}"))
}

/// A reference found in the document at `document` (absolute), made absolute: http(s)
/// URLs as they are, `//host/…` with the document's scheme, `/path` against its origin,
/// anything else against its directory. `None` for other schemes or a document URL
/// that is not http(s).
pub fn resolve(document: &str, reference: &str) -> Option<String> {
    let home = origin(document)?;
    if scheme_of(reference).is_some() {
        return origin(reference).map(|_| reference.to_string());
    }
    if let Some(rest) = reference.strip_prefix("//") {
        let scheme = &home[..home.find("://")?];
        return Some(format!("{scheme}://{rest}"));
    }
    if reference.starts_with('/') {
        return Some(format!("{home}{reference}"));
    }
    let path_end = document[home.len()..]
        .find(['?', '#'])
        .map_or(document.len(), |at| home.len() + at);
    let directory = match document[home.len()..path_end].rfind('/') {
        Some(slash) => &document[..home.len() + slash + 1],
        None => home,
    };
    let separator = if directory.ends_with('/') { "" } else { "/" };
    Some(format!("{directory}{separator}{reference}"))
}

/// The scheme of a reference that has one (`mailto:`, `https:`).
fn scheme_of(reference: &str) -> Option<&str> {
    let (scheme, _) = reference.split_once(':')?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some(scheme)
}

/// A `rewrite` result as snapshot tests record it: the response as
/// [`crate::testing::snapshot`] shows it, then each declared artifact (name, version,
/// URL) with its digests indented below it.
pub fn snapshot(rewritten: &Rewritten) -> String {
    let mut out = crate::testing::snapshot(&rewritten.response);
    out.push_str("\ndeclares:\n");
    for d in &rewritten.declares {
        out.push_str(&format!("{} {} {}\n", d.name, d.version, d.url));
        for digest in &d.digests {
            let algorithm = match digest.algorithm {
                HashAlgorithm::Md5 => "md5",
                HashAlgorithm::Sha1 => "sha1",
                HashAlgorithm::Sha256 => "sha256",
                HashAlgorithm::Sha512 => "sha512",
            };
            out.push_str(&format!("  {algorithm}:{}\n", digest.hex));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_url_without_the_planned_path() {
        let url = "https://up.test/feed/registration/x/index.json";
        assert_eq!(
            base_of(url, "/registration/x/index.json"),
            Some("https://up.test/feed")
        );
        assert_eq!(
            base_of("https://index.crates.io/se/rd/serde", "/se/rd/serde"),
            Some("https://index.crates.io")
        );
        assert_eq!(base_of(url, "/other"), None);
        assert_eq!(base_of("https:///x", "/x"), None);
    }

    #[test]
    fn origins_and_hosts() {
        assert_eq!(origin("http://a:8080/b?c"), Some("http://a:8080"));
        assert_eq!(origin("https://a?q"), Some("https://a"));
        assert_eq!(origin("ftp://a/b"), None);
        assert_eq!(
            host("https://u:p@Index.Crates.IO:443/x").as_deref(),
            Some("index.crates.io")
        );
        assert_eq!(host("http://[::1]:80/x").as_deref(), Some("[::1]"));
        assert_eq!(host("http://[::1]/x").as_deref(), Some("[::1]"));
        assert_eq!(host("relative/x"), None);
    }

    #[test]
    fn rebasing_keeps_whole_segments() {
        let (from, to) = ("http://up/feed", "http://wharf/api/packages/p/nuget");
        assert_eq!(
            rebase("http://up/feed/registration/x/index.json#page/1", from, to).as_deref(),
            Some("http://wharf/api/packages/p/nuget/registration/x/index.json#page/1")
        );
        assert_eq!(rebase(from, from, to).as_deref(), Some(to));
        assert_eq!(rebase("http://up/feedback/x", from, to), None);
        assert_eq!(rebase("http://other/feed/x", from, to), None);
    }

    #[test]
    fn snapshots_list_the_declarations_under_the_response() {
        let rewritten = Rewritten {
            response: crate::Response::new(200, "text/plain", "x\n"),
            declares: vec![crate::DeclaredArtifact {
                name: "a.crate".into(),
                version: "1.0.0".into(),
                url: "/a/1.0.0/download".into(),
                digests: vec![crate::Digest {
                    algorithm: HashAlgorithm::Sha256,
                    hex: "ab".into(),
                }],
            }],
        };
        assert_eq!(
            snapshot(&rewritten),
            "200 text/plain\n\nx\n\ndeclares:\na.crate 1.0.0 /a/1.0.0/download\n  sha256:ab\n"
        );
    }

    #[test]
    fn references_resolve_against_the_document() {
        let doc = "https://up/v3/registration/x/index.json?a=/b";
        for (reference, resolved) in [
            ("https://cdn/p.nupkg", "https://cdn/p.nupkg"),
            ("//cdn/p", "https://cdn/p"),
            ("/v3/flat/x", "https://up/v3/flat/x"),
            ("1.0.0.json", "https://up/v3/registration/x/1.0.0.json"),
        ] {
            assert_eq!(
                resolve(doc, reference).as_deref(),
                Some(resolved),
                "{reference}"
            );
        }
        assert_eq!(resolve("https://up", "a").as_deref(), Some("https://up/a"));
        assert_eq!(resolve(doc, "mailto:x@y"), None);
        assert_eq!(resolve("file:///x", "a"), None);
    }
}
