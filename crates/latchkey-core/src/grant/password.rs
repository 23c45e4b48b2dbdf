//! The resource owner password credentials grant (RFC 6749 §4.3). RFC 9700 §2.4 says it
//! MUST NOT be used; latchkey offers it only to clients explicitly registered for it.
//! Verifying the password (slow, rate-limited) happens in the service.

use crate::client::{Client, GrantType};
use crate::grant::{Issue, Policy, audience_for};
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// Check the client may use the grant, before any password work is done.
pub fn verify_client_allowed(client: &Client) -> Result<(), OAuthError> {
    if client.allows_grant(GrantType::Password) {
        Ok(())
    } else {
        Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client is not registered for the password grant"))
    }
}

/// Decide the token once the user's password was verified.
pub fn decide(
    client: &Client,
    user_id: &str,
    scope: Option<&ScopeSet>,
    resources: &[String],
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issue, OAuthError> {
    verify_client_allowed(client)?;
    let scope = match scope {
        Some(s) if !s.is_subset(&client.scopes) => {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "scope exceeds what the client may be granted"));
        }
        Some(s) => s.clone(),
        None => client.scopes.clone(),
    };
    if let Some(bad) = resources.iter().find(|r| !client.audiences.contains(r)) {
        return Err(OAuthError::new(ErrorCode::InvalidTarget, format!("client may not request resource {bad}")));
    }
    let ttl = client.access_token_ttl.unwrap_or(policy.access_token_ttl);
    Ok(Issue {
        client_id: client.id.clone(),
        subject: user_id.to_owned(),
        scope,
        audience: audience_for(client, resources, policy),
        format: client.token_format.unwrap_or(policy.access_token_format),
        issued_at: now,
        expires_at: now + ttl,
    })
}
