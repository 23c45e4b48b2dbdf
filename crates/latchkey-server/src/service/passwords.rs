//! Password verification: argon2id off the async executor on a bounded pool, the same
//! cost for unknown users, and per-username / per-IP throttling with back-off
//! (security checklist #1). Limits are per node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_core::user::{User, dummy_password_hash, verify_password};
use latchkey_core::{ErrorCode, OAuthError};
use tokio::sync::Semaphore;

use crate::config::{LoginLimits, ThrottleResponse};

/// Most concurrent argon2 verifications (each takes 19 MiB and tens of ms).
const MAX_CONCURRENT_HASHES: usize = 4;
/// Most tracked keys; the table is emptied past it (bounded memory under a flood).
const MAX_TRACKED: usize = 100_000;
/// Longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

#[derive(Default, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// Verifies passwords and throttles guessing.
pub struct PasswordGuard {
    limits: LoginLimits,
    pool: Arc<Semaphore>,
    dummy: String,
    failures: Mutex<HashMap<String, Failures>>,
}

/// A refused attempt: the error, and a Retry-After when throttled.
pub struct Refused {
    /// The OAuth error.
    pub error: OAuthError,
    /// Seconds to wait, when throttled.
    pub retry_after: Option<u64>,
}

impl PasswordGuard {
    /// A guard with `limits`.
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            pool: Arc::new(Semaphore::new(MAX_CONCURRENT_HASHES)),
            dummy: dummy_password_hash(),
            failures: Mutex::default(),
        }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> (String, Option<String>) {
        (format!("user:{username}"), ip.map(|ip| format!("ip:{ip}")))
    }

    fn locked(&self, key: &str) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let until = map.get(key)?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    fn throttled(&self, wait: Duration) -> Refused {
        let secs = wait.as_secs().max(1);
        let error = match self.limits.response {
            ThrottleResponse::TooManyRequests => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!("too many failed attempts; retry in {secs} s"),
            ),
            ThrottleResponse::InvalidGrant => {
                OAuthError::new(ErrorCode::InvalidGrant, format!("too many failed attempts; retry in {secs} s"))
            }
        };
        Refused { error, retry_after: Some(secs) }
    }

    fn record_failure(&self, key: &str, max: u32) {
        let Ok(mut map) = self.failures.lock() else { return };
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
        let f = map.entry(key.to_owned()).or_default();
        f.count += 1;
        if f.count >= max {
            // Back-off: the base lockout, doubled for every failure past the limit.
            let doublings = (f.count - max).min(10);
            let wait = (self.limits.lockout * 2u32.pow(doublings)).min(MAX_LOCKOUT);
            f.locked_until = Some(Instant::now() + wait);
        }
    }

    fn reset(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }

    /// Check `password` for `user` (`None`: unknown username). Throttled attempts are
    /// refused before any hashing, even with the right password.
    pub async fn verify(
        &self,
        username: &str,
        user: Option<&User>,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Refused> {
        let (user_key, ip_key) = Self::keys(username, ip);
        for key in std::iter::once(&user_key).chain(ip_key.as_ref()) {
            if let Some(wait) = self.locked(key) {
                return Err(self.throttled(wait));
            }
        }
        let hash = user.map(|u| u.password_hash.clone()).unwrap_or_else(|| self.dummy.clone());
        let password = password.to_owned();
        let ok = {
            let _permit = self.pool.acquire().await.map_err(|_| Refused {
                error: OAuthError::unavailable("password verification pool closed"),
                retry_after: None,
            })?;
            tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false)
        };
        if ok && user.is_some() {
            self.reset(&user_key);
            return Ok(());
        }
        self.record_failure(&user_key, self.limits.max_failures_per_user);
        if let Some(k) = &ip_key {
            self.record_failure(k, self.limits.max_failures_per_ip);
        }
        // One answer for an unknown user and a wrong password.
        Err(Refused {
            error: OAuthError::new(ErrorCode::InvalidGrant, "the username or password is incorrect"),
            retry_after: None,
        })
    }
}
