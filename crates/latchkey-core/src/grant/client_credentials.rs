//! The client credentials grant (RFC 6749 §4.4) with resource indicators (RFC 8707).

use crate::client::{Client, GrantType};
use crate::grant::{Issue, Policy};
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// Decide what token an authenticated client gets.
///
/// - RFC 6749 §4.4: only clients registered for the grant (else `unauthorized_client`).
/// - RFC 6749 §3.3: a requested scope must be a subset of the client's; we refuse
///   rather than silently narrow, so a misconfigured client finds out at once.
///   Omitted scope means every scope the client has.
/// - RFC 8707 §2: each `resource` must be one of the client's audiences, else
///   `invalid_target`; without one, `aud` is the client's first audience or the issuer.
/// - RFC 9700 §4.15.1: `sub` is the client id here; user subjects use a namespace that
///   cannot collide with it.
pub fn decide(
    client: &Client,
    scope: Option<&ScopeSet>,
    resources: &[String],
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issue, OAuthError> {
    if !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client is not registered for the client_credentials grant",
        ));
    }
    let scope = match scope {
        Some(requested) if !requested.is_subset(&client.scopes) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope exceeds what the client may be granted: {}", requested.missing_from(&client.scopes)),
            ));
        }
        Some(requested) => requested.clone(),
        None => client.scopes.clone(),
    };
    let audience = if resources.is_empty() {
        vec![client.audiences.first().cloned().unwrap_or_else(|| policy.issuer.to_owned())]
    } else {
        if let Some(bad) = resources.iter().find(|r| !client.audiences.contains(r)) {
            return Err(OAuthError::new(ErrorCode::InvalidTarget, format!("client may not request resource {bad}")));
        }
        resources.to_vec()
    };
    let ttl = client.access_token_ttl.unwrap_or(policy.access_token_ttl);
    Ok(Issue {
        client_id: client.id.clone(),
        subject: client.id.clone(),
        scope,
        audience,
        format: client.token_format.unwrap_or(policy.access_token_format),
        issued_at: now,
        expires_at: now + ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::AuthMethod;
    use crate::token::TokenFormat;

    const NOW: i64 = 1_700_000_000;

    fn client() -> Client {
        Client {
            id: "svc".into(),
            secret_hash: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scopes: ScopeSet::parse("items:read items:write").unwrap(),
            auth_method: AuthMethod::ClientSecretBasic,
            token_format: None,
            audiences: vec!["https://api.example".into(), "https://b.example".into()],
            introspect: false,
            access_token_ttl: None,
            created_at: 0,
            ..Client::default()
        }
    }

    fn policy() -> Policy<'static> {
        Policy { issuer: "https://as.example", access_token_ttl: 3600, access_token_format: TokenFormat::Jwt }
    }

    #[test]
    fn omitted_scope_grants_all_and_first_audience() {
        let issue = decide(&client(), None, &[], &policy(), NOW).unwrap();
        assert_eq!(issue.scope.to_string(), "items:read items:write");
        assert_eq!(issue.audience, ["https://api.example"]);
        assert_eq!(issue.subject, "svc");
        assert_eq!(issue.expires_in(), 3600);
        assert_eq!(issue.format, TokenFormat::Jwt);
    }

    #[test]
    fn subset_is_granted_exactly_and_superset_is_invalid_scope() {
        let read = ScopeSet::parse("items:read").unwrap();
        assert_eq!(decide(&client(), Some(&read), &[], &policy(), NOW).unwrap().scope, read);
        let wide = ScopeSet::parse("items:read admin").unwrap();
        let err = decide(&client(), Some(&wide), &[], &policy(), NOW).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn resources_become_aud_and_unknown_is_invalid_target() {
        let ok = decide(&client(), None, &["https://b.example".into()], &policy(), NOW).unwrap();
        assert_eq!(ok.audience, ["https://b.example"]);
        let err = decide(&client(), None, &["https://evil.example".into()], &policy(), NOW).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn no_audiences_means_issuer_and_client_overrides_apply() {
        let mut c = client();
        c.audiences.clear();
        c.token_format = Some(TokenFormat::Opaque);
        c.access_token_ttl = Some(1);
        let issue = decide(&c, None, &[], &policy(), NOW).unwrap();
        assert_eq!(issue.audience, ["https://as.example"]);
        assert_eq!(issue.format, TokenFormat::Opaque);
        assert_eq!(issue.expires_at, NOW + 1);
    }

    #[test]
    fn client_without_the_grant_is_unauthorized() {
        let mut c = client();
        c.grant_types.clear();
        assert_eq!(decide(&c, None, &[], &policy(), NOW).unwrap_err().code, ErrorCode::UnauthorizedClient);
    }
}
