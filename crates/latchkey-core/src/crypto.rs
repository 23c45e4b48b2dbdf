//! Keys derived from the system secrets, and the AEAD that protects private signing keys
//! at rest. A system secret is never used directly: HKDF-SHA-256 derives one key per
//! purpose, so a key for one use can never be confused with another.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hkdf};

use crate::secret::{Secret, random_bytes};

const ENVELOPE_VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 8;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under a system secret that is not configured.
    UnknownSecret,
    /// Truncated, tampered, or of an unknown version.
    Corrupt,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownSecret => {
                f.write_str("sealed with a system secret that is not configured (secrets.system must list it)")
            }
            Self::Corrupt => f.write_str("sealed data is corrupt or was tampered with"),
        }
    }
}

impl std::error::Error for OpenError {}

/// The configured system secrets. The first one seals, all of them open.
#[derive(Clone)]
pub struct SystemSecrets {
    secrets: Vec<Secret<String>>,
}

impl std::fmt::Debug for SystemSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SystemSecrets({} configured)", self.secrets.len())
    }
}

impl SystemSecrets {
    /// Wrap the secrets; the caller ensures the list is non-empty.
    pub fn new(secrets: Vec<String>) -> Self {
        Self { secrets: secrets.into_iter().map(Secret::new).collect() }
    }

    /// A 32-byte key for `purpose` derived from each secret, first one first.
    pub fn derive(&self, purpose: &str) -> Vec<[u8; 32]> {
        self.secrets.iter().map(|s| derive_key(s.expose(), purpose)).collect()
    }

    /// Encrypt `plaintext` under the first secret; `aad` binds it to its context
    /// (for a private key: its `kid`), so a sealed value cannot be moved to another row.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let Some(first) = self.secrets.first() else { return Vec::new() };
        let key = aead_key(first.expose());
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        // Sealing with a valid 32-byte key and a fresh nonce cannot fail.
        #[allow(clippy::expect_used)]
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad.as_bytes()), &mut in_out)
            .expect("AES-256-GCM seal");
        let mut out = Vec::with_capacity(1 + FINGERPRINT_LEN + NONCE_LEN + in_out.len());
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&fingerprint(first.expose()));
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&in_out);
        out
    }

    /// Decrypt a value sealed by [`SystemSecrets::seal`] under any configured secret.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let header = 1 + FINGERPRINT_LEN + NONCE_LEN;
        if sealed.len() < header || sealed[0] != ENVELOPE_VERSION {
            return Err(OpenError::Corrupt);
        }
        let fp = &sealed[1..1 + FINGERPRINT_LEN];
        let secret = self.secrets.iter().find(|s| fingerprint(s.expose()) == fp).ok_or(OpenError::UnknownSecret)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1 + FINGERPRINT_LEN..header]);
        let mut in_out = sealed[header..].to_vec();
        let plain = aead_key(secret.expose())
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut in_out)
            .map_err(|_| OpenError::Corrupt)?;
        Ok(plain.to_vec())
    }
}

fn derive_key(secret: &str, purpose: &str) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"latchkey system secret v1").extract(secret.as_bytes());
    let info = [purpose.as_bytes()];
    let mut out = [0u8; 32];
    // Expanding 32 bytes from SHA-256 HKDF is within its limits and cannot fail.
    #[allow(clippy::expect_used)]
    prk.expand(&info, hkdf::HKDF_SHA256).and_then(|okm| okm.fill(&mut out)).expect("HKDF expand of 32 bytes");
    out
}

fn aead_key(secret: &str) -> LessSafeKey {
    let key = derive_key(secret, "latchkey private-key encryption v1");
    #[allow(clippy::expect_used)]
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("32-byte AES key"))
}

/// Public identifier of a secret: lets `open` pick the right key without trial decryption.
fn fingerprint(secret: &str) -> [u8; FINGERPRINT_LEN] {
    let key = derive_key(secret, "latchkey secret fingerprint v1");
    let d = digest::digest(&digest::SHA256, &key);
    let mut fp = [0u8; FINGERPRINT_LEN];
    fp.copy_from_slice(&d.as_ref()[..FINGERPRINT_LEN]);
    fp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_after_rotation_and_not_elsewhere() {
        let old = SystemSecrets::new(vec!["old-secret-old-secret".into()]);
        let sealed = old.seal("kid-1", b"private key bytes");
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        let rotated = SystemSecrets::new(vec!["new-secret-new-secret".into(), "old-secret-old-secret".into()]);
        assert_eq!(rotated.open("kid-1", &sealed).unwrap(), b"private key bytes");
        assert_eq!(rotated.open("kid-2", &sealed).unwrap_err(), OpenError::Corrupt);
        let other = SystemSecrets::new(vec!["new-secret-new-secret".into()]);
        assert_eq!(other.open("kid-1", &sealed).unwrap_err(), OpenError::UnknownSecret);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(rotated.open("kid-1", &tampered).unwrap_err(), OpenError::Corrupt);
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let s = SystemSecrets::new(vec!["a-system-secret-value".into()]);
        assert_ne!(s.derive("one"), s.derive("two"));
    }
}
