//! `[storage]`: where metadata and blob bytes live. The data dir always holds the
//! local parts (staged uploads, upload sessions, the plugin cache, and the embedded
//! database and blob files by default); `blobs = "s3://bucket/prefix"` moves the blob
//! bytes into an S3-compatible object store (issue 22, `store::remote`).
//!
//! `database` and `database_pool` are parsed here as plain values so that the section
//! is one table with `deny_unknown_fields`; what they mean is the database layer's.

use std::path::PathBuf;

use anyhow::bail;
use serde::Deserialize;

use super::{ByteSize, MinFree};

/// Blobs at least this large are redirected when `redirect_downloads` is on; smaller
/// ones cost less to pass through than the second round trip costs the client.
pub const REDIRECT_MIN_SIZE: u64 = 1 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Below this much free space under the data dir, uploads are refused with 507 and
    /// the space kept for deletes is released (see `store::space`). With blobs in an
    /// object store this guards the local staging of uploads only.
    pub min_free: MinFree,
    /// `"sqlite"` (`data_dir/wharf.db`) or a `postgres://` URL.
    pub database: String,
    /// Connections to an external database.
    pub database_pool: u32,
    /// `"fs"` (`data_dir/blobs`) or `"s3://bucket/prefix"`.
    pub blobs: String,
    /// An S3-compatible server's URL; unset means AWS itself. Setting it switches to
    /// path-style addressing (`endpoint/bucket/key`), which self-hosted servers expect.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// Sends each upload's SHA-256 with it (`x-amz-checksum-sha256`, per part for large
    /// blobs), so the object store checks every part as it arrives and refuses a
    /// corrupted one. It costs no extra hashing (request signing hashes the payload
    /// anyway). Off only for S3-compatible servers that refuse the checksum headers.
    pub s3_checksums: bool,
    /// Downloads of at least [`REDIRECT_MIN_SIZE`] bytes answer 307 to a presigned URL
    /// of the object store instead of passing the bytes through.
    pub redirect_downloads: bool,
    /// Memory for small blobs read from the object store (`store::remote::cache`);
    /// 0 turns the cache off. The disk store has the page cache instead.
    pub blob_cache: ByteSize,
}

/// `storage.blob_cache` by default: some thousands of tarballs and poms.
pub const DEFAULT_BLOB_CACHE: ByteSize = ByteSize(256 << 20);

/// Where blob bytes live, parsed from `storage.blobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobBackend {
    Fs,
    S3 {
        bucket: String,
        /// Key prefix without slashes at either end; empty for the bucket's root.
        prefix: String,
    },
}

impl StorageConfig {
    /// `storage.blobs`, parsed.
    pub fn blob_backend(&self) -> anyhow::Result<BlobBackend> {
        let text = self.blobs.trim();
        if text == "fs" {
            return Ok(BlobBackend::Fs);
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            bail!("storage.blobs: {text:?} is neither \"fs\" nor an s3://bucket/prefix URL");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules, in short: what a URL host may carry.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            bail!("storage.blobs: {bucket:?} is not an S3 bucket name");
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty()
            && prefix
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            bail!("storage.blobs: the key prefix {prefix:?} has an empty, . or .. segment");
        }
        Ok(BlobBackend::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let backend = self.blob_backend()?;
        if let Some(endpoint) = &self.s3_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            bail!("storage.s3_endpoint: {endpoint:?} is not an http:// or https:// URL");
        }
        if backend == BlobBackend::Fs {
            if self.redirect_downloads {
                bail!(
                    "storage.redirect_downloads: needs blobs in an object store (storage.blobs = \"s3://…\")"
                );
            }
            if self.s3_endpoint.is_some() || self.s3_region.is_some() || !self.s3_checksums {
                bail!(
                    "storage.s3_endpoint, s3_region and s3_checksums apply to storage.blobs = \"s3://…\" only"
                );
            }
        }
        if self.database_pool == 0 {
            bail!("storage.database_pool: must be at least 1");
        }
        Ok(())
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            min_free: MinFree::Default,
            database: "sqlite".into(),
            database_pool: 16,
            blobs: "fs".into(),
            s3_endpoint: None,
            s3_region: None,
            s3_checksums: true,
            redirect_downloads: false,
            blob_cache: DEFAULT_BLOB_CACHE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_blobs(blobs: &str) -> StorageConfig {
        StorageConfig {
            blobs: blobs.into(),
            ..Default::default()
        }
    }

    #[test]
    fn blobs_are_fs_or_an_s3_url() {
        assert_eq!(with_blobs("fs").blob_backend().unwrap(), BlobBackend::Fs);
        assert_eq!(
            with_blobs("s3://wharf-blobs/prod/eu/")
                .blob_backend()
                .unwrap(),
            BlobBackend::S3 {
                bucket: "wharf-blobs".into(),
                prefix: "prod/eu".into()
            }
        );
        assert_eq!(
            with_blobs("s3://wharf").blob_backend().unwrap(),
            BlobBackend::S3 {
                bucket: "wharf".into(),
                prefix: String::new()
            }
        );
        for bad in [
            "disk",
            "s3://",
            "s3://Upper/x",
            "s3://ok-bucket/a//b",
            "s3://ok-bucket/../x",
            "gs://b/p",
        ] {
            assert!(with_blobs(bad).blob_backend().is_err(), "{bad}");
        }
    }

    #[test]
    fn s3_settings_need_s3_blobs() {
        assert!(StorageConfig::default().validate().is_ok());
        let redirect = StorageConfig {
            redirect_downloads: true,
            ..Default::default()
        };
        assert!(redirect.validate().is_err());
        let s3 = StorageConfig {
            redirect_downloads: true,
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            ..with_blobs("s3://bucket/p")
        };
        s3.validate().unwrap();
        let bad_endpoint = StorageConfig {
            s3_endpoint: Some("127.0.0.1:9000".into()),
            ..with_blobs("s3://bucket/p")
        };
        assert!(bad_endpoint.validate().is_err());
    }

    #[test]
    fn the_section_parses_with_every_key() {
        let config = crate::config::Config::parse(
            "[storage]\ndatabase = \"postgres://wharf@db/wharf\"\ndatabase_pool = 4\n\
             blobs = \"s3://bucket/prefix\"\ns3_endpoint = \"http://127.0.0.1:9000\"\n\
             s3_region = \"us-east-1\"\nredirect_downloads = true\nblob_cache = \"64 MiB\"\n\
             s3_checksums = false\n",
        )
        .unwrap();
        assert_eq!(config.storage.database_pool, 4);
        assert_eq!(config.storage.blob_cache, ByteSize(64 << 20));
        assert_eq!(config.storage.s3_region.as_deref(), Some("us-east-1"));
        assert!(!config.storage.s3_checksums);
        config.storage.validate().unwrap();
    }
}
