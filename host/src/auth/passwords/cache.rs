//! Passwords verified lately, so clients that send Basic credentials with every request
//! (Maven, pip) pay argon2 once per `ttl`, not per request.
//!
//! An entry is keyed by an HMAC of the name and password under a key that lives only
//! in this process, so the map holds nothing an attacker could test guesses against.
//! It remembers the password hash it was checked against and counts only while the
//! user's row still has that hash: a changed password (even by the CLI in another
//! process) or a deleted user misses at once.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use moka::sync::Cache;
use sha2::Sha256;

const CAPACITY: u64 = 10_000;

type Key = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    user_id: i64,
    phc: String,
}

pub struct Verified {
    /// `None` when `ttl` is zero: nothing is cached.
    entries: Option<Cache<Key, Arc<Entry>>>,
    secret: [u8; 32],
}

impl Verified {
    pub fn new(ttl: Duration) -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the OS random source is available");
        Self {
            entries: (!ttl.is_zero()).then(|| {
                Cache::builder()
                    .max_capacity(CAPACITY)
                    .time_to_live(ttl)
                    .build()
            }),
            secret,
        }
    }

    pub fn key(&self, user: &str, password: &str) -> Key {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        // The length first, so that ("ab", "c") and ("a", "bc") differ.
        mac.update(&(user.len() as u64).to_le_bytes());
        mac.update(user.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `key` was verified for this user while the row held `phc`.
    pub fn holds(&self, key: &Key, user_id: i64, phc: &str) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        match entries.get(key) {
            Some(entry) if entry.user_id == user_id && entry.phc == phc => true,
            Some(_) => {
                entries.invalidate(key);
                false
            }
            None => false,
        }
    }

    pub fn remember(&self, key: Key, user_id: i64, phc: &str) {
        if let Some(entries) = &self.entries {
            let phc = phc.to_string();
            entries.insert(key, Arc::new(Entry { user_id, phc }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_same_credentials_user_and_hash() {
        let cache = Verified::new(Duration::from_secs(60));
        let key = cache.key("alice", "pw");
        assert!(!cache.holds(&key, 1, "$hash1"));
        cache.remember(key, 1, "$hash1");
        assert!(cache.holds(&key, 1, "$hash1"));
        assert!(!cache.holds(&cache.key("alice", "pw2"), 1, "$hash1"));
        assert_ne!(cache.key("ab", "c"), cache.key("a", "bc"));
        // Another user id (deleted and recreated) or a new hash misses, and forgets.
        assert!(!cache.holds(&key, 2, "$hash1"));
        assert!(!cache.holds(&key, 1, "$hash1"));
        cache.remember(key, 1, "$hash1");
        assert!(!cache.holds(&key, 1, "$hash2"));
        assert!(!cache.holds(&key, 1, "$hash1"));
    }

    #[test]
    fn keys_depend_on_the_process_secret_and_entries_expire() {
        let (a, b) = (
            Verified::new(Duration::from_millis(200)),
            Verified::new(Duration::ZERO),
        );
        assert_ne!(a.key("alice", "pw"), b.key("alice", "pw"));
        let key = a.key("alice", "pw");
        a.remember(key, 1, "$h");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!a.holds(&key, 1, "$h"));
        // A zero lifetime caches nothing.
        let key = b.key("alice", "pw");
        b.remember(key, 1, "$h");
        assert!(!b.holds(&key, 1, "$h"));
    }
}
