//! Failure counting for logins and password checks, kept in the database
//! (`login_throttle`) so every replica applies the same limits.
//!
//! A bucket counts the failures of one thing — a (login, address) pair, a
//! login over all addresses, an address over all logins, an account's wrong
//! current passwords — and forgets them once a whole window passes without a
//! failure. What a full bucket does depends on its [`Limit`]: a lock refuses
//! every attempt until the window has passed since the last failure; a
//! slowdown only makes each attempt wait a delay after the last failure, a
//! delay that doubles with every further failure up to a ceiling, so it never
//! locks anyone out for good.

use crate::config::Config;
use crate::error::ApiError;
use crate::store::throttle as store;
use diesel::PgConnection;
use uuid::Uuid;

/// Longest part of a login kept in a bucket name: no account's login is
/// longer, so a longer one names nobody.
const MAX_LOGIN_CHARS: usize = 64;

/// The buckets a login attempt counts in.
#[derive(Debug, Clone)]
pub struct LoginBuckets {
    /// This login from this address: locks after a few failures.
    pub pair: String,
    /// This login from every address: slows down, never locks.
    pub login: String,
    /// Every login from this address: locks after many failures.
    pub address: String,
}

impl LoginBuckets {
    /// The buckets of a (normalised) login tried from a client address.
    pub fn new(login: &str, address: &str) -> Self {
        let login: String = login.chars().take(MAX_LOGIN_CHARS).collect();
        Self {
            // An address holds no space, so the pair's name is unambiguous.
            pair: format!("pair:{address} {login}"),
            login: format!("login:{login}"),
            address: format!("address:{address}"),
        }
    }

    /// The buckets of an account's second-factor codes tried from a client
    /// address: counted as a login's password is, under names of their own,
    /// and with the same count over the address.
    pub fn second_factor(account_id: Uuid, address: &str) -> Self {
        Self {
            pair: format!("code-pair:{address} {account_id}"),
            login: format!("code:{account_id}"),
            address: format!("address:{address}"),
        }
    }

    /// Each bucket with the limit the configuration sets for it.
    pub fn limits(&self, config: &Config) -> [(&str, Limit); 3] {
        [
            (
                self.pair.as_str(),
                Limit::Lock {
                    max: config.login_max_failures,
                },
            ),
            (
                self.address.as_str(),
                Limit::Lock {
                    max: config.login_max_failures_per_address,
                },
            ),
            (
                self.login.as_str(),
                Limit::Slow {
                    after: config.login_slowdown_after,
                    first_seconds: config.login_slowdown_seconds,
                    max_seconds: config.login_slowdown_max_seconds,
                },
            ),
        ]
    }

    /// Every bucket's name.
    pub fn all(&self) -> [&str; 3] {
        [&self.pair, &self.login, &self.address]
    }
}

/// The bucket of the wrong current passwords an account gave.
pub fn password_bucket(account_id: Uuid) -> String {
    format!("password:{account_id}")
}

/// What a bucket does once it holds enough failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// From this many failures on, every attempt is refused until a window
    /// has passed since the last failure.
    Lock {
        /// Failures that lock.
        max: i32,
    },
    /// From `after` failures on, an attempt must wait `first_seconds` after
    /// the last failure, twice as long after each further failure, at most
    /// `max_seconds`.
    Slow {
        /// Failures before the slowdown starts.
        after: i32,
        /// The first delay, in seconds.
        first_seconds: i64,
        /// The longest delay, in seconds.
        max_seconds: i64,
    },
}

impl Limit {
    /// Seconds still to wait after `elapsed` seconds since the last of
    /// `failures` failures, or `None` when an attempt may go ahead.
    fn wait(self, failures: i32, elapsed: f64, window: i64) -> Option<f64> {
        let window = window as f64;
        if elapsed >= window {
            return None;
        }
        let until = match self {
            Limit::Lock { max } => (failures >= max).then_some(window)?,
            Limit::Slow {
                after,
                first_seconds,
                max_seconds,
            } => {
                if failures < after {
                    return None;
                }
                let doublings = u32::try_from(failures - after).unwrap_or(0).min(40);
                let delay = first_seconds.saturating_mul(1_i64 << doublings);
                delay.min(max_seconds) as f64
            }
        };
        (elapsed < until).then_some(until - elapsed)
    }
}

/// The longest any of these buckets makes an attempt wait, in whole seconds
/// (at least 1), or `None` when none of them holds it back. One query.
pub fn wait(
    conn: &mut PgConnection,
    buckets: &[(&str, Limit)],
    window: i64,
) -> Result<Option<u64>, ApiError> {
    let names: Vec<&str> = buckets.iter().map(|(name, _)| *name).collect();
    let longest = store::failures(conn, &names)?
        .iter()
        .filter_map(|row| {
            let (_, limit) = buckets.iter().find(|(name, _)| *name == row.bucket)?;
            limit.wait(row.failures, row.elapsed, window)
        })
        .fold(None, |longest: Option<f64>, wait| {
            Some(longest.map_or(wait, |l| l.max(wait)))
        });
    Ok(longest.map(|seconds| (seconds.ceil() as u64).max(1)))
}

/// Counts one failure in each bucket; a bucket quiet for a whole window
/// starts again from one.
pub fn record_failure(
    conn: &mut PgConnection,
    buckets: &[&str],
    window: i64,
) -> Result<(), ApiError> {
    store::record_failure(conn, buckets, window)
}

/// Forgets the failures of these buckets (after a success).
pub fn clear(conn: &mut PgConnection, buckets: &[&str]) -> Result<(), ApiError> {
    store::clear(conn, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_wait_as_documented() {
        let lock = Limit::Lock { max: 5 };
        let slow = Limit::Slow {
            after: 20,
            first_seconds: 2,
            max_seconds: 300,
        };
        let window = 900;
        // (limit, failures, seconds since the last one, expected wait)
        let cases = [
            (lock, 4, 0.0, None),
            (lock, 5, 0.0, Some(900.0)),
            (lock, 5, 899.5, Some(0.5)),
            (lock, 5, 900.0, None),
            (lock, 50, 100.0, Some(800.0)),
            (slow, 19, 0.0, None),
            (slow, 20, 0.0, Some(2.0)),
            (slow, 20, 2.0, None),
            (slow, 21, 1.0, Some(3.0)),
            (slow, 27, 0.0, Some(256.0)),
            (slow, 28, 0.0, Some(300.0)),
            (slow, i32::MAX, 0.0, Some(300.0)),
            (slow, i32::MAX, 300.0, None),
            (slow, 25, 900.0, None),
        ];
        for (limit, failures, elapsed, expected) in cases {
            assert_eq!(
                limit.wait(failures, elapsed, window),
                expected,
                "{limit:?} after {failures} failures, {elapsed} s"
            );
        }
    }

    #[test]
    fn login_buckets_keep_apart_what_they_count() {
        let a = LoginBuckets::new("clerk", "203.0.113.1");
        let b = LoginBuckets::new("clerk", "2001:db8::1");
        assert_ne!(a.pair, b.pair);
        assert_eq!(a.login, b.login);
        assert_ne!(a.address, b.address);
        let long = "x".repeat(10_000);
        assert!(LoginBuckets::new(&long, "203.0.113.1").pair.len() < 100);
        let id = Uuid::from_u128(7);
        let codes = LoginBuckets::second_factor(id, "203.0.113.1");
        let named = LoginBuckets::new(&id.to_string(), "203.0.113.1");
        assert_ne!(codes.pair, named.pair);
        assert_ne!(codes.login, named.login);
        assert_eq!(codes.address, a.address);
    }
}
