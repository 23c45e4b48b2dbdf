//! HTTP routes. Handlers are thin: extract, call a service, answer.

mod authorize;
mod discovery;
mod health;
mod oauth;

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderValue, Request, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::state::AppState;

/// Paths, relative to the issuer.
pub mod paths {
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// Introspection endpoint.
    pub const INTROSPECT: &str = "/introspect";
    /// Revocation endpoint.
    pub const REVOKE: &str = "/revoke";
    /// JWK Set.
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
}

/// The application router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(paths::TOKEN, any(oauth::post_token))
        .route(paths::INTROSPECT, any(oauth::post_introspect))
        .route(paths::REVOKE, any(oauth::post_revoke))
        .route(paths::AUTHORIZE, get(authorize::get_authorize))
        .route("/authorize/login", post(authorize::post_login))
        .route("/authorize/resume", get(authorize::get_resume))
        .route("/authorize/consent", post(authorize::post_consent))
        .route("/.well-known/oauth-authorization-server", get(discovery::get_metadata))
        .route("/.well-known/openid-configuration", get(discovery::get_metadata))
        .route(paths::JWKS, get(discovery::get_jwks))
        .route("/health/live", get(health::get_live))
        .route("/health/ready", get(health::get_ready))
        .route("/metrics", get(health::get_metrics))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Count and log each request by route (never the query string, which may carry
/// secrets), and set headers every response should have.
async fn observe(State(state): State<AppState>, req: Request<axum::body::Body>, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut res = next.run(req).await;
    let status = res.status().as_u16();
    let route = route.as_ref().map_or("other", MatchedPath::as_str);
    state.metrics.request(route, status);
    tracing::debug!(%method, %route, status, elapsed_us = started.elapsed().as_micros() as u64, "request");
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}
