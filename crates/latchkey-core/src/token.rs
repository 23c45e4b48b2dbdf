//! Access tokens: the claims both formats carry, the opaque format, and the token
//! endpoint's success response (RFC 6749 §5.1).

use serde::{Deserialize, Serialize};

/// Prefix of opaque access tokens; lets secret scanners recognise a leaked token.
pub const OPAQUE_ACCESS_PREFIX: &str = "lk_at_";

/// How an access token is represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// Self-contained signed JWT (RFC 9068).
    Jwt,
    /// Random reference token; the authorization data stays in the store.
    Opaque,
}

impl TokenFormat {
    /// Parse `jwt` or `opaque`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jwt" => Some(Self::Jwt),
            "opaque" => Some(Self::Opaque),
            _ => None,
        }
    }

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

/// `aud`: one audience as a string, several as an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// From a list: a single element becomes a string.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 { Self::One(list.remove(0)) } else { Self::Many(list) }
    }

    /// Whether `aud` contains `value`.
    pub fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(a) => a == value,
            Self::Many(v) => v.iter().any(|a| a == value),
        }
    }

    /// The audiences as a list.
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Self::One(a) => vec![a.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// Claims of an access token (RFC 9068 §2.2), shared by both formats: a JWT carries
/// them signed, an opaque token's row stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the client id for client credentials, an opaque user id otherwise.
    pub sub: String,
    /// Audience: resource indicators or the issuer.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before (we never set it; accepted from other issuers by the RS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id; also the key for remembering a revoked JWT.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scope, space-delimited.
    pub scope: String,
    /// Username of the resource owner, when there is one (introspection only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The grant (token family) a JWT issued for a user belongs to, a private claim:
    /// introspection refuses the token once its grant is revoked, so revoking a family
    /// writes one row instead of one per token (docs/design.md). Not a secret, and not
    /// told by introspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// A new opaque access token that expires at `expires_at`, and its key (which leads with
/// that time; see [`crate::secret::new_expiring_token`]).
pub fn new_opaque_access_token(expires_at: i64) -> (String, Vec<u8>) {
    crate::secret::new_expiring_token(OPAQUE_ACCESS_PREFIX, expires_at)
}

/// A new token id: 8 bytes of time (microseconds, big-endian) and 128 random bits.
/// The id is also the grant id of a client-credentials token, an indexed column: with
/// the time first, ids issued together share a prefix and land on the same index
/// pages (see [`crate::secret::new_token`]).
pub fn new_jti() -> String {
    use base64::Engine;
    let mut id = [0u8; 24];
    id[..8].copy_from_slice(&crate::secret::time_prefix());
    id[8..].copy_from_slice(&crate::secret::random_bytes::<16>());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// What a presented token string looks like; decides which look-up to try first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenShape {
    /// Carries our opaque access-token prefix.
    OpaqueAccess,
    /// Three dot-separated parts: maybe a JWT.
    Jwt,
    /// Neither: cannot be one of ours.
    Unknown,
}

/// Classify a presented token by its shape alone.
pub fn token_shape(token: &str) -> TokenShape {
    if token.starts_with(OPAQUE_ACCESS_PREFIX) {
        TokenShape::OpaqueAccess
    } else if token.bytes().filter(|b| *b == b'.').count() == 2 {
        TokenShape::Jwt
    } else {
        TokenShape::Unknown
    }
}

/// The token endpoint's success response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted scope (always sent, even when equal to the request: RFC 6749 §5.1 allows it).
    pub scope: String,
    /// Refresh token, for grants that issue one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_audience_serializes_as_string_many_as_array() {
        let one = serde_json::to_value(Audience::from_list(vec!["a".into()])).unwrap();
        assert_eq!(one, serde_json::json!("a"));
        let many = serde_json::to_value(Audience::from_list(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(many, serde_json::json!(["a", "b"]));
    }

    #[test]
    fn shapes() {
        assert_eq!(token_shape(&new_opaque_access_token(1_800_000_000).0), TokenShape::OpaqueAccess);
        assert_eq!(token_shape("a.b.c"), TokenShape::Jwt);
        assert_eq!(token_shape("whatever"), TokenShape::Unknown);
    }
}
