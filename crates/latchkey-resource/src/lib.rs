//! Protect an axum API with OAuth 2.0 bearer tokens (RFC 6750).
//!
//! Two validation modes:
//! - [`Validation::Introspection`]: every token is checked with the authorization
//!   server's introspection endpoint (RFC 7662), found through its metadata (RFC 8414).
//!   Results are cached in a bounded cache until the earlier of the token's `exp` and
//!   [`ResourceConfig::cache_ttl`]; inactive results for [`ResourceConfig::negative_cache_ttl`].
//!   Concurrent look-ups of the same token share one call.
//! - [`Validation::Jwt`]: RFC 9068 tokens are verified locally against the JWKS
//!   (`typ`, `iss`, `aud`, `exp`/`nbf` with [`ResourceConfig::leeway`], the algorithm
//!   pinned by the key). With credentials configured, revocation is also checked through
//!   the same cached introspection, so a revoked token is refused within `cache_ttl`.
//!
//! Errors follow RFC 6750 §3: `401` with `WWW-Authenticate: Bearer realm=…` when there is
//! no token, `401 invalid_token`, `403 insufficient_scope` with `scope=…`, `400
//! invalid_request` for a malformed header or a token sent twice, and `503` when the
//! authorization server cannot be reached. `WWW-Authenticate` points to the Protected
//! Resource Metadata (RFC 9728), served by [`BearerAuth::metadata_router`].
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use latchkey_resource::{BearerAuth, ResourceConfig, TokenClaims, Validation};
//!
//! async fn whoami(claims: TokenClaims) -> String {
//!     format!("hello {}", claims.sub)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ResourceConfig::new("https://auth.example.com", "https://api.example.com", Validation::Introspection)
//!     .with_credentials("api", "api-client-secret");
//! let auth = BearerAuth::new(config)?;
//! let app = Router::new()
//!     .route("/whoami", get(whoami).layer(auth.require("profile:read")))
//!     .merge(auth.metadata_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bearer;
mod claims;
mod config;
mod discovery;
mod error;
mod introspection;
mod jwt;
mod layer;

pub use bearer::extract_bearer;
pub use claims::TokenClaims;
pub use config::{ConfigError, ResourceConfig, Validation};
pub use error::AuthError;
pub use layer::{BearerAuth, BearerLayer, BearerService, RESOURCE_METADATA_PATH};
