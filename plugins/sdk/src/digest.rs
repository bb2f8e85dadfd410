//! Digests between the contract's lower-case hex and the raw bytes or foreign
//! spellings formats carry (npm's base64 `integrity`, upper-case `shasum`s), checked
//! against the algorithm's length so a truncated value never becomes an expectation.

use crate::{Digest, HashAlgorithm};

impl HashAlgorithm {
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

    /// The digest written as hex in either case (npm `shasum`); `None` unless it is
    /// exactly the algorithm's length in hex digits.
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
}
