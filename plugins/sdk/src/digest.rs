//! Digests between the contract's lower-case hex and the raw bytes or foreign
//! spellings formats carry (npm's base64 `integrity`, upper-case `shasum`s, PyPI's
//! `SHA-256` names), checked against the algorithm's length so a truncated value never
//! becomes an expectation.

use crate::{Digest, FileInfo, HashAlgorithm};

/// The digest of `algorithm` among `digests`, wherever it stands: the host lists sha256
/// first and then the descriptor's algorithms, but a plugin should not count on places.
pub fn find(digests: &[Digest], algorithm: HashAlgorithm) -> Option<&Digest> {
    digests.iter().find(|d| d.algorithm == algorithm)
}

impl FileInfo {
    /// The file's hex digest of `algorithm`; `None` for an algorithm the descriptor
    /// did not ask the host for (sha256 is always there).
    pub fn digest(&self, algorithm: HashAlgorithm) -> Option<&str> {
        find(&self.digests, algorithm).map(|d| d.hex.as_str())
    }
}

impl HashAlgorithm {
    /// The algorithm a document names (`sha256`, `SHA-256`, `md5`), if the host
    /// computes it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Some(Self::Md5),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Its name as the contract and most formats write it: `md5`, `sha1`, `sha256`,
    /// `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Bytes of a digest of this algorithm.
    pub fn byte_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl Digest {
    /// The digest whose raw bytes these are; `None` when the length is not the
    /// algorithm's.
    pub fn from_bytes(algorithm: HashAlgorithm, bytes: &[u8]) -> Option<Self> {
        (bytes.len() == algorithm.byte_len()).then(|| Self {
            algorithm,
            hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The digest written as hex in either case (npm `shasum`, PyPI `hashes`); `None`
    /// unless it is exactly the algorithm's length in hex digits. With
    /// [`HashAlgorithm::from_name`] for a digest whose algorithm a document names.
    pub fn from_hex(algorithm: HashAlgorithm, hex: &str) -> Option<Self> {
        (hex.len() == 2 * algorithm.byte_len() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(
            || Self {
                algorithm,
                hex: hex.to_ascii_lowercase(),
            },
        )
    }

    /// The raw bytes (to re-encode them, as npm's base64 `integrity`); `None` when
    /// `hex` is not hex.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        if !self.hex.len().is_multiple_of(2) {
            return None;
        }
        (0..self.hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(self.hex.get(i..i + 2)?, 16).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_hex_round_trip_at_the_algorithms_length() {
        let d = Digest::from_bytes(HashAlgorithm::Sha1, &[0xab; 20]).unwrap();
        assert_eq!(d.hex, "ab".repeat(20));
        assert_eq!(d.to_bytes().unwrap(), [0xab; 20]);
        assert!(Digest::from_bytes(HashAlgorithm::Sha1, &[0xab; 19]).is_none());
        assert!(Digest::from_bytes(HashAlgorithm::Sha512, &[0; 32]).is_none());
    }

    #[test]
    fn hex_is_lower_cased_and_checked() {
        let d = Digest::from_hex(HashAlgorithm::Md5, &"AbCd".repeat(8)).unwrap();
        assert_eq!(d.hex, "abcd".repeat(8));
        assert!(Digest::from_hex(HashAlgorithm::Md5, &"ab".repeat(15)).is_none());
        assert!(Digest::from_hex(HashAlgorithm::Md5, &"zz".repeat(16)).is_none());
        let odd = Digest {
            algorithm: HashAlgorithm::Md5,
            hex: "abc".into(),
        };
        assert!(odd.to_bytes().is_none());
    }

    #[test]
    fn digests_are_found_by_algorithm_not_place() {
        let file = FileInfo {
            name: "a.tgz".into(),
            size: 1,
            lead: true,
            content_type: String::new(),
            digests: vec![
                Digest::from_bytes(HashAlgorithm::Sha1, &[1; 20]).unwrap(),
                Digest::from_bytes(HashAlgorithm::Sha256, &[2; 32]).unwrap(),
            ],
            created: 0,
        };
        assert_eq!(
            file.digest(HashAlgorithm::Sha256),
            Some("02".repeat(32).as_str())
        );
        assert_eq!(
            file.digest(HashAlgorithm::Sha1),
            Some("01".repeat(20).as_str())
        );
        assert_eq!(file.digest(HashAlgorithm::Md5), None);
        assert_eq!(
            find(&file.digests, HashAlgorithm::Sha1),
            Some(&file.digests[0])
        );
    }

    #[test]
    fn names_are_read_loosely_and_written_in_lower_case() {
        for algorithm in [
            HashAlgorithm::Md5,
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha512,
        ] {
            assert_eq!(HashAlgorithm::from_name(algorithm.name()), Some(algorithm));
        }
        assert_eq!(
            HashAlgorithm::from_name("SHA-256"),
            Some(HashAlgorithm::Sha256)
        );
        assert_eq!(HashAlgorithm::from_name("blake2b_256"), None);
    }
}
