//! Resource owners: their opaque subjects and argon2id password hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;

use crate::secret::random_bytes;

/// Prefix of user subjects. Client ids may not start with it, so `sub` never collides.
pub const USER_SUB_PREFIX: &str = "usr_";

/// A user as the protocol logic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Opaque, stable subject: never the username, never a client id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// E-mail, optional.
    pub email: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Created at; tokens issued before are not this user's (a re-created user with
    /// the same name gets a new subject anyway).
    pub created_at: i64,
}

/// A new user subject: `usr_` and 128 random bits.
pub fn new_user_id() -> String {
    format!("{USER_SUB_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>()))
}

/// Whether a `sub` names a user (rather than a client).
pub fn is_user_sub(sub: &str) -> bool {
    sub.starts_with(USER_SUB_PREFIX)
}

/// The user a token or grant issued at `issued_at` acts for: the subject's user as it is
/// now, if it still exists and existed then. A user deleted and re-created under the same
/// subject is not the same resource owner.
pub fn owner_since(user: Option<User>, issued_at: i64) -> Option<User> {
    user.filter(|u| u.created_at <= issued_at)
}

/// Usernames: 1-64 printable ASCII characters, no spaces.
pub fn is_valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_graphic())
}

/// argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1).
fn argon2() -> Argon2<'static> {
    #[allow(clippy::expect_used)] // constant, valid parameters
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password (slow by design: run it off the async executor).
pub fn hash_password(password: &str) -> String {
    let salt_bytes = random_bytes::<16>();
    #[allow(clippy::expect_used)] // 16 bytes is a valid salt length
    let salt = SaltString::encode_b64(&salt_bytes).expect("salt");
    #[allow(clippy::expect_used)] // only fails on invalid parameters, which are constant
    argon2().hash_password(password.as_bytes(), &salt).expect("argon2 hash").to_string()
}

/// Verify a password against a PHC string, in constant time for a given hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => argon2().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// Reusable argon2 memory for one verifying thread. Allocating 19 MiB per verification
/// makes glibc's malloc keep a growing pile of freed blocks (hundreds of MiB under load);
/// reusing one block per thread keeps memory flat.
pub struct PasswordWorkspace {
    blocks: Vec<Block>,
}

impl Default for PasswordWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordWorkspace {
    /// An empty workspace; memory is allocated on first use and then kept.
    pub fn new() -> Self {
        Self { blocks: Vec::new() }
    }

    /// Verify `password` against a PHC string, like [`verify_password`], in this memory.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else { return false };
        let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else { return false };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else { return false };
        let version = hash.version.and_then(|v| Version::try_from(v).ok()).unwrap_or(Version::V0x13);
        let Ok(params) = Params::try_from(&hash) else { return false };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
        let needed = params.block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        let ran = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            &mut self.blocks[..needed],
        );
        ran.is_ok() && crate::secret::digest_eq(&out, expected.as_bytes())
    }
}

/// The hash checked when a username is unknown, so that an unknown user costs the same
/// time as a wrong password (no user enumeration by timing). It is the argon2id hash,
/// with our parameters, of 16 random bytes that were thrown away: no password matches it,
/// and the server need not spend 19 MiB and tens of milliseconds making one at start.
pub fn dummy_password_hash() -> String {
    "$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2hrZXktZHVtbXk$Hz1jxOqCnM6nqzWaSaiWjCkeQZdVz2RzrpZGhPtZkOc".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_acts_for_its_user_only_while_that_user_exists_since_it_was_issued() {
        let user = |created_at| User {
            id: "usr_a".into(),
            username: "a".into(),
            email: None,
            password_hash: String::new(),
            created_at,
        };
        assert_eq!(owner_since(None, 10), None, "deleted");
        assert_eq!(owner_since(Some(user(10)), 10), Some(user(10)), "created in the same second");
        assert_eq!(owner_since(Some(user(5)), 10), Some(user(5)));
        assert_eq!(owner_since(Some(user(11)), 10), None, "created after the token: not its owner");
    }

    #[test]
    fn password_hash_round_trip_with_owasp_argon2id() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_workspace_verifies_exactly_like_the_allocating_verifier() {
        let h = hash_password("correct horse");
        let mut w = PasswordWorkspace::new();
        for (pw, phc) in [("correct horse", h.as_str()), ("wrong", h.as_str()), ("x", "not a hash")] {
            assert_eq!(w.verify(pw, phc), verify_password(pw, phc), "{pw}");
        }
        assert!(w.verify("correct horse", &h), "reused memory still verifies");
    }

    #[test]
    fn the_dummy_hash_costs_a_real_verification() {
        let dummy = dummy_password_hash();
        let ours = hash_password("x");
        assert_eq!(PasswordHash::new(&dummy).unwrap().params, PasswordHash::new(&ours).unwrap().params);
        assert!(!verify_password("", &dummy));
    }

    #[test]
    fn user_subjects_are_opaque_and_namespaced() {
        let a = new_user_id();
        assert!(is_user_sub(&a) && a != new_user_id());
        assert!(!crate::client::is_valid_client_id(&a));
    }
}
