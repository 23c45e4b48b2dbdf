//! Grant decisions: pure functions from a verified client and a parsed request to an
//! [`Issue`], the description of the token to mint. One module per grant.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::client::Client;
use crate::scope::ScopeSet;
use crate::token::{AccessTokenClaims, Audience, TokenFormat};

/// Server-wide settings a grant decision depends on.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// The issuer identifier; the default audience.
    pub issuer: &'a str,
    /// Access-token lifetime for clients that set none, in seconds.
    pub access_token_ttl: i64,
    /// Access-token format for clients that set none.
    pub access_token_format: TokenFormat,
}

/// A decision to issue an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The client it is issued to.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// Granted scope.
    pub scope: ScopeSet,
    /// `aud`, never empty.
    pub audience: Vec<String>,
    /// Representation.
    pub format: TokenFormat,
    /// Issued at, seconds since the epoch.
    pub issued_at: i64,
    /// Expires at, seconds since the epoch.
    pub expires_at: i64,
}

impl Issue {
    /// The claims of the token, with its `jti`.
    pub fn claims(&self, issuer: &str, jti: String) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: self.subject.clone(),
            aud: Audience::from_list(self.audience.clone()),
            exp: self.expires_at,
            iat: self.issued_at,
            nbf: None,
            jti,
            client_id: self.client_id.clone(),
            scope: self.scope.to_string(),
            username: None,
            grant_id: None,
        }
    }

    /// Lifetime in seconds (`expires_in`).
    pub fn expires_in(&self) -> i64 {
        self.expires_at - self.issued_at
    }
}

/// `aud` for a token: the requested resources (already checked against the client's
/// audiences), else the client's first audience, else the issuer.
pub fn audience_for(client: &Client, resources: &[String], policy: &Policy<'_>) -> Vec<String> {
    if resources.is_empty() {
        vec![client.audiences.first().cloned().unwrap_or_else(|| policy.issuer.to_owned())]
    } else {
        resources.to_vec()
    }
}
