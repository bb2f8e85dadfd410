//! Small helpers for the `proxy` export: upstream requests, URLs in upstream documents
//! (resolved as a browser would, RFC 3986 §5.2) and digests spelled `algorithm=hex`
//! (PyPI's `#sha256=…`).

use crate::{Digest, HashAlgorithm, UpstreamRequest};

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

/// The algorithm a document names (`sha256`, `SHA-256`, `md5`), if the host knows it.
pub fn algorithm(name: &str) -> Option<HashAlgorithm> {
    match name.to_ascii_lowercase().replace('-', "").as_str() {
        "md5" => Some(HashAlgorithm::Md5),
        "sha1" => Some(HashAlgorithm::Sha1),
        "sha256" => Some(HashAlgorithm::Sha256),
        "sha512" => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// A digest from an algorithm name and hex in either case; `None` for an algorithm
/// the host does not know or hex of the wrong length, so that a truncated or foreign
/// value never becomes an expectation the bytes are checked against.
pub fn hex_digest(algorithm_name: &str, hex: &str) -> Option<Digest> {
    let algorithm = algorithm(algorithm_name)?;
    let len = match algorithm {
        HashAlgorithm::Md5 => 32,
        HashAlgorithm::Sha1 => 40,
        HashAlgorithm::Sha256 => 64,
        HashAlgorithm::Sha512 => 128,
    };
    (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Digest {
        algorithm,
        hex: hex.to_ascii_lowercase(),
    })
}

/// `sha256=abc…` as a digest (see [`hex_digest`]).
pub fn pair_digest(pair: &str) -> Option<Digest> {
    let (name, hex) = pair.split_once('=')?;
    hex_digest(name.trim(), hex.trim())
}

/// Splits `url#fragment` at the first `#`.
pub fn split_fragment(url: &str) -> (&str, Option<&str>) {
    match url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (url, None),
    }
}

/// Resolves `reference` (an `href` as written: absolute, `//host/…`, `/path`,
/// `../relative`, `?query`) against the absolute `http(s)` URL `base`, as RFC 3986
/// §5.2 says, fragment included. `None` when `base` is not an absolute http(s) URL or
/// `reference` names another scheme (`javascript:`, `file:`), which no upstream
/// document may send a client to.
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
    fn other_schemes_are_refused() {
        for reference in ["javascript:alert(1)", "file:///etc/passwd", "data:,x"] {
            assert_eq!(resolve(BASE, reference), None, "{reference}");
        }
        assert_eq!(resolve("ftp://up.test/", "a"), None);
        assert_eq!(resolve("/relative", "a"), None);
        // A colon after a slash is part of a path, not a scheme.
        assert_eq!(
            resolve(BASE, "a/b:c").as_deref(),
            Some("https://up.test/root/simple/pkg/a/b:c")
        );
    }

    #[test]
    fn digests_are_checked_against_their_length() {
        let sha256 = "AB".repeat(32);
        let digest = pair_digest(&format!("sha256={sha256}")).unwrap();
        assert_eq!(digest.algorithm, HashAlgorithm::Sha256);
        assert_eq!(digest.hex, "ab".repeat(32));
        assert!(hex_digest("SHA-512", &"0".repeat(128)).is_some());
        assert!(hex_digest("md5", &"0".repeat(32)).is_some());
        assert!(hex_digest("sha1", &"0".repeat(40)).is_some());
        for bad in ["sha256=abc", "blake2b_256=00", "sha256", "md5=zz"] {
            assert!(pair_digest(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn segments_and_fragments() {
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
}
