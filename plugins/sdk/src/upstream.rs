//! Helpers for the `proxy` export: the requests a plan names, the URLs in upstream
//! documents, and the digests those documents state.
//!
//! - Plans: [`upstream_get`] for a request, with paths built from [`encode_segment`];
//!   [`FetchPlan::fetch`] and [`FetchPlan::declared`] for an artifact, whose file may
//!   leave its version to the declaration ([`FileRef::versionless`]).
//! - URLs: the host hands `rewrite` the absolute URL it fetched, and a plan's paths are
//!   relative to the proxy's configured upstream URL, so that URL is the document's
//!   minus the path the plan asked for ([`base_of`]). [`resolve`] makes a reference
//!   in the document absolute as a browser would (RFC 3986 §5.2), [`rebase`] moves a
//!   URL from the upstream to this registry; [`origin`], [`host`] and
//!   [`split_fragment`] take URLs apart. Only http(s) URLs, no percent-decoding.
//! - Digests spelled `algorithm=hex` (PyPI's `#sha256=…`): [`pair_digest`]; other
//!   spellings through [`crate::Digest::from_hex`] and
//!   [`crate::HashAlgorithm::from_name`].
//! - [`snapshot`] shows a `rewrite` result in snapshot tests.

use crate::{
    ArtifactPlan, ArtifactSource, Digest, FetchPlan, FileRef, HashAlgorithm, Operation, PackageRef,
    Rewritten, UpstreamFetch, UpstreamRequest, VersionRef,
};

impl FetchPlan {
    /// An artifact fetched with `request`, whose bytes must match one of `digests` when
    /// there are any (an OCI blob by digest); `lead` as in a publish plan.
    pub fn fetch(
        file: FileRef,
        lead: bool,
        request: UpstreamRequest,
        digests: Vec<Digest>,
    ) -> Self {
        Self::Artifact(ArtifactPlan {
            file,
            lead,
            source: ArtifactSource::Fetch(UpstreamFetch { request, digests }),
        })
    }

    /// An artifact whose URL and digests the document `index` renders declares (npm's
    /// packument, a cargo index file); `lead` as in a publish plan.
    pub fn declared(file: FileRef, lead: bool, index: Operation) -> Self {
        Self::Artifact(ArtifactPlan {
            file,
            lead,
            source: ArtifactSource::DeclaredIn(index),
        })
    }
}

impl FileRef {
    /// A file of `pkg` whose version its declaration names (the version left empty),
    /// for formats whose file names do not say it reliably.
    pub fn versionless(pkg: PackageRef, name: impl Into<String>) -> Self {
        Self {
            version: VersionRef {
                pkg,
                version: String::new(),
            },
            name: name.into(),
        }
    }
}

/// A GET of `path` (relative to the upstream's URL, or absolute) with this `Accept`,
/// revalidated with `If-None-Match` / `If-Modified-Since`.
pub fn upstream_get(path: impl Into<String>, accept: Option<&str>) -> UpstreamRequest {
    UpstreamRequest {
        path: path.into(),
        accept: accept.map(str::to_string),
        head_validator: None,
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    encode_segment_keeping(segment, b"")
}

/// Like [`encode_segment`], also keeping `keep` (sub-delimiters a format's names use,
/// like PyPI's `+` and `!`, which are valid in a path segment).
pub fn encode_segment_keeping(segment: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sha256=abc…` as a digest: an algorithm the host computes, named in any spelling
/// [`HashAlgorithm::from_name`] reads, and hex of its length ([`Digest::from_hex`]).
pub fn pair_digest(pair: &str) -> Option<Digest> {
    let (name, hex) = pair.split_once('=')?;
    Digest::from_hex(HashAlgorithm::from_name(name.trim())?, hex.trim())
}

/// Splits `url#fragment` at the first `#`.
pub fn split_fragment(url: &str) -> (&str, Option<&str>) {
    match url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (url, None),
    }
}

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

/// Resolves `reference` (an `href` as written: absolute, `//host/…`, `/path`,
/// `../relative`, `?query`) against the absolute `http(s)` URL `base` (the document it
/// was found in), as RFC 3986 §5.2 says, fragment included. `None` when `base` is not
/// an absolute http(s) URL or `reference` names another scheme (`javascript:`,
/// `file:`, `mailto:`), which no upstream document may send a client to.
pub fn resolve(base: &str, reference: &str) -> Option<String> {
    let reference = reference.trim();
    let (scheme, base_rest) = base.split_once("://")?;
    if !is_http(scheme) {
        return None;
    }
    if let Some((ref_scheme, _)) = reference.split_once(':')
        && !ref_scheme.contains(['/', '?', '#'])
    {
        return is_http(ref_scheme).then(|| reference.to_string());
    }
    if let Some(rest) = reference.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let (authority, base_path) = match base_rest.find(['/', '?', '#']) {
        Some(at) => base_rest.split_at(at),
        None => (base_rest, ""),
    };
    let base_path = base_path.split(['?', '#']).next().unwrap_or_default();
    let origin = format!("{scheme}://{authority}");
    let (ref_path, suffix) = match reference.find(['?', '#']) {
        Some(at) => reference.split_at(at),
        None => (reference, ""),
    };
    let path = if ref_path.is_empty() {
        if suffix.starts_with('#') {
            // Same document: keep the base's query too.
            let (without_fragment, _) = split_fragment(base);
            return Some(format!("{without_fragment}{suffix}"));
        }
        base_path.to_string()
    } else if ref_path.starts_with('/') {
        remove_dot_segments(ref_path)
    } else {
        let directory = match base_path.rfind('/') {
            Some(at) => &base_path[..=at],
            None => "/",
        };
        remove_dot_segments(&format!("{directory}{ref_path}"))
    };
    Some(format!("{origin}{path}{suffix}"))
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments go, `..` removes the segment
/// before it (never above the root).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                // `a/..` and `a/.` name the directory: keep its trailing slash.
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// A `rewrite` result as snapshot tests record it: the response as
/// [`crate::testing::snapshot`] shows it, then each declared artifact (name, version,
/// URL) with its digests (`algorithm:hex`) indented below it.
pub fn snapshot(rewritten: &Rewritten) -> String {
    let mut out = crate::testing::snapshot(&rewritten.response);
    out.push_str("\ndeclares:\n");
    for d in &rewritten.declares {
        out.push_str(&format!("{} {} {}\n", d.name, d.version, d.url));
        for digest in &d.digests {
            out.push_str(&format!("  {}:{}\n", digest.algorithm.name(), digest.hex));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://up.test/root/simple/pkg/?x=1";

    #[test]
    fn references_resolve_as_rfc_3986_says() {
        for (reference, expected) in [
            (
                "https://files.test/a/b.whl#sha256=00",
                "https://files.test/a/b.whl#sha256=00",
            ),
            ("//cdn.test/f.tar.gz", "https://cdn.test/f.tar.gz"),
            ("/packages/f.whl", "https://up.test/packages/f.whl"),
            (
                "../../packages/f.whl#md5=ab",
                "https://up.test/root/packages/f.whl#md5=ab",
            ),
            ("f.whl", "https://up.test/root/simple/pkg/f.whl"),
            ("./f.whl?y=2", "https://up.test/root/simple/pkg/f.whl?y=2"),
            ("../../../../../f", "https://up.test/f"),
            ("..", "https://up.test/root/simple/"),
            ("#frag", "https://up.test/root/simple/pkg/?x=1#frag"),
            ("?q", "https://up.test/root/simple/pkg/?q"),
            ("HTTP://Other.test/x", "HTTP://Other.test/x"),
        ] {
            assert_eq!(
                resolve(BASE, reference).as_deref(),
                Some(expected),
                "{reference}"
            );
        }
        assert_eq!(
            resolve("http://up.test", "a/b").as_deref(),
            Some("http://up.test/a/b")
        );
    }

    #[test]
    fn references_resolve_against_a_document_with_a_query() {
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
    }

    #[test]
    fn other_schemes_are_refused() {
        for reference in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:,x",
            "mailto:x@y",
        ] {
            assert_eq!(resolve(BASE, reference), None, "{reference}");
        }
        assert_eq!(resolve("ftp://up.test/", "a"), None);
        assert_eq!(resolve("file:///x", "a"), None);
        assert_eq!(resolve("/relative", "a"), None);
        // A colon after a slash is part of a path, not a scheme.
        assert_eq!(
            resolve(BASE, "a/b:c").as_deref(),
            Some("https://up.test/root/simple/pkg/a/b:c")
        );
    }

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
    fn pair_digests_are_checked_against_their_length() {
        let sha256 = "AB".repeat(32);
        let digest = pair_digest(&format!("sha256={sha256}")).unwrap();
        assert_eq!(digest.algorithm, HashAlgorithm::Sha256);
        assert_eq!(digest.hex, "ab".repeat(32));
        assert!(pair_digest(&format!("SHA-512 = {}", "0".repeat(128))).is_some());
        assert!(pair_digest(&format!("md5={}", "0".repeat(32))).is_some());
        assert!(pair_digest(&format!("sha1={}", "0".repeat(40))).is_some());
        for bad in ["sha256=abc", "blake2b_256=00", "sha256", "md5=zz"] {
            assert!(pair_digest(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn segments_fragments_and_requests() {
        assert_eq!(encode_segment("a b/c~1.0+x"), "a%20b%2Fc~1.0%2Bx");
        assert_eq!(encode_segment_keeping("1!2+a b", b"!+"), "1!2+a%20b");
        assert_eq!(split_fragment("a#b#c"), ("a", Some("b#c")));
        assert_eq!(split_fragment("a"), ("a", None));
        let request = upstream_get("/x", Some("text/html"));
        assert_eq!(
            (request.path.as_str(), request.accept.as_deref()),
            ("/x", Some("text/html"))
        );
        assert!(request.head_validator.is_none());
    }

    #[test]
    fn artifact_plans_fetch_or_wait_for_a_declaration() {
        let pkg = PackageRef {
            owner: "p".into(),
            name: "a".into(),
        };
        let file = FileRef::versionless(pkg, "a-1.tgz");
        assert_eq!(file.version.version, "");
        let request = upstream_get("/a/-/a-1.tgz", None);
        let FetchPlan::Artifact(fetched) =
            FetchPlan::fetch(file.clone(), true, request.clone(), Vec::new())
        else {
            panic!("an artifact")
        };
        assert!(fetched.lead);
        assert_eq!(
            fetched.source,
            ArtifactSource::Fetch(UpstreamFetch {
                request,
                digests: Vec::new()
            })
        );
        let FetchPlan::Artifact(declared) = FetchPlan::declared(file, false, Operation::NotFound)
        else {
            panic!("an artifact")
        };
        assert!(!declared.lead);
        assert_eq!(
            declared.source,
            ArtifactSource::DeclaredIn(Operation::NotFound)
        );
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
}
