//! Package rows by name, kept per node while the owner's listing revision holds.
//!
//! A package index needs the package's row (its id and revision key the rendering).
//! Every change to a package of an owner and format moves that pair's listing revision
//! (database triggers, `db::accounts` for moved packages), and stage 1 reads the
//! mount owner's listing revision together with the owner. So a row read after that
//! revision was seen is current for as long as a later request sees the same revision:
//! on PostgreSQL that saves every index request its second round trip, and a publish
//! on another node is seen by the next request, since the revision lives in the shared
//! database. An absent package is kept too: creating it moves the revision.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::packages::PackageRow;

/// Rows kept before the map is emptied and refilled (bounded, like the index cache).
const MAX_ROWS: usize = 16_384;

/// An owner's listing revision of the mount's format, as stage 1 read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub owner_id: i64,
    pub revision: i64,
}

/// Which package a row is: owner, format and lower-cased name (as `packages::find`
/// looks it up).
type Name = (i64, String, String);

#[derive(Default)]
pub struct PackageRows {
    rows: Mutex<HashMap<Name, (i64, Option<PackageRow>)>>,
}

impl PackageRows {
    /// The row of `name` kept at `listing`'s revision: `Some(None)` for a package
    /// known to be absent, `None` when nothing current is kept.
    pub fn get(&self, listing: Listing, format: &str, name: &str) -> Option<Option<PackageRow>> {
        let key = (listing.owner_id, format.to_string(), name.to_lowercase());
        match lock(&self.rows).get(&key) {
            Some((revision, row)) if *revision == listing.revision => Some(row.clone()),
            _ => None,
        }
    }

    /// Keeps `row`, read after `listing` was seen: if the listing changed in between,
    /// the row is newer than its revision says, and the next request (which sees the
    /// newer revision) reads it again; it is never older.
    pub fn keep(&self, listing: Listing, format: &str, name: &str, row: Option<PackageRow>) {
        let key = (listing.owner_id, format.to_string(), name.to_lowercase());
        let mut rows = lock(&self.rows);
        if rows.len() >= MAX_ROWS {
            rows.clear();
        }
        rows.insert(key, (listing.revision, row));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(revision: i64) -> PackageRow {
        PackageRow {
            id: 7,
            owner_id: 1,
            format: "npm".into(),
            name: "Left-Pad".into(),
            created: 0,
            modified: 0,
            revision,
        }
    }

    const AT_3: Listing = Listing {
        owner_id: 1,
        revision: 3,
    };

    // Guards the validity rule: a row is served only at the listing revision it was
    // kept at, under its owner and format, whatever the case of the name asked for.
    #[test]
    fn a_row_is_current_only_at_its_listing_revision() {
        let rows = PackageRows::default();
        assert!(rows.get(AT_3, "npm", "left-pad").is_none());
        rows.keep(AT_3, "npm", "Left-Pad", Some(row(2)));
        let kept = rows.get(AT_3, "npm", "LEFT-PAD").unwrap().unwrap();
        assert_eq!(kept.revision, 2);
        let moved = Listing {
            revision: 4,
            ..AT_3
        };
        assert!(rows.get(moved, "npm", "left-pad").is_none());
        let other_owner = Listing {
            owner_id: 2,
            ..AT_3
        };
        assert!(rows.get(other_owner, "npm", "left-pad").is_none());
        assert!(rows.get(AT_3, "maven", "left-pad").is_none());
    }

    // Guards absent packages: known absent at a revision, looked up again once the
    // listing moves (as creating the package moves it).
    #[test]
    fn an_absent_package_is_kept_until_the_listing_moves() {
        let rows = PackageRows::default();
        rows.keep(AT_3, "npm", "nope", None);
        assert_eq!(
            rows.get(AT_3, "npm", "nope").map(|r| r.is_none()),
            Some(true)
        );
        let moved = Listing {
            revision: 5,
            ..AT_3
        };
        assert!(rows.get(moved, "npm", "nope").is_none());
    }
}
