//! What a handler learns about the caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// The validated token's claims, inserted by the layer and extracted by handlers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Subject.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: Option<i64>,
    /// Issuer.
    pub iss: Option<String>,
    /// Token id.
    pub jti: Option<String>,
    /// Resource owner's username, when the AS tells it.
    pub username: Option<String>,
}

impl TokenClaims {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    /// Whether every space-delimited scope in `required` is granted.
    pub fn has_scopes(&self, required: &str) -> bool {
        required.split(' ').filter(|s| !s.is_empty()).all(|s| self.has_scope(s))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TokenClaims {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<TokenClaims>().cloned().ok_or(AuthError::MissingToken)
    }
}
