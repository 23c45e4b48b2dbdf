//! Registered clients (RFC 6749 §2) and their identifiers.

use serde::{Deserialize, Serialize};

use crate::scope::ScopeSet;
use crate::token::TokenFormat;

/// Longest accepted client id. Longer ids are refused before any look-up.
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// Whether `id` is a well-formed client id: RFC 6749 Appendix A.1 `*VSCHAR`,
/// non-empty, at most [`MAX_CLIENT_ID_LEN`] bytes, and outside the namespace of user
/// subjects (`usr_…`), so a client's `sub` can never equal a user's (RFC 9700 §4.15.1).
pub fn is_valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !id.starts_with(crate::user::USER_SUB_PREFIX)
}

/// Grant types a client may be registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.1 with PKCE (RFC 7636).
    AuthorizationCode,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.3; RFC 9700 §2.4 says MUST NOT, so only clients registered for it.
    Password,
}

impl GrantType {
    /// Every grant type latchkey implements.
    pub const ALL: &'static [GrantType] =
        &[GrantType::AuthorizationCode, GrantType::ClientCredentials, GrantType::RefreshToken, GrantType::Password];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
        }
    }

    /// Parse the registered name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client (native app, SPA): no secret; PKCE is then always required.
    None,
}

impl AuthMethod {
    /// Every supported method.
    pub const ALL: &'static [AuthMethod] =
        &[AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost, AuthMethod::None];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Parse the registered name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

/// A registered client, as the protocol logic sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client id.
    pub id: String,
    /// Keyed hash of the client secret (see `SecretHasher`).
    pub secret_hash: Vec<u8>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The most it may ever be granted.
    pub scopes: ScopeSet,
    /// How it authenticates.
    pub auth_method: AuthMethod,
    /// Access-token format; `None` means the server default.
    pub token_format: Option<TokenFormat>,
    /// Resource indicators it may request (RFC 8707); the first is the default `aud`.
    pub audiences: Vec<String>,
    /// May introspect any token (resource servers).
    pub introspect: bool,
    /// Access-token lifetime in seconds; `None` means the server default.
    pub access_token_ttl: Option<i64>,
    /// When the client was (re)created; tokens issued before are not its tokens.
    pub created_at: i64,
    /// Name shown on the consent page.
    pub name: Option<String>,
    /// Registered redirect URIs, matched exactly (RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    /// First-party client: no consent page.
    pub skip_consent: bool,
    /// Whether PKCE is required; always true for public clients.
    pub require_pkce: bool,
}

impl Client {
    /// Whether the client is registered for `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// A public client (no secret).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// PKCE is required for every public client, and for confidential ones unless
    /// their registration exempts them.
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.is_public()
    }

    /// The name to show people.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_rules() {
        assert!(is_valid_client_id("svc"));
        assert!(is_valid_client_id("my client:1"));
        assert!(!is_valid_client_id(""));
        assert!(!is_valid_client_id(&"a".repeat(256)));
        assert!(!is_valid_client_id("nul\0"));
        assert!(!is_valid_client_id("caf\u{e9}"));
        assert!(!is_valid_client_id("usr_123"), "the user-subject namespace is reserved");
    }

    #[test]
    fn names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(*g));
        }
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(*m));
        }
        assert_eq!(GrantType::parse("implicit"), None);
    }
}
