//! The digests of session uploads: what a client may ask for, and hashing a session
//! file again when its in-memory hasher is gone.

use std::fs::File;
use std::io;

use crate::error::Error;
use crate::plugins::api;
use crate::store::{Algorithm, MultiHasher};

/// The digest a client asked for, checked: sha256 or sha512, lower-case hex.
pub fn wanted(digest: &api::Digest) -> Result<(Algorithm, String), Error> {
    let algorithm = match digest.algorithm {
        api::HashAlgorithm::Sha256 => Algorithm::Sha256,
        api::HashAlgorithm::Sha512 => Algorithm::Sha512,
        _ => {
            return Err(Error::bad_request(
                "only sha256 and sha512 digests are supported",
            ));
        }
    };
    let well_formed = digest.hex.len() == algorithm.hex_len()
        && digest
            .hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(Error::bad_request("malformed digest"));
    }
    Ok((algorithm, digest.hex.clone()))
}

/// Digests to compute besides sha256 while receiving a blob that must match `algorithm`.
pub fn extra_digests(algorithm: Algorithm) -> Vec<Algorithm> {
    match algorithm {
        Algorithm::Sha256 => Vec::new(),
        other => vec![other],
    }
}

pub(super) fn digest_mismatch(algorithm: Algorithm, expected: &str, actual: &str) -> Error {
    Error::bad_request(format!(
        "digest mismatch: the upload is {}:{actual}, not {}:{expected}",
        algorithm.as_str(),
        algorithm.as_str()
    ))
}

pub(super) fn digest_in(digests: &[(Algorithm, String)], algorithm: Algorithm) -> String {
    digests
        .iter()
        .find(|(a, _)| *a == algorithm)
        .map(|(_, h)| h.clone())
        .unwrap_or_default()
}

/// sha256 (and `algorithm` if another) of a session file, in one pass.
pub(super) fn rehash(
    path: &std::path::Path,
    algorithm: Algorithm,
) -> io::Result<Vec<(Algorithm, String)>> {
    let mut hasher = MultiHasher::new(&extra_digests(algorithm));
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_sha256_and_sha512_digests_are_wanted() {
        let digest = |algorithm, hex: &str| api::Digest {
            algorithm,
            hex: hex.to_string(),
        };
        let sha256 = "a".repeat(64);
        assert_eq!(
            wanted(&digest(api::HashAlgorithm::Sha256, &sha256)).unwrap(),
            (Algorithm::Sha256, sha256.clone())
        );
        assert!(wanted(&digest(api::HashAlgorithm::Sha512, &"0".repeat(128))).is_ok());
        for (algorithm, hex) in [
            (api::HashAlgorithm::Sha256, "A".repeat(64)),
            (api::HashAlgorithm::Sha256, "a".repeat(63)),
            (api::HashAlgorithm::Sha512, sha256.clone()),
            (api::HashAlgorithm::Md5, "a".repeat(32)),
        ] {
            assert!(wanted(&digest(algorithm, &hex)).is_err(), "{hex}");
        }
    }
}
