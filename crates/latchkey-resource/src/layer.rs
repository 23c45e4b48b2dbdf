//! [`BearerAuth`]: the validator, its tower layer, and the RFC 9728 metadata route.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Uri};
use axum::response::Response;
use axum::routing::get;
use tower::{Layer, Service};

use crate::config::{ConfigError, ResourceConfig, Validation};
use crate::discovery::Discovery;
use crate::error::Challenge;
use crate::introspection::Introspector;
use crate::jwt::Jwks;
use crate::{AuthError, TokenClaims, extract_bearer};

/// Path of the Protected Resource Metadata (RFC 9728 §3).
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

struct Inner {
    config: ResourceConfig,
    http: reqwest::Client,
    discovery: Discovery,
    introspector: Option<Introspector>,
    jwks: Jwks,
    challenge: Challenge,
}

/// Validates bearer tokens. Cheap to clone; share one per application.
#[derive(Clone)]
pub struct BearerAuth {
    inner: Arc<Inner>,
}

impl BearerAuth {
    /// Build from a configuration. Nothing is fetched yet: metadata and keys are
    /// loaded on first need, so the API can start before its authorization server.
    pub fn new(config: ResourceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .map_err(|e| ConfigError(format!("HTTP client: {e}")))?;
        let resource_metadata = Some(format!("{}{RESOURCE_METADATA_PATH}", config.resource.trim_end_matches('/')));
        Ok(Self {
            inner: Arc::new(Inner {
                discovery: Discovery::new(&config.issuer),
                introspector: Introspector::new(&config),
                jwks: Jwks::new(config.jwks_min_refresh, config.jwks_max_age),
                challenge: Challenge { realm: config.realm.clone(), resource_metadata },
                http,
                config,
            }),
        })
    }

    /// Validate the bearer token of a request.
    pub async fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Result<TokenClaims, AuthError> {
        let token = extract_bearer(headers, uri, self.inner.config.allow_query_token)?;
        self.validate(&token).await
    }

    /// Validate a token string.
    pub async fn validate(&self, token: &str) -> Result<TokenClaims, AuthError> {
        let i = &self.inner;
        let meta = i.discovery.get(&i.http).await?;
        let claims = match i.config.validation {
            Validation::Introspection => self.introspect(meta.introspection_endpoint.as_deref(), token).await?,
            Validation::Jwt => {
                let uri = meta.jwks_uri.as_deref().ok_or_else(|| AuthError::Unavailable("no jwks_uri".into()))?;
                let audience = i.config.audience.as_deref().unwrap_or(&i.config.resource);
                let local = i.jwks.verify(&i.http, uri, token, &i.config.issuer, audience, i.config.leeway).await?;
                if i.config.revocation_checked() {
                    // Still signed and unexpired; ask (through the cache) whether it was revoked.
                    self.introspect(meta.introspection_endpoint.as_deref(), token).await?;
                }
                local
            }
        };
        if let Some(aud) = &i.config.audience
            && !claims.aud.iter().any(|a| a == aud)
        {
            return Err(AuthError::InvalidToken("the token is not meant for this resource".into()));
        }
        Ok(claims)
    }

    async fn introspect(&self, endpoint: Option<&str>, token: &str) -> Result<TokenClaims, AuthError> {
        let i = &self.inner;
        let introspector =
            i.introspector.as_ref().ok_or_else(|| AuthError::Unavailable("no introspection credentials".into()))?;
        let endpoint = endpoint.ok_or_else(|| AuthError::Unavailable("no introspection_endpoint".into()))?;
        match introspector.introspect(&i.http, endpoint, token).await? {
            Some(c) => Ok(TokenClaims::clone(&c)),
            None => Err(AuthError::InvalidToken("the access token is invalid, expired or revoked".into())),
        }
    }

    /// A layer that requires a valid token and hands its [`TokenClaims`] to handlers.
    pub fn layer(&self) -> BearerLayer {
        BearerLayer { auth: self.clone(), scope: None }
    }

    /// A layer that also requires every scope in `scope` (space-delimited).
    pub fn require(&self, scope: &str) -> BearerLayer {
        BearerLayer { auth: self.clone(), scope: Some(Arc::from(scope)) }
    }

    /// Serves `/.well-known/oauth-protected-resource` (RFC 9728).
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let doc = serde_json::json!({
            "resource": self.inner.config.resource,
            "authorization_servers": [self.inner.config.issuer],
            "bearer_methods_supported": ["header"],
            "resource_signing_alg_values_supported": ["EdDSA", "ES256", "RS256"],
        });
        Router::new().route(RESOURCE_METADATA_PATH, get(move || async move { axum::Json(doc) }))
    }

    /// Cached introspection results (after pending evictions), for monitoring and tests.
    pub async fn cache_entries(&self) -> u64 {
        match &self.inner.introspector {
            Some(i) => i.entries().await,
            None => 0,
        }
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.jwks.fetches()
    }

    /// An error response with this resource's challenge.
    pub fn reject(&self, error: AuthError) -> Response {
        error.into_response_with(&self.inner.challenge)
    }
}

/// Tower layer produced by [`BearerAuth::layer`] and [`BearerAuth::require`].
#[derive(Clone)]
pub struct BearerLayer {
    auth: BearerAuth,
    scope: Option<Arc<str>>,
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService { auth: self.auth.clone(), scope: self.scope.clone(), inner }
    }
}

/// The service of [`BearerLayer`].
#[derive(Clone)]
pub struct BearerService<S> {
    auth: BearerAuth,
    scope: Option<Arc<str>>,
    inner: S,
}

impl<S> Service<Request<Body>> for BearerService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone that was polled ready does the call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let scope = self.scope.clone();
        Box::pin(async move {
            let claims = match auth.authenticate(req.headers(), req.uri()).await {
                Ok(c) => c,
                Err(e) => return Ok(auth.reject(e)),
            };
            if let Some(scope) = scope
                && !claims.has_scopes(&scope)
            {
                return Ok(auth.reject(AuthError::InsufficientScope(scope.to_string())));
            }
            req.extensions_mut().insert(claims);
            inner.call(req).await
        })
    }
}
