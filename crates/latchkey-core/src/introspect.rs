//! Token introspection (RFC 7662) and revocation (RFC 7009) rules.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::token::{AccessTokenClaims, Audience};

/// Whether `caller` may learn about a token issued to `token_client_id`.
/// Resource servers (`introspect = true`) see every token; other clients only their
/// own, so that a client cannot probe another client's tokens (RFC 7662 §4).
pub fn may_introspect(caller: &Client, token_client_id: &str) -> bool {
    caller.introspect || caller.id == token_client_id
}

/// RFC 7009 §2.1: a client may revoke only tokens issued to it.
pub fn may_revoke(caller: &Client, token_client_id: &str) -> bool {
    caller.id == token_client_id
}

/// Whether a token is live at `now`: not expired, and issued to the client as it
/// exists now (a deleted and re-created client does not inherit old tokens).
pub fn is_live(claims: &AccessTokenClaims, client: Option<&Client>, now: i64) -> bool {
    claims.exp > now && client.is_some_and(|c| c.id == claims.client_id && claims.iat >= c.created_at)
}

/// The introspection response (RFC 7662 §2.2). Inactive is exactly `{"active":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Resource owner's username, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            username: None,
            token_type: None,
            exp: None,
            iat: None,
            sub: None,
            aud: None,
            iss: None,
            jti: None,
        }
    }

    /// An active token's response.
    pub fn active(claims: AccessTokenClaims) -> Self {
        Self {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            username: claims.username,
            token_type: Some("Bearer".into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::AuthMethod;
    use crate::scope::ScopeSet;

    fn client(id: &str, introspect: bool, created_at: i64) -> Client {
        Client {
            id: id.into(),
            secret_hash: vec![],
            grant_types: vec![],
            scopes: ScopeSet::default(),
            auth_method: AuthMethod::ClientSecretBasic,
            token_format: None,
            audiences: vec![],
            introspect,
            access_token_ttl: None,
            created_at,
            ..Client::default()
        }
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "i".into(),
            sub: "a".into(),
            aud: Audience::One("x".into()),
            exp: 200,
            iat: 100,
            nbf: None,
            jti: "j".into(),
            client_id: "a".into(),
            scope: "s".into(),
            username: None,
            grant_id: None,
        }
    }

    #[test]
    fn inactive_is_exactly_active_false() {
        assert_eq!(serde_json::to_string(&Introspection::inactive()).unwrap(), r#"{"active":false}"#);
    }

    #[test]
    fn visibility_rules() {
        assert!(may_introspect(&client("rs", true, 0), "a"));
        assert!(may_introspect(&client("a", false, 0), "a"));
        assert!(!may_introspect(&client("b", false, 0), "a"));
        assert!(may_revoke(&client("a", false, 0), "a"));
        assert!(!may_revoke(&client("rs", true, 0), "a"));
    }

    #[test]
    fn liveness_needs_time_and_the_same_client_generation() {
        let c = client("a", false, 50);
        assert!(is_live(&claims(), Some(&c), 150));
        assert!(!is_live(&claims(), Some(&c), 200));
        assert!(!is_live(&claims(), None, 150));
        assert!(!is_live(&claims(), Some(&client("a", false, 101)), 150));
    }
}
