//! RFC 6750 §3 error responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was not authorized.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No token: 401 with a bare challenge (RFC 6750 §3.1: no error code).
    #[error("no access token")]
    MissingToken,
    /// Malformed request: 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Invalid, expired or revoked token: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Missing scope: 403 `insufficient_scope` naming the scope needed.
    #[error("insufficient scope: {0} required")]
    InsufficientScope(String),
    /// The authorization server could not be reached: 503.
    #[error("authorization server unavailable: {0}")]
    Unavailable(String),
}

/// The challenge parameters shared by every response of one resource server.
#[derive(Debug, Clone)]
pub(crate) struct Challenge {
    pub(crate) realm: String,
    pub(crate) resource_metadata: Option<String>,
}

fn quote(s: &str) -> String {
    // RFC 9110 quoted-string: escape backslash and quote; drop control characters.
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| if c == '"' || c == '\\' { vec!['\\', c] } else { vec![c] })
        .collect()
}

impl AuthError {
    fn parts(&self) -> (StatusCode, Option<&'static str>, Option<String>) {
        match self {
            Self::MissingToken => (StatusCode::UNAUTHORIZED, None, None),
            Self::InvalidRequest(d) => (StatusCode::BAD_REQUEST, Some("invalid_request"), Some(d.clone())),
            Self::InvalidToken(d) => (StatusCode::UNAUTHORIZED, Some("invalid_token"), Some(d.clone())),
            Self::InsufficientScope(s) => {
                (StatusCode::FORBIDDEN, Some("insufficient_scope"), Some(format!("the request requires scope {s}")))
            }
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable"), None),
        }
    }

    /// The response, with the challenge of `challenge`.
    pub(crate) fn into_response_with(self, challenge: &Challenge) -> Response {
        let (status, code, description) = self.parts();
        let mut www = format!("Bearer realm=\"{}\"", quote(&challenge.realm));
        if let Some(code) = code.filter(|_| status != StatusCode::SERVICE_UNAVAILABLE) {
            www.push_str(&format!(", error=\"{code}\""));
            if let Some(d) = &description {
                www.push_str(&format!(", error_description=\"{}\"", quote(d)));
            }
        }
        if let Self::InsufficientScope(scope) = &self {
            www.push_str(&format!(", scope=\"{}\"", quote(scope)));
        }
        if let Some(url) = &challenge.resource_metadata {
            www.push_str(&format!(", resource_metadata=\"{}\"", quote(url)));
        }
        let body = match (code, &self) {
            (Some(code), Self::Unavailable(_)) => serde_json::json!({
                "error": code, "error_description": "the authorization server is unavailable, retry later"}),
            (Some(code), _) => serde_json::json!({"error": code, "error_description": description}),
            (None, _) => {
                serde_json::json!({"error": "unauthorized", "error_description": "an access token is required"})
            }
        };
        let mut res = (status, Json(body)).into_response();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            if let Ok(v) = HeaderValue::from_str(&www) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        } else {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// Without a configured challenge (e.g. the extractor used without the layer).
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.into_response_with(&Challenge { realm: "latchkey".into(), resource_metadata: None })
    }
}
