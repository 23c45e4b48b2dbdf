//! The one place an [`OAuthError`] becomes an HTTP response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::{ErrorCode, OAuthError};

/// An OAuth error on its way out, optionally with a non-default HTTP status
/// (413 for an oversized body, 405 for a wrong method).
#[derive(Debug)]
pub struct ErrorResponse {
    error: OAuthError,
    status: Option<StatusCode>,
    retry_after: Option<u64>,
}

impl ErrorResponse {
    /// Answer `error` with `status` instead of the code's default.
    pub fn with_status(error: OAuthError, status: StatusCode) -> Self {
        Self { error, status: Some(status), retry_after: None }
    }

    /// A refused password attempt: throttled ones get 429 (or the configured
    /// `invalid_grant`) with `Retry-After`.
    pub fn refused(r: crate::service::passwords::Refused) -> Self {
        let status = (r.error.code == ErrorCode::TemporarilyUnavailable).then_some(StatusCode::TOO_MANY_REQUESTS);
        Self { error: r.error, status, retry_after: r.retry_after }
    }

    /// The OAuth error code.
    pub fn code(&self) -> ErrorCode {
        self.error.code
    }
}

impl From<OAuthError> for ErrorResponse {
    fn from(error: OAuthError) -> Self {
        Self { error, status: None, retry_after: None }
    }
}

impl From<latchkey_store::StoreError> for ErrorResponse {
    fn from(e: latchkey_store::StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let e = self.error;
        let status = self
            .status
            .unwrap_or_else(|| StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if status.is_server_error() {
            tracing::error!(error = %e, cause = ?e.source, "request failed");
        } else {
            tracing::debug!(error = %e, "request refused");
        }
        let body = serde_json::json!({ "error": e.code.as_str(), "error_description": e.description });
        let mut res = (status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match e.code {
            // RFC 6749 §5.2 requires it when Basic was tried; RFC 9110 §15.5.2 requires a
            // challenge on every 401, so we always send one.
            ErrorCode::InvalidClient => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey\""));
            }
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => {
                let mut v = format!("Bearer error=\"{}\"", e.code.as_str());
                if let Some(scope) = &e.scope {
                    v.push_str(&format!(", scope=\"{scope}\""));
                }
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            _ => {}
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            h.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        res
    }
}
