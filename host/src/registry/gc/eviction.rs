//! Eviction by size (`[proxies.NAME] max_size`, issue 21): the first step of every
//! collection, so that wherever gc runs (the server every `gc.interval_secs`, `wharf
//! gc`) a proxy's cached artifacts are brought back to at most its `max_size`.
//!
//! The least recently used artifacts go first, by their last download through the proxy
//! or a group (`proxy::usage`: on record to within an hour; the fetch counts as a use),
//! not by when they were fetched. An eviction drops the artifact's file row as a delete
//! would (`db::gc::evict`); its blob is then unreferenced unless another file, of any
//! owner, still uses it, and the collector's usual rules take its bytes after
//! `gc.orphan_grace_secs`. Cached metadata documents are neither counted nor evicted:
//! they are small, and the next request for an evicted artifact needs them to find it
//! upstream again.

use super::BATCH;
use crate::db::virtual_owners::VirtualKind;
use crate::db::{self, Db, gc::Cached};
use crate::error::Error;
use crate::registry::Registry;

/// What eviction took from the proxies, all together.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evicted {
    pub artifacts: usize,
    pub bytes: u64,
}

impl std::ops::AddAssign for Evicted {
    fn add_assign(&mut self, other: Self) {
        self.artifacts += other.artifacts;
        self.bytes += other.bytes;
    }
}

/// Evicts from every configured proxy with a `max_size` until its cached artifacts fit.
/// Blocking: call it off the async executor.
pub(super) fn evict(registry: &Registry) -> Result<Evicted, Error> {
    // Uses this process recorded but has not written yet (the server's own collection)
    // must count, or an artifact just downloaded could be taken.
    registry.proxies.flush_uses_now();
    let mut total = Evicted::default();
    for (name, config) in &registry.config.proxies {
        let Some(max_size) = config.max_size else {
            continue;
        };
        let Some(owner_id) = proxy_id(&registry.db, name)? else {
            continue; // Not made yet: a server start makes it.
        };
        let (evicted, kept) = evict_from(&registry.db, owner_id, max_size)?;
        if evicted.artifacts > 0 {
            tracing::info!(
                proxy = %name, artifacts = evicted.artifacts, bytes = evicted.bytes,
                kept_bytes = kept, max_size,
                "evicted the least recently used cached artifacts"
            );
            crate::metrics::proxy_evicted(name, evicted.artifacts, evicted.bytes);
        }
        total += evicted;
    }
    Ok(total)
}

/// The owner id of the proxy `name`, if its owner row exists and is a proxy's.
fn proxy_id(db: &Db, name: &str) -> Result<Option<i64>, Error> {
    db.read_sync(|conn| {
        let Some(owner) = db::owners::by_name(conn, name)? else {
            return Ok(None);
        };
        let is_proxy = db::virtual_owners::kind_of(conn, owner.id)? == Some(VirtualKind::Proxy);
        Ok(is_proxy.then_some(owner.id))
    })
}

/// Evicts the proxy `owner_id`'s least recently used artifacts until they add up to at
/// most `max_size`; returns what went and the bytes left. Each batch is a write
/// transaction of its own, so a large eviction never holds the write lock long.
fn evict_from(db: &Db, owner_id: i64, max_size: u64) -> Result<(Evicted, u64), Error> {
    // On a reader: a proxy within its bound, the usual case, costs no write.
    let mut size = db.read_sync(|conn| db::gc::cached_size(conn, owner_id))?;
    let mut evicted = Evicted::default();
    while size > max_size {
        let batch = db.write_sync(|tx| {
            let candidates = db::gc::least_recently_used(tx, owner_id, BATCH)?;
            let chosen = victims(&candidates, size - max_size);
            for cached in chosen {
                db::gc::evict(tx, cached)?;
            }
            Ok(Evicted {
                artifacts: chosen.len(),
                bytes: chosen.iter().map(|c| c.size).sum(),
            })
        })?;
        if batch.artifacts == 0 {
            break; // Nothing fetched is left (what remains was never fetched).
        }
        size = size.saturating_sub(batch.bytes);
        evicted += batch;
    }
    Ok((evicted, size))
}

/// The first of `candidates` (least recently used first) whose sizes add up to at least
/// `excess`: the fewest that bring the cache within its bound while keeping every
/// artifact used later than one that goes.
fn victims(candidates: &[Cached], excess: u64) -> &[Cached] {
    let mut freed = 0;
    let taken = candidates
        .iter()
        .take_while(|cached| {
            let more = freed < excess;
            freed += cached.size;
            more
        })
        .count();
    &candidates[..taken]
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::db::packages::FileRow;
    use crate::db::packages::fixture::{self, Pkg};
    use crate::registry::gc::{Policy, collect};
    use crate::registry::testing::TestRegistry;

    fn cached(size: u64) -> Cached {
        Cached {
            file_id: size as i64,
            version_id: 0,
            package_id: 0,
            size,
        }
    }

    // Guards the choice: the fewest least recently used that make up the excess, in
    // order, never one used later instead of one used earlier.
    #[test]
    fn victims_are_the_fewest_oldest_that_make_up_the_excess() {
        let candidates = [cached(3), cached(5), cached(2)];
        let sizes = |excess| -> Vec<u64> {
            victims(&candidates, excess)
                .iter()
                .map(|c| c.size)
                .collect()
        };
        assert_eq!(sizes(0), [0u64; 0]);
        assert_eq!(sizes(1), [3]);
        assert_eq!(sizes(3), [3]);
        assert_eq!(sizes(4), [3, 5]);
        assert_eq!(sizes(100), [3, 5, 2], "all there is");
        assert!(victims(&[], 10).is_empty());
    }

    /// A registry with the generic proxy `cache` (at most `max_size` bytes) and user
    /// alice, and their owner ids.
    fn registry(max_size: &str) -> (TestRegistry, i64, i64) {
        let text = format!(
            "[proxies.cache]\nformat = \"generic\"\nupstreams = [\"http://127.0.0.1:9\"]\n\
             max_size = {max_size:?}\n"
        );
        let proxies = crate::config::Config::parse(&text).unwrap().proxies;
        let t = TestRegistry::with(|config| config.proxies = proxies);
        let ids = t.registry.db.write_sync(|tx| {
            let cache = db::owners::by_name(tx, "cache")?.expect("made at start");
            Ok((cache.id, fixture::owner(tx, "alice")))
        });
        let (cache, alice) = ids.unwrap();
        (t, cache, alice)
    }

    /// Stores `bytes` as the proxy's fetched `name`, fetched (and last used) at `at`.
    fn fetched(t: &TestRegistry, cache: i64, name: &str, bytes: &[u8], at: i64) -> FileRow {
        t.registry
            .db
            .write_sync(|tx| {
                let file = Pkg::new(cache, "generic", name).put(tx, "1", name, bytes);
                db::proxy::record_fetch(tx, file.id, "http://127.0.0.1:9/x", at)?;
                Ok(file)
            })
            .unwrap()
    }

    fn blob_known(t: &TestRegistry, bytes: &[u8]) -> bool {
        let sha = fixture::sha256(bytes);
        t.registry
            .db
            .read_now(|conn| db::blobs::exists(conn, &sha))
            .unwrap()
    }

    const NOW_GRACE: Policy = Policy {
        upload_grace: Duration::ZERO,
        orphan_grace: Duration::ZERO,
    };

    // Guards eviction through gc: the least recently used go (a use recorded in memory
    // counts, and the first fetched is not the first to go), until the rest fit; an
    // evicted blob another owner's file uses keeps its bytes, the others' go by the
    // usual rules; a proxy within its bound loses nothing.
    #[test]
    fn a_collection_evicts_the_least_recently_used_past_max_size() {
        let (t, cache, alice) = registry("10 B");
        let old = fetched(&t, cache, "old", b"old-used", 100);
        fetched(&t, cache, "shared", b"shared", 200);
        fetched(&t, cache, "fresh", b"fresh", 300);
        t.registry
            .db
            .write_sync(|tx| {
                Pkg::new(alice, "generic", "mine").put(tx, "1", "mine", b"shared");
                Ok(())
            })
            .unwrap();
        // Used just now: written by the collection's flush only.
        t.registry.proxies.used(&old);

        let report = collect(&t.registry, NOW_GRACE, SystemTime::now()).unwrap();
        assert_eq!(
            (report.evicted, report.evicted_bytes),
            (2, 11),
            "{report:?}"
        );
        let left = t
            .registry
            .db
            .read_now(|conn| db::gc::least_recently_used(conn, cache, 10))
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].file_id, old.id, "the one used last is kept");
        assert!(blob_known(&t, b"shared"), "alice's file still uses it");
        assert!(!blob_known(&t, b"fresh"), "collected with no grace");
        let again = collect(&t.registry, NOW_GRACE, SystemTime::now()).unwrap();
        assert_eq!(again.evicted, 0, "within its bound now");
    }
}
