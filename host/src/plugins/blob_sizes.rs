//! Sizes of a package's blobs as one plugin call asks for them.
//!
//! A manifest push asks `package-blob-size` once per blob the manifest names, and an
//! image index or a long layer list names thousands. On PostgreSQL each answer is a
//! round trip, and those round trips count against the plugin's time limit. So after a
//! few questions about one package, the call reads the sizes of all that package's
//! blobs in one statement and answers the rest from memory.
//!
//! The snapshot lives as long as the call. A blob that joins the package during the call
//! may be missed. A client pushes a manifest's blobs before the manifest, so the blobs
//! it names are already there. A blob that leaves the package during the call may still
//! be answered. That does no harm, because the host checks every reference again in the
//! publish transaction.

use std::collections::HashMap;

use super::api::{Digest, HashAlgorithm};
use crate::error::Error;
use crate::store::digest::is_sha256_hex;

/// Questions about one package answered one by one before its blobs are read at once.
/// Images of a few dozen layers stay on single lookups, which are cheaper than reading
/// a large package's every blob.
pub const ASK_BEFORE_SNAPSHOT: u32 = 16;

/// Most blobs a snapshot holds (some 100 bytes each). A package with more is asked one
/// blob at a time for the rest of the call.
pub const MOST_IN_SNAPSHOT: usize = 100_000;

/// What is known of one package's blobs during the call.
enum Known {
    /// This many questions were answered one by one so far.
    Asked(u32),
    /// Every blob of the package by sha256 hex, with its size.
    All(HashMap<String, u64>),
    /// The package holds more than [`MOST_IN_SNAPSHOT`] blobs.
    TooMany,
}

/// Per-call answers to `package-blob-size`, by package id.
#[derive(Default)]
pub struct BlobSizes {
    packages: HashMap<i64, Known>,
}

impl BlobSizes {
    /// The size of the package's blob that `digest` names, if the package has it.
    ///
    /// `ask_one` looks up this digest alone. `read_all` reads every blob of the package,
    /// or returns `None` when it holds more than [`MOST_IN_SNAPSHOT`]. Only
    /// well-formed sha256 digests are answered from a snapshot. Other digests are
    /// resolved through the blobs' recorded secondary digests, so they always take
    /// `ask_one`.
    pub fn size(
        &mut self,
        package_id: i64,
        digest: &Digest,
        read_all: impl FnOnce() -> Result<Option<HashMap<String, u64>>, Error>,
        ask_one: impl FnOnce() -> Result<Option<u64>, Error>,
    ) -> Result<Option<u64>, Error> {
        if !(matches!(digest.algorithm, HashAlgorithm::Sha256) && is_sha256_hex(&digest.hex)) {
            return ask_one();
        }
        let known = self.packages.entry(package_id).or_insert(Known::Asked(0));
        if let Known::Asked(asked) = known {
            if *asked < ASK_BEFORE_SNAPSHOT {
                *asked += 1;
                return ask_one();
            }
            *known = match read_all()? {
                Some(all) => Known::All(all),
                None => Known::TooMany,
            };
        }
        match known {
            Known::All(all) => Ok(all.get(&digest.hex).copied()),
            Known::TooMany | Known::Asked(_) => ask_one(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn sha256(byte: char) -> Digest {
        Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: byte.to_string().repeat(64),
        }
    }

    /// Asks `count` times about package 1's blob `a…a` (which has 7 bytes), and
    /// returns (answers, single lookups, snapshot reads).
    fn ask(
        sizes: &mut BlobSizes,
        digest: &Digest,
        count: u32,
        snapshot: Option<HashMap<String, u64>>,
    ) -> (Vec<Option<u64>>, u32, u32) {
        let (one, all) = (Cell::new(0), Cell::new(0));
        let answers = (0..count)
            .map(|_| {
                sizes
                    .size(
                        1,
                        digest,
                        || {
                            all.set(all.get() + 1);
                            Ok(snapshot.clone())
                        },
                        || {
                            one.set(one.get() + 1);
                            Ok((digest.hex == sha256('a').hex).then_some(7))
                        },
                    )
                    .unwrap()
            })
            .collect();
        (answers, one.get(), all.get())
    }

    #[test]
    fn a_package_asked_often_is_read_once_and_answered_from_memory() {
        let mut sizes = BlobSizes::default();
        let all = HashMap::from([(sha256('a').hex, 7)]);
        let (answers, one, read) = ask(&mut sizes, &sha256('a'), 100, Some(all.clone()));
        assert_eq!((one, read), (ASK_BEFORE_SNAPSHOT, 1));
        assert!(answers.iter().all(|a| *a == Some(7)));
        // Absent from the snapshot means absent from the package: no lookup.
        let (answers, one, read) = ask(&mut sizes, &sha256('b'), 3, Some(all));
        assert_eq!((answers, one, read), (vec![None; 3], 0, 0));
    }

    #[test]
    fn a_package_with_too_many_blobs_stays_on_single_lookups() {
        let mut sizes = BlobSizes::default();
        let (answers, one, read) = ask(&mut sizes, &sha256('a'), 50, None);
        assert_eq!((one, read), (50, 1));
        assert!(answers.iter().all(|a| *a == Some(7)));
    }

    #[test]
    fn other_digests_are_always_looked_up() {
        let mut sizes = BlobSizes::default();
        let sha512 = Digest {
            algorithm: HashAlgorithm::Sha512,
            hex: "a".repeat(128),
        };
        let upper = Digest {
            algorithm: HashAlgorithm::Sha256,
            hex: "A".repeat(64),
        };
        for digest in [sha512, upper] {
            let (_, one, read) = ask(&mut sizes, &digest, 40, Some(HashMap::new()));
            assert_eq!((one, read), (40, 0));
        }
    }

    #[test]
    fn packages_are_counted_apart() {
        let mut sizes = BlobSizes::default();
        for package in 0..3 {
            for _ in 0..ASK_BEFORE_SNAPSHOT {
                let answer = sizes.size(package, &sha256('a'), || panic!("read"), || Ok(None));
                assert_eq!(answer.unwrap(), None);
            }
        }
    }
}
