//! Shared state of a running server.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_core::client::Client;
use latchkey_core::grant::Policy;
use latchkey_core::token::AccessTokenClaims;
use latchkey_store::{Store, StoreResult};

use crate::cache::ShortCache;
use crate::context::Context;
use crate::keys::KeyRing;
use crate::metrics::Metrics;

/// How long a client read from the store is trusted. Bounds how late a change made by
/// the admin CLI (or another node) is seen: well under the 2 s promised.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(1);
/// Most cached clients (a flood of random ids cannot grow memory without bound).
const CLIENT_CACHE_MAX: usize = 10_000;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Everything a handler can reach. Handlers and middleware take it by value, several
/// times per request: one shared pointer makes each of those one reference count, not a
/// copy of the context (its secret hasher holds HMAC keys) and a count per field.
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl AppState {
    /// Share `state` between handlers.
    pub fn new(state: State) -> Self {
        Self(Arc::new(state))
    }
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// What [`AppState`] shares; its parts need no pointers of their own.
pub struct State {
    /// Store, secrets, config.
    pub ctx: Context,
    /// The issuer identifier, exact.
    pub issuer: String,
    /// Signing and verifying keys.
    pub keys: KeyRing,
    /// Clients by id, briefly cached.
    pub clients: ClientCache,
    /// Live access tokens by the SHA-256 of their value, briefly cached.
    pub tokens: TokenCache,
    /// Counters.
    pub metrics: Metrics,
    /// Password checks and throttling.
    pub passwords: crate::service::passwords::PasswordGuard,
    /// Login and consent pages.
    pub pages: crate::pages::Pages,
}

impl State {
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

    /// A client by id, through the cache (shared, not copied: a token request reads it only).
    pub async fn client(&self, id: &str) -> StoreResult<Option<Arc<Client>>> {
        cached_client(&self.clients, self.store(), id).await
    }

    /// Revoke a grant's family. This and the other revocations go through `AppState`
    /// so that the token cache is emptied after each: this node never answers from a
    /// read made before a revocation it made. Emptied even when the store fails, as
    /// the write may have committed all the same.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> StoreResult<()> {
        let result = self.store().revoke_grant(grant_id, now).await;
        self.tokens.invalidate_all();
        result
    }

    /// Revoke one opaque access token; false if unknown or revoked already.
    pub async fn revoke_access_token(&self, token_hash: &[u8], now: i64) -> StoreResult<bool> {
        let result = self.store().revoke_access_token(token_hash, now).await;
        self.tokens.invalidate_all();
        result
    }

    /// Remember a revoked JWT until it expires.
    pub async fn revoke_jti(&self, jti: &str, client_id: &str, expires_at: i64) -> StoreResult<()> {
        let result = self.store().revoke_jti(jti, client_id, expires_at).await;
        self.tokens.invalidate_all();
        result
    }

    /// The endpoint URL for `path`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// Client look-ups (hits and misses), trusted for [`CLIENT_CACHE_TTL`].
pub type ClientCache = ShortCache<String, Option<Arc<Client>>>;

/// Most cached tokens: about 300 bytes each, so at most a few MiB.
const TOKEN_CACHE_MAX: usize = 20_000;

/// Resolved live access tokens (both formats) by the SHA-256 of the token, trusted for
/// `[tokens] introspection_cache_ttl` (docs/deployment.md): repeated introspections of
/// one token cost neither a database round trip nor a signature check.
pub type TokenCache = ShortCache<[u8; 32], AccessTokenClaims>;

/// A new, empty token cache whose entries live `ttl` (zero: off).
pub fn token_cache(ttl: Duration) -> TokenCache {
    ShortCache::new(ttl, TOKEN_CACHE_MAX)
}

/// A new, empty client cache.
pub fn client_cache() -> ClientCache {
    ShortCache::new(CLIENT_CACHE_TTL, CLIENT_CACHE_MAX)
}

async fn cached_client(cache: &ClientCache, store: &dyn Store, id: &str) -> StoreResult<Option<Arc<Client>>> {
    let generation = match cache.get(id) {
        Ok(c) => return Ok(c),
        Err(g) => g,
    };
    let fresh = store.client(id).await?.map(Arc::new);
    cache.insert(id.to_owned(), fresh.clone(), generation);
    Ok(fresh)
}
