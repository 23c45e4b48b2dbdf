//! Rows as the rest of latchkey sees them.

use latchkey_core::token::{AccessTokenClaims, Audience};

/// A stored opaque access token. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Token id.
    pub jti: String,
    /// The grant this token belongs to; revoking a grant revokes its family.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// Scope, space-delimited.
    pub scope: String,
    /// Audiences.
    pub audience: Vec<String>,
    /// Issued at.
    pub issued_at: i64,
    /// Expires at.
    pub expires_at: i64,
    /// Revoked at, if revoked.
    pub revoked_at: Option<i64>,
}

impl AccessTokenRecord {
    /// The claims this token stands for.
    pub fn claims(&self, issuer: &str) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: self.subject.clone(),
            aud: Audience::from_list(self.audience.clone()),
            exp: self.expires_at,
            iat: self.issued_at,
            nbf: None,
            jti: self.jti.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            username: None,
        }
    }
}

/// A signing key as stored: public JWK in clear, private key sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// Public JWK, JSON.
    pub public_jwk: String,
    /// PKCS#8 private key sealed under a system secret.
    pub private_key_sealed: Vec<u8>,
    /// Created at.
    pub created_at: i64,
    /// When a newer key replaced it as the signer.
    pub retired_at: Option<i64>,
}
