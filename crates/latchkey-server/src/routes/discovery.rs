//! Authorization server metadata (RFC 8414) and the JWK Set.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use latchkey_core::client::{AuthMethod, GrantType};
use latchkey_core::scope::ScopeSet;

use super::paths;
use crate::error::ErrorResponse;
use crate::state::AppState;

/// Served at both `/.well-known/oauth-authorization-server` and
/// `/.well-known/openid-configuration`; endpoints are absolute URLs under the issuer.
pub(super) async fn get_metadata(State(s): State<AppState>) -> Result<impl IntoResponse, ErrorResponse> {
    let clients = s.store().clients().await?;
    let scopes = ScopeSet::from_tokens(clients.iter().flat_map(|c| c.scopes.iter()))?;
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let doc = serde_json::json!({
        "issuer": &*s.issuer,
        "token_endpoint": s.endpoint(paths::TOKEN),
        "introspection_endpoint": s.endpoint(paths::INTROSPECT),
        "revocation_endpoint": s.endpoint(paths::REVOKE),
        "jwks_uri": s.endpoint(paths::JWKS),
        "authorization_endpoint": s.endpoint(paths::AUTHORIZE),
        "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        // RFC 9700 §2.1.2: no implicit grant; only the code flow.
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": scopes.iter().collect::<Vec<_>>(),
        "access_token_signing_alg_values_supported": [s.ctx.config.signing_alg.as_str()],
    });
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(doc)))
}

/// The public keys that may verify a live token. Short cache lifetime: after a
/// rotation, resource servers also refetch on an unknown `kid`.
pub(super) async fn get_jwks(State(s): State<AppState>) -> impl IntoResponse {
    let jwks = s.keys.snapshot().jwks.clone();
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(jwks))
}
