//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).
//! Single use is enforced atomically by the store; this decides everything else.

use crate::client::{Client, GrantType};
use crate::grant::{Issue, Policy, audience_for};
use crate::pkce::verify_s256;
use crate::scope::ScopeSet;
use crate::{ErrorCode, OAuthError};

/// A stored authorization code, as redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The grant this code starts.
    pub grant_id: String,
    /// Client it was issued to.
    pub client_id: String,
    /// The user who approved.
    pub user_id: String,
    /// `redirect_uri` sent to /authorize, if one was.
    pub redirect_uri: Option<String>,
    /// Approved scope.
    pub scope: ScopeSet,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
    /// S256 challenge, if one was sent.
    pub code_challenge: Option<String>,
    /// Expiry.
    pub expires_at: i64,
}

fn invalid_grant(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

/// Decide the token for a redeemed code.
pub fn decide(
    client: &Client,
    code: &CodeGrant,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    policy: &Policy<'_>,
    now: i64,
) -> Result<Issue, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client is not registered for this grant"));
    }
    // RFC 6749 §4.1.3: bound to the client it was issued to.
    if code.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if code.expires_at <= now {
        return Err(invalid_grant("the code has expired"));
    }
    // RFC 6749 §4.1.3: required and identical when it was sent to /authorize.
    if let Some(expected) = &code.redirect_uri
        && redirect_uri != Some(expected.as_str())
    {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&code.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if verify_s256(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(invalid_grant("code_verifier does not match the code_challenge")),
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier for a code without a challenge is a downgrade attempt.
        (None, Some(_)) => return Err(invalid_grant("code_verifier sent for a code without a code_challenge")),
        (None, None) => {}
    }
    let ttl = client.access_token_ttl.unwrap_or(policy.access_token_ttl);
    Ok(Issue {
        client_id: client.id.clone(),
        subject: code.user_id.clone(),
        scope: code.scope.clone(),
        audience: audience_for(client, &code.resources, policy),
        format: client.token_format.unwrap_or(policy.access_token_format),
        issued_at: now,
        expires_at: now + ttl,
    })
}

/// Whether a token endpoint response for this client carries a refresh token.
pub fn issues_refresh_token(client: &Client) -> bool {
    client.allows_grant(GrantType::RefreshToken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::s256_challenge;
    use crate::token::TokenFormat;

    const NOW: i64 = 1_000;
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn client(id: &str) -> Client {
        Client { id: id.into(), grant_types: vec![GrantType::AuthorizationCode], ..Client::default() }
    }

    fn code() -> CodeGrant {
        CodeGrant {
            grant_id: "g".into(),
            client_id: "app".into(),
            user_id: "usr_1".into(),
            redirect_uri: Some("https://app.example/cb".into()),
            scope: ScopeSet::parse("profile").unwrap(),
            resources: vec![],
            code_challenge: Some(s256_challenge(VERIFIER)),
            expires_at: NOW + 60,
        }
    }

    fn policy() -> Policy<'static> {
        Policy { issuer: "https://as.example", access_token_ttl: 600, access_token_format: TokenFormat::Opaque }
    }

    #[test]
    fn a_good_redemption_issues_for_the_user() {
        let issue =
            decide(&client("app"), &code(), Some("https://app.example/cb"), Some(VERIFIER), &policy(), NOW).unwrap();
        assert_eq!(issue.subject, "usr_1");
        assert_eq!(issue.audience, ["https://as.example"]);
    }

    #[test]
    fn every_binding_is_checked() {
        let cb = Some("https://app.example/cb");
        let wrong = "a".repeat(43);
        type Case<'a> = (&'a str, Client, CodeGrant, Option<&'a str>, Option<&'a str>, i64);
        let cases: Vec<Case> = vec![
            ("other client", client("other"), code(), cb, Some(VERIFIER), NOW),
            ("expired", client("app"), code(), cb, Some(VERIFIER), NOW + 60),
            ("redirect mismatch", client("app"), code(), Some("https://app.example/x"), Some(VERIFIER), NOW),
            ("redirect missing", client("app"), code(), None, Some(VERIFIER), NOW),
            ("wrong verifier", client("app"), code(), cb, Some(wrong.as_str()), NOW),
            ("no verifier", client("app"), code(), cb, None, NOW),
            (
                "verifier without challenge",
                client("app"),
                CodeGrant { code_challenge: None, ..code() },
                cb,
                Some(VERIFIER),
                NOW,
            ),
        ];
        for (name, c, code, redirect, verifier, now) in cases {
            let err = decide(&c, &code, redirect, verifier, &policy(), now).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidGrant, "{name}");
        }
    }
}
