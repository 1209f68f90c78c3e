//! Login rate limits: growing delays per user name and per source address.
//!
//! After `free` failed attempts of one user name (or from one address), the
//! next one must wait `first_delay`, and every further failure doubles the
//! wait up to `max_delay`. An attempt during a wait is refused at once (429
//! with `Retry-After`), right password or not, without hashing anything,
//! and counts as one more failure: a flood keeps the door shut and costs
//! the server a map lookup per request. A success forgets the user name's
//! failures (not the address's: one valid account must not reset the
//! address's count while it guesses another's password).
//!
//! Memory is bounded: each ledger holds at most [`MAX_ENTRIES`] keys; an
//! entry is forgotten once idle for twice the longest delay, and when full
//! the stalest entry gives way.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Keys kept per ledger (user names, addresses).
pub const MAX_ENTRIES: usize = 100_000;

/// How delays grow; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub free_per_user: u32,
    pub free_per_address: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Policy {
    pub fn from_config(auth: &crate::config::AuthConfig) -> Policy {
        Policy {
            free_per_user: auth.free_failures_per_user,
            free_per_address: auth.free_failures_per_address,
            first_delay: Duration::from_secs(auth.first_delay_secs),
            max_delay: Duration::from_secs(auth.max_delay_secs),
        }
    }

    /// The wait after `failures` failures when `free` are allowed: the
    /// `free`-th failure starts the first wait.
    fn delay(&self, failures: u32, free: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(free)?;
        let doublings = beyond.min(30);
        let delay = self.first_delay.saturating_mul(1u32 << doublings);
        Some(delay.min(self.max_delay))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

#[derive(Debug, Default)]
struct Ledger {
    entries: HashMap<String, Entry>,
}

impl Ledger {
    /// The time left of this key's wait, if it has one.
    fn locked(&self, key: &str, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure; returns the wait it starts, if any.
    fn fail(&mut self, key: &str, free: u32, policy: &Policy, now: Instant) -> Option<Duration> {
        let forget = policy.max_delay.saturating_mul(2);
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_ENTRIES {
            self.make_room(now, forget);
        }
        let entry = self.entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            locked_until: None,
            last: now,
        });
        if now.saturating_duration_since(entry.last) > forget {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        let delay = policy.delay(entry.failures, free)?;
        entry.locked_until = Some(now + delay);
        Some(delay)
    }

    fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops idle entries; if none is idle, the stalest one.
    fn make_room(&mut self, now: Instant, forget: Duration) {
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last) <= forget);
        if self.entries.len() >= MAX_ENTRIES {
            let stalest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone());
            if let Some(key) = stalest {
                self.entries.remove(&key);
            }
        }
    }
}

/// The two ledgers behind `POST /api/v1/login` (and the current-password
/// check of a password change).
#[derive(Debug)]
pub struct LoginGuard {
    policy: Policy,
    users: Mutex<Ledger>,
    addresses: Mutex<Ledger>,
}

/// Why an attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl LoginGuard {
    pub fn new(policy: Policy) -> LoginGuard {
        LoginGuard {
            policy,
            users: Mutex::new(Ledger::default()),
            addresses: Mutex::new(Ledger::default()),
        }
    }

    /// `Err` while the user name or the address must wait; the refused
    /// attempt counts as a failure (so the wait grows).
    pub fn check(&self, user: &str, address: &str, now: Instant) -> Result<(), Refused> {
        let user_wait = self.users.lock().locked(user, now);
        let address_wait = self.addresses.lock().locked(address, now);
        if user_wait.is_none() && address_wait.is_none() {
            return Ok(());
        }
        let waits = self.failed(user, address, now);
        let retry_after = [user_wait, address_wait, waits]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.policy.first_delay);
        Err(Refused { retry_after })
    }

    /// Counts a failed attempt; returns the longest wait it starts, if any.
    pub fn failed(&self, user: &str, address: &str, now: Instant) -> Option<Duration> {
        let p = &self.policy;
        let user_wait = self.users.lock().fail(user, p.free_per_user, p, now);
        let address_wait = self
            .addresses
            .lock()
            .fail(address, p.free_per_address, p, now);
        user_wait.max(address_wait)
    }

    /// A right password: the user name's failures are forgotten.
    pub fn succeeded(&self, user: &str) {
        self.users.lock().forget(user);
    }
}

/// The ledger key of a source address: the IP (an IPv6 /64, which one
/// subscriber usually has whole), or `unknown`.
pub fn address_key(addr: Option<SocketAddr>) -> String {
    match addr.map(|a| a.ip()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            free_per_user: 3,
            free_per_address: 10,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = policy();
        let d = |n| p.delay(n, 3).map(|d| d.as_secs());
        assert_eq!(
            // The third failure (of three free ones) starts the first wait.
            (d(0), d(2), d(3), d(4), d(5), d(6), d(7), d(u32::MAX)),
            (
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(8),
                Some(8)
            )
        );
    }

    #[test]
    fn a_user_is_locked_after_free_failures_even_with_the_right_password() {
        let guard = LoginGuard::new(policy());
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(guard.check("alice", "a1", t0), Ok(()));
            assert_eq!(guard.failed("alice", "a1", t0), None);
        }
        assert_eq!(guard.check("alice", "a1", t0), Ok(()));
        assert_eq!(
            guard.failed("alice", "a1", t0),
            Some(Duration::from_secs(1))
        );
        // During the wait every attempt is refused and the wait grows.
        let mut last = Duration::ZERO;
        for _ in 0..6 {
            let refused = guard.check("alice", "a2", t0).expect_err("locked");
            assert!(refused.retry_after >= last);
            last = refused.retry_after;
        }
        assert_eq!(last, Duration::from_secs(8), "capped");
        // Another user from the same address is not locked (yet).
        assert_eq!(guard.check("bob", "a1", t0), Ok(()));
        // Once the wait is over, a right password gets through and resets.
        let later = t0 + Duration::from_secs(9);
        assert_eq!(guard.check("alice", "a1", later), Ok(()));
        guard.succeeded("alice");
        assert_eq!(guard.failed("alice", "a1", later), None);
    }

    #[test]
    fn an_address_is_locked_across_user_names() {
        let guard = LoginGuard::new(policy());
        let t0 = Instant::now();
        for i in 0..10 {
            let user = format!("user{i}");
            assert_eq!(guard.check(&user, "a1", t0), Ok(()));
            guard.failed(&user, "a1", t0);
        }
        assert!(guard.failed("another", "a1", t0).is_some());
        assert!(guard.check("fresh", "a1", t0).is_err());
        assert_eq!(guard.check("fresh", "a2", t0), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let guard = LoginGuard::new(policy());
        let t0 = Instant::now();
        for _ in 0..2 {
            guard.failed("alice", "a1", t0);
        }
        let much_later = t0 + Duration::from_secs(60);
        assert_eq!(guard.failed("alice", "a1", much_later), None);
    }

    #[test]
    fn ledgers_stay_bounded() {
        let p = policy();
        let mut ledger = Ledger::default();
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES + 10 {
            ledger.fail(&format!("k{i}"), 3, &p, t0);
        }
        assert!(ledger.entries.len() <= MAX_ENTRIES);
    }

    #[test]
    fn address_keys() {
        let v4: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8:1:2:3:4:5:6]:443".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:1".parse().unwrap();
        assert_eq!(address_key(Some(v4)), "192.0.2.7");
        assert_eq!(address_key(Some(v6)), "2001:db8:1:2::/64");
        assert_eq!(address_key(Some(mapped)), "192.0.2.7");
        assert_eq!(address_key(None), "unknown");
    }
}
