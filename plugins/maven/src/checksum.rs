//! The checksum files Maven keeps beside every file (`x.jar.sha1`): which suffix is
//! which algorithm, and what a deployed checksum body says.

use wharf_plugin_sdk::{Digest, HashAlgorithm, PluginError};

/// Largest checksum body accepted: a sha512 in hex plus a file name is far below it.
pub const MAX_BODY: u64 = 1024;

const SUFFIXES: [(&str, HashAlgorithm); 4] = [
    (".md5", HashAlgorithm::Md5),
    (".sha1", HashAlgorithm::Sha1),
    (".sha256", HashAlgorithm::Sha256),
    (".sha512", HashAlgorithm::Sha512),
];

/// Splits `x.jar.sha1` into `x.jar` and its algorithm; `None` when the name is no
/// checksum file. The remaining name may be empty; the caller validates it.
pub fn split_suffix(file: &str) -> Option<(&str, HashAlgorithm)> {
    SUFFIXES
        .iter()
        .find_map(|(suffix, algorithm)| Some((file.strip_suffix(suffix)?, *algorithm)))
}

/// The digest a checksum body states: its first whitespace-separated token, lower
/// case. Clients write either the bare hex or `hex  file-name`.
pub fn token(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split_whitespace().next().map(str::to_ascii_lowercase)
}

/// Checks a deployed checksum body against the digest the host computed for the stored
/// file (`None` when there is no such file).
pub fn verify(body: &[u8], stored: Option<Digest>) -> Result<(), PluginError> {
    let stored = stored.ok_or_else(|| {
        PluginError::not_found("the file this checksum belongs to does not exist")
    })?;
    match token(body) {
        Some(claimed) if claimed == stored.hex.to_ascii_lowercase() => Ok(()),
        _ => Err(PluginError::bad_request("hash mismatch")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_name_their_algorithm() {
        assert_eq!(
            split_suffix("a-1.0.jar.sha1"),
            Some(("a-1.0.jar", HashAlgorithm::Sha1))
        );
        assert_eq!(
            split_suffix("maven-metadata.xml.md5"),
            Some(("maven-metadata.xml", HashAlgorithm::Md5))
        );
        assert_eq!(
            split_suffix("a.pom.sha256"),
            Some(("a.pom", HashAlgorithm::Sha256))
        );
        assert_eq!(
            split_suffix("a.pom.sha512"),
            Some(("a.pom", HashAlgorithm::Sha512))
        );
        assert_eq!(split_suffix(".sha1"), Some(("", HashAlgorithm::Sha1)));
        for plain in ["a.jar", "a.jar.asc", "a.SHA1", "a.sha1.txt", "sha1"] {
            assert_eq!(split_suffix(plain), None, "{plain}");
        }
    }

    #[test]
    fn the_token_is_the_first_word_lower_cased() {
        assert_eq!(token(b"ABCdef\n").as_deref(), Some("abcdef"));
        assert_eq!(token(b"  abc123  a-1.0.jar\r\n").as_deref(), Some("abc123"));
        assert_eq!(token(b"abc\tdef").as_deref(), Some("abc"));
        assert_eq!(token(b""), None);
        assert_eq!(token(b" \n\t"), None);
        assert_eq!(token(&[0xff, 0xfe]), None);
    }

    fn sha1(hex: &str) -> Option<Digest> {
        Some(Digest {
            algorithm: HashAlgorithm::Sha1,
            hex: hex.into(),
        })
    }

    #[test]
    fn verify_compares_with_the_stored_digest() {
        assert!(verify(b"ABCD  x.jar\n", sha1("abcd")).is_ok());
        let mismatch = verify(b"abce", sha1("abcd")).unwrap_err();
        assert_eq!(
            (mismatch.status, mismatch.message.as_str()),
            (400, "hash mismatch")
        );
        assert_eq!(verify(b"", sha1("abcd")).unwrap_err().status, 400);
        assert_eq!(verify(b"abcd", None).unwrap_err().status, 404);
    }
}
