//! npm's tarball digests as packuments carry them: `dist.integrity`, Subresource
//! Integrity metadata (`sha512-<base64>`, several separated by whitespace, each
//! possibly followed by `?options`), and the older `dist.shasum` (sha1 hex).

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde_json::{Map, Value};
use wharf_plugin_sdk::{Digest, HashAlgorithm};

/// Standard base64, padded or not: SRI producers differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The digests an integrity string states, of the algorithms the host computes
/// (sha1, sha256, sha512), in order. Others (sha384) and malformed entries are
/// skipped: a client that checks them still does, and the host verifies the rest.
pub fn parse(integrity: &str) -> Vec<Digest> {
    integrity
        .split_whitespace()
        .filter_map(|entry| {
            let (algorithm, rest) = entry.split_once('-')?;
            let algorithm = match algorithm {
                "sha1" => HashAlgorithm::Sha1,
                "sha256" => HashAlgorithm::Sha256,
                "sha512" => HashAlgorithm::Sha512,
                _ => return None,
            };
            let base64 = rest.split('?').next().unwrap_or(rest);
            Digest::from_bytes(algorithm, &BASE64.decode(base64).ok()?)
        })
        .collect()
}

/// The integrity string of a digest (`sha512-…`), as npm writes it.
pub fn sri(digest: &Digest) -> Option<String> {
    // SRI names only the SHA-2 family and sha1.
    if digest.algorithm == HashAlgorithm::Md5 {
        return None;
    }
    let bytes = digest.to_bytes()?;
    Some(format!(
        "{}-{}",
        digest.algorithm.name(),
        general_purpose::STANDARD.encode(bytes)
    ))
}

/// Every digest a version's `dist` states: its integrity's, then its shasum (unless
/// the integrity said the same).
pub fn of_dist(dist: &Map<String, Value>) -> Vec<Digest> {
    let mut digests = dist
        .get("integrity")
        .and_then(Value::as_str)
        .map(parse)
        .unwrap_or_default();
    let shasum = dist
        .get("shasum")
        .and_then(Value::as_str)
        .and_then(|hex| Digest::from_hex(HashAlgorithm::Sha1, hex));
    if let Some(shasum) = shasum.filter(|s| !digests.contains(s)) {
        digests.push(shasum);
    }
    digests
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn digest(algorithm: HashAlgorithm, hex: String) -> Digest {
        Digest { algorithm, hex }
    }

    #[test]
    fn sri_strings_become_hex_digests() {
        let sha512 = general_purpose::STANDARD.encode([7u8; 64]);
        let sha1 = general_purpose::STANDARD_NO_PAD.encode([9u8; 20]);
        let parsed = parse(&format!(
            "sha384-AAAA sha512-{sha512}?opt=1  sha1-{sha1} sha512-short md5-x garbage"
        ));
        assert_eq!(
            parsed,
            [
                digest(HashAlgorithm::Sha512, "07".repeat(64)),
                digest(HashAlgorithm::Sha1, "09".repeat(20)),
            ]
        );
        assert!(parse("").is_empty());
        assert_eq!(sri(&parsed[0]).unwrap(), format!("sha512-{sha512}"));
        assert!(sri(&digest(HashAlgorithm::Md5, "00".repeat(16))).is_none());
    }

    #[test]
    fn a_dist_states_its_integrity_and_its_shasum_once() {
        let sha1 = "AB".repeat(20);
        let integrity = format!("sha1-{}", general_purpose::STANDARD.encode([0xab; 20]));
        let dist = |value: Value| value.as_object().cloned().unwrap();
        let both = of_dist(&dist(json!({"integrity": integrity, "shasum": sha1})));
        assert_eq!(both, [digest(HashAlgorithm::Sha1, "ab".repeat(20))]);
        let shasum_only = of_dist(&dist(json!({"shasum": "cd".repeat(20)})));
        assert_eq!(shasum_only, [digest(HashAlgorithm::Sha1, "cd".repeat(20))]);
        assert!(of_dist(&dist(json!({"shasum": "no", "integrity": 5}))).is_empty());
    }
}
