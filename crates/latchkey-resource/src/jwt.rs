//! Local verification of RFC 9068 JWTs against the authorization server's JWKS, with
//! refetch on an unknown `kid` rate-limited so that bad tokens cannot make us hammer the
//! server (RFC 8725 §3.10: `kid` is only a key into our own map).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use latchkey_core::jose::{Expectations, JwtRejection, VerifyingKeys};
use tokio::sync::Mutex;

use crate::introspection::now;
use crate::{AuthError, TokenClaims};

struct Snapshot {
    keys: Arc<VerifyingKeys>,
    fetched_at: Instant,
}

/// The cached JWKS.
pub(crate) struct Jwks {
    current: RwLock<Option<Snapshot>>,
    /// Serializes fetches, and remembers when the last one was tried.
    last_attempt: Mutex<Option<Instant>>,
    min_refresh: Duration,
    max_age: Duration,
    fetches: std::sync::atomic::AtomicU64,
}

impl Jwks {
    pub(crate) fn new(min_refresh: Duration, max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            last_attempt: Mutex::new(None),
            min_refresh,
            max_age,
            fetches: Default::default(),
        }
    }

    fn snapshot(&self) -> Option<(Arc<VerifyingKeys>, Instant)> {
        let g = self.current.read().ok()?;
        g.as_ref().map(|s| (s.keys.clone(), s.fetched_at))
    }

    /// Fetch unless another fetch happened within `min_interval`.
    async fn refresh(&self, http: &reqwest::Client, uri: &str, min_interval: Duration) -> Result<(), AuthError> {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|t| t.elapsed() < min_interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let res = http.get(uri).send().await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(AuthError::Unavailable(format!("JWKS answered {}", res.status())));
        }
        let doc: serde_json::Value = res.json().await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let keys = doc.get("keys").and_then(|k| k.as_array()).cloned().unwrap_or_default();
        let keys = Arc::new(VerifyingKeys::from_jwks(&keys));
        if let Ok(mut g) = self.current.write() {
            *g = Some(Snapshot { keys, fetched_at: Instant::now() });
        }
        Ok(())
    }

    pub(crate) async fn verify(
        &self,
        http: &reqwest::Client,
        uri: &str,
        token: &str,
        issuer: &str,
        audience: &str,
        leeway: Duration,
    ) -> Result<TokenClaims, AuthError> {
        match self.snapshot() {
            None => self.refresh(http, uri, Duration::ZERO).await?,
            Some((_, at)) if at.elapsed() > self.max_age => {
                if let Err(e) = self.refresh(http, uri, self.min_refresh).await {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys");
                }
            }
            Some(_) => {}
        }
        let want = Expectations { issuer, audience: Some(audience), now: now(), leeway: leeway.as_secs() as i64 };
        let keys = self.snapshot().map(|s| s.0).ok_or_else(|| AuthError::Unavailable("no JWKS".into()))?;
        let result = match keys.verify(token, &want) {
            Err(JwtRejection::UnknownKey) => {
                self.refresh(http, uri, self.min_refresh).await?;
                let keys = self.snapshot().map(|s| s.0).ok_or_else(|| AuthError::Unavailable("no JWKS".into()))?;
                keys.verify(token, &want)
            }
            other => other,
        };
        let c = result.map_err(|why| AuthError::InvalidToken(why.to_string()))?;
        Ok(TokenClaims {
            sub: c.sub,
            client_id: c.client_id,
            scope: c.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            aud: c.aud.to_list(),
            exp: c.exp,
            iat: Some(c.iat),
            iss: Some(c.iss),
            jti: Some(c.jti),
            username: c.username,
        })
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }
}
