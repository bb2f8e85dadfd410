//! Small blobs kept in memory on this node (`storage.blob_cache`), so that serving a
//! tarball or a pom again costs no request to the object store (S3 takes 10–30 ms to
//! its first byte; the disk store answers from the page cache in microseconds).
//!
//! Blobs are content-addressed and immutable, so a cached copy is never stale: the
//! bytes under a sha256 are those bytes on every node, forever. What a cache must not
//! do is serve a blob the registry no longer has, and it cannot: every read starts
//! from a database row naming the blob, and the collector deletes a blob only in the
//! transaction that removes the last row. The collector's node still drops its copy
//! when it trashes one (memory for live blobs); other nodes' copies age out.
//!
//! Only blobs read whole (at most `READ_WHOLE` bytes) go in, weighed by their size,
//! least recently used out first; ranges of a cached blob are slices of it.

use std::io;

use bytes::Bytes;

use crate::store::read::READ_WHOLE;

/// The cached blobs; `None` when `storage.blob_cache` is 0.
#[derive(Clone)]
pub(super) struct BlobCache(Option<moka::sync::Cache<String, Bytes>>);

impl BlobCache {
    /// A cache of at most `capacity` bytes (0: none).
    pub(super) fn new(capacity: u64) -> Self {
        Self((capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .weigher(|sha256: &String, bytes: &Bytes| {
                    // Small blobs only, so this never saturates.
                    u32::try_from(sha256.len() + bytes.len()).unwrap_or(u32::MAX)
                })
                .build()
        }))
    }

    /// `start..start + len` of the blob if it is cached; a cached blob shorter than
    /// that is an `UnexpectedEof` error, as the object store's would be.
    pub(super) fn range(&self, sha256: &str, start: u64, len: u64) -> Option<io::Result<Bytes>> {
        let whole = self.0.as_ref()?.get(sha256)?;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= whole.len() as u64);
        Some(match end {
            Some(end) => Ok(whole.slice(start as usize..end as usize)),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "blob {sha256} is shorter than {}",
                    start.saturating_add(len)
                ),
            )),
        })
    }

    /// The whole blob, if it is cached.
    pub(super) fn whole(&self, sha256: &str) -> Option<Bytes> {
        self.0.as_ref()?.get(sha256)
    }

    /// Keeps `bytes`, the whole blob `sha256`, if it is small enough.
    pub(super) fn insert(&self, sha256: &str, bytes: Bytes) {
        if let Some(cache) = &self.0
            && bytes.len() as u64 <= READ_WHOLE
        {
            cache.insert(sha256.to_string(), bytes);
        }
    }

    /// Forgets the blob (the collector is deleting it).
    pub(super) fn remove(&self, sha256: &str) {
        if let Some(cache) = &self.0 {
            cache.invalidate(sha256);
        }
    }

    /// Bytes held (tests; moka settles its counts lazily).
    #[cfg(test)]
    pub(super) fn weight(&self) -> u64 {
        self.0.as_ref().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.weighted_size()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_slices_of_the_cached_blob() {
        let cache = BlobCache::new(1 << 20);
        let sha256 = "ab".repeat(32);
        assert!(cache.range(&sha256, 0, 1).is_none());
        cache.insert(&sha256, Bytes::from_static(b"hello world"));
        assert_eq!(cache.range(&sha256, 6, 5).unwrap().unwrap(), "world");
        assert_eq!(cache.whole(&sha256).unwrap(), "hello world");
        let past_end = cache.range(&sha256, 6, 6).unwrap().unwrap_err();
        assert_eq!(past_end.kind(), io::ErrorKind::UnexpectedEof);
        assert!(cache.range(&sha256, u64::MAX, 2).unwrap().is_err());
        cache.remove(&sha256);
        assert!(cache.range(&sha256, 0, 1).is_none());
    }

    #[test]
    fn it_holds_small_blobs_up_to_its_capacity_and_nothing_when_off() {
        let cache = BlobCache::new(1 << 20);
        let big = Bytes::from(vec![0; READ_WHOLE as usize + 1]);
        cache.insert(&"01".repeat(32), big);
        assert_eq!(cache.weight(), 0, "larger blobs are streamed, never cached");
        let blob = Bytes::from(vec![7; 300 << 10]);
        for i in 0..10u8 {
            cache.insert(&format!("{i:02x}").repeat(32), blob.clone());
        }
        let weight = cache.weight();
        assert!(weight <= 1 << 20, "{weight} bytes cached");
        assert!(weight >= 300 << 10, "{weight} bytes cached");

        let off = BlobCache::new(0);
        off.insert(&"02".repeat(32), blob);
        assert!(off.whole(&"02".repeat(32)).is_none());
        assert_eq!(off.weight(), 0);
    }
}
