//! The key ring: the current signing key and every public key that may still verify a
//! live token, refreshed from the store so that a rotation by the CLI (or another node)
//! is picked up within [`KEY_REFRESH`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use latchkey_core::crypto::SystemSecrets;
use latchkey_core::jose::{SigningAlg, SigningKey, VerifyingKeys, generate_private_key, new_kid};
use latchkey_store::{Store, StoredKey};

use crate::context::StartError;

/// How often keys are reloaded from the store.
pub const KEY_REFRESH: Duration = Duration::from_secs(1);

/// One consistent view of the keys.
pub struct KeySnapshot {
    /// Signs new tokens.
    pub signer: Arc<SigningKey>,
    /// Verifies tokens: every key still published.
    pub verifying: VerifyingKeys,
    /// The published JWK Set document.
    pub jwks: serde_json::Value,
}

/// The key ring.
pub struct KeyRing {
    current: RwLock<Arc<KeySnapshot>>,
}

impl KeyRing {
    /// Load the keys, creating the first one (or a new one when `alg` changed).
    pub async fn load(
        store: &dyn Store,
        secrets: &SystemSecrets,
        alg: SigningAlg,
        max_ttl: Duration,
        now: i64,
    ) -> Result<Self, StartError> {
        let keys = store.signing_keys().await?;
        let has_signer = keys.iter().any(|k| k.retired_at.is_none() && k.alg == alg.as_str());
        if !has_signer {
            rotate(store, secrets, alg, now).await?;
        }
        let snapshot = build(store, secrets, max_ttl, now, None).await?;
        Ok(Self { current: RwLock::new(Arc::new(snapshot)) })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<KeySnapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reload from the store, reusing the parsed signer when it has not changed.
    pub async fn refresh(
        &self,
        store: &dyn Store,
        secrets: &SystemSecrets,
        max_ttl: Duration,
        now: i64,
    ) -> Result<(), StartError> {
        let old = self.snapshot();
        let snapshot = build(store, secrets, max_ttl, now, Some(old.signer.clone())).await?;
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        Ok(())
    }
}

/// Generate a key for `alg`, seal it, and make it the signer.
pub async fn rotate(
    store: &dyn Store,
    secrets: &SystemSecrets,
    alg: SigningAlg,
    now: i64,
) -> Result<String, StartError> {
    let kid = new_kid();
    let der = generate_private_key(alg).map_err(|e| StartError::Keys(e.to_string()))?;
    let key = SigningKey::from_pkcs8(&kid, alg, der.expose()).map_err(|e| StartError::Keys(e.to_string()))?;
    let stored = StoredKey {
        kid: kid.clone(),
        alg: alg.as_str().into(),
        public_jwk: key.public_jwk().to_string(),
        private_key_sealed: secrets.seal(&kid, der.expose()),
        created_at: now,
        retired_at: None,
    };
    store.add_signing_key(&stored).await?;
    Ok(kid)
}

/// Whether a key is still published: current, or retired less than the longest
/// access-token lifetime ago, so every token it signed can still be verified.
pub fn is_published(key: &StoredKey, max_ttl: Duration, now: i64) -> bool {
    key.retired_at.is_none_or(|r| r + max_ttl.as_secs() as i64 + 60 > now)
}

async fn build(
    store: &dyn Store,
    secrets: &SystemSecrets,
    max_ttl: Duration,
    now: i64,
    previous_signer: Option<Arc<SigningKey>>,
) -> Result<KeySnapshot, StartError> {
    let keys = store.signing_keys().await?;
    let current =
        keys.iter().find(|k| k.retired_at.is_none()).ok_or_else(|| StartError::Keys("no signing key".into()))?;
    let signer = match previous_signer {
        Some(s) if s.kid() == current.kid => s,
        _ => {
            let alg =
                SigningAlg::parse(&current.alg).ok_or_else(|| StartError::Keys("unknown key algorithm".into()))?;
            let der = secrets
                .open(&current.kid, &current.private_key_sealed)
                .map_err(|e| StartError::Keys(format!("cannot decrypt signing key {}: {e}", current.kid)))?;
            Arc::new(SigningKey::from_pkcs8(&current.kid, alg, &der).map_err(|e| StartError::Keys(e.to_string()))?)
        }
    };
    let published: Vec<serde_json::Value> = keys
        .iter()
        .filter(|k| is_published(k, max_ttl, now))
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    let verifying = VerifyingKeys::from_jwks(&published);
    Ok(KeySnapshot { signer, verifying, jwks: serde_json::json!({ "keys": published }) })
}
