//! Digests and declared artifacts between the contract's records and the rows that
//! keep them: URLs made absolute, digests as `algorithm:hex` text.

use super::plugin::DeclaredArtifact;
use crate::db::proxy::Declaration;
use crate::plugins::api::Digest;
use crate::store::Algorithm;

/// A digest as the store computes it: algorithm and lower-case hex.
pub fn expected(digest: &Digest) -> (Algorithm, String) {
    let algorithm = crate::registry::publish::algorithm(digest.algorithm);
    (algorithm, digest.hex.to_ascii_lowercase())
}

/// A declared artifact as a row; a relative URL is resolved against the upstream's
/// `base` (the configured upstream URL the document came from, or its origin).
pub fn to_row(declared: DeclaredArtifact, base: &str) -> Declaration {
    let url = if declared.url.starts_with('/') {
        format!("{}{}", base.trim_end_matches('/'), declared.url)
    } else {
        declared.url
    };
    let digests = declared
        .digests
        .iter()
        .map(|d| {
            let (algorithm, hex) = expected(d);
            format!("{}:{hex}", algorithm.as_str())
        })
        .collect();
    Declaration {
        file: declared.name,
        version: declared.version,
        url,
        digests,
    }
}

/// The digests a row keeps, as the store computes them (unknown algorithms skipped).
pub fn digests_of(row: &Declaration) -> Vec<(Algorithm, String)> {
    row.digests
        .iter()
        .filter_map(|d| {
            let (algorithm, hex) = d.split_once(':')?;
            Some((Algorithm::parse(algorithm)?, hex.to_string()))
        })
        .collect()
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::api::HashAlgorithm;

    #[test]
    fn rows_keep_absolute_urls_and_digests_round_trip() {
        let declared = |url: &str| DeclaredArtifact {
            name: "a.tgz".into(),
            version: "1.0".into(),
            url: url.into(),
            digests: vec![Digest {
                algorithm: HashAlgorithm::Sha512,
                hex: "AB".into(),
            }],
        };
        let row = to_row(declared("/files/a.tgz"), "http://up/registry/");
        assert_eq!(row.url, "http://up/registry/files/a.tgz");
        assert_eq!(row.digests, ["sha512:ab"]);
        assert_eq!(digests_of(&row), [(Algorithm::Sha512, "ab".to_string())]);
        let elsewhere = to_row(declared("https://cdn/a.tgz"), "http://up");
        assert_eq!(elsewhere.url, "https://cdn/a.tgz");
        assert_eq!(origin("https://cdn:8443/x/y?z"), "https://cdn:8443");
    }
}
