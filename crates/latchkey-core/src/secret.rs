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

/// Random bytes are drawn from aws-lc's DRBG this many at a time per thread: a draw
/// costs about 2,400 instructions whatever its size up to a few hundred bytes (its key
/// schedule and reseed checks; `bench/instructions.py`), and an opaque token took two,
/// a rotation four. Bytes handed out are zeroed in the pool; those not yet handed out
/// are no more exposed than the DRBG's own state in the same memory, which determines
/// them as well.
const POOL: usize = 512;

struct Pool {
    bytes: [u8; POOL],
    next: usize,
}

thread_local! {
    static POOL_BYTES: std::cell::RefCell<Pool> = const { std::cell::RefCell::new(Pool { bytes: [0; POOL], next: POOL }) };
}

/// Fill `buf` from aws-lc's DRBG.
fn fill(buf: &mut [u8]) {
    // aws-lc's RNG only fails if the OS entropy source is broken; nothing sane can
    // continue then, and returning predictable bytes would be worse than aborting.
    #[allow(clippy::expect_used)]
    rand::fill(buf).expect("system random number generator failed");
}

/// `N` random bytes from the system CSPRNG (aws-lc's DRBG, through a per-thread pool).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if N > POOL / 4 {
        fill(&mut out);
        return out;
    }
    POOL_BYTES.with_borrow_mut(|pool| {
        if POOL - pool.next < N {
            fill(&mut pool.bytes);
            pool.next = 0;
        }
        let taken = &mut pool.bytes[pool.next..pool.next + N];
        out.copy_from_slice(taken);
        taken.fill(0);
        pool.next += N;
    });
    out
}

/// A random URL-safe string with 256 bits of entropy, after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 43);
    s.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(random_bytes::<32>(), &mut s);
    s
}

/// Length of a [`new_token`] body: base64url of 8 time bytes and 32 random bytes.
const KEYED_BODY_LEN: usize = 54;

/// A new token that is stored and looked up by [`token_key`] (codes, authorization
/// requests, sessions): `prefix` and the base64url of 8 bytes of issue time
/// (microseconds, big-endian) followed by 256 random bits.
///
/// The time leads the stored key, so a new row lands next to the newest rows of its
/// B-tree instead of on a random page: an insert dirties the same few pages as the
/// last one, and issuance stays flat as the store grows (docs/performance.md). The
/// time is not secret (`expires_in` tells as much); the 256 random bits are. `prefix`
/// is empty or six characters (`lk_at_`), which [`token_key`] relies on.
pub fn new_token(prefix: &str) -> String {
    keyed_token(prefix, time_prefix()).0
}

/// A new token like [`new_token`] whose key leads with the time it expires
/// (`expires_at`, Unix seconds, then the microseconds of the current second, so that
/// tokens of one lifetime still sort by issue time): opaque access and refresh tokens.
///
/// Their rows are then purged by key, a range at the start of the primary key
/// ([`expired_key_bound`]), which spares each token table an index on `expires_at`,
/// one B-tree insert and one dirty page per token fewer (migration 5). Tokens of one
/// lifetime still land next to each other, as with [`new_token`].
///
/// Returns the token and its key (what [`token_key`] gives for it, without decoding it
/// again).
pub fn new_expiring_token(prefix: &str, expires_at: i64) -> (String, Vec<u8>) {
    let lead = micros_of(expires_at).saturating_add(now_micros() % 1_000_000);
    keyed_token(prefix, lead.to_be_bytes())
}

/// Every key of a [`new_expiring_token`] that expired before `now` (Unix seconds) sorts
/// below this, and every other one at or above it: the purge deletes `token_hash <
/// expired_key_bound(now)` (with `expires_at < now` also checked, for rows keyed
/// otherwise).
pub fn expired_key_bound(now: i64) -> Vec<u8> {
    micros_of(now).to_be_bytes().to_vec()
}

/// Unix seconds as microseconds, the unit of a key's leading time (0 before 1970).
fn micros_of(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or(0).saturating_mul(1_000_000)
}

fn keyed_token(prefix: &str, lead: [u8; 8]) -> (String, Vec<u8>) {
    debug_assert!(prefix.is_empty() || prefix.len() == 6);
    let mut body = [0u8; 40];
    body[..8].copy_from_slice(&lead);
    body[8..].copy_from_slice(&random_bytes::<32>());
    let mut s = String::with_capacity(prefix.len() + KEYED_BODY_LEN);
    s.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(body, &mut s);
    let key = stored_key(&lead, digest::digest(&digest::SHA256, s.as_bytes()).as_ref());
    (s, key)
}

/// A keyed token's stored key: its leading time, then the SHA-256 of the whole token.
fn stored_key(lead: &[u8], hash: &[u8]) -> Vec<u8> {
    [lead, hash].concat()
}

/// The current time in microseconds, big-endian: leads ids that should sort by age.
pub(crate) fn time_prefix() -> [u8; 8] {
    now_micros().to_be_bytes()
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The key a token is stored under: the 8 time bytes of a [`new_token`] (or
/// [`new_expiring_token`]) followed by
/// the SHA-256 of the whole token; for any other string (tokens issued before keyed
/// tokens, CSRF tokens, garbage) the SHA-256 alone. With 256 random bits a fast
/// unsalted hash is not brute-forceable, and it allows indexed look-up; the token
/// itself is never stored.
pub fn token_key(token: &str) -> Vec<u8> {
    let hash = digest::digest(&digest::SHA256, token.as_bytes());
    let body = match token.len() {
        KEYED_BODY_LEN => Some(token),
        n if n == KEYED_BODY_LEN + 6 => token.get(6..),
        _ => None,
    };
    let mut time = [0u8; 40];
    match body.map(|b| URL_SAFE_NO_PAD.decode_slice(b, &mut time)) {
        Some(Ok(40)) => stored_key(&time[..8], hash.as_ref()),
        _ => hash.as_ref().to_vec(),
    }
}

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
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
    fn pooled_random_bytes_are_distinct_across_refills_and_zeroed_once_taken() {
        // 17 does not divide the pool: draws straddle every refill.
        let draws: std::collections::HashSet<[u8; 17]> = (0..2_000).map(|_| random_bytes::<17>()).collect();
        assert_eq!(draws.len(), 2_000);
        let big: std::collections::HashSet<[u8; 200]> = (0..50).map(|_| random_bytes::<200>()).collect();
        assert_eq!(big.len(), 50, "draws larger than a quarter of the pool go to the DRBG directly");
        let _ = random_bytes::<32>();
        POOL_BYTES.with_borrow(|pool| {
            assert!(pool.next >= 32);
            assert!(pool.bytes[..pool.next].iter().all(|b| *b == 0), "bytes handed out stay in the pool");
            assert!(pool.bytes[pool.next..].iter().any(|b| *b != 0));
        });
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
    fn keyed_tokens_sort_by_issue_time_and_hash_the_whole_token() {
        let a = new_token("lk_at_");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_token("lk_at_");
        assert_eq!(a.len(), 6 + KEYED_BODY_LEN);
        let (ka, kb) = (token_key(&a), token_key(&b));
        assert_eq!(ka.len(), 40);
        assert!(ka < kb, "a later token sorts after an earlier one");
        assert_eq!(&ka[8..], digest::digest(&digest::SHA256, a.as_bytes()).as_ref());
        // One changed character changes the hash part.
        let mut tampered = a.clone().into_bytes();
        tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
        assert_ne!(token_key(&String::from_utf8(tampered).unwrap())[8..], ka[8..]);
        assert_eq!(token_key(&new_token("")).len(), 40);
    }

    #[test]
    fn expiring_tokens_sort_by_expiry_and_fall_below_the_bound_once_expired() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let (later, kl) = new_expiring_token("lk_rt_", now + 3600);
        let (sooner, ks) = new_expiring_token("lk_at_", now + 60);
        assert_eq!((token_key(&later), token_key(&sooner)), (kl.clone(), ks.clone()), "the key returned is the key");
        assert_eq!((kl.len(), ks.len()), (40, 40));
        assert!(ks < kl, "the token that expires first sorts first, whatever was issued first");
        assert_eq!(&ks[8..], digest::digest(&digest::SHA256, sooner.as_bytes()).as_ref());
        // Below the bound exactly when expired: expires_at < now.
        assert!(ks.as_slice() >= expired_key_bound(now + 60).as_slice(), "expires_at = now is not yet expired");
        assert!(ks.as_slice() < expired_key_bound(now + 61).as_slice());
        assert!(kl.as_slice() >= expired_key_bound(now + 3600).as_slice());
        assert!(kl.as_slice() < expired_key_bound(now + 3601).as_slice());
        // A key of issue time (codes, sessions) is below the bound of the next second.
        assert!(token_key(&new_token("")).as_slice() < expired_key_bound(now + 2).as_slice());
    }

    #[test]
    fn other_strings_are_keyed_by_their_hash_alone() {
        for s in [random_token("lk_at_"), random_token(""), "x".repeat(60), "lk_at_!".repeat(10), String::new()] {
            assert_eq!(token_key(&s), digest::digest(&digest::SHA256, s.as_bytes()).as_ref(), "{s}");
        }
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
