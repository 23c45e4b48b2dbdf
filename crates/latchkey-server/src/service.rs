//! The token, introspection and revocation use cases. These functions alone sequence
//! I/O: parse → authenticate → load → decide (pure, in core) → mint → save.

use latchkey_core::OAuthError;
use latchkey_core::client::Client;
use latchkey_core::client_auth::{parse_client_credentials, verify_client};
use latchkey_core::grant::{self, Issue};
use latchkey_core::introspect::{Introspection, is_live, may_introspect, may_revoke};
use latchkey_core::jose::Expectations;
use latchkey_core::secret::token_hash;
use latchkey_core::token::{
    AccessTokenClaims, TokenFormat, TokenResponse, TokenShape, new_jti, new_opaque_access_token, token_shape,
};
use latchkey_core::token_request::TokenRequest;
use latchkey_store::AccessTokenRecord;

use crate::extract::OAuthRequest;
use crate::state::{AppState, now};

/// Longest token string we look at; anything longer cannot be ours.
const MAX_TOKEN_LEN: usize = 8192;

/// Authenticate the client making an OAuth request (RFC 6749 §2.3).
pub async fn authenticate(state: &AppState, req: &OAuthRequest) -> Result<Client, OAuthError> {
    let presented = parse_client_credentials(req.authorization.as_deref(), &req.form)?;
    let client = state.client(&presented.client_id).await?;
    verify_client(client, &presented, &state.ctx.hasher)
}

/// `POST /token` (RFC 6749 §4.4, §5).
pub async fn exchange(state: &AppState, req: OAuthRequest) -> Result<TokenResponse, OAuthError> {
    let result = exchange_inner(state, req).await;
    if let Err(e) = &result {
        state.metrics.token_error(e.code.as_str());
    }
    result
}

async fn exchange_inner(state: &AppState, req: OAuthRequest) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(state, &req).await?;
    let now = now();
    let (grant_name, issue) = match TokenRequest::parse(&req.form)? {
        TokenRequest::ClientCredentials { scope, resources } => (
            "client_credentials",
            grant::client_credentials::decide(&client, scope.as_ref(), &resources, &state.policy(), now)?,
        ),
    };
    let access_token = mint(state, &issue).await?;
    state.metrics.token_issued(grant_name, issue.format.as_str());
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: issue.expires_in(),
        scope: issue.scope.to_string(),
        refresh_token: None,
    })
}

/// Create the access token an [`Issue`] describes; an opaque token is returned only
/// after its row is committed.
async fn mint(state: &AppState, issue: &Issue) -> Result<String, OAuthError> {
    let jti = new_jti();
    match issue.format {
        TokenFormat::Jwt => {
            let claims = issue.claims(&state.issuer, jti);
            state.keys.snapshot().signer.sign_jwt(&claims).map_err(OAuthError::server_error)
        }
        TokenFormat::Opaque => {
            let token = new_opaque_access_token();
            let record = AccessTokenRecord {
                token_hash: token_hash(&token),
                grant_id: jti.clone(),
                jti,
                client_id: issue.client_id.clone(),
                subject: issue.subject.clone(),
                scope: issue.scope.to_string(),
                audience: issue.audience.clone(),
                issued_at: issue.issued_at,
                expires_at: issue.expires_at,
                revoked_at: None,
            };
            state.store().put_access_token(&record).await?;
            Ok(token)
        }
    }
}

/// The claims of a live access token of ours, or `None` (unknown, expired, revoked,
/// tampered, or its client is gone).
pub async fn resolve(state: &AppState, token: &str) -> Result<Option<AccessTokenClaims>, OAuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let now = now();
    let claims = match token_shape(token) {
        TokenShape::OpaqueAccess => match state.store().access_token(&token_hash(token)).await? {
            Some(r) if r.revoked_at.is_none() => r.claims(&state.issuer),
            _ => return Ok(None),
        },
        TokenShape::Jwt => {
            let want = Expectations { issuer: &state.issuer, audience: None, now, leeway: 0 };
            let keys = state.keys.snapshot();
            match keys.verifying.verify(token, &want) {
                Ok(c) if !state.store().jti_revoked(&c.jti).await? => c,
                Ok(_) => return Ok(None),
                Err(why) => {
                    tracing::debug!(%why, "JWT not accepted");
                    return Ok(None);
                }
            }
        }
        TokenShape::Unknown => return Ok(None),
    };
    let client = state.client(&claims.client_id).await?;
    Ok(is_live(&claims, client.as_ref(), now).then_some(claims))
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(state: &AppState, req: OAuthRequest) -> Result<Introspection, OAuthError> {
    let caller = authenticate(state, &req).await?;
    req.form.verify_no_repeats(&[])?;
    let token = req.form.required("token")?;
    let result = match resolve(state, token).await? {
        Some(claims) if may_introspect(&caller, &claims.client_id) => Introspection::active(claims),
        _ => Introspection::inactive(),
    };
    state.metrics.introspection(result.active);
    Ok(result)
}

/// `POST /revoke` (RFC 7009). Unknown tokens and other clients' tokens succeed and
/// change nothing (§2.2). The `token_type_hint` only orders the look-ups; both token
/// kinds are always considered, so a wrong hint changes nothing.
pub async fn revoke(state: &AppState, req: OAuthRequest) -> Result<(), OAuthError> {
    let caller = authenticate(state, &req).await?;
    req.form.verify_no_repeats(&[])?;
    let token = req.form.required("token")?;
    if token.len() > MAX_TOKEN_LEN {
        return Ok(());
    }
    match token_shape(token) {
        TokenShape::OpaqueAccess => {
            let hash = token_hash(token);
            if let Some(record) = state.store().access_token(&hash).await?
                && may_revoke(&caller, &record.client_id)
                && state.store().revoke_access_token(&hash, now()).await?
            {
                state.metrics.revocation();
            }
        }
        TokenShape::Jwt => {
            if let Some(claims) = resolve(state, token).await?
                && may_revoke(&caller, &claims.client_id)
            {
                state.store().revoke_jti(&claims.jti, &claims.client_id, claims.exp).await?;
                state.metrics.revocation();
            }
        }
        TokenShape::Unknown => {}
    }
    Ok(())
}
