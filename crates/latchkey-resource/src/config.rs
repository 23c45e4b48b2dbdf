//! Resource-server configuration.

use std::time::Duration;

/// How tokens are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Ask the authorization server (RFC 7662), with a cache.
    Introspection,
    /// Verify RFC 9068 JWTs locally against the JWKS.
    Jwt,
}

/// Settings of a protected resource. Build with [`ResourceConfig::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    /// The authorization server's issuer identifier (metadata is fetched from it).
    pub issuer: String,
    /// This resource's identifier (RFC 9728 `resource`).
    pub resource: String,
    /// Validation mode.
    pub validation: Validation,
    /// When set, a token's `aud` must contain it. Required for [`Validation::Jwt`].
    pub audience: Option<String>,
    /// Client credentials of this resource server at the authorization server.
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<String>,
    /// `realm` in `WWW-Authenticate`.
    pub realm: String,
    /// Longest time an active introspection result is trusted (default 5 s). This is
    /// the bound on how late a revocation is seen.
    pub cache_ttl: Duration,
    /// How long an inactive result is cached (default 1 s).
    pub negative_cache_ttl: Duration,
    /// Most cached introspection results (default 10,000).
    pub cache_capacity: u64,
    /// Clock skew allowed for `exp`/`nbf` in JWT mode (default 5 s).
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s (default 5 s).
    pub jwks_min_refresh: Duration,
    /// JWKS is refetched when older than this (default 5 min).
    pub jwks_max_age: Duration,
    /// JWT mode: confirm tokens are not revoked through cached introspection
    /// (default: on when credentials are configured).
    pub check_revocation: bool,
    /// Accept `?access_token=` (RFC 6750 §2.3). Off by default: URLs end up in logs.
    pub allow_query_token: bool,
    /// Timeout for calls to the authorization server (default 5 s).
    pub http_timeout: Duration,
}

/// An invalid configuration.
#[derive(Debug, thiserror::Error)]
#[error("resource server configuration: {0}")]
pub struct ConfigError(pub String);

impl ResourceConfig {
    /// Defaults for `issuer` protecting `resource` (also the default audience).
    pub fn new(issuer: impl Into<String>, resource: impl Into<String>, validation: Validation) -> Self {
        let resource = resource.into();
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: Some(resource.clone()),
            resource,
            validation,
            client_id: None,
            client_secret: None,
            realm: "latchkey".into(),
            cache_ttl: Duration::from_secs(5),
            negative_cache_ttl: Duration::from_secs(1),
            cache_capacity: 10_000,
            leeway: Duration::from_secs(5),
            jwks_min_refresh: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(300),
            check_revocation: true,
            allow_query_token: false,
            http_timeout: Duration::from_secs(5),
        }
    }

    /// Credentials for introspection.
    pub fn with_credentials(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Require this audience (`None`: any audience, introspection mode only).
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://")) {
            return Err(ConfigError("issuer must be an http(s) URL".into()));
        }
        let has_credentials = self.client_id.is_some() && self.client_secret.is_some();
        match self.validation {
            Validation::Introspection if !has_credentials => {
                Err(ConfigError("introspection needs client_id and client_secret".into()))
            }
            Validation::Jwt if self.audience.is_none() => Err(ConfigError("JWT validation needs an audience".into())),
            _ => Ok(()),
        }
    }

    pub(crate) fn revocation_checked(&self) -> bool {
        self.check_revocation && self.client_id.is_some() && self.client_secret.is_some()
    }
}
