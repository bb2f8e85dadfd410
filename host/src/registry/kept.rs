//! Rows read from the database and kept per node while the owner's listing revision
//! holds: package rows for indexes, file rows for downloads.
//!
//! Every change to a package of an owner and format moves that pair's listing revision
//! (database triggers, `db::accounts` for moved packages), and every change to a
//! package's versions, files, tags or linked blobs touches the package row in the same
//! transaction. Stage 1 reads the mount owner's listing revision together with the
//! owner. So a row read after that revision was seen is current for as long as a later
//! request sees the same revision: on PostgreSQL that spares a request every lookup
//! after stage 1's single round trip, and a publish on another node is seen by the next
//! request, since the revision lives in the shared database. No timers, no messages
//! between nodes.

use std::hash::Hash;

use moka::sync::Cache;

use crate::db::packages::{FileRow, PackageRow};

/// An owner's listing revision of the mount's format, as stage 1 read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub owner_id: i64,
    pub revision: i64,
}

/// Roughly the heap bytes a key or value holds. The names in keys come from request
/// URLs, so the caches are bounded by memory rather than by entry count: a caller
/// asking for ever longer names cannot make a node keep more than its budget.
pub trait Footprint {
    fn footprint(&self) -> usize;
}

impl Footprint for String {
    fn footprint(&self) -> usize {
        self.len()
    }
}

impl<A: Footprint, B: Footprint> Footprint for (A, B) {
    fn footprint(&self) -> usize {
        self.0.footprint() + self.1.footprint()
    }
}

impl<T: Footprint> Footprint for Option<T> {
    fn footprint(&self) -> usize {
        self.as_ref().map_or(0, T::footprint)
    }
}

impl Footprint for PackageRow {
    fn footprint(&self) -> usize {
        self.format.len() + self.name.len()
    }
}

impl Footprint for FileRow {
    fn footprint(&self) -> usize {
        self.name.len() + self.blob.len() + self.content_type.len()
    }
}

/// What an entry costs besides its strings: the integers, the string headers, moka's
/// own bookkeeping.
const ENTRY_OVERHEAD: usize = 256;

/// Values under keys of one owner, each valid at the listing revision it was kept at.
/// Bounded by their footprint; the least useful entries go first.
pub struct Kept<K, V> {
    entries: Cache<(i64, K), (i64, V)>,
}

/// The budget of a cache made with `default()`: package rows for index documents.
const DEFAULT_BYTES: u64 = 16 << 20;

impl<K, V> Default for Kept<K, V>
where
    K: Footprint + Hash + Eq + Send + Sync + 'static,
    V: Footprint + Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new(DEFAULT_BYTES)
    }
}

impl<K, V> Kept<K, V>
where
    K: Footprint + Hash + Eq + Send + Sync + 'static,
    V: Footprint + Clone + Send + Sync + 'static,
{
    /// Keeps entries up to about `max_bytes` of memory.
    pub fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|(_, key): &(i64, K), (_, value): &(i64, V)| {
                let bytes = ENTRY_OVERHEAD + key.footprint() + value.footprint();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        Self { entries }
    }

    /// The value of `key` kept at `listing`'s revision, `None` when nothing current is
    /// kept.
    pub fn get(&self, listing: Listing, key: K) -> Option<V> {
        match self.entries.get(&(listing.owner_id, key)) {
            Some((revision, value)) if revision == listing.revision => Some(value),
            _ => None,
        }
    }

    /// Keeps `value`, read after `listing` was seen: if the listing changed in between,
    /// the value is newer than its revision says, and the next request (which sees the
    /// newer revision) reads it again; it is never older.
    pub fn keep(&self, listing: Listing, key: K, value: V) {
        self.entries
            .insert((listing.owner_id, key), (listing.revision, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT_3: Listing = Listing {
        owner_id: 1,
        revision: 3,
    };

    // Guards the validity rule: a value is served only at the listing revision it was
    // kept at, and only for the owner it was kept under.
    #[test]
    fn a_value_is_current_only_at_its_listing_revision() {
        let kept = Kept::<String, Option<String>>::new(1 << 20);
        let name = || "left-pad".to_string();
        assert!(kept.get(AT_3, name()).is_none());
        kept.keep(AT_3, name(), Some("2".into()));
        assert_eq!(kept.get(AT_3, name()), Some(Some("2".into())));
        let moved = Listing {
            revision: 4,
            ..AT_3
        };
        assert!(kept.get(moved, name()).is_none());
        let other_owner = Listing {
            owner_id: 2,
            ..AT_3
        };
        assert!(kept.get(other_owner, name()).is_none());
    }

    // Guards absent values (a package known not to exist): kept until the listing
    // moves, as creating the package moves it.
    #[test]
    fn an_absence_is_kept_until_the_listing_moves() {
        let kept = Kept::<String, Option<String>>::new(1 << 20);
        kept.keep(AT_3, "nope".into(), None);
        assert_eq!(kept.get(AT_3, "nope".into()), Some(None));
        let moved = Listing {
            revision: 5,
            ..AT_3
        };
        assert!(kept.get(moved, "nope".into()).is_none());
    }

    // Guards the bound: an unauthenticated caller asking for ever new, long names
    // cannot grow a node's memory past the budget.
    #[test]
    fn what_is_kept_stays_within_its_budget() {
        const BUDGET: u64 = 1 << 20;
        let kept = Kept::<String, Option<String>>::new(BUDGET);
        for n in 0..2_000 {
            kept.keep(AT_3, format!("{n:08}{}", "x".repeat(8 << 10)), None);
        }
        kept.entries.run_pending_tasks();
        assert!(kept.entries.weighted_size() <= BUDGET);
        assert!(kept.entries.entry_count() <= BUDGET / (8 << 10));
    }
}
