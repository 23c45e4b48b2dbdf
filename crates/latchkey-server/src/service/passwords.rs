//! Password verification: argon2id off the async executor on a bounded pool, the same
//! cost for unknown users, and per-username / per-IP throttling with back-off
//! (security checklist #1). Limits are per node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_core::user::{PasswordWorkspace, User, dummy_password_hash};
use latchkey_core::{ErrorCode, OAuthError};

use crate::config::{LoginLimits, ThrottleResponse};

/// Threads that verify passwords (each argon2id run takes 19 MiB and tens of ms). A
/// fixed pool, each thread reusing one argon2 memory block, keeps memory flat: with an
/// allocation per verification glibc's malloc held 250-650 MiB under 50 concurrent logins.
const HASH_THREADS: usize = 2;

type Job = (String, String, tokio::sync::oneshot::Sender<bool>);

/// A fixed set of threads running argon2 verifications in turn.
struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl HashPool {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(1024);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..HASH_THREADS {
            let rx = rx.clone();
            let _ = std::thread::Builder::new().name(format!("latchkey-argon2-{i}")).spawn(move || {
                let mut workspace = PasswordWorkspace::new();
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok((password, hash, reply)) = job else { return };
                    let _ = reply.send(workspace.verify(&password, &hash));
                }
            });
        }
        Self { jobs: tx }
    }

    async fn verify(&self, password: String, hash: String) -> Option<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A full queue means an overload: refuse rather than queue without bound.
        self.jobs.try_send((password, hash, tx)).ok()?;
        rx.await.ok()
    }
}
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
    pool: HashPool,
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
        Self { limits, pool: HashPool::new(), dummy: dummy_password_hash(), failures: Mutex::default() }
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
        let ok = self.pool.verify(password.to_owned(), hash).await.ok_or_else(|| Refused {
            error: OAuthError::unavailable("too many password checks are queued; retry later"),
            retry_after: Some(1),
        })?;
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
