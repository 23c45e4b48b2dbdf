//! The refresh token grant (RFC 6749 §6). Rotation and replay detection are atomic in
//! the store (RFC 9700 §4.14.2); this decides the new access token.

use crate::client::{Client, GrantType};
use crate::grant::{Issue, Policy, audience_for};
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// A refresh token's family, as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The family.
    pub grant_id: String,
    /// Client it belongs to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Scope of the grant (a refresh never widens it).
    pub scope: ScopeSet,
    /// RFC 8707 resources of the grant.
    pub resources: Vec<String>,
    /// Expiry of this refresh token (bounded by the family's absolute lifetime).
    pub expires_at: i64,
}

/// Decide the access token of a refresh. `requested` may narrow the scope, never widen it.
pub fn decide(
    client: &Client,
    grant: &RefreshGrant,
    requested: Option<&ScopeSet>,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issue, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client is not registered for refresh tokens"));
    }
    // RFC 9700 §4.14.2: bound to the client.
    if grant.client_id != client.id {
        return Err(OAuthError::new(ErrorCode::InvalidGrant, "the refresh token was issued to another client"));
    }
    if grant.expires_at <= now {
        return Err(OAuthError::new(ErrorCode::InvalidGrant, "the refresh token has expired"));
    }
    let scope = match requested {
        Some(s) if !s.is_subset(&grant.scope) => {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "a refresh cannot widen the scope"));
        }
        Some(s) => s.clone(),
        None => grant.scope.clone(),
    };
    let ttl = client.access_token_ttl.unwrap_or(policy.access_token_ttl);
    Ok(Issue {
        client_id: client.id.clone(),
        subject: grant.user_id.clone(),
        scope,
        audience: audience_for(client, &grant.resources, policy),
        format: client.token_format.unwrap_or(policy.access_token_format),
        issued_at: now,
        // Never past the family's end: a grant outlives every token it issued, so a
        // revoked grant is remembered for as long as any of its tokens could be used.
        expires_at: (now + ttl).min(grant.expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenFormat;

    fn grant() -> RefreshGrant {
        RefreshGrant {
            grant_id: "g".into(),
            client_id: "app".into(),
            user_id: "usr_1".into(),
            scope: ScopeSet::parse("a b").unwrap(),
            resources: vec![],
            expires_at: 2_000,
        }
    }

    fn client(id: &str) -> Client {
        Client { id: id.into(), grant_types: vec![GrantType::RefreshToken], ..Client::default() }
    }

    fn policy() -> Policy<'static> {
        Policy { issuer: "i", access_token_ttl: 60, access_token_format: TokenFormat::Jwt }
    }

    #[test]
    fn narrowing_is_allowed_widening_is_not() {
        let narrow = ScopeSet::parse("a").unwrap();
        assert_eq!(decide(&client("app"), &grant(), Some(&narrow), &policy(), 1_000).unwrap().scope, narrow);
        let wide = ScopeSet::parse("a c").unwrap();
        let err = decide(&client("app"), &grant(), Some(&wide), &policy(), 1_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn another_client_or_expiry_is_invalid_grant() {
        assert_eq!(decide(&client("b"), &grant(), None, &policy(), 1_000).unwrap_err().code, ErrorCode::InvalidGrant);
        assert_eq!(decide(&client("app"), &grant(), None, &policy(), 2_000).unwrap_err().code, ErrorCode::InvalidGrant);
    }

    #[test]
    fn the_access_token_ends_with_its_family_at_the_latest() {
        let early = decide(&client("app"), &grant(), None, &policy(), 1_000).unwrap();
        assert_eq!(early.expires_at, 1_060, "the access-token lifetime, well inside the family");
        let late = decide(&client("app"), &grant(), None, &policy(), 1_990).unwrap();
        assert_eq!(late.expires_at, 2_000, "cut to the family's end (grant expires at 2000)");
    }
}
