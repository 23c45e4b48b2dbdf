//! Secrets: a redacting wrapper, random generation, and the hashes stored instead of
//! secrets. Nothing secret is compared with `==`; digests are compared in constant time.

use std::fmt;

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// A secret value. `Debug` and `Display` print `***`; there is deliberately no
/// `PartialEq`, so a secret cannot be compared by accident in variable time.
///
/// ```compile_fail
/// use latchkey_core::secret::Secret;
/// let a = Secret::new("x".to_string());
/// let b = Secret::new("x".to_string());
/// let _ = a == b; // does not compile: compare digests with `digest_eq` instead
/// ```
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call only where it is used (hashing, signing, showing once).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `n` random bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // aws-lc's RNG only fails if the OS entropy source is broken; nothing sane can
    // continue then, and returning predictable bytes would be worse than aborting.
    #[allow(clippy::expect_used)]
    rand::fill(&mut buf).expect("system random number generator failed");
    buf
}

/// A random URL-safe string with 256 bits of entropy, after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 43);
    s.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(random_bytes::<32>(), &mut s);
    s
}

/// SHA-256 of a high-entropy secret (opaque tokens, codes). With 256 random bits a
/// fast unsalted hash is not brute-forceable, and it allows indexed look-up.
pub fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

/// Constant-time equality of two digests (`subtle`).
pub fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Hashes client secrets with HMAC-SHA-256 under keys derived from the system secrets
/// (a "pepper"): a stolen database alone does not allow guessing even a short,
/// human-chosen secret offline, while verification stays cheap enough to run on
/// every token request (unlike a password hash; see `docs/design.md`).
#[derive(Clone)]
pub struct SecretHasher {
    /// First key hashes; all verify, so system secrets can be rotated.
    keys: Vec<hmac::Key>,
}

impl SecretHasher {
    /// Keys derived from the system secrets, first one first.
    pub fn new(derived_keys: Vec<[u8; 32]>) -> Self {
        Self { keys: derived_keys.iter().map(|k| hmac::Key::new(hmac::HMAC_SHA256, k)).collect() }
    }

    /// The stored hash of a client's secret, bound to its client id.
    pub fn hash(&self, client_id: &str, secret: &str) -> Vec<u8> {
        match self.keys.first() {
            Some(key) => Self::mac(key, client_id, secret),
            None => Vec::new(),
        }
    }

    /// Whether `secret` matches `stored`, under any of the system secrets.
    pub fn verify(&self, client_id: &str, secret: &str, stored: &[u8]) -> bool {
        let mut ok = false;
        for key in &self.keys {
            // No early exit: the time taken does not depend on which key matched.
            ok |= digest_eq(&Self::mac(key, client_id, secret), stored);
        }
        ok
    }

    fn mac(key: &hmac::Key, client_id: &str, secret: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(&(client_id.len() as u64).to_be_bytes());
        ctx.update(client_id.as_bytes());
        ctx.update(secret.as_bytes());
        ctx.sign().as_ref().to_vec()
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHasher({} keys)", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }

    #[test]
    fn random_tokens_are_prefixed_and_distinct() {
        let a = random_token("lk_at_");
        let b = random_token("lk_at_");
        assert!(a.starts_with("lk_at_"));
        assert_eq!(a.len(), 6 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn client_secret_verifies_under_rotated_keys_only_with_right_id() {
        let old = SecretHasher::new(vec![[1; 32]]);
        let stored = old.hash("svc", "s3cret-s3cret-s3cret");
        let rotated = SecretHasher::new(vec![[2; 32], [1; 32]]);
        assert!(rotated.verify("svc", "s3cret-s3cret-s3cret", &stored));
        assert!(!rotated.verify("svc", "s3cret-s3cret-s3creT", &stored));
        assert!(!rotated.verify("svc2", "s3cret-s3cret-s3cret", &stored));
        assert!(!SecretHasher::new(vec![[2; 32]]).verify("svc", "s3cret-s3cret-s3cret", &stored));
    }
}
