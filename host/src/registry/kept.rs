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

/// An owner's listing revision of the mount's format, as stage 1 read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub owner_id: i64,
    pub revision: i64,
}

/// Values under keys of one owner, each valid at the listing revision it was kept at.
/// Bounded by entry count; the least useful entries go first.
pub struct Kept<K, V> {
    entries: Cache<(i64, K), (i64, V)>,
}

/// Entries a cache holds unless told otherwise: rows are a few hundred bytes each.
const DEFAULT_ENTRIES: u64 = 16_384;

impl<K, V> Default for Kept<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new(DEFAULT_ENTRIES)
    }
}

impl<K, V> Kept<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Cache::new(max_entries),
        }
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
        let kept = Kept::<&str, Option<u32>>::new(16);
        assert!(kept.get(AT_3, "left-pad").is_none());
        kept.keep(AT_3, "left-pad", Some(2));
        assert_eq!(kept.get(AT_3, "left-pad"), Some(Some(2)));
        let moved = Listing {
            revision: 4,
            ..AT_3
        };
        assert!(kept.get(moved, "left-pad").is_none());
        let other_owner = Listing {
            owner_id: 2,
            ..AT_3
        };
        assert!(kept.get(other_owner, "left-pad").is_none());
    }

    // Guards absent values (a package known not to exist): kept until the listing
    // moves, as creating the package moves it.
    #[test]
    fn an_absence_is_kept_until_the_listing_moves() {
        let kept = Kept::<&str, Option<u32>>::new(16);
        kept.keep(AT_3, "nope", None);
        assert_eq!(kept.get(AT_3, "nope"), Some(None));
        let moved = Listing {
            revision: 5,
            ..AT_3
        };
        assert!(kept.get(moved, "nope").is_none());
    }

    // Guards the bound: an unauthenticated caller asking for ever new names cannot
    // grow a node's memory past the configured count.
    #[test]
    fn the_count_of_kept_values_is_bounded() {
        let kept = Kept::<u32, u32>::new(100);
        for n in 0..10_000 {
            kept.keep(AT_3, n, n);
        }
        kept.entries.run_pending_tasks();
        assert!(kept.entries.entry_count() <= 100);
    }
}
