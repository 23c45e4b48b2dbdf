//! Authorization server metadata (RFC 8414), fetched once on first need so that a
//! resource server can start while its authorization server is still down.

use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::AuthError;

/// What a resource server needs from the metadata.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AsMetadata {
    pub(crate) issuer: String,
    pub(crate) introspection_endpoint: Option<String>,
    pub(crate) jwks_uri: Option<String>,
}

/// Lazily discovered metadata; a failed fetch is retried on the next request.
pub(crate) struct Discovery {
    issuer: String,
    cell: OnceCell<AsMetadata>,
}

impl Discovery {
    pub(crate) fn new(issuer: &str) -> Self {
        Self { issuer: issuer.to_owned(), cell: OnceCell::new() }
    }

    pub(crate) async fn get(&self, http: &reqwest::Client) -> Result<&AsMetadata, AuthError> {
        self.cell.get_or_try_init(|| fetch(http, &self.issuer)).await
    }
}

async fn fetch(http: &reqwest::Client, issuer: &str) -> Result<AsMetadata, AuthError> {
    let url = format!("{issuer}/.well-known/oauth-authorization-server");
    let unavailable = |e: String| {
        tracing::warn!(%url, error = %e, "authorization server metadata unavailable");
        AuthError::Unavailable(e)
    };
    let res = http.get(&url).send().await.map_err(|e| unavailable(e.to_string()))?;
    if !res.status().is_success() {
        return Err(unavailable(format!("metadata answered {}", res.status())));
    }
    let meta: AsMetadata = res.json().await.map_err(|e| unavailable(e.to_string()))?;
    // RFC 8414 §3.3: the issuer in the document must be exactly the one we asked.
    if meta.issuer != issuer {
        return Err(unavailable(format!("metadata issuer {} does not match {issuer}", meta.issuer)));
    }
    Ok(meta)
}
