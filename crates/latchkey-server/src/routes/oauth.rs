//! Token (RFC 6749 §3.2), introspection (RFC 7662) and revocation (RFC 7009).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ErrorResponse;
use crate::extract::OAuthRequest;
use crate::service;
use crate::state::AppState;

/// JSON that must not be cached (RFC 6749 §5.1, RFC 7662 §2.2 by analogy).
struct NoStore<T>(T);

impl<T: Serialize> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut res = Json(self.0).into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    }
}

pub(super) async fn post_token(
    State(s): State<AppState>,
    req: OAuthRequest,
) -> Result<impl IntoResponse, ErrorResponse> {
    Ok(NoStore(service::exchange(&s, req).await?))
}

pub(super) async fn post_introspect(
    State(s): State<AppState>,
    req: OAuthRequest,
) -> Result<impl IntoResponse, ErrorResponse> {
    Ok(NoStore(service::introspect(&s, req).await?))
}

pub(super) async fn post_revoke(
    State(s): State<AppState>,
    req: OAuthRequest,
) -> Result<impl IntoResponse, ErrorResponse> {
    service::revoke(&s, req).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], ""))
}
