//! Token introspection (RFC 7662) with a bounded cache that coalesces concurrent
//! look-ups of the same token.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use latchkey_core::form::encode_component;
use latchkey_core::secret::token_key;
use moka::Expiry;
use moka::future::Cache;
use serde::Deserialize;

use crate::config::ResourceConfig;
use crate::{AuthError, TokenClaims};

#[derive(Clone)]
struct Cached {
    claims: Option<Arc<TokenClaims>>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<Vec<u8>, Cached> for PerEntryTtl {
    fn expire_after_create(&self, _key: &Vec<u8>, value: &Cached, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Introspects tokens through a cache keyed by the SHA-256 of the token (tokens are not
/// kept in memory in clear).
pub(crate) struct Introspector {
    cache: Cache<Vec<u8>, Cached>,
    authorization: String,
    cache_ttl: Duration,
    negative_ttl: Duration,
}

#[derive(Deserialize)]
struct Response {
    active: bool,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub(crate) fn audiences(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

impl Introspector {
    pub(crate) fn new(config: &ResourceConfig) -> Option<Self> {
        let (id, secret) = (config.client_id.as_ref()?, config.client_secret.as_ref()?);
        use base64::Engine;
        let raw = format!("{}:{}", encode_component(id), encode_component(secret));
        let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        let cache = Cache::builder().max_capacity(config.cache_capacity).expire_after(PerEntryTtl).build();
        Some(Self { cache, authorization, cache_ttl: config.cache_ttl, negative_ttl: config.negative_cache_ttl })
    }

    /// Claims of an active token, `None` if inactive.
    pub(crate) async fn introspect(
        &self,
        http: &reqwest::Client,
        endpoint: &str,
        token: &str,
    ) -> Result<Option<Arc<TokenClaims>>, AuthError> {
        let key = token_key(token);
        let cached =
            self.cache.try_get_with(key, self.call(http, endpoint, token)).await.map_err(|e| AuthError::clone(&e))?;
        // An entry may outlive the token by less than a second (TTL granularity).
        Ok(cached.claims.filter(|c| c.exp > now()))
    }

    async fn call(&self, http: &reqwest::Client, endpoint: &str, token: &str) -> Result<Cached, AuthError> {
        let unavailable = |e: String| {
            tracing::warn!(error = %e, "introspection failed");
            AuthError::Unavailable(e)
        };
        let res = http
            .post(endpoint)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !res.status().is_success() {
            // 401 here means our own credentials are wrong: an operator problem, not the caller's.
            return Err(unavailable(format!("introspection answered {}", res.status())));
        }
        let body: Response = res.json().await.map_err(|e| unavailable(e.to_string()))?;
        let now = now();
        let claims = match (body.active, body.exp) {
            (true, Some(exp)) if exp > now => Some(Arc::new(TokenClaims {
                sub: body.sub.unwrap_or_default(),
                client_id: body.client_id.unwrap_or_default(),
                scope: body.scope.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                aud: audiences(body.aud.as_ref()),
                exp,
                iat: body.iat,
                iss: body.iss,
                jti: body.jti,
                username: body.username,
            })),
            _ => None,
        };
        let ttl = match &claims {
            Some(c) => self.cache_ttl.min(Duration::from_secs((c.exp - now).max(0) as u64)),
            None => self.negative_ttl,
        };
        Ok(Cached { claims, ttl })
    }

    pub(crate) async fn entries(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}
