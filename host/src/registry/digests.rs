//! Digests as clients name blobs: sha256 is the store's key, sha512 (which OCI clients
//! may use) is found through the secondary digests recorded when the blob was stored.

use crate::db::Conn;

use crate::db::blobs;
use crate::error::Error;
use crate::plugins::api::{Digest, HashAlgorithm};
use crate::store::digest::is_sha256_hex;

/// The sha256 of the blob `digest` names. A sha256 is returned as it is, whether a blob
/// has it or not; a sha512 only when a stored blob has it. Other algorithms and
/// malformed hex are a bad request (they would otherwise name nothing, silently).
pub fn resolve(conn: &Conn<'_>, digest: &Digest) -> Result<Option<String>, Error> {
    match digest.algorithm {
        HashAlgorithm::Sha256 if is_sha256_hex(&digest.hex) => Ok(Some(digest.hex.clone())),
        HashAlgorithm::Sha512 if is_hex(&digest.hex, 128) => {
            blobs::by_digest(conn, "sha512", &digest.hex)
        }
        _ => Err(Error::bad_request("unsupported or malformed digest")),
    }
}

/// The size of the blob `digest` names if it belongs to the package (a file of one of
/// its versions, or linked to it).
pub fn package_blob_size(
    conn: &Conn<'_>,
    package_id: i64,
    digest: &Digest,
) -> Result<Option<(String, u64)>, Error> {
    let Some(sha256) = resolve(conn, digest)? else {
        return Ok(None);
    };
    let size = blobs::package_blob_size(conn, package_id, &sha256)?;
    Ok(size.map(|size| (sha256, size)))
}

fn is_hex(hex: &str, len: usize) -> bool {
    hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(algorithm: HashAlgorithm, hex: &str) -> Digest {
        Digest {
            algorithm,
            hex: hex.to_string(),
        }
    }

    fn with_db(f: impl FnOnce(&Conn<'_>) -> Result<(), Error>) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("wharf.db")).unwrap();
        db.write_sync(|tx| f(tx)).unwrap();
    }

    #[test]
    fn sha512_names_a_blob_through_its_recorded_digest() {
        with_db(|conn| {
            let sha256 = "a".repeat(64);
            let sha512 = "b".repeat(128);
            blobs::insert(conn, &sha256, 3)?;
            blobs::set_digest(conn, &sha256, "sha512", &sha512)?;
            let found = resolve(conn, &digest(HashAlgorithm::Sha512, &sha512))?;
            assert_eq!(found.as_deref(), Some(sha256.as_str()));
            let unknown = resolve(conn, &digest(HashAlgorithm::Sha512, &"c".repeat(128)))?;
            assert_eq!(unknown, None);
            Ok(())
        });
    }

    #[test]
    fn malformed_or_unsupported_digests_are_refused() {
        with_db(|conn| {
            for bad in [
                digest(HashAlgorithm::Sha256, "../../etc/passwd"),
                digest(HashAlgorithm::Sha256, &"A".repeat(64)),
                digest(HashAlgorithm::Sha512, &"a".repeat(64)),
                digest(HashAlgorithm::Sha1, &"a".repeat(40)),
            ] {
                assert!(matches!(resolve(conn, &bad), Err(Error::BadRequest(_))));
            }
            Ok(())
        });
    }
}
