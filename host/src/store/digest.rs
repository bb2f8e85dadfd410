//! Digest algorithms and a hasher that computes several at once while bytes stream by.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "md5" => Some(Self::Md5),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Length of the hex form.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha1 => 40,
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

/// Whether `hex` is a well-formed lower-case sha256; the only check a digest needs
/// before it is used to build a blob path.
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

enum State {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

/// sha256 always, plus whichever other algorithms were asked for.
pub struct MultiHasher {
    states: Vec<(Algorithm, State)>,
}

impl MultiHasher {
    pub fn new(extra: &[Algorithm]) -> Self {
        let mut algorithms = vec![Algorithm::Sha256];
        algorithms.extend(extra.iter().copied().filter(|a| *a != Algorithm::Sha256));
        algorithms.sort();
        algorithms.dedup();
        let states = algorithms
            .into_iter()
            .map(|a| {
                let state = match a {
                    Algorithm::Md5 => State::Md5(Md5::new()),
                    Algorithm::Sha1 => State::Sha1(Sha1::new()),
                    Algorithm::Sha256 => State::Sha256(Sha256::new()),
                    Algorithm::Sha512 => State::Sha512(Sha512::new()),
                };
                (a, state)
            })
            .collect();
        Self { states }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for (_, state) in &mut self.states {
            match state {
                State::Md5(h) => h.update(bytes),
                State::Sha1(h) => h.update(bytes),
                State::Sha256(h) => h.update(bytes),
                State::Sha512(h) => h.update(bytes),
            }
        }
    }

    /// Hex digests, sha256 included.
    pub fn finish(self) -> Vec<(Algorithm, String)> {
        self.states
            .into_iter()
            .map(|(a, state)| {
                let hex = match state {
                    State::Md5(h) => hex::encode(h.finalize()),
                    State::Sha1(h) => hex::encode(h.finalize()),
                    State::Sha256(h) => hex::encode(h.finalize()),
                    State::Sha512(h) => hex::encode(h.finalize()),
                };
                (a, hex)
            })
            .collect()
    }
}

/// One digest of everything `reader` yields, read in 256 KiB steps.
pub fn of_reader(algorithm: Algorithm, reader: &mut dyn std::io::Read) -> std::io::Result<String> {
    let mut hasher = MultiHasher::new(&[algorithm]);
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(pick(hasher.finish(), algorithm))
}

fn pick(digests: Vec<(Algorithm, String)>, algorithm: Algorithm) -> String {
    digests
        .into_iter()
        .find(|(a, _)| *a == algorithm)
        .map(|(_, h)| h)
        .unwrap_or_default()
}

/// One digest of a byte slice.
pub fn of_bytes(algorithm: Algorithm, bytes: &[u8]) -> String {
    let mut hasher = MultiHasher::new(&[algorithm]);
    hasher.update(bytes);
    hasher
        .finish()
        .into_iter()
        .find(|(a, _)| *a == algorithm)
        .map(|(_, h)| h)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let mut h = MultiHasher::new(&[Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha512]);
        h.update(b"ab");
        h.update(b"c");
        let d = h.finish();
        let get = |a| d.iter().find(|(x, _)| *x == a).unwrap().1.clone();
        assert_eq!(get(Algorithm::Md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            get(Algorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            get(Algorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(get(Algorithm::Sha512).starts_with("ddaf35a193617aba"));
        assert!(is_sha256_hex(&get(Algorithm::Sha256)));
        assert!(!is_sha256_hex("../../etc/passwd"));
    }
}
