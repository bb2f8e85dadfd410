//! Failed-login windows, per user name and per client address.
//!
//! A key's window opens at its first failure and lasts `window`; once it holds `max`
//! failures, attempts for that key are refused until it closes. This node's windows
//! are a bounded map: an attacker inventing names or addresses evicts entries (the
//! least used go first), it does not grow memory. Nodes that share a PostgreSQL
//! database count in the database instead ([`super::shared`]), with the same keys.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// Most keys remembered at once (each well under 200 bytes).
const CAPACITY: u64 = 50_000;

/// Longest user-name prefix used as a key: longer names add nothing but memory.
const NAME_KEY_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    User(String),
    V4(u32),
    /// The /64 an IPv6 address lies in: one host's usual share.
    V6(u64),
}

impl Key {
    /// The key as the shared table spells it.
    pub(super) fn text(&self) -> String {
        match self {
            Key::User(name) => format!("user:{name}"),
            Key::V4(bits) => format!("v4:{bits:08x}"),
            Key::V6(bits) => format!("v6:{bits:016x}"),
        }
    }
}

/// The limits, shared by this node's map and the database's windows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) per_user: u32,
    pub(super) per_address: u32,
    pub(super) window: Duration,
}

impl Limits {
    /// The keys an attempt counts against, with their limits (disabled ones left out).
    pub(super) fn keys(
        &self,
        user: &str,
        peer: Option<IpAddr>,
    ) -> impl Iterator<Item = (Key, u32)> {
        let name: String = user
            .chars()
            .flat_map(char::to_lowercase)
            .scan(0, |len, c| {
                *len += c.len_utf8();
                (*len <= NAME_KEY_LEN).then_some(c)
            })
            .collect();
        let user = (self.per_user > 0).then_some((Key::User(name), self.per_user));
        let address = peer
            .filter(|_| self.per_address > 0)
            .map(|ip| (address_key(ip), self.per_address));
        user.into_iter().chain(address)
    }
}

/// Whole seconds left of `left`, at least 1: what `Retry-After` says.
pub(super) fn retry_after(left: Duration) -> u64 {
    (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1)
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    failures: u32,
}

pub struct Limiter {
    windows: Cache<Key, Arc<Mutex<Window>>>,
    limits: Limits,
}

impl Limiter {
    /// `per_user`/`per_address` failures allowed per `window`; 0 disables that limit.
    pub fn new(per_user: u32, per_address: u32, window: Duration) -> Self {
        Self {
            windows: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(window)
                .build(),
            limits: Limits {
                per_user,
                per_address,
                window,
            },
        }
    }

    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// `Err(seconds)` until the caller may try again, if `user` or `peer` used up its
    /// failures.
    pub fn check(&self, user: &str, peer: Option<IpAddr>) -> Result<(), u64> {
        let wait = self
            .limits
            .keys(user, peer)
            .filter_map(|(key, max)| {
                let window = self.windows.get(&key)?;
                let window = window.lock().unwrap_or_else(|p| p.into_inner());
                (window.failures >= max).then(|| {
                    retry_after(self.limits.window.saturating_sub(window.opened.elapsed()))
                })
            })
            .max();
        match wait {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against `user` and `peer`.
    pub fn fail(&self, user: &str, peer: Option<IpAddr>) {
        for (key, _) in self.limits.keys(user, peer) {
            let window = self.windows.get_with(key, || {
                Arc::new(Mutex::new(Window {
                    opened: Instant::now(),
                    failures: 0,
                }))
            });
            let mut window = window.lock().unwrap_or_else(|p| p.into_inner());
            window.failures = window.failures.saturating_add(1);
        }
    }
}

fn address_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::V4(v4.to_bits()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::V4(v4.to_bits()),
            None => Key::V6((v6.to_bits() >> 64) as u64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(300);

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_user_is_refused_after_its_failures_until_the_window_closes() {
        let limiter = Limiter::new(3, 0, WINDOW);
        for _ in 0..3 {
            assert_eq!(limiter.check("Admin", ip("10.0.0.1")), Ok(()));
            limiter.fail("Admin", ip("10.0.0.1"));
        }
        // Names are compared without case, and the address does not matter.
        assert_eq!(limiter.check("admin", ip("10.0.0.2")), Err(1));
        assert_eq!(limiter.check("bob", ip("10.0.0.1")), Ok(()));
        std::thread::sleep(WINDOW + Duration::from_millis(50));
        assert_eq!(limiter.check("admin", None), Ok(()));
    }

    #[test]
    fn an_address_is_refused_whatever_names_it_tries() {
        let limiter = Limiter::new(100, 2, Duration::from_secs(60));
        limiter.fail("a", ip("192.0.2.7"));
        limiter.fail("b", ip("192.0.2.7"));
        let wait = limiter.check("c", ip("192.0.2.7")).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
        assert_eq!(limiter.check("c", ip("192.0.2.8")), Ok(()));
        assert_eq!(limiter.check("c", None), Ok(()));
        // An IPv6 host is one key for its whole /64.
        limiter.fail("a", ip("2001:db8::1"));
        limiter.fail("a", ip("2001:db8::ffff:2"));
        assert!(limiter.check("z", ip("2001:db8::3")).is_err());
        assert_eq!(limiter.check("z", ip("2001:db8:0:1::3")), Ok(()));
    }

    #[test]
    fn invented_keys_do_not_grow_the_map_without_bound() {
        let limiter = Limiter::new(1, 1, Duration::from_secs(60));
        for i in 0..(CAPACITY + 20_000) {
            limiter.fail(&format!("user{i}"), None);
        }
        limiter.windows.run_pending_tasks();
        assert!(limiter.windows.entry_count() <= CAPACITY);
        // Long names share one key: their first 64 bytes.
        let long = "x".repeat(500);
        limiter.fail(&long, None);
        assert!(limiter.check(&format!("{long}y"), None).is_err());
    }

    #[test]
    fn zero_disables_a_limit() {
        let limiter = Limiter::new(0, 0, WINDOW);
        for _ in 0..10 {
            limiter.fail("admin", ip("10.0.0.1"));
        }
        assert_eq!(limiter.check("admin", ip("10.0.0.1")), Ok(()));
    }
}
