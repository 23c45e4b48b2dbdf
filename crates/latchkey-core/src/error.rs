//! The one OAuth error model (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2).
//!
//! Every layer returns [`OAuthError`]; only the HTTP adapter turns it into a response.

use std::borrow::Cow;
use std::fmt;

/// Boxed error kept as the cause of an [`OAuthError`]; logged, never sent.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The registered OAuth error codes latchkey can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §5.2: malformed request, missing or repeated parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token, credentials) is invalid.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// RFC 6749 §5.2: the requested scope is invalid or exceeds what the client may get.
    InvalidScope,
    /// RFC 8707 §2: the requested resource is invalid or not allowed.
    InvalidTarget,
    /// RFC 6749 §4.1.2.1: the resource owner denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: the response type is not supported.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1: an unexpected condition; details are logged, not sent.
    ServerError,
    /// RFC 6749 §4.1.2.1: overloaded or a dependency (the database) is down.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1: the access token is invalid, expired or revoked.
    InvalidToken,
    /// RFC 6750 §3.1: the access token lacks the required scope.
    InsufficientScope,
    /// RFC 7009 §2.2.1: the server cannot revoke this type of token.
    UnsupportedTokenType,
}

impl ErrorCode {
    /// The registered string sent in the `error` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status for this code when answered directly (not by redirect).
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error: a code, a description sent to the client, and an optional cause
/// that is logged but never sent.
#[derive(Debug)]
pub struct OAuthError {
    /// The registered error code.
    pub code: ErrorCode,
    /// Human-readable `error_description`; never contains secrets.
    pub description: Cow<'static, str>,
    /// Internal cause, logged only.
    pub source: Option<BoxError>,
    /// Scope needed, for `insufficient_scope` (RFC 6750 §3).
    pub scope: Option<String>,
    /// Whether the client tried HTTP Basic authentication (RFC 6749 §5.2: then a 401
    /// must carry `WWW-Authenticate: Basic`).
    pub basic_auth_tried: bool,
}

impl OAuthError {
    /// A new error with a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: description.into(), source: None, scope: None, basic_auth_tried: false }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with a description.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `server_error` carrying an internal cause that is logged, not sent.
    pub fn server_error(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request").with_source(source)
    }

    /// `temporarily_unavailable` carrying an internal cause.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable, retry later")
            .with_source(source)
    }

    /// Attach an internal cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Mark that HTTP Basic authentication was tried.
    pub fn with_basic(mut self, tried: bool) -> Self {
        self.basic_auth_tried = tried;
        self
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_token_errors_are_401_and_server_errors_500() {
        let table = [
            (ErrorCode::InvalidRequest, 400, "invalid_request"),
            (ErrorCode::InvalidClient, 401, "invalid_client"),
            (ErrorCode::InvalidGrant, 400, "invalid_grant"),
            (ErrorCode::UnauthorizedClient, 400, "unauthorized_client"),
            (ErrorCode::UnsupportedGrantType, 400, "unsupported_grant_type"),
            (ErrorCode::InvalidScope, 400, "invalid_scope"),
            (ErrorCode::InvalidTarget, 400, "invalid_target"),
            (ErrorCode::InvalidToken, 401, "invalid_token"),
            (ErrorCode::InsufficientScope, 403, "insufficient_scope"),
            (ErrorCode::ServerError, 500, "server_error"),
            (ErrorCode::TemporarilyUnavailable, 503, "temporarily_unavailable"),
        ];
        for (code, status, s) in table {
            assert_eq!(code.status(), status, "{s}");
            assert_eq!(code.as_str(), s);
        }
    }
}
