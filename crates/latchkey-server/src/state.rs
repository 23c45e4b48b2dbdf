//! Shared state of a running server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey_core::client::Client;
use latchkey_core::grant::Policy;
use latchkey_store::{Store, StoreResult};

use crate::context::Context;
use crate::keys::KeyRing;
use crate::metrics::Metrics;

/// How long a client read from the store is trusted. Bounds how late a change made by
/// the admin CLI (or another node) is seen: well under the 2 s promised.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(1);
/// Most cached clients; the cache is emptied past it (a flood of random ids cannot
/// grow memory without bound).
const CLIENT_CACHE_MAX: usize = 10_000;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Store, secrets, config.
    pub ctx: Context,
    /// The issuer identifier, exact.
    pub issuer: Arc<str>,
    /// Signing and verifying keys.
    pub keys: Arc<KeyRing>,
    /// Clients by id, briefly cached.
    pub clients: Arc<ClientCache>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Password checks and throttling.
    pub passwords: Arc<crate::service::passwords::PasswordGuard>,
    /// Login and consent pages.
    pub pages: Arc<crate::pages::Pages>,
}

impl AppState {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.ctx.store.as_ref()
    }

    /// Server-wide policy for grant decisions.
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            issuer: &self.issuer,
            access_token_ttl: self.ctx.config.access_token_ttl.as_secs() as i64,
            access_token_format: self.ctx.config.access_token_format,
        }
    }

    /// A client by id, through the cache.
    pub async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        self.clients.get(self.store(), id).await
    }

    /// The endpoint URL for `path`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// A small time-bounded cache of client look-ups (hits and misses).
#[derive(Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<String, (Instant, Option<Client>)>>,
}

impl ClientCache {
    async fn get(&self, store: &dyn Store, id: &str) -> StoreResult<Option<Client>> {
        if let Ok(map) = self.entries.lock()
            && let Some((at, c)) = map.get(id)
            && at.elapsed() < CLIENT_CACHE_TTL
        {
            return Ok(c.clone());
        }
        let fresh = store.client(id).await?;
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CLIENT_CACHE_MAX {
                map.clear();
            }
            map.insert(id.to_owned(), (Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }
}
